/**
 * `/webhooks`: outbound webhooks and their deliveries. The OpenAPI document lists the operations in the order
 * they are added here.
 */
import type { AppContext } from '../../../context.ts'
import { router } from '../../env.ts'
import { crudRoutes } from './crud.ts'
import { deliveryRoutes } from './deliveries.ts'

export function webhookRoutes(ctx: AppContext) {
  const app = router()
  crudRoutes(app, ctx)
  deliveryRoutes(app, ctx)
  return app
}
