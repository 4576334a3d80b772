/**
 * `/actions`: writes at vendors waiting for approval, approved, sent or failed (README, "Actions and approvals").
 * `POST /integrations/{id}/actions`, which asks for one, is in request.ts. Hono answers with the first route that
 * matches, so `/settings` is added before `/{id}`; the OpenAPI document lists the operations in this order too.
 */
import type { AppContext } from '../../../context.ts'
import type { Fanout } from '../../../delivery/types.ts'
import { router } from '../../env.ts'
import { decisionRoutes } from './decisions.ts'
import { listRoutes } from './list.ts'
import { settingsRoutes } from './settings.ts'

export { integrationActionRoutes } from './request.ts'

export function actionRoutes(ctx: AppContext, fanouts: readonly Fanout[]) {
  const app = router()
  settingsRoutes(app, ctx)
  listRoutes(app, ctx)
  decisionRoutes(app, ctx, fanouts)
  return app
}
