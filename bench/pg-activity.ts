/**
 * Where the served database spends its time: samples pg_stat_activity for the bench database's active
 * backends every few milliseconds and counts statements (and what they wait on). A statement's share of
 * samples is the average number of backends running it — a profile of the database side, with nothing to
 * install on the server (pg_stat_statements needs shared_preload_libraries).
 */
import pg from 'pg'

export interface StatementShare {
  statement: string
  /** Average backends running it over the window (1.0 = one backend busy with it all the time). */
  backends: number
  /** Share of all active-backend samples. */
  share: number
  waits: Record<string, number>
}

export interface ActivityProfile {
  samples: number
  /** Average active backends of the bench database. */
  activeBackends: number
  statements: StatementShare[]
}

function normalise(query: string): string {
  return query.replace(/\s+/g, ' ').trim().slice(0, 140)
}

export class PgActivitySampler {
  readonly #client: pg.Client
  readonly #counts = new Map<string, { n: number; waits: Map<string, number> }>()
  #samples = 0
  #timer: NodeJS.Timeout | undefined
  #busy = false

  constructor(
    url: string,
    private readonly database: string,
    private readonly everyMs = 20,
  ) {
    this.#client = new pg.Client({ connectionString: url })
  }

  async start(): Promise<void> {
    await this.#client.connect()
    this.#timer = setInterval(() => void this.#sample(), this.everyMs)
  }

  async #sample(): Promise<void> {
    if (this.#busy) return
    this.#busy = true
    try {
      const res = await this.#client.query<{ query: string; wait: string | null }>(
        `SELECT query, wait_event_type || ':' || wait_event AS wait FROM pg_stat_activity
         WHERE datname = $1 AND state = 'active' AND pid <> pg_backend_pid()`,
        [this.database],
      )
      this.#samples++
      for (const r of res.rows) {
        const key = normalise(r.query)
        const c = this.#counts.get(key) ?? { n: 0, waits: new Map<string, number>() }
        c.n++
        const w = r.wait ?? 'CPU'
        c.waits.set(w, (c.waits.get(w) ?? 0) + 1)
        this.#counts.set(key, c)
      }
    } catch {
      // The database is being dropped, or the sampler is stopping.
    } finally {
      this.#busy = false
    }
  }

  async stop(): Promise<ActivityProfile> {
    clearInterval(this.#timer)
    while (this.#busy) await new Promise((r) => setTimeout(r, 5))
    await this.#client.end().catch(() => undefined)
    return this.take()
  }

  /** The profile since the start or the last take, and a fresh count from now. */
  take(): ActivityProfile {
    const profile = this.#profile()
    this.#counts.clear()
    this.#samples = 0
    return profile
  }

  #profile(): ActivityProfile {
    const total = [...this.#counts.values()].reduce((a, c) => a + c.n, 0)
    const samples = Math.max(1, this.#samples)
    return {
      samples: this.#samples,
      activeBackends: total / samples,
      statements: [...this.#counts]
        .sort((a, b) => b[1].n - a[1].n)
        .slice(0, 10)
        .map(([statement, c]) => ({
          statement,
          backends: c.n / samples,
          share: total > 0 ? c.n / total : 0,
          waits: Object.fromEntries([...c.waits].sort((a, b) => b[1] - a[1])),
        })),
    }
  }
}

/** A short name for the engine's statements (by their opening words), for one-line summaries. */
export function statementLabel(statement: string): string {
  const known: [RegExp, string][] = [
    [/^WITH cand AS/, 'claim'],
    [/^UPDATE deliveries d SET status = v\.status/, 'complete'],
    [/^UPDATE webhooks w SET success_count/, 'webhook stats'],
    [/^INSERT INTO deliveries/, 'fan-out'],
    [/^INSERT INTO events/, 'ingest'],
    [/^SELECT min\(next_attempt_at\)/, 'next due'],
    [/^UPDATE deliveries SET status = 'retrying'/, 'reap leases'],
    [/^SELECT id, org_id, url, status, signature_scheme/, 'load webhooks'],
    [/^autovacuum:/i, 'autovacuum'],
  ]
  for (const [re, label] of known) if (re.test(statement)) return label
  return statement.slice(0, 24)
}
