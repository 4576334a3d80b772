/** `PATCH /api-keys/{id}`: a key's own rate limits, and who may set them. */
import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi'
import type { AppContext } from '../../../context.ts'
import { recordAudit } from '../../../store/audit.ts'
import { type ApiKey, getApiKey, setApiKeyRateLimits } from '../../../store/tenancy.ts'
import type { AppEnv } from '../../env.ts'
import { ApiError, errorResponses } from '../../errors.ts'
import { actorOf, type Principal, scopeOf } from '../../principal.ts'
import { idParams } from '../../schemas.ts'
import { apiKeySchema, rateLimitsInput, TAG, toApiKey } from './schemas.ts'

const updateKeyBody = z.strictObject({ rateLimits: rateLimitsInput }).openapi('UpdateApiKey')

/**
 * Who may set a key's own rate limits: a system key for any key, a partner key for its organizations' keys. A key
 * never sets its own budget, nor one of its own reach (a partner key raising another partner key's).
 */
export function assertMayLimit(p: Principal, target: { scope: ApiKey['scope'] }): void {
  if (p.scope === 'system') return
  if (p.scope === 'partner' && target.scope === 'organization') return
  throw ApiError.forbidden(
    "Only a system key, or a partner key for its organizations' keys, may set rate limits",
  )
}

export function rateLimitRoute(app: OpenAPIHono<AppEnv>, ctx: AppContext) {
  app.openapi(
    createRoute({
      method: 'patch',
      path: '/{id}',
      tags: [TAG],
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
}
