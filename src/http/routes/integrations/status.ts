/** `GET /integrations/status`: each integration's health from its probes, and the summary counts. */
import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi'
import type { AppContext } from '../../../context.ts'
import { healthReport, type IntegrationHealth } from '../../../integrations/health.ts'
import { storeFilter } from '../../../integrations/service.ts'
import type { AppEnv } from '../../env.ts'
import { envelope, envelopeErrorResponses } from '../../envelope.ts'
import { resolveOrgFilter, scopeOf } from '../../principal.ts'
import { iso } from '../../schemas.ts'
import { categoryEnum, orgIdField, statusEnum, TAG, timestamp } from './schemas.ts'

const probeSchema = z
  .object({
    probed_at: timestamp,
    ok: z.boolean(),
    latency_ms: z.number().int(),
    vendor_status: z.number().int().nullable(),
    error: z.string().nullable(),
  })
  .openapi('Probe')

const statusItemSchema = z
  .object({
    id: z.uuid(),
    org_id: z.uuid(),
    provider: z.string(),
    name: z.string().nullable(),
    display_name: z.string(),
    status: statusEnum,
    health: z.enum(['connected', 'disconnected', 'needs_attention']),
    flapping: z.boolean(),
    consecutive_failures: z.number().int(),
    uptime_24h: z
      .number()
      .nullable()
      .openapi({ description: 'Share of the last 24 hours’ probes that succeeded' }),
    latest_probe: probeSchema.nullable(),
    history: z.array(probeSchema).openapi({ description: 'Every probe of the last 24 hours, oldest first' }),
    last_error: z.string().nullable(),
    warning: z
      .string()
      .nullable()
      .openapi({
        description:
          'Something to act on before it breaks, from the last successful check (credentials that expire soon); ' +
          'an active integration with a warning counts as needs_attention',
      }),
    credentials_expire_at: timestamp.nullable().openapi({
      description:
        'When the credentials stop working, for vendors whose credentials expire (Datto EDR tokens)',
    }),
    next_probe_at: timestamp.nullable(),
  })
  .openapi('IntegrationHealth')

const statusSchema = z
  .object({
    summary: z.object({
      connected: z.number().int(),
      disconnected: z.number().int(),
      needs_attention: z.number().int(),
      total: z.number().int(),
    }),
    probe_interval_ms: z.number().int(),
    failure_threshold: z.number().int(),
    integrations: z.array(statusItemSchema),
  })
  .openapi('IntegrationStatus')

function probe(p: IntegrationHealth['latest']) {
  return p
    ? {
        probed_at: p.probedAt.toISOString(),
        ok: p.ok,
        latency_ms: p.latencyMs,
        vendor_status: p.httpStatus,
        error: p.error,
      }
    : null
}

export function statusRoute(app: OpenAPIHono<AppEnv>, ctx: AppContext) {
  const db = ctx.db.orm

  app.openapi(
    createRoute({
      method: 'get',
      path: '/status',
      tags: [TAG],
      summary: 'Integration health',
      description:
        'Summary counts and, per integration, the latest health probe, the rolling 24-hour probe history and a ' +
        'flapping flag. **connected**: active, latest probe succeeded (or none yet), not flapping. ' +
        '**needs_attention**: in `error`, or active with a failed latest probe, flapping, or a `warning` (credentials expiring soon). **disconnected**: ' +
        '`inactive` or `pending_verify`. **Flapping**: the probe outcome changed between success and failure ' +
        'at least 4 times within the last 20 probes of the past 24 hours. Active integrations are probed every ' +
        'PATCHBAY_PROBE_INTERVAL_MS (default 5 minutes), each at its own offset within the interval; ' +
        'PATCHBAY_PROBE_FAILURE_THRESHOLD failures in a row move one to `error`, the next success restores it.',
      request: {
        query: z.object({
          orgId: orgIdField,
          provider: z.string().optional(),
          category: categoryEnum.optional(),
        }),
      },
      responses: {
        200: { description: 'Health', content: { 'application/json': { schema: envelope(statusSchema) } } },
        ...envelopeErrorResponses(400, 401, 404, 422),
      },
    }),
    async (c) => {
      const q = c.req.valid('query')
      const p = c.var.principal
      const orgId = await resolveOrgFilter(db, p, q.orgId)
      const report = await healthReport(
        ctx,
        scopeOf(p),
        storeFilter(ctx, { orgId, provider: q.provider, category: q.category }),
      )
      const data = {
        summary: report.summary,
        probe_interval_ms: ctx.config.PATCHBAY_PROBE_INTERVAL_MS,
        failure_threshold: ctx.config.PATCHBAY_PROBE_FAILURE_THRESHOLD,
        integrations: report.integrations.map((h) => ({
          id: h.integration.id,
          org_id: h.integration.orgId,
          provider: h.integration.provider,
          name: h.integration.name,
          display_name:
            ctx.connectors.get(h.integration.provider)?.descriptor.displayName ?? h.integration.provider,
          status: h.integration.status,
          health: h.state,
          flapping: h.flapping,
          consecutive_failures: h.integration.consecutiveProbeFailures,
          uptime_24h: h.uptime,
          latest_probe: probe(h.latest),
          history: h.history.map((x) => probe(x) as NonNullable<ReturnType<typeof probe>>),
          last_error: h.integration.lastError,
          warning: h.integration.warning,
          credentials_expire_at: iso(h.integration.credentialsExpireAt),
          next_probe_at: iso(h.integration.nextProbeAt),
        })),
      }
      return c.json(
        { success: true as const, message: 'Integration status retrieved successfully', data, meta: {} },
        200,
      )
    },
  )
}
