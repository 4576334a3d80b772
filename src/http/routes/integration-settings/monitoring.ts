import { createRoute, z } from '@hono/zod-openapi'
import type { AppContext } from '../../../context.ts'
import { secretNamedPaths } from '../../../lib/redact.ts'
import {
  getMonitoring,
  METRIC_FAMILIES,
  saveMonitoring,
  testMonitoring,
} from '../../../monitoring/settings.ts'
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

/** Larger free-form configurations are refused: they are settings, not data. */
const MAX_CONFIG_CHARS = 64 * 1024
/** The one secret-named field the monitoring settings keep, sealed. */
const MONITORING_SECRET_FIELDS: ReadonlySet<string> = new Set(['apiKey'])

const configSchema = z
  .object({
    endpoint: z.string().optional(),
    apiKey: z.string().optional().openapi({ description: 'Masked: `****` and the last four characters' }),
    metricsEnabled: z.boolean().optional(),
    forwardEvents: z.array(z.string()).optional(),
  })
  .catchall(z.unknown())
  .openapi('MonitoringSettings', {
    description: 'The configuration as saved (any other fields too), the API key masked; `{}` when none',
  })

const saveBody = z
  .object({
    orgId: orgIdField,
    endpoint: z.string().trim().min(1).max(2048).openapi({
      description: 'Where telemetry is POSTed as JSON (HTTPS; private addresses refused)',
      example: 'https://monitoring.example.com/ingest',
    }),
    apiKey: z
      .string()
      .min(1)
      .max(4096)
      .nullable()
      .optional()
      .openapi({
        description:
          'Sent as `Authorization: Bearer <apiKey>`; stored encrypted, shown masked. Absent (or the masked form): ' +
          'the stored key is kept, except when `endpoint` changes: then it must be given again (else 422); null ' +
          'removes it.',
      }),
    metricsEnabled: z.boolean().optional().openapi({ description: 'false stops forwarding (default true)' }),
    forwardEvents: z
      .array(z.enum(METRIC_FAMILIES))
      .max(METRIC_FAMILIES.length)
      .optional()
      .openapi({
        description: 'Telemetry families forwarded (default all four)',
        example: [...METRIC_FAMILIES],
      }),
  })
  .catchall(z.unknown())
  // `when`: these run even when a field failed, so one request reports every problem at once.
  .superRefine(
    (body, ctx) => {
      if (JSON.stringify(body).length > MAX_CONFIG_CHARS)
        ctx.addIssue({ code: 'custom', message: `must be at most ${MAX_CONFIG_CHARS} characters of JSON` })
      // Only apiKey is sealed: a secret-named field anywhere else (also nested) would be stored in clear.
      for (const path of secretNamedPaths(body, MONITORING_SECRET_FIELDS)) {
        ctx.addIssue({
          code: 'custom',
          path: path.split('.'),
          message: `The ${path} field looks like a secret; only apiKey is stored encrypted, so put the secret there.`,
        })
      }
    },
    { when: () => true },
  )
  .openapi('SaveMonitoringSettings', {
    description: 'Free-form: fields other than these are stored as given and returned by GET',
  })

export function monitoringRoutes(ctx: AppContext) {
  const app = router()

  app.openapi(
    createRoute({
      method: 'get',
      path: '/monitoring',
      tags: [TAG],
      summary: 'Monitoring settings',
      description: 'The stored configuration object (API key masked), or `{}` when nothing is configured.',
      request: { query: orgQuery },
      responses: { 200: json(configSchema, 'The configuration'), ...errorResponses(400, 401, 404, 422) },
    }),
    async (c) => {
      const orgId = await resolveOrgId(ctx.db.orm, c.var.principal, c.req.valid('query').orgId)
      const monitoring = await getMonitoring(ctx, orgId)
      return c.json(monitoring?.config ?? {}, 200)
    },
  )

  app.openapi(
    createRoute({
      method: 'put',
      path: '/monitoring',
      tags: [TAG],
      summary: 'Save monitoring settings',
      description:
        'Replaces the configuration (the API key is kept unless given or null). `device.telemetry` events are then ' +
        'forwarded to `endpoint` in batches (deliveries with `targetType` `monitoring`), with the families ' +
        '`forwardEvents` selects. A new endpoint or key is verified with a real `patchbay.test` POST.',
      request: { body: jsonBody(saveBody) },
      responses: {
        200: json(
          z.object({
            success: z.boolean(),
            message: z.string(),
            data: configSchema,
            integration: integrationStateSchema,
          }),
          'Saved',
        ),
        ...errorResponses(400, 401, 404, 422),
      },
    }),
    async (c) => {
      const { orgId: requested, ...config } = c.req.valid('json')
      const orgId = await resolveOrgId(ctx.db.orm, c.var.principal, requested)
      const { monitoring } = await withApiErrors(
        () => saveMonitoring(ctx, orgId, config, auditOf(c)),
        flatCredentialField,
      )
      return c.json(
        {
          success: true,
          message: 'Monitoring settings saved.',
          data: monitoring.config,
          integration: integrationState(monitoring.integration),
        },
        200,
      )
    },
  )

  app.openapi(
    createRoute({
      method: 'post',
      path: '/monitoring/test',
      tags: [TAG],
      summary: 'Test the monitoring endpoint',
      description:
        'POSTs a `patchbay.test` event to the saved endpoint, with the saved key. `success` only when it answers ' +
        '2xx; otherwise `message` is what it answered. Recorded as the integration’s verification.',
      request: { body: orgOnlyBody },
      responses: testRouteResponses,
    }),
    async (c) => {
      const orgId = await resolveOrgId(ctx.db.orm, c.var.principal, c.req.valid('json')?.orgId)
      const result = await withApiErrors(() => testMonitoring(ctx, orgId, auditOf(c)))
      if (!result) throw ApiError.notFound('Monitoring settings')
      return c.json(testResponse(result, 'Connection successful.'), 200)
    },
  )

  return app
}
