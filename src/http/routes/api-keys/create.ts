/** `POST /api-keys`: mint a key of no more reach than the caller's own; its token is shown once. */
import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi'
import type { AppContext } from '../../../context.ts'
import { recordAudit } from '../../../store/audit.ts'
import { createApiKey, getOrg, getPartner } from '../../../store/tenancy.ts'
import type { AppEnv } from '../../env.ts'
import { ApiError, errorResponses } from '../../errors.ts'
import { actorOf, type Principal, scopeOf } from '../../principal.ts'
import { uuidSchema } from '../../schemas.ts'
import { assertMayLimit } from './rate-limits.ts'
import { apiKeySchema, rateLimitsInput, scopeEnum, TAG, toApiKey } from './schemas.ts'

const createdKeySchema = apiKeySchema
  .extend({ token: z.string().openapi({ description: 'The bearer token. Shown only in this response.' }) })
  .openapi('CreatedApiKey')

const createKeyBody = z
  .strictObject({
    name: z.string().trim().min(1).max(255),
    scope: scopeEnum,
    partnerId: uuidSchema.optional().openapi({ description: 'For partner keys (system callers)' }),
    orgId: uuidSchema.optional().openapi({ description: 'For organization keys' }),
    rateLimits: rateLimitsInput.optional(),
  })
  .openapi('CreateApiKey')

type KeyOwner = { partnerId: string | null; orgId: string | null }

/** Which keys a caller may mint: never more reach than it has itself. */
async function ownerFor(
  ctx: AppContext,
  p: Principal,
  body: z.infer<typeof createKeyBody>,
): Promise<KeyOwner> {
  const db = ctx.db.orm
  switch (body.scope) {
    case 'system':
      if (p.scope !== 'system') throw ApiError.forbidden('Only a system key can create system keys')
      if (body.partnerId || body.orgId)
        throw ApiError.invalid('scope', 'a system key belongs to no partner or organization')
      return { partnerId: null, orgId: null }
    case 'partner': {
      if (body.orgId) throw ApiError.invalid('orgId', 'a partner key belongs to no single organization')
      if (p.scope === 'organization')
        throw ApiError.forbidden('An organization key can only create organization keys')
      const partnerId = p.scope === 'partner' ? (body.partnerId ?? p.partnerId) : body.partnerId
      if (!partnerId) throw ApiError.invalid('partnerId', 'required for a partner key')
      if (!(await getPartner(db, scopeOf(p), partnerId))) throw ApiError.notFound('Partner')
      return { partnerId, orgId: null }
    }
    case 'organization': {
      if (body.partnerId) throw ApiError.invalid('partnerId', 'an organization key is named by orgId only')
      const orgId = p.scope === 'organization' ? (body.orgId ?? p.orgId) : body.orgId
      if (!orgId) throw ApiError.orgContextRequired()
      if (!(await getOrg(db, scopeOf(p), orgId))) throw ApiError.notFound('Organization')
      return { partnerId: null, orgId }
    }
  }
}

export function createKeyRoute(app: OpenAPIHono<AppEnv>, ctx: AppContext) {
  app.openapi(
    createRoute({
      method: 'post',
      path: '/',
      tags: [TAG],
      summary: 'Create an API key',
      description:
        'The token is returned once, in this response; Patchbay stores only its hash. A key can only create keys ' +
        'of equal or narrower reach: system → any; partner → itself or its organizations; organization → itself.',
      request: { body: { required: true, content: { 'application/json': { schema: createKeyBody } } } },
      responses: {
        201: { description: 'Created', content: { 'application/json': { schema: createdKeySchema } } },
        ...errorResponses(400, 401, 403, 404, 422),
      },
    }),
    async (c) => {
      const p = c.var.principal
      const body = c.req.valid('json')
      const owner = await ownerFor(ctx, p, body)
      if (body.rateLimits) assertMayLimit(p, { scope: body.scope })
      const now = ctx.clock.now()
      const { key, token } = await ctx.db.orm.transaction(async (tx) => {
        const created = await createApiKey(
          tx,
          {
            name: body.name,
            scope: body.scope,
            ...owner,
            createdByKeyId: p.keyId,
            rateLimitIngest: body.rateLimits?.ingest,
            rateLimitConfig: body.rateLimits?.configuration,
          },
          now,
        )
        await recordAudit(
          tx,
          {
            actor: actorOf(p),
            orgId: owner.orgId,
            partnerId: owner.partnerId,
            action: 'api_key.create',
            targetType: 'api_key',
            targetId: created.key.id,
            summary: {
              name: body.name,
              scope: body.scope,
              tokenPrefix: created.key.tokenPrefix,
              ...(body.rateLimits ? { rateLimits: body.rateLimits } : {}),
            },
            requestId: c.var.requestId,
          },
          now,
        )
        return created
      })
      return c.json({ ...toApiKey(ctx, key), token }, 201)
    },
  )
}
