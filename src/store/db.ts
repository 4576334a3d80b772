import fs from 'node:fs'
import path from 'node:path'
import { PGlite } from '@electric-sql/pglite'
import { type SQL, sql } from 'drizzle-orm'
import { drizzle as drizzlePg } from 'drizzle-orm/node-postgres'
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core'
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite'
import pg from 'pg'
import * as schema from './schema/index.ts'

export type Schema = typeof schema
export type Orm = PgDatabase<PgQueryResultHKT, Schema>
/** Either the whole database or an open transaction; repositories accept both. */
export type Executor = Orm | Parameters<Parameters<Orm['transaction']>[0]>[0]

/** Raw parameterised SQL, for the hot paths (ingest, claim, completion) where the query builder costs too much. */
export interface Querier {
  /** `name` makes it a prepared statement on a served database (parsed and planned once per connection). */
  query<T = Record<string, unknown>>(text: string, params?: unknown[], name?: string): Promise<T[]>
}

export interface Database extends Querier {
  readonly kind: 'embedded' | 'served'
  readonly orm: Orm
  /**
   * For writes that may be lost in a database crash without losing work: delivery claims and outcomes. A lost
   * claim leaves the delivery due; a lost outcome lets its lease expire; either way it is attempted again
   * (at-least-once). On a served database these commits do not wait for the WAL flush
   * (synchronous_commit=off), which is most of their cost.
   */
  readonly relaxed: Querier
  /** Runs `fn` in one transaction on one connection; commits when it resolves, rolls back when it throws. */
  transaction<T>(fn: (q: Querier) => Promise<T>): Promise<T>
  /** Runs `fn` for every NOTIFY on `channel` until the returned function is called. */
  listen(channel: string, fn: (payload: string) => void): Promise<() => Promise<void>>
  close(): Promise<void>
}

/** Rows of a raw statement, the same on both drivers. */
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

export function openServed(opts: ServedOptions): Database {
  const pool = new pg.Pool({ connectionString: opts.url, max: opts.poolSize })
  pool.on('error', (err) => opts.onError?.(err))
  let relaxedPool: pg.Pool | undefined
  const relaxed = () => {
    if (!relaxedPool) {
      relaxedPool = new pg.Pool({
        connectionString: opts.url,
        max: Math.max(2, Math.ceil(opts.poolSize / 2)),
        // The claim query's best plan depends on its parameters (which targets are busy); a cached generic plan
        // loops over every due row per candidate once the queue has been empty a few times.
        options: '-c synchronous_commit=off -c plan_cache_mode=force_custom_plan',
      })
      relaxedPool.on('error', (err) => opts.onError?.(err))
    }
    return relaxedPool
  }
  const orm = drizzlePg({ client: pool, schema }) as unknown as Orm
  return {
    kind: 'served',
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
    async listen(channel, fn) {
      const listener = new PgListener(opts.url, channel, fn, opts.onError)
      await listener.start()
      return () => listener.stop()
    },
    async close() {
      await Promise.all([pool.end(), relaxedPool?.end()])
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

export interface EmbeddedOptions {
  /** A directory, or undefined for an in-memory database. */
  dataDir?: string | undefined
  /** A tarball made by `dumpDataDir`, to start from (tests restore a migrated template this way). */
  loadDataDir?: Blob | File | undefined
}

export async function openEmbedded(opts: EmbeddedOptions): Promise<Database> {
  const client = await PGlite.create({
    // PGlite runs a single backend, so WAL segments are created inline, in the thread that serves requests:
    // zero-filling 16 MB each time stalls everything for tens of ms (a WAL file need not be zeroed on a
    // non-copy-on-write filesystem to be valid: https://www.postgresql.org/docs/current/runtime-config-wal.html).
    // No bitmap scans: without autovacuum, the delivery queue's index fills with entries of rows already gone; a
    // plain index scan marks them dead as it passes (the next scan skips them), a bitmap scan never does, so every
    // claim would recheck all of them (twice as slow after a burst).
    startParams: [...PGlite.defaultStartParams, '-c', 'wal_init_zero=off', '-c', 'enable_bitmapscan=off'],
    ...(opts.dataDir ? { dataDir: opts.dataDir } : {}),
    ...(opts.loadDataDir ? { loadDataDir: opts.loadDataDir } : {}),
  })
  const orm = drizzlePglite({ client, schema }) as unknown as Orm
  const query: Querier['query'] = async (text, params) =>
    (await client.query(text, params ?? [])).rows as never[]
  return {
    kind: 'embedded',
    orm,
    relaxed: { query },
    query,
    transaction(fn) {
      return client.transaction((tx) =>
        fn({ query: async (text, params) => (await tx.query(text, params ?? [])).rows as never[] }),
      )
    },
    async listen(channel, fn) {
      const unlisten = await client.listen(channel, fn)
      return unlisten
    },
    async close() {
      await client.close()
    },
  }
}

/** The PGlite handle behind an embedded database, for dumping test templates. */
export function pgliteOf(db: Database): PGlite {
  return (db.orm as unknown as { $client: PGlite }).$client
}

/**
 * Embedded PostgreSQL lives inside one process. Two processes on one data directory would corrupt it, so the
 * first one takes a lock file and the others are refused with a message that says what to do instead.
 */
export function lockDataDir(dataDir: string): () => void {
  fs.mkdirSync(dataDir, { recursive: true })
  const lockPath = path.join(dataDir, 'patchbay.lock')
  for (let i = 0; i < 2; i++) {
    try {
      const fd = fs.openSync(lockPath, 'wx')
      fs.writeSync(fd, String(process.pid))
      fs.closeSync(fd)
      return () => {
        try {
          if (fs.readFileSync(lockPath, 'utf8') === String(process.pid)) fs.unlinkSync(lockPath)
        } catch {
          // already gone
        }
      }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
      const pid = Number.parseInt(fs.readFileSync(lockPath, 'utf8'), 10)
      if (Number.isInteger(pid) && pid !== process.pid && isAlive(pid)) {
        throw new Error(
          `The embedded database in ${dataDir} is in use by another Patchbay process (pid ${pid}). ` +
            'Embedded mode runs in one process; stop that process first, or set DATABASE_URL to run ' +
            'several processes against a served PostgreSQL.',
        )
      }
      fs.unlinkSync(lockPath)
    }
  }
  throw new Error(`Could not lock ${lockPath}`)
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}
