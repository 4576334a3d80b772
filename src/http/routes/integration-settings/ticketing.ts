import { createRoute, z } from '@hono/zod-openapi'
import type { AppContext } from '../../../context.ts'
import {
  getTicketing,
  saveTicketing,
  type TicketingView,
  testTicketing,
} from '../../../ticketing/settings.ts'
import { router } from '../../env.ts'
import { ApiError, errorResponses } from '../../errors.ts'
import { resolveOrgId } from '../../principal.ts'
import { auditOf, json, jsonBody } from '../shared.ts'
import {
  flatCredentialField,
  integrationState,
  integrationStateSchema,
  orgIdField,
  orgOnlyBody,
  orgQuery,
  TAG,
  testResponse,
  testRouteResponses,
  withApiErrors,
} from './shared.ts'

const ticketingSchema = z
  .object({
    provider: z.string().openapi({ example: 'custom' }),
    apiUrl: z.string().nullable(),
    apiKey: z.string().nullable().openapi({ description: 'Masked: `****` and the last four characters' }),
    projectKey: z.string().nullable(),
    autoCreate: z.boolean(),
    integration: integrationStateSchema,
  })
  .openapi('TicketingSettings')

function toTicketing(v: TicketingView) {
  return { ...v.config, integration: integrationState(v.integration) }
}

const saveBody = z
  .strictObject({
    orgId: orgIdField,
    provider: z
      .string()
      .trim()
      .min(1)
      .max(100)
      .optional()
      .openapi({ description: 'A label for the system (default `custom`)', example: 'custom' }),
    apiUrl: z
      .string()
      .trim()
      .min(1)
      .max(2048)
      .optional()
      .openapi({
        description:
          'The API base URL (required the first time). Tickets are POSTed to `<apiUrl>/tickets`. Changing it ' +
          'needs `apiKey` given again (else 422).',
        example: 'https://tickets.example.com/api',
      }),
    apiKey: z.string().min(1).max(4096).optional().openapi({
      description:
        'Sent as `Authorization: Bearer <apiKey>` (required the first time); stored encrypted, shown masked',
    }),
    projectKey: z.string().trim().max(255).nullable().optional().openapi({ example: 'BREEZE' }),
    autoCreate: z
      .boolean()
      .optional()
      .openapi({ description: 'Open one ticket per new alert (`alert.triggered`); default false' }),
  })
  .openapi('SaveTicketingSettings')

export function ticketingRoutes(ctx: AppContext) {
  const app = router()

  app.openapi(
    createRoute({
      method: 'get',
      path: '/ticketing',
      tags: [TAG],
      summary: 'Ticketing settings',
      description: 'The stored settings (API key masked) and the integration’s state, or `{}` when none.',
      request: { query: orgQuery },
      responses: {
        200: json(z.union([ticketingSchema, z.object({})]), 'The settings'),
        ...errorResponses(400, 401, 404, 422),
      },
    }),
    async (c) => {
      const orgId = await resolveOrgId(ctx.db.orm, c.var.principal, c.req.valid('query').orgId)
      const ticketing = await getTicketing(ctx, orgId)
      return c.json(ticketing ? toTicketing(ticketing) : {}, 200)
    },
  )

  app.openapi(
    createRoute({
      method: 'post',
      path: '/ticketing',
      tags: [TAG],
      summary: 'Save ticketing settings',
      description:
        'Creates or updates the organization’s generic ticketing integration (fields given replace the stored ' +
        'ones). A new URL or key is verified with an authenticated `GET <apiUrl>`. With `autoCreate`, every new ' +
        'alert opens exactly one ticket (deliveries with `targetType` `ticketing`).',
      request: { body: jsonBody(saveBody) },
      responses: {
        200: json(z.object({ success: z.boolean(), message: z.string(), data: ticketingSchema }), 'Saved'),
        ...errorResponses(400, 401, 404, 422),
      },
    }),
    async (c) => {
      const { orgId: requested, ...input } = c.req.valid('json')
      const orgId = await resolveOrgId(ctx.db.orm, c.var.principal, requested)
      const { ticketing } = await withApiErrors(
        () => saveTicketing(ctx, orgId, input, auditOf(c)),
        flatCredentialField,
      )
      return c.json(
        { success: true, message: 'Ticketing settings saved.', data: toTicketing(ticketing) },
        200,
      )
    },
  )

  app.openapi(
    createRoute({
      method: 'post',
      path: '/ticketing/test',
      tags: [TAG],
      summary: 'Test the ticketing credentials',
      description:
        'An authenticated `GET <apiUrl>` with the saved key: `success` only when the API answers 2xx, otherwise ' +
        '`message` is its answer. Recorded as the integration’s verification.',
      request: { body: orgOnlyBody },
      responses: testRouteResponses,
    }),
    async (c) => {
      const orgId = await resolveOrgId(ctx.db.orm, c.var.principal, c.req.valid('json')?.orgId)
      const result = await withApiErrors(() => testTicketing(ctx, orgId, auditOf(c)))
      if (!result) throw ApiError.notFound('Ticketing settings')
      return c.json(testResponse(result, 'Connection successful. Credentials validated.'), 200)
    },
  )

  return app
}
