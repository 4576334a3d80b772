/** `DELETE /api-keys/{id}`: revoke a key; it stops working at once and stays listed. */
import { createRoute, type OpenAPIHono } from '@hono/zod-openapi'
import type { AppContext } from '../../../context.ts'
import { recordAudit } from '../../../store/audit.ts'
import { getApiKey, revokeApiKey } from '../../../store/tenancy.ts'
import type { AppEnv } from '../../env.ts'
import { ApiError, errorResponses } from '../../errors.ts'
import { actorOf, scopeOf } from '../../principal.ts'
import { idParams } from '../../schemas.ts'
import { apiKeySchema, TAG, toApiKey } from './schemas.ts'

export function revokeRoute(app: OpenAPIHono<AppEnv>, ctx: AppContext) {
  app.openapi(
    createRoute({
      method: 'delete',
      path: '/{id}',
      tags: [TAG],
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
}
