import type { Config } from './config.ts'
import type { ConnectorRegistry } from './connectors/registry.ts'
import type { RequestBudget, TokenCache } from './connectors/types.ts'
import type { Fanout } from './events/fanout.ts'
import type { Clock } from './lib/clock.ts'
import type { Logger } from './lib/logger.ts'
import type { Metrics } from './lib/metrics.ts'
import type { HttpClient } from './net/http-client.ts'
import type { Database } from './store/db.ts'
import type { Vault } from './vault/vault.ts'

/** What every part of Patchbay is built from; assembled once, in `runtime.ts` or a test harness, and
 * completed by `wire` (wiring.ts). */
export interface AppContext {
  config: Config
  db: Database
  vault: Vault
  clock: Clock
  log: Logger
  /** The one way out: SSRF-guarded, address-pinned, keep-alive HTTP for webhooks and vendor APIs. */
  http: HttpClient
  /** Every provider Patchbay can connect to; the real registry, or another one in tests. */
  connectors: ConnectorRegistry
  /**
   * Who gets a delivery when an event arrives: every target's fan-out, assembled at the edge (`wire` in wiring.ts),
   * so the engine and the features that store events (routes, inbound, actions) need not know every target.
   */
  fanouts: readonly Fanout[]
  /**
   * Vendor access tokens, in this process's memory. Optional so hand-built contexts keep working: without one,
   * connectorEnv keeps one cache per context.
   */
  tokens?: TokenCache
  /** Vendors' per-account request budgets, shared through the database; connectorEnv builds one when absent. */
  budget?: RequestBudget
  /** This process's Prometheus metrics; `metricsOf` gives a hand-built context one of its own. */
  metrics?: Metrics
}
