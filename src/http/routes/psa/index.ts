/**
 * `/psa`: PSA connections (the /psa door onto the integration model), their syncs and ticket mappings. The
 * OpenAPI document lists the operations in the order they are added here.
 */
import type { AppContext } from '../../../context.ts'
import { router } from '../../env.ts'
import { domainFailure } from '../../error-status.ts'
import { domainApiError, toErrorResponse } from '../../errors.ts'
import { connectionRoutes, connectionStatusRoute } from './connections.ts'
import { syncRoute } from './sync.ts'
import { ticketRoutes } from './tickets.ts'

export function psaRoutes(ctx: AppContext) {
  const app = router()
  app.onError((err, c) => {
    // The service says "Integration not found"; to this door's callers the thing is a PSA connection.
    const failure = domainFailure(err)
    const refused = failure
      ? domainApiError(
          failure,
          undefined,
          failure.code === 'not_found' ? 'PSA connection not found' : undefined,
        )
      : err
    return toErrorResponse(refused, c, c.var.log ?? ctx.log)
  })
  connectionRoutes(app, ctx)
  syncRoute(app, ctx)
  connectionStatusRoute(app, ctx)
  ticketRoutes(app, ctx)
  return app
}
