import { createRoute, z } from '@hono/zod-openapi'
import type { AppContext } from '../../context.ts'
import { recordAudit } from '../../store/audit.ts'
import { createPartner, getPartner, listPartners, type Partner } from '../../store/tenancy.ts'
import { router } from '../env.ts'
import { ApiError, errorResponses } from '../errors.ts'
import { actorOf, scopeOf } from '../principal.ts'
import { idParams, iso, pageQuery, paginated, timestamp } from '../schemas.ts'

const partnerSchema = z
  .object({ id: z.uuid(), name: z.string(), createdAt: timestamp, updatedAt: timestamp })
  .openapi('Partner')

const createPartnerBody = z.strictObject({ name: z.string().trim().min(1).max(255) }).openapi('CreatePartner')

export function toPartner(p: Partner) {
  return {
    id: p.id,
    name: p.name,
    createdAt: iso(p.createdAt) as string,
    updatedAt: iso(p.updatedAt) as string,
  }
}

export function partnerRoutes(ctx: AppContext) {
  const app = router()

  app.openapi(
    createRoute({
      method: 'post',
      path: '/',
      tags: ['Tenancy'],
      summary: 'Create a partner (MSP)',
      description: 'System keys only.',
      request: { body: { required: true, content: { 'application/json': { schema: createPartnerBody } } } },
      responses: {
        201: { description: 'Created', content: { 'application/json': { schema: partnerSchema } } },
        ...errorResponses(401, 403, 422),
      },
    }),
    async (c) => {
      const p = c.var.principal
      if (p.scope !== 'system') throw ApiError.forbidden('Only a system key can create partners')
      const body = c.req.valid('json')
      const now = ctx.clock.now()
      const partner = await ctx.db.orm.transaction(async (tx) => {
        const created = await createPartner(tx, body.name, now)
        await recordAudit(
          tx,
          {
            actor: actorOf(p),
            partnerId: created.id,
            action: 'partner.create',
            targetType: 'partner',
            targetId: created.id,
            summary: { name: created.name },
            requestId: c.var.requestId,
          },
          now,
        )
        return created
      })
      return c.json(toPartner(partner), 201)
    },
  )

  app.openapi(
    createRoute({
      method: 'get',
      path: '/',
      tags: ['Tenancy'],
      summary: 'List partners',
      description: 'A system key sees every partner; a partner key sees itself; an org key its own partner.',
      request: { query: z.object(pageQuery) },
      responses: {
        200: {
          description: 'Partners',
          content: { 'application/json': { schema: paginated(partnerSchema) } },
        },
        ...errorResponses(401, 422),
      },
    }),
    async (c) => {
      const q = c.req.valid('query')
      const { items, total } = await listPartners(ctx.db.orm, scopeOf(c.var.principal), q)
      return c.json({ data: items.map(toPartner), pagination: { page: q.page, limit: q.limit, total } }, 200)
    },
  )

  app.openapi(
    createRoute({
      method: 'get',
      path: '/{id}',
      tags: ['Tenancy'],
      summary: 'Get a partner',
      request: { params: idParams },
      responses: {
        200: { description: 'The partner', content: { 'application/json': { schema: partnerSchema } } },
        ...errorResponses(401, 404, 422),
      },
    }),
    async (c) => {
      const partner = await getPartner(ctx.db.orm, scopeOf(c.var.principal), c.req.valid('param').id)
      if (!partner) throw ApiError.notFound('Partner')
      return c.json(toPartner(partner), 200)
    },
  )

  return app
}
