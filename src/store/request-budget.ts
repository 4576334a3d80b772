import { sql } from 'drizzle-orm'
import type { RequestBudget } from '../connectors/types.ts'
import type { Clock } from '../lib/clock.ts'
import { type Executor, rows } from './db.ts'

/**
 * A RequestBudget kept in the database: one fixed window per account, taken with one atomic upsert, so every
 * Patchbay process sharing the database shares the vendor's budget. A request over the limit is not counted
 * beyond limit + 1 (the count cannot grow without bound while callers are refused).
 */
export class DatabaseRequestBudget implements RequestBudget {
  constructor(
    private readonly db: Executor,
    private readonly clock: Clock,
  ) {}

  async take(account: string, limit: number, windowMs: number): Promise<number> {
    if (!(limit > 0) || !(windowMs > 0)) throw new Error('a request budget needs a positive limit and window')
    const now = this.clock.now().getTime()
    const [row] = await rows<{ window_start_ms: number | string; used: number }>(
      this.db,
      sql`INSERT INTO request_budgets AS b (account, window_start_ms, used)
          VALUES (${account}, ${now}, 1)
          ON CONFLICT (account) DO UPDATE SET
            window_start_ms = CASE WHEN b.window_start_ms + ${windowMs} <= ${now} THEN ${now} ELSE b.window_start_ms END,
            used = CASE WHEN b.window_start_ms + ${windowMs} <= ${now} THEN 1 ELSE LEAST(b.used + 1, ${limit + 1}) END
          RETURNING window_start_ms, used`,
    )
    if (!row) throw new Error('the request budget upsert returned no row')
    if (row.used <= limit) return 0
    return Math.max(1, Number(row.window_start_ms) + windowMs - now)
  }
}
