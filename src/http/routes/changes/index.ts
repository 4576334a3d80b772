/**
 * `/changes`: change controls and their setup. Hono answers with the first route that matches, so the fixed
 * paths (`/settings`, `/companies`, `/ticket-search`, `/device-sync`) are added before `/{id}`; the OpenAPI
 * document lists the operations in this order too.
 */
import type { AppContext } from '../../../context.ts'
import type { Fanout } from '../../../delivery/types.ts'
import { router } from '../../env.ts'
import { crudRoutes } from './crud.ts'
import { deviceSyncRoute } from './devices.ts'
import { lifecycleRoutes } from './lifecycle.ts'
import { setupRoutes } from './setup.ts'
import { ticketRoutes, ticketSearchRoute } from './tickets.ts'

export { deviceRoutes } from './devices.ts'

export function changeRoutes(ctx: AppContext, fanouts: readonly Fanout[]) {
  const app = router()
  setupRoutes(app, ctx)
  ticketSearchRoute(app, ctx)
  deviceSyncRoute(app, ctx)
  crudRoutes(app, ctx, fanouts)
  ticketRoutes(app, ctx, fanouts)
  lifecycleRoutes(app, ctx, fanouts)
  return app
}
