/**
 * The resources API (issue 15): what an integration reads at its vendor, one normalized shape per kind
 * (resources/kinds.ts) whatever the vendor. Items are validated against those shapes on the way out; the
 * vendor's cursor is wrapped in an opaque one bound to the kind and filters it was issued for; vendor errors
 * are passed on verbatim, credentials scrubbed (page.ts). Two routers: one under `/integrations`, one under
 * `/providers`; the OpenAPI document lists the operations in the order they are added here.
 */
import type { AppContext } from '../../../context.ts'
import { envelopeRouter } from '../../envelope.ts'
import { byIntegrationRoutes } from './integration.ts'
import { byProviderRoute } from './provider.ts'

/** `/integrations/{id}/resources…` */
export function integrationResourceRoutes(ctx: AppContext) {
  const app = envelopeRouter(ctx)
  byIntegrationRoutes(app, ctx)
  return app
}

/** `/providers/{provider}/resources/{kind}`: the organization's default instance of the provider answers. */
export function providerResourceRoutes(ctx: AppContext) {
  const app = envelopeRouter(ctx)
  byProviderRoute(app, ctx)
  return app
}
