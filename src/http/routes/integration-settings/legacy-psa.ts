import { createRoute, z } from '@hono/zod-openapi'
import type { AppContext } from '../../../context.ts'
import type { IntegrationView } from '../../../integrations/service.ts'
import { psaSettingsSchema } from '../../../psa/settings.ts'
import {
  legacyPsaIntegration,
  saveLegacyPsa,
  testLegacyPsa,
  updateLegacyPsa,
} from '../../../ticketing/legacy-psa.ts'
import { router } from '../../env.ts'
import { ApiError, errorResponses } from '../../errors.ts'
import { resolveOrgId } from '../../principal.ts'
import { iso, timestamp } from '../../schemas.ts'
import { auditOf, json, jsonBody } from '../shared.ts'
import { orgIdField, TAG, testResponse, testRouteResponses, withApiErrors } from './shared.ts'

const jsonObject = z.record(z.string(), z.unknown())

const providerField = z.string().trim().min(1).max(100).openapi({
  description: 'connectwise, autotask, jira, servicenow, freshservice or zendesk',
  example: 'connectwise',
})

const psaSchema = z
  .object({
    id: z.uuid(),
    orgId: z.uuid(),
    provider: z.string(),
    name: z.string().nullable(),
    credentials: jsonObject.openapi({ description: 'Every credential field; sensitive ones always null' }),
    hasCredentials: z.boolean(),
    settings: jsonObject,
    status: z.enum(['pending_verify', 'active', 'inactive', 'error']),
    lastError: z.string().nullable(),
    verifiedAt: timestamp.nullable(),
    lastTestedAt: timestamp.nullable(),
    lastSyncedAt: timestamp.nullable(),
    createdAt: timestamp,
    updatedAt: timestamp,
  })
  .openapi('LegacyPsaSettings')

function toPsa(v: IntegrationView) {
  return {
    id: v.id,
    orgId: v.orgId,
    provider: v.provider,
    name: v.name,
    credentials: v.credentials,
    hasCredentials: v.hasCredentials,
    settings: v.settings,
    status: v.status,
    lastError: v.lastError?.message ?? null,
    verifiedAt: iso(v.verifiedAt),
    lastTestedAt: iso(v.lastTestedAt),
    lastSyncedAt: iso(v.lastSyncAt),
    createdAt: v.createdAt.toISOString(),
    updatedAt: v.updatedAt.toISOString(),
  }
}

const saveResponse = json(
  z.object({ success: z.boolean(), message: z.string(), data: psaSchema }),
  'Saved; the credentials are verified with the vendor in the background',
)

export function legacyPsaRoutes(ctx: AppContext) {
  const app = router()

  app.openapi(
    createRoute({
      method: 'get',
      path: '/psa',
      tags: [TAG],
      summary: 'Legacy PSA settings (use /psa/connections instead)',
      description:
        'The organization’s default PSA connection: the `provider` named, else the target of the default ' +
        '`create_ticket` routing rule, else the most recently created PSA integration. `{}` when none.',
      request: { query: z.object({ orgId: orgIdField, provider: providerField.optional() }) },
      responses: {
        200: json(z.union([psaSchema, z.object({})]), 'The settings'),
        ...errorResponses(400, 401, 404, 422),
      },
    }),
    async (c) => {
      const q = c.req.valid('query')
      const orgId = await resolveOrgId(ctx.db.orm, c.var.principal, q.orgId)
      const integration = await withApiErrors(() => legacyPsaIntegration(ctx, orgId, q.provider))
      return c.json(integration ? toPsa(integration) : {}, 200)
    },
  )

  app.openapi(
    createRoute({
      method: 'post',
      path: '/psa',
      tags: [TAG],
      summary: 'Save legacy PSA settings',
      description:
        'Creates the provider’s PSA integration, or updates its default instance: credential fields given replace ' +
        'the stored ones (encrypted, never returned), `settings` replaces the settings when given. Changed ' +
        'credentials are verified with the vendor.',
      request: {
        body: jsonBody(
          z
            .strictObject({
              orgId: orgIdField,
              provider: providerField,
              credentials: jsonObject.openapi({ description: 'As the provider’s credential schema says' }),
              settings: psaSettingsSchema.optional().openapi({
                description: 'The PSA connection settings, as for /psa/connections (unknown keys are a 422)',
              }),
            })
            .openapi('SaveLegacyPsaSettings'),
        ),
      },
      responses: { 200: saveResponse, ...errorResponses(400, 401, 404, 422) },
    }),
    async (c) => {
      const { orgId: requested, ...input } = c.req.valid('json')
      const orgId = await resolveOrgId(ctx.db.orm, c.var.principal, requested)
      const { integration } = await withApiErrors(() => saveLegacyPsa(ctx, orgId, input, auditOf(c)))
      return c.json({ success: true, message: 'PSA settings saved.', data: toPsa(integration) }, 200)
    },
  )

  app.openapi(
    createRoute({
      method: 'put',
      path: '/psa',
      tags: [TAG],
      summary: 'Update legacy PSA settings',
      description:
        'Updates the organization’s default PSA connection (or the named `provider`’s) in place. 404 when there ' +
        'is none.',
      request: {
        body: jsonBody(
          z
            .strictObject({
              orgId: orgIdField,
              provider: providerField.optional(),
              credentials: jsonObject.optional(),
              settings: psaSettingsSchema.optional(),
            })
            .openapi('UpdateLegacyPsaSettings'),
        ),
      },
      responses: { 200: saveResponse, ...errorResponses(400, 401, 404, 422) },
    }),
    async (c) => {
      const { orgId: requested, ...input } = c.req.valid('json')
      const orgId = await resolveOrgId(ctx.db.orm, c.var.principal, requested)
      const integration = await withApiErrors(() => updateLegacyPsa(ctx, orgId, input, auditOf(c)))
      if (!integration) throw ApiError.notFound('PSA settings')
      return c.json({ success: true, message: 'PSA settings updated.', data: toPsa(integration) }, 200)
    },
  )

  app.openapi(
    createRoute({
      method: 'post',
      path: '/psa/test',
      tags: [TAG],
      summary: 'Test the legacy PSA connection',
      description:
        'Checks the saved credentials with a real, authenticated call to the vendor’s API. `success` is the ' +
        'outcome; `message` is the vendor’s answer when it refused. Recorded as the integration’s verification ' +
        'and audited as `psa.connection.test`, as for /psa/connections/{id}/test.',
      request: {
        body: jsonBody(z.strictObject({ orgId: orgIdField, provider: providerField.optional() }), false),
      },
      responses: testRouteResponses,
    }),
    async (c) => {
      const body = c.req.valid('json')
      const orgId = await resolveOrgId(ctx.db.orm, c.var.principal, body?.orgId)
      const result = await withApiErrors(() => testLegacyPsa(ctx, orgId, body?.provider, auditOf(c)))
      if (!result) throw ApiError.notFound('PSA settings')
      return c.json(testResponse(result, 'Credentials verified'), 200)
    },
  )

  return app
}
