import readline from 'node:readline'
import type { Readable } from 'node:stream'
import type pg from 'pg'
import { BackupError } from './backup-error.ts'

/**
 * Reading the backups Patchbay wrote before they became pg_dump files: gzip-compressed JSON lines
 *
 *   ["h", {format: "patchbay-backup", version: 1, createdAt, server, migrations: [hash…], sequences: {name: value}}]
 *   ["t", table, [column…]]       then one line per row of that table:
 *   ["r", {column: value…}]       (PostgreSQL's own JSON rendering of the row, row_to_json)
 *   ["e", {table: rows…}]         the end: a file without it was cut short and is refused
 *
 * Kept so that backups taken before stay usable; nothing writes this format any more.
 */
export const LEGACY_FORMAT = 'patchbay-backup'
export const LEGACY_VERSION = 1

export interface LegacyHeader {
  format: typeof LEGACY_FORMAT
  version: number
  createdAt: string
  server: string
  migrations: string[]
  sequences: Record<string, number | null>
}

const ident = (name: string) => `"${name.replace(/"/g, '""')}"`
const BATCH = 500

async function* records(file: string, input: Readable): AsyncGenerator<unknown[]> {
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
  } finally {
    rl.close()
    input.destroy()
  }
}

/** The header of a JSON-lines backup (`input` is its decompressed text), or a BackupError saying why not. */
export async function readLegacyHeader(file: string, input: Readable): Promise<LegacyHeader> {
  for await (const rec of records(file, input)) {
    const header = rec[1] as LegacyHeader | undefined
    if (rec[0] !== 'h' || header?.format !== LEGACY_FORMAT) {
      throw new BackupError(`${file} is not a Patchbay backup`)
    }
    if (header.version !== LEGACY_VERSION) {
      throw new BackupError(
        `${file} is a version ${header.version} backup; this Patchbay reads version ${LEGACY_VERSION}`,
      )
    }
    return header
  }
  throw new BackupError(`${file} is empty`)
}

/**
 * Loads a JSON-lines backup through `c`, inside the caller's transaction (empty tables, triggers off): the
 * database's migrations must be exactly the backup's.
 */
export async function loadLegacy(
  c: pg.Client,
  file: string,
  input: Readable,
  header: LegacyHeader,
  have: { migrations: string[]; tables: Set<string> },
  progress?: (table: string, rows: number) => void,
): Promise<Record<string, number>> {
  if (
    have.migrations.length !== header.migrations.length ||
    have.migrations.some((h, i) => h !== header.migrations[i])
  ) {
    throw new BackupError(
      `the backup was taken at schema version ${header.migrations.length} (migrations), this Patchbay is at ` +
        `${have.migrations.length}: restore it with the Patchbay version that took it, then upgrade`,
    )
  }
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
  for await (const rec of records(file, input)) {
    if (first) {
      first = false
      continue // the header, read before
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
        if (table) progress?.(table, counts[table] ?? 0)
        table = String(rec[1])
        if (!have.tables.has(table))
          throw new BackupError(`the backup has a table this schema lacks: ${table}`)
        cols = rec[2] as string[]
        counts[table] = 0
        break
      }
      case 'e':
        await flush()
        if (table) progress?.(table, counts[table] ?? 0)
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
  return counts
}
