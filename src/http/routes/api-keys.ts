import { createRoute, z } from '@hono/zod-openapi'
import type { AppContext } from '../../context.ts'
import { recordAudit } from '../../store/audit.ts'
import {
  type ApiKey,
  createApiKey,
  getApiKey,
  getOrg,
  getPartner,
  listApiKeys,
  revokeApiKey,
  setApiKeyRateLimits,
} from '../../store/tenancy.ts'
import { router } from '../env.ts'
import { ApiError, errorResponses } from '../errors.ts'
import { actorOf, type Principal, resolveOrgFilter, scopeOf } from '../principal.ts'
import { idParams, iso, pageQuery, paginated, timestamp, uuidSchema } from '../schemas.ts'

const scopeEnum = z.enum(['system', 'partner', 'organization'])

const perMinute = (what: string) =>
  z
    .number()
    .int()
    .min(1)
    .max(100_000_000)
    .nullable()
    .optional()
    .openapi({ description: `${what} requests per minute for this key; null: the server default` })

const rateLimitsInput = z
  .strictObject({
    ingest: perMinute('Event-ingest (POST /events, /events/batch)'),
    configuration: perMinute('All other API'),
  })
  .openapi('ApiKeyRateLimitsInput', {
    description:
      'Own rate limits for the key. Only a system key, or a partner key for the keys of its organizations, may set them.',
  })

const apiKeySchema = z
  .object({
    id: z.uuid(),
    name: z.string(),
    scope: scopeEnum,
    partnerId: z.uuid().nullable(),
    orgId: z.uuid().nullable(),
    tokenPrefix: z.string().openapi({
      description: 'The `pbk_` type prefix and at most four characters after it, to tell keys apart',
    }),
    createdAt: timestamp,
    lastUsedAt: timestamp.nullable(),
    revokedAt: timestamp.nullable(),
    rateLimits: z
      .object({
        ingest: z.number().int().openapi({ description: 'Event-ingest requests per minute' }),
        configuration: z.number().int().openapi({ description: 'Other API requests per minute' }),
        custom: z
          .object({ ingest: z.number().int().nullable(), configuration: z.number().int().nullable() })
          .openapi({ description: "The key's own settings; null where it uses the server default" }),
      })
      .openapi({ description: 'The budgets in force for this key (see README, Rate limits)' }),
  })
  .openapi('ApiKey')

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

const updateKeyBody = z.strictObject({ rateLimits: rateLimitsInput }).openapi('UpdateApiKey')

function toApiKey(ctx: AppContext, k: ApiKey) {
  return {
    id: k.id,
    name: k.name,
    scope: k.scope,
    partnerId: k.partnerId,
    orgId: k.orgId,
    tokenPrefix: k.tokenPrefix,
    createdAt: iso(k.createdAt) as string,
    lastUsedAt: iso(k.lastUsedAt),
    revokedAt: iso(k.revokedAt),
    rateLimits: {
      ingest: k.rateLimitIngest ?? ctx.config.PATCHBAY_RATE_LIMIT_INGEST,
      configuration: k.rateLimitConfig ?? ctx.config.PATCHBAY_RATE_LIMIT_CONFIG,
      custom: { ingest: k.rateLimitIngest, configuration: k.rateLimitConfig },
    },
  }
}

/**
 * Who may set a key's own rate limits: a system key for any key, a partner key for its organizations' keys. A key
 * never sets its own budget, nor one of its own reach (a partner key raising another partner key's).
 */
function assertMayLimit(p: Principal, target: { scope: ApiKey['scope'] }): void {
  if (p.scope === 'system') return
  if (p.scope === 'partner' && target.scope === 'organization') return
  throw ApiError.forbidden(
    "Only a system key, or a partner key for its organizations' keys, may set rate limits",
  )
}

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

export function apiKeyRoutes(ctx: AppContext) {
  const app = router()

  app.openapi(
    createRoute({
      method: 'post',
      path: '/',
      tags: ['Tenancy'],
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

  app.openapi(
    createRoute({
      method: 'get',
      path: '/',
      tags: ['Tenancy'],
      summary: 'List API keys',
      description:
        'Keys the caller can reach, without tokens. Revoked keys are included with `includeRevoked=true`.',
      request: {
        query: z.object({
          ...pageQuery,
          orgId: uuidSchema.optional(),
          includeRevoked: z
            .enum(['true', 'false'])
            .default('false')
            .transform((v) => v === 'true'),
        }),
      },
      responses: {
        200: {
          description: 'API keys',
          content: { 'application/json': { schema: paginated(apiKeySchema) } },
        },
        ...errorResponses(401, 404, 422),
      },
    }),
    async (c) => {
      const p = c.var.principal
      const q = c.req.valid('query')
      const orgId = q.orgId ? await resolveOrgFilter(ctx.db.orm, p, q.orgId) : undefined
      const { items, total } = await listApiKeys(
        ctx.db.orm,
        scopeOf(p),
        { orgId, includeRevoked: q.includeRevoked },
        q,
      )
      return c.json(
        { data: items.map((k) => toApiKey(ctx, k)), pagination: { page: q.page, limit: q.limit, total } },
        200,
      )
    },
  )

  app.openapi(
    createRoute({
      method: 'patch',
      path: '/{id}',
      tags: ['Tenancy'],
      summary: "Set an API key's rate limits",
      description:
        "Sets the key's own budgets in requests per minute (`null`: back to the server default; an absent field " +
        "stays as it is). A system key may set any key's; a partner key its organizations' keys; no key its own " +
        '(unless it is a system key). Takes effect from the next request.',
      request: {
        params: idParams,
        body: { required: true, content: { 'application/json': { schema: updateKeyBody } } },
      },
      responses: {
        200: { description: 'Updated', content: { 'application/json': { schema: apiKeySchema } } },
        ...errorResponses(401, 403, 404, 422),
      },
    }),
    async (c) => {
      const p = c.var.principal
      const { id } = c.req.valid('param')
      const { rateLimits } = c.req.valid('json')
      const existing = await getApiKey(ctx.db.orm, scopeOf(p), id)
      if (!existing || existing.revokedAt) throw ApiError.notFound('API key')
      assertMayLimit(p, existing)
      const now = ctx.clock.now()
      const updated = await ctx.db.orm.transaction(async (tx) => {
        const key = await setApiKeyRateLimits(tx, scopeOf(p), id, {
          rateLimitIngest: rateLimits.ingest,
          rateLimitConfig: rateLimits.configuration,
        })
        if (!key) return undefined
        await recordAudit(
          tx,
          {
            actor: actorOf(p),
            orgId: key.orgId,
            partnerId: key.partnerId,
            action: 'api_key.update',
            targetType: 'api_key',
            targetId: key.id,
            summary: { name: key.name, tokenPrefix: key.tokenPrefix, rateLimits },
            requestId: c.var.requestId,
          },
          now,
        )
        return key
      })
      if (!updated) throw ApiError.notFound('API key')
      return c.json(toApiKey(ctx, updated), 200)
    },
  )

  app.openapi(
    createRoute({
      method: 'delete',
      path: '/{id}',
      tags: ['Tenancy'],
      summary: 'Revoke an API key',
      description: 'The key stops working at once. Revoked keys stay listed with `includeRevoked=true`.',
      request: { params: idParams },
      responses: {
        200: { description: 'Revoked', content: { 'application/json': { schema: apiKeySchema } } },
        ...errorResponses(401, 404, 409, 422),
      },
    }),
    async (c) => {
      const p = c.var.principal
      const { id } = c.req.valid('param')
      const now = ctx.clock.now()
      const revoked = await ctx.db.orm.transaction(async (tx) => {
        const key = await revokeApiKey(tx, scopeOf(p), id, now)
        if (!key) return undefined
        await recordAudit(
          tx,
          {
            actor: actorOf(p),
            orgId: key.orgId,
            partnerId: key.partnerId,
            action: 'api_key.revoke',
            targetType: 'api_key',
            targetId: key.id,
            summary: { name: key.name, scope: key.scope, tokenPrefix: key.tokenPrefix },
            requestId: c.var.requestId,
          },
          now,
        )
        return key
      })
      if (!revoked) {
        // Already revoked and still visible: say so rather than pretend it never existed.
        const existing = await getApiKey(ctx.db.orm, scopeOf(p), id)
        if (existing) throw ApiError.conflict('API key is already revoked')
        throw ApiError.notFound('API key')
      }
      return c.json(toApiKey(ctx, revoked), 200)
    },
  )

  return app
}
