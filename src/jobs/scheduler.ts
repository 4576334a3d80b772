import { sql } from 'drizzle-orm'
import type { AppContext } from '../context.ts'
import { rows } from '../store/db.ts'
import type { ScheduleDefinition } from './define.ts'
import { enqueueJob } from './store.ts'

/**
 * Periodic tasks, shared safely by any number of processes: a due schedule row is claimed with
 * `FOR UPDATE SKIP LOCKED`, its job is enqueued (deduplicated while the previous one is still queued or
 * running) and `next_run_at` moves to the first tick after now, all in one transaction.
 */
export class Scheduler {
  #ensured = false
  readonly #byName: Map<string, { def: ScheduleDefinition; intervalMs: number }>

  constructor(
    private readonly ctx: AppContext,
    schedules: readonly ScheduleDefinition[],
  ) {
    this.#byName = new Map()
    for (const def of schedules) {
      const intervalMs = def.intervalMs(ctx.config)
      if (intervalMs > 0) this.#byName.set(def.name, { def, intervalMs })
    }
  }

  /** Creates missing schedule rows (first run: now) and applies changed intervals. */
  async ensure(): Promise<void> {
    const now = this.ctx.clock.now().toISOString()
    for (const [name, { intervalMs }] of this.#byName) {
      await this.ctx.db.orm.execute(
        sql`INSERT INTO job_schedules (name, interval_ms, next_run_at, updated_at)
            VALUES (${name}, ${intervalMs}, ${now}, ${now})
            ON CONFLICT (name) DO UPDATE SET
              interval_ms = EXCLUDED.interval_ms,
              next_run_at = CASE WHEN job_schedules.interval_ms <> EXCLUDED.interval_ms
                THEN LEAST(job_schedules.next_run_at,
                           ${now}::timestamptz + EXCLUDED.interval_ms * interval '1 millisecond')
                ELSE job_schedules.next_run_at END,
              updated_at = EXCLUDED.updated_at`,
      )
    }
    this.#ensured = true
  }

  /** Enqueues the job of every due schedule. Returns how many schedules fired. */
  async runDue(): Promise<number> {
    if (!this.#ensured) await this.ensure()
    if (this.#byName.size === 0) return 0
    const now = this.ctx.clock.now()
    const names = JSON.stringify([...this.#byName.keys()])
    return this.ctx.db.orm.transaction(async (tx) => {
      const due = await rows<{ name: string; next_run_at: Date | string }>(
        tx,
        sql`SELECT name, next_run_at FROM job_schedules
            WHERE next_run_at <= ${now.toISOString()}
              AND name IN (SELECT jsonb_array_elements_text(${names}::jsonb))
            ORDER BY next_run_at
            FOR UPDATE SKIP LOCKED`,
      )
      for (const row of due) {
        const entry = this.#byName.get(row.name)
        if (!entry) continue
        await enqueueJob(tx, entry.def.job, entry.def.payload, now, { dedupeKey: `schedule:${row.name}` })
        const next = nextTick(new Date(row.next_run_at).getTime(), entry.intervalMs, now.getTime())
        await tx.execute(
          sql`UPDATE job_schedules SET next_run_at = ${new Date(next).toISOString()},
                last_run_at = ${now.toISOString()}, updated_at = ${now.toISOString()}
              WHERE name = ${row.name}`,
        )
      }
      return due.length
    })
  }
}

/** The first tick of the series `from + k·interval` strictly after `now`; missed ticks are skipped. */
export function nextTick(from: number, intervalMs: number, now: number): number {
  if (from > now) return from
  return from + (Math.floor((now - from) / intervalMs) + 1) * intervalMs
}
