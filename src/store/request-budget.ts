import { sql } from 'drizzle-orm'
import type { Clock } from '../lib/clock.ts'
import type { RequestBudget } from '../lib/request-budget.ts'
import { type Executor, rows } from './db.ts'

/** One fixed window's count after taking one request from it. */
export interface WindowTaken {
  /** Requests counted in the window, this one included (at most limit + 1). */
  used: number
  windowStartMs: number
}

/**
 * Takes one request from `account`'s fixed window in one atomic upsert, so every Patchbay process sharing the
 * database shares the budget. A request over the limit is not counted beyond limit + 1 (the count cannot grow
 * without bound while callers are refused). Accounts are namespaced by their users (a hash for vendor accounts,
 * `api:` for API keys), and times are epoch milliseconds of Patchbay's clock, so tests drive windows exactly.
 */
export async function takeFromWindow(
  db: Executor,
  account: string,
  limit: number,
  windowMs: number,
  now: number,
): Promise<WindowTaken> {
  if (!(limit > 0) || !(windowMs > 0)) throw new Error('a request budget needs a positive limit and window')
  const [row] = await rows<{ window_start_ms: number | string; used: number }>(
    db,
    sql`INSERT INTO request_budgets AS b (account, window_start_ms, used)
        VALUES (${account}, ${now}, 1)
        ON CONFLICT (account) DO UPDATE SET
          window_start_ms = CASE WHEN b.window_start_ms + ${windowMs} <= ${now} THEN ${now} ELSE b.window_start_ms END,
          used = CASE WHEN b.window_start_ms + ${windowMs} <= ${now} THEN 1 ELSE LEAST(b.used + 1, ${limit + 1}) END
        RETURNING window_start_ms, used`,
  )
  if (!row) throw new Error('the request budget upsert returned no row')
  return { used: row.used, windowStartMs: Number(row.window_start_ms) }
}

/** A RequestBudget for vendors' per-account limits (Datto RMM: 600 requests per 60 s), kept in the database. */
export class DatabaseRequestBudget implements RequestBudget {
  constructor(
    private readonly db: Executor,
    private readonly clock: Clock,
  ) {}

  async take(account: string, limit: number, windowMs: number): Promise<number> {
    const now = this.clock.now().getTime()
    const { used, windowStartMs } = await takeFromWindow(this.db, account, limit, windowMs, now)
    if (used <= limit) return 0
    return Math.max(1, windowStartMs + windowMs - now)
  }
}
