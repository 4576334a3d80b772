import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { drizzle as drizzlePg } from 'drizzle-orm/node-postgres'
import { migrate as migratePg } from 'drizzle-orm/node-postgres/migrator'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { MIGRATIONS_DIR } from '../src/store/migrate.ts'
import { serverUrl, withDatabase } from './databases.ts'

/**
 * Migration 0018 (delivery history partitioned by day) on a database holding history written before it: every
 * row is kept, each in the partition of the day its id was made, the queue keeps its rows and its foreign key,
 * and new deliveries are still queued by the insert trigger.
 */

const id = (n: number) => `00000000-0000-7000-8000-${String(n).padStart(12, '0')}`
const ORG = id(2)
const HOOK = id(6)
const AT = '2026-02-18T12:00:00Z'
/** An id from before UUIDv7 ids (version 4): no day partition can hold it. */
const LEGACY_ID = '3f0c8a7e-5b1d-4c2a-9e6f-0a1b2c3d4e5f'

const SETUP = [
  `INSERT INTO partners (id, name, created_at, updated_at) VALUES ('${id(1)}', 'Acme MSP', '${AT}', '${AT}')`,
  `INSERT INTO orgs (id, partner_id, name, created_at, updated_at) VALUES ('${ORG}', '${id(1)}', 'Contoso', '${AT}', '${AT}')`,
  `INSERT INTO webhooks (id, org_id, name, url, events, created_at, updated_at) VALUES
     ('${HOOK}', '${ORG}', 'w', 'https://hooks.example.com/x', '{user.login}', '${AT}', '${AT}')`,
  `INSERT INTO events (org_id, id, type, occurred_at, data, created_at) VALUES
     ('${ORG}', 'e1', 'user.login', '${AT}', '{"n":1}', '${AT}')`,
  // Delivered ten days apart, one with a pre-v7 id, and one still pending (queued by the trigger).
  `INSERT INTO deliveries (id, org_id, target_type, target_id, event_id, event_type, status, attempts, response_status,
                           created_at, updated_at, delivered_at)
   VALUES (patchbay_uuid_v7('2026-02-08T09:00:00Z'), '${ORG}', 'webhook', '${HOOK}', 'e1', 'user.login', 'delivered',
           1, 200, '2026-02-08T09:00:00Z', '2026-02-08T09:00:01Z', '2026-02-08T09:00:01Z'),
          (patchbay_uuid_v7('2026-02-18T23:59:59.999Z'), '${ORG}', 'webhook', '${HOOK}', 'e1', 'user.login', 'failed',
           5, 500, '2026-02-18T23:59:59.999Z', '2026-02-19T01:00:00Z', NULL),
          ('${LEGACY_ID}', '${ORG}', 'webhook', '${HOOK}', 'e1', 'user.login', 'delivered', 1, 200,
           '2025-01-01T00:00:00Z', '2025-01-01T00:00:00Z', '2025-01-01T00:00:00Z')`,
  `INSERT INTO deliveries (id, org_id, target_type, target_id, event_id, event_type, status, attempts, next_attempt_at,
                           created_at, updated_at)
   VALUES (patchbay_uuid_v7(now()), '${ORG}', 'webhook', '${HOOK}', 'e1', 'user.login', 'pending', 0, now(), now(), now())`,
]

/** The migrations folder as it was before 0018. */
function foldersBefore0018(dir: string): string {
  const out = path.join(dir, 'migrations-0017')
  fs.mkdirSync(path.join(out, 'meta'), { recursive: true })
  const journal = JSON.parse(fs.readFileSync(path.join(MIGRATIONS_DIR, 'meta/_journal.json'), 'utf8'))
  journal.entries = journal.entries.filter((e: { idx: number }) => e.idx < 18)
  fs.writeFileSync(path.join(out, 'meta/_journal.json'), JSON.stringify(journal))
  for (const e of journal.entries as { tag: string }[]) {
    fs.copyFileSync(path.join(MIGRATIONS_DIR, `${e.tag}.sql`), path.join(out, `${e.tag}.sql`))
  }
  return out
}

let dir: string
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'patchbay-mig-'))
})
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))

describe('migration 0018 on delivery history written before it', () => {
  it('moves every row into its day partition, keeping the queue and the enqueue trigger', async () => {
    const server = serverUrl()
    const name = `pbt_mig16_${process.pid}_${Date.now().toString(36)}`
    const admin = new pg.Client({ connectionString: server })
    await admin.connect()
    await admin.query(`CREATE DATABASE ${name}`)
    const client = new pg.Client({ connectionString: withDatabase(server, name) })
    try {
      await client.connect()
      await migratePg(drizzlePg({ client }), { migrationsFolder: foldersBefore0018(dir) })
      for (const q of SETUP) await client.query(q)
      const all = 'SELECT * FROM deliveries ORDER BY id'
      const before = (await client.query(all)).rows
      const queued = (await client.query('SELECT * FROM delivery_queue')).rows
      expect(before).toHaveLength(4)
      expect(queued).toHaveLength(1)

      await migratePg(drizzlePg({ client }), { migrationsFolder: MIGRATIONS_DIR })

      const [kind] = (await client.query(`SELECT relkind FROM pg_class WHERE oid = 'deliveries'::regclass`))
        .rows
      expect(kind).toEqual({ relkind: 'p' })
      expect((await client.query(all)).rows).toEqual(before)
      expect((await client.query('SELECT * FROM delivery_queue')).rows).toEqual(queued)
      const today = new Date().toISOString().slice(0, 10).replaceAll('-', '')
      const placed = (
        await client.query(
          `SELECT tableoid::regclass::text AS part, status FROM deliveries ORDER BY created_at`,
        )
      ).rows
      expect(placed).toEqual([
        { part: 'deliveries_default', status: 'delivered' },
        { part: 'deliveries_p20260208', status: 'delivered' },
        { part: 'deliveries_p20260218', status: 'failed' },
        { part: `deliveries_p${today}`, status: 'pending' },
      ])
      // The days ahead exist already.
      const ahead = new Date(Date.now() + 7 * 86_400_000).toISOString().slice(0, 10).replaceAll('-', '')
      const [made] = (await client.query(`SELECT to_regclass($1)::text AS t`, [`deliveries_p${ahead}`])).rows
      expect(made).toEqual({ t: `deliveries_p${ahead}` })

      // The trigger still queues new pending deliveries, and deleting deliveries still removes their queue rows
      // (the foreign key's cascade until 0025, a delete trigger since).
      await client.query(
        `INSERT INTO deliveries (org_id, target_type, target_id, event_id, event_type, status, attempts, next_attempt_at,
                                 created_at, updated_at)
         VALUES ('${ORG}', 'webhook', '${HOOK}', 'e1', 'user.login', 'pending', 0, now(), now(), now())`,
      )
      expect((await client.query('SELECT count(*)::int AS n FROM delivery_queue')).rows).toEqual([{ n: 2 }])
      await client.query(`DELETE FROM deliveries WHERE status = 'pending'`)
      expect((await client.query('SELECT count(*)::int AS n FROM delivery_queue')).rows).toEqual([{ n: 0 }])
    } finally {
      await client.end().catch(() => undefined)
      await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
      await admin.end()
    }
  })
})
