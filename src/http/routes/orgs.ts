import { createRoute, z } from '@hono/zod-openapi'
import type { AppContext } from '../../context.ts'
import { recordAudit } from '../../store/audit.ts'
import { createOrg, getOrg, getPartner, listOrgs, type Org } from '../../store/tenancy.ts'
import { router } from '../env.ts'
import { ApiError, errorResponses } from '../errors.ts'
import { actorOf, scopeOf } from '../principal.ts'
import { idParams, iso, pageQuery, paginated, timestamp, uuidSchema } from '../schemas.ts'

const orgSchema = z
  .object({
    id: z.uuid(),
    partnerId: z.uuid().nullable(),
    name: z.string(),
    createdAt: timestamp,
    updatedAt: timestamp,
  })
  .openapi('Organization')

const createOrgBody = z
  .strictObject({
    name: z.string().trim().min(1).max(255),
    partnerId: uuidSchema.optional().openapi({
      description: "The managing partner. System keys may set it; a partner key's orgs are its own.",
    }),
  })
  .openapi('CreateOrganization')

function toOrg(o: Org) {
  return {
    id: o.id,
    partnerId: o.partnerId,
    name: o.name,
    createdAt: iso(o.createdAt) as string,
    updatedAt: iso(o.updatedAt) as string,
  }
}

export function orgRoutes(ctx: AppContext) {
  const app = router()

  app.openapi(
    createRoute({
      method: 'post',
      path: '/',
      tags: ['Tenancy'],
      summary: 'Create an organization',
      description: 'System keys create any organization; partner keys create organizations under themselves.',
      request: { body: { required: true, content: { 'application/json': { schema: createOrgBody } } } },
      responses: {
        201: { description: 'Created', content: { 'application/json': { schema: orgSchema } } },
        ...errorResponses(401, 403, 404, 422),
      },
    }),
    async (c) => {
      const p = c.var.principal
      const body = c.req.valid('json')
      let partnerId: string | null
      if (p.scope === 'organization')
        throw ApiError.forbidden('An organization key cannot create organizations')
      if (p.scope === 'partner') {
        if (body.partnerId && body.partnerId !== p.partnerId) throw ApiError.notFound('Partner')
        partnerId = p.partnerId
      } else {
        partnerId = body.partnerId ?? null
        if (partnerId && !(await getPartner(ctx.db.orm, { kind: 'system' }, partnerId))) {
          throw ApiError.notFound('Partner')
        }
      }
      const now = ctx.clock.now()
      const org = await ctx.db.orm.transaction(async (tx) => {
        const created = await createOrg(tx, { name: body.name, partnerId }, now)
        await recordAudit(
          tx,
          {
            actor: actorOf(p),
            orgId: created.id,
            partnerId,
            action: 'org.create',
            targetType: 'org',
            targetId: created.id,
            summary: { name: created.name, partnerId },
            requestId: c.var.requestId,
          },
          now,
        )
        return created
      })
      return c.json(toOrg(org), 201)
    },
  )

  app.openapi(
    createRoute({
      method: 'get',
      path: '/',
      tags: ['Tenancy'],
      summary: 'List organizations',
      description: 'Only the organizations the key can reach.',
      request: { query: z.object({ ...pageQuery, partnerId: uuidSchema.optional() }) },
      responses: {
        200: {
          description: 'Organizations',
          content: { 'application/json': { schema: paginated(orgSchema) } },
        },
        ...errorResponses(401, 422),
      },
    }),
    async (c) => {
      const q = c.req.valid('query')
      const { items, total } = await listOrgs(
        ctx.db.orm,
        scopeOf(c.var.principal),
        { partnerId: q.partnerId },
        q,
      )
      return c.json({ data: items.map(toOrg), pagination: { page: q.page, limit: q.limit, total } }, 200)
    },
  )

  app.openapi(
    createRoute({
      method: 'get',
      path: '/{id}',
      tags: ['Tenancy'],
      summary: 'Get an organization',
      request: { params: idParams },
      responses: {
        200: { description: 'The organization', content: { 'application/json': { schema: orgSchema } } },
        ...errorResponses(401, 404, 422),
      },
    }),
    async (c) => {
      const org = await getOrg(ctx.db.orm, scopeOf(c.var.principal), c.req.valid('param').id)
      if (!org) throw ApiError.notFound('Organization')
      return c.json(toOrg(org), 200)
    },
  )

  return app
}
