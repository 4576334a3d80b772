/** `GET /api-keys`: the keys the caller can reach, without tokens. */
import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi'
import type { AppContext } from '../../../context.ts'
import { listApiKeys } from '../../../store/tenancy.ts'
import type { AppEnv } from '../../env.ts'
import { errorResponses } from '../../errors.ts'
import { resolveOrgFilter, scopeOf } from '../../principal.ts'
import { pageQuery, paginated, uuidSchema } from '../../schemas.ts'
import { apiKeySchema, TAG, toApiKey } from './schemas.ts'

export function listRoute(app: OpenAPIHono<AppEnv>, ctx: AppContext) {
  app.openapi(
    createRoute({
      method: 'get',
      path: '/',
      tags: [TAG],
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
}
