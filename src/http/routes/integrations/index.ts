/**
 * `/integrations`: the integration model's routes, in the `{success, message, data, meta}` envelope. Hono answers
 * with the first route that matches, so the fixed paths (`/providers`, `/test`, `/status`) are added before
 * `/{id}`; the OpenAPI document lists the operations in this order too.
 */
import type { AppContext } from '../../../context.ts'
import { envelopeRouter } from '../../envelope.ts'
import { testCredentialsRoute, testSavedIntegrationRoute } from './credentials.ts'
import { crudRoutes } from './crud.ts'
import { providerRoutes } from './providers.ts'
import { stateRoutes } from './state.ts'
import { statusRoute } from './status.ts'

export { integrationResource } from './schemas.ts'

export function integrationRoutes(ctx: AppContext) {
  const app = envelopeRouter(ctx)
  providerRoutes(app, ctx)
  testCredentialsRoute(app, ctx)
  statusRoute(app, ctx)
  crudRoutes(app, ctx)
  testSavedIntegrationRoute(app, ctx)
  stateRoutes(app, ctx)
  return app
}
