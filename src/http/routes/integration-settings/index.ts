import type { AppContext } from '../../../context.ts'
import { router } from '../../env.ts'
import { communicationRoutes } from './communication.ts'
import { legacyPsaRoutes } from './legacy-psa.ts'
import { monitoringRoutes } from './monitoring.ts'
import { ticketingRoutes } from './ticketing.ts'

/**
 * The Breeze integration settings doors, under `/integrations`: communication (slack, teams, discord),
 * monitoring, ticketing and the legacy psa settings. Mounted before the SynthesQ `/integrations` routes, whose
 * `/{id}` would otherwise take these paths.
 */
export function integrationSettingsRoutes(ctx: AppContext) {
  const app = router()
  app.route('/', communicationRoutes(ctx))
  app.route('/', monitoringRoutes(ctx))
  app.route('/', ticketingRoutes(ctx))
  app.route('/', legacyPsaRoutes(ctx))
  return app
}
