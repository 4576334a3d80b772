import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { drizzle as drizzlePg } from 'drizzle-orm/node-postgres'
import { migrate as migratePg } from 'drizzle-orm/node-postgres/migrator'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadConfig } from '../src/config.ts'
import { openRuntime } from '../src/runtime.ts'
import { MIGRATIONS_DIR } from '../src/store/migrate.ts'
import { formatKeyRing, generateKeyRing } from '../src/vault/keyring.ts'
import { openHeaders } from '../src/webhooks/headers.ts'
import { serverUrl, withDatabase } from './databases.ts'

/**
 * Migration 0010 on a database holding data written before it (at 0009): the schema and data steps in SQL,
 * then the vault step that `openRuntime` runs at startup.
 */

const id = (n: number) => `00000000-0000-7000-8000-${String(n).padStart(12, '0')}`
const PARTNER = id(1)
const ORG = id(2)
const PARTNER_KEY = id(3)
const ORG_KEY = id(4)
const BOOT_KEY = id(5)
const HOOK = id(6)
const BEARER = 'Bearer sk_live_legacy_0123456789'
const AT = '2026-02-18T12:00:00Z'

const LEGACY = [
  `INSERT INTO partners (id, name, created_at, updated_at) VALUES ('${PARTNER}', 'Acme MSP', '${AT}', '${AT}')`,
  `INSERT INTO orgs (id, partner_id, name, created_at, updated_at) VALUES ('${ORG}', '${PARTNER}', 'Contoso', '${AT}', '${AT}')`,
  `INSERT INTO api_keys (id, name, scope, partner_id, org_id, token_prefix, token_hash, created_at) VALUES
     ('${PARTNER_KEY}', 'partner', 'partner', '${PARTNER}', NULL, 'pbk_AbCdEfGh', 'h1', '${AT}'),
     ('${ORG_KEY}', 'org', 'organization', '${PARTNER}', '${ORG}', 'pbk_ZyXwVuTs', 'h2', '${AT}'),
     ('${BOOT_KEY}', 'bootstrap', 'system', NULL, NULL, 'operator-cho', 'h3', '${AT}')`,
  `INSERT INTO audit_logs (id, org_id, partner_id, actor_key_id, actor_type, action, target_type, summary, created_at) VALUES
     ('${id(10)}', NULL, NULL, '${BOOT_KEY}', 'system:bootstrap', 'api_key.create', 'api_key', '{"tokenPrefix":"operator-cho"}', '${AT}'),
     ('${id(11)}', NULL, '${PARTNER}', NULL, 'api_key', 'api_key.create', 'api_key', '{"tokenPrefix":"pbk_AbCdEfGh"}', '${AT}'),
     ('${id(12)}', NULL, NULL, '${PARTNER_KEY}', 'api_key', 'delivery.recover', 'deliveries', '{"queued":3}', '${AT}'),
     ('${id(13)}', NULL, NULL, '${ORG_KEY}', 'api_key', 'delivery.recover', 'deliveries', '{"queued":1}', '${AT}')`,
  `INSERT INTO webhooks (id, org_id, name, url, events, headers, created_at, updated_at) VALUES
     ('${HOOK}', '${ORG}', 'legacy', 'https://hooks.example.com/x', '{device.offline}',
      '[{"key":"Authorization","value":"${BEARER}"},{"key":"X-Short","value":"abc"}]', '${AT}', '${AT}')`,
]

/** The migrations folder as it was before 0010. */
function foldersBefore0010(dir: string): string {
  const out = path.join(dir, 'migrations-0009')
  fs.mkdirSync(path.join(out, 'meta'), { recursive: true })
  const journal = JSON.parse(fs.readFileSync(path.join(MIGRATIONS_DIR, 'meta/_journal.json'), 'utf8'))
  journal.entries = journal.entries.filter((e: { idx: number }) => e.idx < 10)
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

describe('migration 0010 on data written before it', () => {
  it('seals plain header values at startup, shortens token prefixes and files audit entries', async () => {
    const ring = generateKeyRing('mig')
    const env: Record<string, string> = {
      LOG_LEVEL: 'silent',
      PATCHBAY_ENCRYPTION_KEYS: formatKeyRing(ring),
    }
    const before = foldersBefore0010(dir)
    // On the run's server (served, or the embedded one the tests start), a database of its own at 0009.
    const server = serverUrl()
    const name = `pbt_mig_${process.pid}_${Date.now().toString(36)}`
    const admin = new pg.Client({ connectionString: server })
    await admin.connect()
    await admin.query(`CREATE DATABASE ${name}`)
    await admin.end()
    const url = withDatabase(server, name)
    const client = new pg.Client({ connectionString: url })
    await client.connect()
    await migratePg(drizzlePg({ client }), { migrationsFolder: before })
    for (const q of LEGACY) await client.query(q)
    await client.end()
    env.DATABASE_URL = url
    const dropServed = async () => {
      const a = new pg.Client({ connectionString: server })
      await a.connect()
      await a.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
      await a.end()
    }

    const rt = await openRuntime(loadConfig(env))
    try {
      const keys = await rt.db.query<{ id: string; token_prefix: string }>(
        'SELECT id, token_prefix FROM api_keys ORDER BY id',
      )
      expect(keys).toEqual([
        { id: PARTNER_KEY, token_prefix: 'pbk_AbCd' },
        { id: ORG_KEY, token_prefix: 'pbk_ZyXw' },
        { id: BOOT_KEY, token_prefix: 'oper' },
      ])
      const audit = await rt.db.query<{ id: string; org_id: string | null; partner_id: string | null }>(
        `SELECT id, org_id, partner_id, summary FROM audit_logs ORDER BY id`,
      )
      expect(audit).toEqual([
        { id: id(10), org_id: null, partner_id: null, summary: { tokenPrefix: 'oper' } },
        { id: id(11), org_id: null, partner_id: PARTNER, summary: { tokenPrefix: 'pbk_AbCd' } },
        { id: id(12), org_id: null, partner_id: PARTNER, summary: { queued: 3 } },
        { id: id(13), org_id: ORG, partner_id: null, summary: { queued: 1 } },
      ])
      const [hook] = await rt.db.query<{ id: string; headers: unknown; header_values: string | null }>(
        'SELECT id, headers, header_values FROM webhooks',
      )
      expect(JSON.stringify(hook)).not.toContain('sk_live_legacy')
      expect(JSON.stringify(hook)).not.toContain('"abc"')
      expect(hook?.headers).toEqual([
        { key: 'Authorization', masked: '****6789' },
        { key: 'X-Short', masked: '****' },
      ])
      expect(
        openHeaders(rt.vault, {
          id: HOOK,
          headers: hook?.headers,
          headerValues: hook?.header_values ?? null,
        }),
      ).toEqual([
        { key: 'Authorization', value: BEARER },
        { key: 'X-Short', value: 'abc' },
      ])
    } finally {
      await rt.close()
      await dropServed()
    }
  })
})
