import { randomBytes } from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { readMigrationFiles } from 'drizzle-orm/migrator'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { MIGRATIONS_DIR } from '../../src/store/migrate.ts'
import { formatKeyRing, generateKeyRing } from '../../src/vault/keyring.ts'
import { servedUrl, serverUrl, withDatabase } from '../databases.ts'
import { runPatchbay } from './process.ts'

// Two `patchbay migrate` processes on one fresh, empty database at the same moment: what an operator gets when
// several api and worker processes start together after an upgrade (each migrates at start) or when a
// deployment runs its migrate step twice. Both must succeed and every migration must be applied exactly once.
const name = `pbt_mig_${randomBytes(5).toString('hex')}`
let url: string
let dataDir: string
const ring = formatKeyRing(generateKeyRing('mig'))

async function admin<T>(fn: (c: pg.Client) => Promise<T>, target = serverUrl()): Promise<T> {
  const client = new pg.Client({ connectionString: target })
  await client.connect()
  try {
    return await fn(client)
  } finally {
    await client.end()
  }
}

beforeAll(async () => {
  await admin((c) => c.query(`CREATE DATABASE ${name}`))
  url = withDatabase(serverUrl(), name)
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pb-mig-'))
})
afterAll(async () => {
  await admin((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`))
  fs.rmSync(dataDir, { recursive: true, force: true })
})

describe(`patchbay migrate run twice at once (${servedUrl ? 'served' : 'embedded server'})`, () => {
  it('both succeed and every migration is applied once', async () => {
    const env = { DATABASE_URL: url, PATCHBAY_ENCRYPTION_KEYS: ring, DATA_DIR: dataDir, LOG_LEVEL: 'warn' }
    const a = runPatchbay(['migrate'], env)
    const b = runPatchbay(['migrate'], env)
    const [ra, rb] = await Promise.all([a.exited, b.exited])
    expect({ code: ra.code, stderr: a.stderr() }).toEqual({ code: 0, stderr: '' })
    expect({ code: rb.code, stderr: b.stderr() }).toEqual({ code: 0, stderr: '' })
    expect(a.stdout()).toContain('migrations applied')
    expect(b.stdout()).toContain('migrations applied')

    const expected = readMigrationFiles({ migrationsFolder: MIGRATIONS_DIR })
    const applied = await admin(
      (c) => c.query<{ hash: string }>('SELECT hash FROM drizzle.__drizzle_migrations ORDER BY id'),
      url,
    )
    expect(applied.rows.map((r) => r.hash)).toEqual(expected.map((m) => m.hash))
  }, 180_000)
})
