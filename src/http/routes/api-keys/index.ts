/**
 * `/api-keys`: minting, listing, rate-limiting and revoking API keys. The OpenAPI document lists the operations in
 * the order they are added here.
 */
import type { AppContext } from '../../../context.ts'
import { router } from '../../env.ts'
import { createKeyRoute } from './create.ts'
import { listRoute } from './list.ts'
import { rateLimitRoute } from './rate-limits.ts'
import { revokeRoute } from './revoke.ts'

export function apiKeyRoutes(ctx: AppContext) {
  const app = router()
  createKeyRoute(app, ctx)
  listRoute(app, ctx)
  rateLimitRoute(app, ctx)
  revokeRoute(app, ctx)
  return app
}
