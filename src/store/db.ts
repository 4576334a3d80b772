import { type SQL, sql } from 'drizzle-orm'
import { drizzle as drizzlePg } from 'drizzle-orm/node-postgres'
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core'
import pg from 'pg'
import * as schema from './schema/index.ts'

export type Schema = typeof schema
export type Orm = PgDatabase<PgQueryResultHKT, Schema>
/** Either the whole database or an open transaction; repositories accept both. */
export type Executor = Orm | Parameters<Parameters<Orm['transaction']>[0]>[0]

/** Raw parameterised SQL, for the hot paths (ingest, claim, completion) where the query builder costs too much. */
export interface Querier {
  /** `name` makes it a prepared statement (parsed and planned once per connection). */
  query<T = Record<string, unknown>>(text: string, params?: unknown[], name?: string): Promise<T[]>
}

/**
 * A PostgreSQL database through a `pg` pool: the embedded server Patchbay runs itself, or a served one
 * (DATABASE_URL). One driver, one SQL path.
 */
export interface Database extends Querier {
  readonly orm: Orm
  /**
   * For writes that may be lost in a database crash without losing work: delivery claims and outcomes. A lost
   * claim leaves the delivery due; a lost outcome lets its lease expire; either way it is attempted again
   * (at-least-once). These commits do not wait for the WAL flush
   * (synchronous_commit=off), which is most of their cost.
   */
  readonly relaxed: Querier
  /** Runs `fn` in one transaction on one connection; commits when it resolves, rolls back when it throws. */
  transaction<T>(fn: (q: Querier) => Promise<T>): Promise<T>
  /**
   * Opens the pools' connections now and has each plan a statement over the delivery history, so the first
   * requests and claims after a start do not each pay for a new server process and a cold catalog (on a new
   * connection, the first statement over the partitioned history plans every partition's catalog entries).
   */
  warm(): Promise<void>
  /** Runs `fn` for every NOTIFY on `channel` until the returned function is called. */
  listen(channel: string, fn: (payload: string) => void): Promise<() => Promise<void>>
  close(): Promise<void>
}

/** Rows of a raw statement. */
export async function rows<T>(db: Executor, query: SQL): Promise<T[]> {
  const result = (await db.execute(query)) as unknown as { rows: T[] }
  return result.rows
}

export async function notify(db: Executor, channel: string, payload = ''): Promise<void> {
  await db.execute(sql`select pg_notify(${channel}, ${payload})`)
}

// int8 (count(*), sums) arrives as text by default; every count Patchbay reads fits in a double.
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number.parseInt(v, 10))

export interface ServedOptions {
  url: string
  poolSize: number
  onError?: (err: Error) => void
}

/**
 * What a warmed connection runs: planning (EXPLAIN without ANALYZE reads no rows) loads the partitioned history's
 * catalog entries, every partition and index, into the connection's caches.
 */
const WARM_SQL = `EXPLAIN (COSTS OFF) SELECT d.id FROM deliveries d JOIN delivery_queue q ON q.id = d.id
  WHERE d.org_id = '00000000-0000-0000-0000-000000000000' ORDER BY d.id DESC LIMIT 1`

/**
 * How long an idle pooled connection stays open: long, because a new one costs a server process, a password
 * exchange and cold catalog caches (see warm), which showed as the slowest requests after any quiet spell (the
 * pg default closes them after 10 s).
 */
const IDLE_MS = 10 * 60_000

async function warmPool(pool: pg.Pool, size: number): Promise<void> {
  const clients = await Promise.all(Array.from({ length: size }, () => pool.connect()))
  try {
    await Promise.all(clients.map((c) => c.query(WARM_SQL)))
  } finally {
    for (const c of clients) c.release()
  }
}

/**
 * Connections of a pool whose sockets are still open. pg's `Pool.end()` resolves once it has asked each client to
 * end, not once they have: an embedded server stopped right after would terminate them mid-goodbye, and each would
 * report "terminating connection due to administrator command" on a clean shutdown.
 */
function trackOpen(pool: pg.Pool): Set<pg.Client> {
  const open = new Set<pg.Client>()
  pool.on('connect', (client) => {
    open.add(client)
    client.once('end', () => open.delete(client))
  })
  return open
}

/** Ends a pool and waits until its connections' sockets have closed (at most `CLOSE_WAIT_MS`). */
async function endPool(pool: pg.Pool, open: Set<pg.Client>): Promise<void> {
  const closed = Promise.all([...open].map((c) => new Promise((resolve) => c.once('end', resolve))))
  await pool.end()
  let timer: NodeJS.Timeout | undefined
  await Promise.race([
    closed,
    new Promise((resolve) => {
      timer = setTimeout(resolve, CLOSE_WAIT_MS)
      timer.unref()
    }),
  ])
  clearTimeout(timer)
}

const CLOSE_WAIT_MS = 2_000

export function openServed(opts: ServedOptions): Database {
  const pool = new pg.Pool({ connectionString: opts.url, max: opts.poolSize, idleTimeoutMillis: IDLE_MS })
  pool.on('error', (err) => opts.onError?.(err))
  const poolOpen = trackOpen(pool)
  let relaxedOpen = new Set<pg.Client>()
  let relaxedPool: pg.Pool | undefined
  const relaxedSize = Math.max(2, Math.ceil(opts.poolSize / 2))
  const relaxed = () => {
    if (!relaxedPool) {
      relaxedPool = new pg.Pool({
        connectionString: opts.url,
        max: relaxedSize,
        idleTimeoutMillis: IDLE_MS,
        // The claim query's best plan depends on its parameters (which targets are busy); a cached generic plan
        // loops over every due row per candidate once the queue has been empty a few times.
        options: '-c synchronous_commit=off -c plan_cache_mode=force_custom_plan',
      })
      relaxedPool.on('error', (err) => opts.onError?.(err))
      relaxedOpen = trackOpen(relaxedPool)
    }
    return relaxedPool
  }
  const orm = drizzlePg({ client: pool, schema }) as unknown as Orm
  return {
    orm,
    relaxed: {
      async query(text, params, name) {
        const res = await relaxed().query(
          name ? { name, text, values: params ?? [] } : { text, values: params ?? [] },
        )
        return res.rows
      },
    },
    async query(text, params, name) {
      const res = await pool.query(
        name ? { name, text, values: params ?? [] } : { text, values: params ?? [] },
      )
      return res.rows
    },
    async transaction(fn) {
      const client = await pool.connect()
      try {
        await client.query('BEGIN')
        const result = await fn({
          async query(text, params, name) {
            const res = await client.query(
              name ? { name, text, values: params ?? [] } : { text, values: params ?? [] },
            )
            return res.rows
          },
        })
        await client.query('COMMIT')
        return result
      } catch (err) {
        await client.query('ROLLBACK').catch(() => undefined)
        throw err
      } finally {
        client.release()
      }
    },
    async warm() {
      await Promise.all([warmPool(pool, opts.poolSize), warmPool(relaxed(), relaxedSize)])
    },
    async listen(channel, fn) {
      const listener = new PgListener(opts.url, channel, fn, opts.onError)
      await listener.start()
      return () => listener.stop()
    },
    async close() {
      await Promise.all([
        endPool(pool, poolOpen),
        relaxedPool ? endPool(relaxedPool, relaxedOpen) : undefined,
      ])
    },
  }
}

/**
 * A dedicated connection for LISTEN that reconnects when the server goes away; pooled connections cannot
 * hold a LISTEN. Workers also poll, so notifications lost while reconnecting only cost latency.
 */
class PgListener {
  #client: pg.Client | undefined
  #stopped = false
  #retry: NodeJS.Timeout | undefined
  constructor(
    private readonly url: string,
    private readonly channel: string,
    private readonly fn: (payload: string) => void,
    private readonly onError?: (err: Error) => void,
  ) {}

  async start(): Promise<void> {
    const client = new pg.Client({ connectionString: this.url })
    client.on('notification', (msg) => {
      if (msg.channel === this.channel) this.fn(msg.payload ?? '')
    })
    client.on('error', (err) => {
      this.onError?.(err)
      this.#reconnect()
    })
    client.on('end', () => this.#reconnect())
    await client.connect()
    await client.query(`LISTEN ${pg.escapeIdentifier(this.channel)}`)
    this.#client = client
  }

  #reconnect(): void {
    if (this.#stopped || this.#retry) return
    this.#client = undefined
    this.#retry = setTimeout(() => {
      this.#retry = undefined
      this.start().catch((err: Error) => {
        this.onError?.(err)
        this.#reconnect()
      })
    }, 1000)
    this.#retry.unref()
  }

  async stop(): Promise<void> {
    this.#stopped = true
    if (this.#retry) clearTimeout(this.#retry)
    const client = this.#client
    this.#client = undefined
    if (client) {
      client.removeAllListeners('end')
      await client.end().catch(() => undefined)
    }
  }
}

/**
 * A Querier over a drizzle executor (a transaction), for raw statements written for `Querier` (ingest) that must
 * commit together with query-builder writes (an audit entry). `$n` placeholders become bound parameters.
 */
export function querierOf(db: Executor): Querier {
  return {
    async query<T = Record<string, unknown>>(text: string, params: unknown[] = []): Promise<T[]> {
      const chunks: SQL[] = []
      let last = 0
      for (const m of text.matchAll(/\$(\d+)/g)) {
        chunks.push(sql.raw(text.slice(last, m.index)))
        chunks.push(sql`${sql.param(params[Number(m[1]) - 1])}`)
        last = m.index + m[0].length
      }
      chunks.push(sql.raw(text.slice(last)))
      return rows<T>(db, sql.join(chunks))
    },
  }
}
