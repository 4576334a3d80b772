import { createRoute, z } from '@hono/zod-openapi'
import type { AppContext } from '../../context.ts'
import { type AuditLog, listAuditLogs } from '../../store/audit.ts'
import { router } from '../env.ts'
import { errorResponses } from '../errors.ts'
import { resolveOrgFilter, scopeOf } from '../principal.ts'
import { iso, pageQuery, paginated, timeQuery, timestamp, uuidSchema } from '../schemas.ts'

const auditLogSchema = z
  .object({
    id: z.uuid(),
    orgId: z.uuid().nullable(),
    partnerId: z.uuid().nullable(),
    actorKeyId: z.uuid().nullable(),
    actorType: z.string().openapi({ description: '`api_key`, or `system:<job>` when Patchbay itself acted' }),
    action: z.string().openapi({ example: 'psa.connection.test' }),
    targetType: z.string(),
    targetId: z.string().nullable(),
    summary: z.record(z.string(), z.unknown()).openapi({ description: 'What changed; secrets are redacted' }),
    requestId: z.string().nullable(),
    createdAt: timestamp,
  })
  .openapi('AuditLog')

function toAuditLog(a: AuditLog) {
  return { ...a, summary: a.summary as Record<string, unknown>, createdAt: iso(a.createdAt) as string }
}

export function auditLogRoutes(ctx: AppContext) {
  const app = router()

  app.openapi(
    createRoute({
      method: 'get',
      path: '/',
      tags: ['Audit'],
      summary: 'List audit log entries',
      description:
        'Most recent first. `action` matches exactly, or by prefix when it ends in `.*` (e.g. `psa.connection.*`). ' +
        '`from` is inclusive, `to` exclusive.',
      request: {
        query: z.object({
          ...pageQuery,
          orgId: uuidSchema.optional(),
          action: z.string().max(200).optional(),
          targetType: z.string().max(100).optional(),
          targetId: z.string().max(200).optional(),
          from: timeQuery.optional(),
          to: timeQuery.optional(),
        }),
      },
      responses: {
        200: {
          description: 'Entries',
          content: { 'application/json': { schema: paginated(auditLogSchema) } },
        },
        ...errorResponses(401, 404, 422),
      },
    }),
    async (c) => {
      const p = c.var.principal
      const q = c.req.valid('query')
      const orgId = q.orgId ? await resolveOrgFilter(ctx.db.orm, p, q.orgId) : undefined
      const { items, total } = await listAuditLogs(ctx.db.orm, scopeOf(p), { ...q, orgId }, q)
      return c.json({ data: items.map(toAuditLog), pagination: { page: q.page, limit: q.limit, total } }, 200)
    },
  )

  return app
}
