/** Ticket mappings (alert → PSA ticket): `GET /psa/connections/{id}/tickets` and `GET /psa/tickets`. */
import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi'
import type { AppContext } from '../../../context.ts'
import { listTickets } from '../../../psa/service.ts'
import type { MappingRow } from '../../../psa/store.ts'
import type { AppEnv } from '../../env.ts'
import { errorResponses } from '../../errors.ts'
import { resolveOrgFilter, scopeOf } from '../../principal.ts'
import { idParams, iso, pageQuery, paginated, timestamp, uuidSchema } from '../../schemas.ts'
import { json } from '../shared.ts'
import { CONNECTIONS, TAG } from './schemas.ts'

const ticketSchema = z
  .object({
    id: z.uuid().openapi({ description: 'The mapping' }),
    psaId: z.uuid().openapi({ description: 'The PSA connection' }),
    orgId: z.uuid(),
    title: z.string(),
    status: z.string().nullable().openapi({ description: "The ticket's status at the vendor" }),
    syncedAt: timestamp.nullable(),
    createdAt: timestamp,
    updatedAt: timestamp,
    raw: z.object({
      externalTicketId: z.string(),
      externalTicketNumber: z.string().nullable(),
      externalTicketUrl: z.string().nullable(),
      alertId: z.string().nullable(),
      deviceId: z.string().nullable(),
      alertStatus: z.enum(['triggered', 'acknowledged', 'resolved']),
    }),
  })
  .openapi('PsaTicket')

function toTicket(m: MappingRow) {
  const number = m.externalTicketNumber ?? m.externalTicketId ?? ''
  return {
    id: m.id,
    psaId: m.connectionId,
    orgId: m.orgId,
    title: m.title ?? `Ticket ${number}`,
    status: m.status,
    syncedAt: iso(m.lastSyncAt),
    createdAt: m.createdAt.toISOString(),
    updatedAt: m.updatedAt.toISOString(),
    raw: {
      externalTicketId: m.externalTicketId ?? '',
      externalTicketNumber: m.externalTicketNumber,
      externalTicketUrl: m.externalTicketUrl,
      alertId: m.alertId,
      deviceId: m.deviceId,
      alertStatus: m.alertStatus as 'triggered' | 'acknowledged' | 'resolved',
    },
  }
}

export function ticketRoutes(app: OpenAPIHono<AppEnv>, ctx: AppContext) {
  app.openapi(
    createRoute({
      method: 'get',
      path: `${CONNECTIONS}/{id}/tickets`,
      tags: [TAG],
      summary: "List a PSA connection's ticket mappings",
      request: { params: idParams, query: z.object(pageQuery) },
      responses: { 200: json(paginated(ticketSchema), 'Ticket mappings'), ...errorResponses(401, 404, 422) },
    }),
    async (c) => {
      const q = c.req.valid('query')
      const { items, total } = await listTickets(
        ctx,
        scopeOf(c.var.principal),
        { connectionId: c.req.valid('param').id },
        q,
      )
      return c.json({ data: items.map(toTicket), pagination: { page: q.page, limit: q.limit, total } }, 200)
    },
  )

  app.openapi(
    createRoute({
      method: 'get',
      path: '/tickets',
      tags: [TAG],
      summary: 'List ticket mappings across PSA connections',
      description: 'Every alert ticket of the connections the key reaches, newest first.',
      request: { query: z.object({ orgId: uuidSchema.optional(), ...pageQuery }) },
      responses: { 200: json(paginated(ticketSchema), 'Ticket mappings'), ...errorResponses(401, 404, 422) },
    }),
    async (c) => {
      const q = c.req.valid('query')
      const p = c.var.principal
      const orgId = await resolveOrgFilter(ctx.db.orm, p, q.orgId)
      const { items, total } = await listTickets(ctx, scopeOf(p), { orgId }, q)
      return c.json({ data: items.map(toTicket), pagination: { page: q.page, limit: q.limit, total } }, 200)
    },
  )
}
