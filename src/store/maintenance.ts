import type { AppContext } from '../context.ts'
import type { Service } from '../server.ts'

export interface MaintenanceOptions {
  /** How often the delivery queue (the table that churns most) is vacuumed. */
  queueEveryMs: number
  /** How often every table is vacuumed and analyzed. */
  allEveryMs: number
  /**
   * How often a checkpoint runs. PGlite has no checkpointer process: left alone, a checkpoint happens inline once
   * max_wal_size of WAL has piled up and writes every dirty buffer at once; regular ones keep each short.
   */
  checkpointEveryMs: number
}

/**
 * The embedded database (PGlite) runs no autovacuum. Every delivery inserts, leases and deletes a queue row, so
 * without this the queue's dead rows pile up by thousands a second, and each claim walks past all of them; and
 * without ANALYZE the planner never learns how large anything has grown; nor does it run a checkpointer. Served
 * PostgreSQL does all of this in background processes.
 */
export class EmbeddedMaintenance implements Service {
  readonly name = 'embedded-maintenance'
  readonly #ctx: AppContext
  readonly #opts: MaintenanceOptions
  #timers: NodeJS.Timeout[] = []
  #running: Promise<void> | undefined

  constructor(ctx: AppContext, opts: Partial<MaintenanceOptions> = {}) {
    this.#ctx = ctx
    this.#opts = { queueEveryMs: 5000, allEveryMs: 10 * 60_000, checkpointEveryMs: 20_000, ...opts }
  }

  /** How many maintenance tasks are scheduled (none for served PostgreSQL). */
  get scheduled(): number {
    return this.#timers.length
  }

  async start(): Promise<void> {
    if (this.#ctx.db.kind !== 'embedded') return
    const every = (ms: number, sql: string) => {
      const t = setInterval(() => void this.run(sql), ms)
      t.unref()
      this.#timers.push(t)
    }
    every(this.#opts.queueEveryMs, 'VACUUM (ANALYZE) delivery_queue')
    every(this.#opts.allEveryMs, 'VACUUM (ANALYZE)')
    every(this.#opts.checkpointEveryMs, 'CHECKPOINT')
  }

  async stop(): Promise<void> {
    for (const t of this.#timers) clearInterval(t)
    this.#timers = []
    await this.#running
  }

  /** Runs one maintenance statement, unless one is still running; failures are logged, never thrown. */
  async run(sql: string): Promise<void> {
    if (this.#running) return
    const started = performance.now()
    this.#running = this.#ctx.db.relaxed
      .query(sql)
      .then(() => {
        const ms = Math.round(performance.now() - started)
        // Everything else waits while it runs (the embedded database has one executor): worth knowing when long.
        if (ms >= 100) this.#ctx.log.warn({ sql, ms }, 'embedded database maintenance took long')
        else this.#ctx.log.debug({ sql, ms }, 'embedded database maintenance')
      })
      .catch((err) => this.#ctx.log.warn({ err, sql }, 'embedded database maintenance failed'))
      .finally(() => {
        this.#running = undefined
      })
    await this.#running
  }
}
