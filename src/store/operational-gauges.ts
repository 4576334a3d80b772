import { sql } from 'drizzle-orm'
import type { OperationalGauges } from '../lib/metrics.ts'
import { type Executor, rows } from './db.ts'

/**
 * The queue gauges a metrics scrape reports, in one statement that stays cheap however long the history grows: it
 * reads only the work tables (delivery_queue holds open work, not history; delivery_holds one row per target
 * whose circuit is open, removed when it closes), the oldest due time from the due index, and the jobs not yet finished through their (status, run_at) index.
 */
export async function readOperationalGauges(db: Executor, now: Date): Promise<OperationalGauges> {
  const [row] = await rows<{
    depth: number | string
    due: number | string
    oldest_due: Date | string | null
    open_circuits: number | string
    jobs_pending: number | string
    jobs_running: number | string
  }>(
    db,
    sql`SELECT
          (SELECT count(*) FROM delivery_queue) AS depth,
          (SELECT count(*) FROM delivery_queue WHERE lease_until IS NULL AND next_attempt_at <= ${now}) AS due,
          (SELECT min(next_attempt_at) FROM delivery_queue WHERE lease_until IS NULL) AS oldest_due,
          (SELECT count(*) FROM delivery_holds) AS open_circuits,
          (SELECT count(*) FROM jobs WHERE status = 'pending') AS jobs_pending,
          (SELECT count(*) FROM jobs WHERE status = 'running') AS jobs_running`,
  )
  if (!row) throw new Error('the gauge query returned no row')
  const oldest = row.oldest_due === null ? null : new Date(row.oldest_due).getTime()
  return {
    queueDepth: Number(row.depth),
    queueDue: Number(row.due),
    oldestDueAgeSeconds: oldest !== null && oldest <= now.getTime() ? (now.getTime() - oldest) / 1000 : 0,
    openCircuits: Number(row.open_circuits),
    jobs: { pending: Number(row.jobs_pending), running: Number(row.jobs_running) },
  }
}
