import type { Clock } from '../lib/clock.ts'
import type { Logger } from '../lib/logger.ts'
import type { RequestBudget } from '../lib/request-budget.ts'
import type { HttpClient } from '../net/http-client.ts'

/** What a connector's code may use: the guarded HTTP client, the clock, a logger. Nothing else. */
export interface ConnectorEnv {
  http: HttpClient
  clock: Clock
  log: Logger
  /**
   * Access tokens cached for their lifetime (OAuth vendors), keyed by what identifies the account (never the
   * secret itself in clear). Absent: the connector fetches a token per call.
   */
  tokens?: TokenCache
  /**
   * A vendor's documented per-account request budget (e.g. Datto RMM's 600 requests per 60 s), shared by every
   * Patchbay process through the database. Absent: no budget is kept, and the vendor's 429s still apply.
   */
  budget?: RequestBudget
}

export interface CachedToken {
  token: string
  /** When the vendor says it expires (ms since the epoch). */
  expiresAt: number
}

export interface TokenCache {
  get(key: string): Promise<CachedToken | undefined>
  set(key: string, token: CachedToken): Promise<void>
  /** Forget a token the vendor refused (401), so the next call fetches a new one. */
  drop(key: string): Promise<void>
}

export type { RequestBudget }
