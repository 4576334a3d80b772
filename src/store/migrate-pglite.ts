import fs from 'node:fs'
import path from 'node:path'
import pg from 'pg'
import { DERIVED_TABLES, recountDeliveryDays } from './backup.ts'
import { LEGACY_PGLITE_DIR } from './embedded.ts'
import { MIGRATIONS_DIR } from './migrate.ts'
import { MigrateEmbeddedError } from './migrate-embedded-error.ts'

export interface CopiedTable {
  table: string
  rows: number
}

export { MigrateEmbeddedError }

const BATCH = 2000

/**
 * Copies a DATA_DIR's old PGlite database into the embedded PostgreSQL at `targetUrl` (already migrated to the
 * current schema, and empty), once. PGlite is loaded only here (a dev dependency, or installed for this one run):
 * the source is first migrated to the current schema too, so both have the same tables and columns; then every
 * table is copied in one target transaction, rows as JSON (`row_to_json` out, `json_populate_recordset` in, which
 * converts every column type through its text form) with foreign keys off for the transaction
 * (`session_replication_role = replica`), so table order does not matter. Counts are compared before commit.
 * On success the old directory is renamed to `pgdata.migrated-<time>`, kept until the operator deletes it.
 */
export async function migrateFromPglite(
  dataDir: string,
  targetUrl: string,
  progress: (line: string) => void,
): Promise<CopiedTable[]> {
  const source = path.join(dataDir, LEGACY_PGLITE_DIR)
  if (!fs.existsSync(path.join(source, 'PG_VERSION'))) {
    throw new MigrateEmbeddedError(`nothing to migrate: ${source} holds no PGlite database`)
  }
  let PGlite: typeof import('@electric-sql/pglite').PGlite
  let drizzle: typeof import('drizzle-orm/pglite').drizzle
  let migrate: typeof import('drizzle-orm/pglite/migrator').migrate
  try {
    ;({ PGlite } = await import('@electric-sql/pglite'))
    ;({ drizzle } = await import('drizzle-orm/pglite'))
    ;({ migrate } = await import('drizzle-orm/pglite/migrator'))
  } catch {
    throw new MigrateEmbeddedError(
      'reading the old database needs PGlite: run "npm install --no-save @electric-sql/pglite@0.5" in the Patchbay directory, then this command again',
    )
  }

  const target = new pg.Client({ connectionString: targetUrl })
  await target.connect()
  const lite = await PGlite.create({ dataDir: source })
  try {
    await migrate(drizzle({ client: lite }), { migrationsFolder: MIGRATIONS_DIR })
    const tables = (
      await target.query<{ table: string; columns: string[] }>(
        `SELECT c.relname AS table,
                array_agg(a.attname::text ORDER BY a.attnum) AS columns
         FROM pg_class c
         JOIN pg_namespace n ON n.oid = c.relnamespace
         JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''
         WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition
         GROUP BY c.relname ORDER BY c.relname`,
      )
    ).rows.filter((t) => !DERIVED_TABLES.has(t.table))
    for (const { table } of tables) {
      const q = pg.escapeIdentifier(table)
      const found = await target.query(`SELECT 1 FROM ${q} LIMIT 1`)
      if (found.rowCount) {
        throw new MigrateEmbeddedError(
          `the embedded PostgreSQL already holds data (table ${table}); migrate-embedded only fills a new one`,
        )
      }
    }

    const copied: CopiedTable[] = []
    await target.query('BEGIN')
    try {
      await target.query('SET LOCAL session_replication_role = replica')
      for (const { table, columns } of tables) {
        const q = pg.escapeIdentifier(table)
        const cols = columns.map((c) => pg.escapeIdentifier(c)).join(', ')
        let n = 0
        await lite.transaction(async (tx) => {
          await tx.query(
            `DECLARE rows_out NO SCROLL CURSOR FOR SELECT row_to_json(x)::text AS r FROM (SELECT ${cols} FROM ${q}) x`,
          )
          for (;;) {
            const batch = (await tx.query<{ r: string }>(`FETCH ${BATCH} FROM rows_out`)).rows
            if (batch.length === 0) break
            await target.query(
              `INSERT INTO ${q} (${cols}) OVERRIDING SYSTEM VALUE
               SELECT ${cols} FROM json_populate_recordset(null::${q}, $1::json)`,
              [`[${batch.map((b) => b.r).join(',')}]`],
            )
            n += batch.length
          }
          await tx.query('CLOSE rows_out')
        })
        const [counted] = (await target.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${q}`)).rows
        if (counted?.n !== n) {
          throw new MigrateEmbeddedError(`copying ${table}: read ${n} rows, the target holds ${counted?.n}`)
        }
        copied.push({ table, rows: n })
        progress(`  ${table}: ${n}`)
      }
      // Sequences owned by columns (serial, identity) continue after the copied values.
      const seqs = await target.query<{ seq: string; tbl: string; col: string }>(
        `SELECT s.oid::regclass::text AS seq, t.oid::regclass::text AS tbl, a.attname AS col
         FROM pg_class s
         JOIN pg_depend d ON d.objid = s.oid AND d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass
         JOIN pg_class t ON t.oid = d.refobjid
         JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = d.refobjsubid
         JOIN pg_namespace n ON n.oid = t.relnamespace
         WHERE s.relkind = 'S' AND n.nspname = 'public'`,
      )
      for (const s of seqs.rows) {
        await target.query(
          `SELECT setval($1::regclass, COALESCE((SELECT max(${pg.escapeIdentifier(s.col)}) FROM ${s.tbl}), 0) + 1, false)`,
          [s.seq],
        )
      }
      await target.query('SET LOCAL session_replication_role = origin')
      await recountDeliveryDays(target)
      await target.query('COMMIT')
    } catch (err) {
      await target.query('ROLLBACK').catch(() => undefined)
      throw err
    }
    await lite.close()
    fs.renameSync(source, `${source}.migrated-${new Date().toISOString().replace(/[:.]/g, '-')}`)
    return copied
  } finally {
    if (!lite.closed) await lite.close().catch(() => undefined)
    await target.end()
  }
}
