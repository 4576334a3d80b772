import { execFile } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import zlib from 'node:zlib'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { DERIVED_TABLES, readBackupHeader, restoreBackup, writeBackup } from '../src/store/backup.ts'
import { openTestDatabase, type TestDatabase } from './databases.ts'
import { createHarness, type Harness } from './harness.ts'

/**
 * The backup file is a data-only dump in pg_dump's plain format: `restoreBackup` (what `patchbay restore` runs)
 * and PostgreSQL's own psql both load it into a migrated database, with every row back as it was. Runs on both
 * databases: the file is written from, and loaded into, this run's server. The command-line flow of the embedded
 * database (while running, key ring) is test/e2e/backup.test.ts.
 */
const run = promisify(execFile)
let h: Harness
let dir: string
let file: string
const databases: TestDatabase[] = []
const TRICKY = 'Tab\there, new\nline, back\\slash \\N, quote \' " and ünïcødé ✓\r.'

async function freshDatabase(): Promise<TestDatabase> {
  const d = await openTestDatabase(inject('dbTemplate'))
  databases.push(d)
  return d
}

async function query<T extends pg.QueryResultRow>(url: string, text: string): Promise<T[]> {
  const c = new pg.Client({ connectionString: url })
  await c.connect()
  try {
    return (await c.query<T>(text)).rows
  } finally {
    await c.end()
  }
}

/** Every table's row count and a digest of its rows (through the parent for the partitioned one), and sequences. */
async function content(url: string): Promise<Record<string, string>> {
  const c = new pg.Client({ connectionString: url })
  await c.connect()
  try {
    const tables = await c.query<{ name: string }>(
      `SELECT c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition ORDER BY 1`,
    )
    const out: Record<string, string> = {}
    // Derived tables (per-day delivery counts) are counted again by restore, not carried.
    for (const { name } of tables.rows.filter((t) => !DERIVED_TABLES.has(t.name))) {
      const [r] = (
        await c.query<{ n: number; digest: string | null }>(
          `SELECT count(*)::int AS n, md5(string_agg(t::text, E'\\n' ORDER BY t::text)) AS digest FROM public."${name}" t`,
        )
      ).rows
      out[name] = `${r?.n} ${r?.digest ?? '-'}`
    }
    const seqs = await c.query<{ name: string; v: string | null }>(
      `SELECT sequencename AS name, last_value::text AS v FROM pg_sequences WHERE schemaname = 'public'`,
    )
    for (const s of seqs.rows) out[`sequence ${s.name}`] = s.v ?? 'unset'
    return out
  } finally {
    await c.end()
  }
}

const rows = (c: Record<string, string>, table: string) => Number((c[table] ?? '0').split(' ')[0])

/** psql as an operator runs it: the machine's own client (PostgreSQL 15 on Debian 12). */
const psql = [
  ...(process.env.PATH ?? '').split(':').map((d) => path.join(d, 'psql')),
  '/usr/lib/postgresql/15/bin/psql',
].find((p) => fs.existsSync(p))

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pb-backup-format-'))
  file = path.join(dir, 'patchbay.sql')
  h = await createHarness()
  const org = await h.json('POST', '/api/v1/orgs', { body: { name: TRICKY } })
  expect(org.status).toBe(201)
  const hook = await h.json('POST', '/api/v1/webhooks', {
    body: {
      orgId: org.body.id,
      name: 'kept',
      url: 'https://hooks.example.test/in',
      secret: 'backup-format-signing-secret',
      events: ['device.online'],
    },
  })
  expect(hook.status).toBe(201)
  for (let i = 0; i < 3; i++) {
    const ev = await h.json('POST', '/api/v1/events', {
      body: {
        orgId: org.body.id,
        id: `ev-${i}`,
        type: 'device.online',
        data: { i, text: TRICKY, none: null },
      },
    })
    expect(ev.status).toBe(202)
  }
}, 60_000)
afterAll(async () => {
  for (const d of databases) await d.drop()
  await h?.close()
  fs.rmSync(dir, { recursive: true, force: true })
})

// Generous: each test creates databases and compares every table, on a machine other work shares.
describe('backup file (pg_dump plain format)', { timeout: 180_000 }, () => {
  it('is a data-only pg_dump script: preamble, level guard, COPY per table through the partitioned parent, trailer', async () => {
    const summary = await writeBackup(h.database.url, file)
    expect(fs.statSync(file).mode & 0o777).toBe(0o600)
    const text = fs.readFileSync(file, 'utf8')
    const [level] = await query<{ n: number }>(
      h.database.url,
      'SELECT count(*)::int AS n FROM drizzle.__drizzle_migrations',
    )
    expect(text.startsWith('--\n-- PostgreSQL database dump\n--\n')).toBe(true)
    expect(text).toContain(`\n-- Patchbay migration level: ${level?.n} (last migration `)
    expect(text).toContain("\nSELECT pg_catalog.set_config('search_path', '', false);\n")
    expect(text).toContain('\nSET session_replication_role = replica;\n')
    expect(text).toMatch(/\nCOPY public\.deliveries \([a-z_", ]+\) FROM stdin;\n/)
    expect(text).toMatch(/\nCOPY public\.delivery_queue \(/)
    expect(text).not.toMatch(/COPY public\.deliveries_/) // the partitions come through their parent
    expect(text).not.toMatch(/COPY drizzle\./) // the schema's bookkeeping is the migrations'
    // COPY's text format, escaped as PostgreSQL escapes it.
    expect(text).toContain('Tab\\there, new\\nline, back\\\\slash \\\\N, quote \' " and ünïcødé ✓\\r.')
    expect(text).not.toContain('backup-format-signing-secret') // sealed, as in the database
    expect(text.endsWith('\n--\n-- PostgreSQL database dump complete\n--\n\n')).toBe(true)
    const before = await content(h.database.url)
    expect(summary.tables).toMatchObject({
      orgs: 1,
      webhooks: 1,
      events: 3,
      deliveries: 3,
      delivery_queue: 3,
    })
    expect(rows(before, 'deliveries')).toBe(3)
    expect(await readBackupHeader(file)).toMatchObject({ kind: 'pg-dump', level: level?.n })
  })

  it('restore loads it into a freshly migrated database with every row as it was; refuses data unless forced', async () => {
    const d = await freshDatabase()
    const summary = await restoreBackup(d.url, file)
    expect(summary.tables).toMatchObject({ orgs: 1, deliveries: 3, delivery_queue: 3 })
    const want = await content(h.database.url)
    expect(await content(d.url)).toEqual(want)
    await expect(restoreBackup(d.url, file)).rejects.toThrow(
      /already holds data \(table [a-z_]+\).*or pass --force/,
    )
    // --force replaces, not adds: the same content again (the trigger that queues deliveries stays off).
    await query(
      d.url,
      `CREATE TEMP TABLE extra AS SELECT * FROM orgs; UPDATE extra SET id = gen_random_uuid();
       INSERT INTO orgs SELECT * FROM extra`,
    )
    expect(rows(await content(d.url), 'orgs')).toBe(2)
    await restoreBackup(d.url, file, { force: true })
    expect(await content(d.url)).toEqual(want)
  })

  it("PostgreSQL's own psql restores the same file into a migrated database, identically", async (ctx) => {
    if (!psql) ctx.skip(true, 'no psql binary on this machine (CI has PostgreSQL 15 client): cannot check')
    const d = await freshDatabase()
    const r = await run(psql as string, [
      '-X',
      '-q',
      '-v',
      'ON_ERROR_STOP=1',
      '--single-transaction',
      '-d',
      d.url,
      '-f',
      file,
    ])
    expect(r.stderr).toBe('')
    expect(await content(d.url)).toEqual(await content(h.database.url))

    // A database at another migration level: the script's guard stops psql before any row is loaded.
    const other = await freshDatabase()
    await query(
      other.url,
      'DELETE FROM drizzle.__drizzle_migrations WHERE id = (SELECT max(id) FROM drizzle.__drizzle_migrations)',
    )
    const refused = await run(psql as string, [
      '-X',
      '-q',
      '-v',
      'ON_ERROR_STOP=1',
      '--single-transaction',
      '-d',
      other.url,
      '-f',
      file,
    ]).then(
      () => undefined,
      (err: { code: number; stderr: string }) => err,
    )
    expect(refused?.code).toBe(3)
    expect(refused?.stderr).toMatch(
      /this Patchbay backup was taken at migration level \d+, the database is at level \d+/,
    )
    expect(rows(await content(other.url), 'orgs')).toBe(0)
  })

  it('refuses a file from a newer migration level, and a cut-short file, changing nothing', async () => {
    const d = await freshDatabase()
    const text = fs.readFileSync(file, 'utf8')
    const newer = path.join(dir, 'newer.sql')
    fs.writeFileSync(
      newer,
      text.replace(
        /^-- Patchbay migration level: (\d+) /m,
        (_, n: string) => `-- Patchbay migration level: ${Number(n) + 1} `,
      ),
    )
    await expect(restoreBackup(d.url, newer)).rejects.toThrow(
      /newer\.sql was taken at migration level \d+, newer than this Patchbay's \(level \d+\): restore it with the Patchbay version that took it/,
    )
    const cut = path.join(dir, 'cut.sql')
    fs.writeFileSync(cut, text.slice(0, text.indexOf('COPY public.webhooks')))
    await expect(restoreBackup(d.url, cut)).rejects.toThrow(/cut\.sql is cut short: nothing was restored/)
    // Cut inside a table's rows: the open COPY is ended and rolled back.
    const copyAt = text.indexOf('\n', text.indexOf('COPY public.orgs ')) + 1
    fs.writeFileSync(cut, text.slice(0, copyAt + 10))
    await expect(restoreBackup(d.url, cut)).rejects.toThrow(/cut\.sql is cut short: nothing was restored/)
    const injected = path.join(dir, 'injected.sql')
    fs.writeFileSync(
      injected,
      text.replace('SET row_security = off;', 'SET row_security = off;\nDROP TABLE orgs;'),
    )
    await expect(restoreBackup(d.url, injected)).rejects.toThrow(/not a statement a Patchbay backup holds/)
    // Nothing was loaded by any of them.
    for (const [name, v] of Object.entries(await content(d.url))) {
      if (!name.startsWith('sequence ')) expect([name, v]).toEqual([name, '0 -'])
    }
  })

  it('a .gz name writes it gzip-compressed; restore reads either', async () => {
    const gz = path.join(dir, 'patchbay.sql.gz')
    await writeBackup(h.database.url, gz)
    const bytes = fs.readFileSync(gz)
    expect([bytes[0], bytes[1]]).toEqual([0x1f, 0x8b])
    expect(zlib.gunzipSync(bytes).toString('utf8').startsWith('--\n-- PostgreSQL database dump\n')).toBe(true)
    const d = await freshDatabase()
    await restoreBackup(d.url, gz)
    expect(await content(d.url)).toEqual(await content(h.database.url))
  })

  it('carries sequences with setval, as pg_dump does (the schema has none today: two are added here)', async () => {
    const src = await freshDatabase()
    const dst = await freshDatabase()
    for (const d of [src, dst]) {
      await query(d.url, 'CREATE SEQUENCE public.probe_seq; CREATE SEQUENCE public.probe_unused_seq')
    }
    await query(src.url, "SELECT nextval('public.probe_seq'), nextval('public.probe_seq')")
    const seqFile = path.join(dir, 'sequences.sql')
    await writeBackup(src.url, seqFile)
    const text = fs.readFileSync(seqFile, 'utf8')
    expect(text).toContain("\nSELECT pg_catalog.setval('public.probe_seq', 2, true);\n")
    expect(text).toContain("\nSELECT pg_catalog.setval('public.probe_unused_seq', 1, false);\n")
    await restoreBackup(dst.url, seqFile)
    const got = await content(dst.url)
    expect([got['sequence probe_seq'], got['sequence probe_unused_seq']]).toEqual(['2', 'unset'])
  })

  it('counts a sealed day again after loading into it, as its triggers were off while rows were loaded', async () => {
    const [made] = await query<{ day: string }>(
      h.database.url,
      `SELECT DISTINCT patchbay_uuid_v7_day(id)::text AS day FROM deliveries LIMIT 1`,
    )
    expect(made?.day).toBeDefined()
    const day = made?.day ?? ''
    const d = await freshDatabase()
    // The day exists and is counted (sealed) in the database restored into, before any row arrives.
    await query(
      d.url,
      `SELECT patchbay_ensure_delivery_partitions('${day}'::date, '${day}'::date),
              patchbay_count_delivery_partition('deliveries_p${day.replaceAll('-', '')}')`,
    )
    await restoreBackup(d.url, file)
    const [got] = await query<{ rows: number; counted: number }>(
      d.url,
      `SELECT (SELECT count(*)::int FROM deliveries_p${day.replaceAll('-', '')}) AS rows,
              (SELECT coalesce(sum(n), 0)::int FROM delivery_day_counts WHERE day = '${day}') AS counted`,
    )
    expect(got?.rows).toBeGreaterThan(0)
    expect(got?.counted).toBe(got?.rows)
  })

  it('restore still reads the JSON-lines backups of earlier versions', async () => {
    const legacy = path.join(dir, 'old.backup')
    await writeLegacyBackup(h.database.url, legacy)
    expect(await readBackupHeader(legacy)).toMatchObject({ kind: 'json-lines' })
    const d = await freshDatabase()
    await restoreBackup(d.url, legacy)
    expect(await content(d.url)).toEqual(await content(h.database.url))
  })
})

/** A backup in the format Patchbay wrote before (gzip-compressed JSON lines, format "patchbay-backup" 1). */
async function writeLegacyBackup(url: string, to: string) {
  const lines: string[] = []
  const migrations = await query<{ hash: string }>(
    url,
    'SELECT hash FROM drizzle.__drizzle_migrations ORDER BY id',
  )
  const seqs = await query<{ name: string; value: string | null }>(
    url,
    `SELECT sequencename AS name, last_value::text AS value FROM pg_sequences WHERE schemaname = 'public'`,
  )
  lines.push(
    JSON.stringify([
      'h',
      {
        format: 'patchbay-backup',
        version: 1,
        createdAt: '2026-11-30T10:00:00.000Z',
        server: 'PostgreSQL',
        migrations: migrations.map((m) => m.hash),
        sequences: Object.fromEntries(seqs.map((s) => [s.name, s.value === null ? null : Number(s.value)])),
      },
    ]),
  )
  const tables = await query<{ name: string }>(
    url,
    `SELECT c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition ORDER BY 1`,
  )
  const counts: Record<string, number> = {}
  // Versions that wrote this format predate the derived per-day delivery counts.
  for (const { name } of tables.filter((t) => !DERIVED_TABLES.has(t.name))) {
    const cols = await query<{ name: string }>(
      url,
      `SELECT attname AS name FROM pg_attribute WHERE attrelid = 'public."${name}"'::regclass AND attnum > 0
          AND NOT attisdropped AND attgenerated = '' ORDER BY attnum`,
    )
    lines.push(JSON.stringify(['t', name, cols.map((c) => c.name)]))
    const rs = await query<{ r: string }>(url, `SELECT row_to_json(t)::text AS r FROM public."${name}" t`)
    for (const r of rs) lines.push(`["r",${r.r}]`)
    counts[name] = rs.length
  }
  lines.push(JSON.stringify(['e', counts]))
  fs.writeFileSync(to, zlib.gzipSync(`${lines.join('\n')}\n`))
}
