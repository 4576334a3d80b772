import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { PGlite } from '@electric-sql/pglite'
import { drizzle } from 'drizzle-orm/pglite'
import { migrate } from 'drizzle-orm/pglite/migrator'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Orm } from '../../src/store/db.ts'
import { MIGRATIONS_DIR } from '../../src/store/migrate.ts'
import { createApiKey, createOrg, createPartner } from '../../src/store/tenancy.ts'
import { servedUrl } from '../databases.ts'
import { apiClient, runPatchbay } from './process.ts'

const TOKEN = 'pbk_embedded_lifecycle_token_0123456789ab'

let dataDir: string
beforeAll(() => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pb-embedded-'))
})
afterAll(() => {
  fs.rmSync(dataDir, { recursive: true, force: true })
})

const env = () => ({ PORT: '0', DATA_DIR: dataDir, PATCHBAY_BOOTSTRAP_TOKEN: TOKEN })

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
  } catch {
    return false
  }
  // A zombie (exited, not yet reaped by init) is gone too.
  try {
    return !/^\d+ \(.*\) Z/.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'))
  } catch {
    return false
  }
}

const api = apiClient(TOKEN)

async function started(p: ReturnType<typeof runPatchbay>) {
  const [, pid] = (await p.waitFor(/"database":"embedded".*?"pid":(\d+)/)) as RegExpMatchArray
  const [, url] = (await p.waitFor(/"url":"(http:\/\/[^"]+)"/)) as RegExpMatchArray
  return { postmaster: Number(pid), url: url as string }
}

// The embedded server is what runs without DATABASE_URL, so this runs in the embedded pass of the suite.
describe.skipIf(servedUrl)('the embedded PostgreSQL server', () => {
  it('survives kill -9 of Patchbay with nothing lost, refuses a second process, and SIGTERM stops it', async () => {
    const first = runPatchbay(['start'], env())
    const a = await started(first)
    expect(fs.statSync(path.join(dataDir, 'postgres.password')).mode & 0o777).toBe(0o600)
    expect(fs.readFileSync(path.join(dataDir, 'postgres.log'), 'utf8')).toContain(
      'database system is ready to accept connections',
    )
    // Server logs go to DATA_DIR, not to Patchbay's output.
    expect(first.stdout() + first.stderr()).not.toContain('ready to accept connections')
    const org = await api(a.url, 'POST', '/api/v1/orgs', { name: 'Survivor' })
    expect(org.status).toBe(201)

    const second = runPatchbay(['start'], env())
    expect((await second.exited).code).toBe(1)
    expect(second.stderr()).toContain(`in use by another Patchbay process (pid ${first.child.pid})`)
    expect(alive(a.postmaster)).toBe(true)

    // Killed hard, Patchbay cannot stop its server: the postmaster is orphaned, still running.
    first.child.kill('SIGKILL')
    // Started at once, without waiting for the killed process to be reaped: the lock died with it.
    const again = runPatchbay(['start'], env())
    await first.exited
    expect(alive(a.postmaster)).toBe(true)
    const b = await started(again)
    expect(again.stdout()).toContain('left running by a Patchbay process that died')
    const orgs = await api(b.url, 'GET', '/api/v1/orgs')
    expect(orgs.body.data.map((o: { name: string }) => o.name)).toEqual(['Survivor'])
    expect((await fetch(`${b.url}/readyz`)).status).toBe(200)

    again.child.kill('SIGTERM')
    expect((await again.exited).code).toBe(0)
    // No PostgreSQL left behind: neither the adopted one nor any other.
    expect(alive(b.postmaster)).toBe(false)
    expect(alive(a.postmaster)).toBe(false)
    expect(fs.existsSync(path.join(dataDir, 'postgres', 'postmaster.pid'))).toBe(false)

    // And a clean restart after SIGTERM starts a fresh server on the same data.
    const third = runPatchbay(['start'], env())
    const c = await started(third)
    expect(c.postmaster).not.toBe(b.postmaster)
    expect((await api(c.url, 'GET', '/api/v1/orgs')).body.data).toHaveLength(1)
    third.child.kill('SIGINT')
    expect((await third.exited).code).toBe(0)
    expect(alive(c.postmaster)).toBe(false)
    // A clean stop closes every pooled connection before the server goes: none is cut off by its shutdown.
    expect(third.stdout()).toContain('"stopped"')
    expect(third.stdout()).not.toContain('database connection error')
  }, 300_000)

  it('says in one line why the server cannot start', async () => {
    // A setting the server rejects (the first test left an initialised cluster in DATA_DIR).
    const conf = path.join(dataDir, 'postgres', 'postgresql.auto.conf')
    fs.appendFileSync(conf, "shared_buffers = 'plenty'\n")
    const p = runPatchbay(['start'], env())
    expect((await p.exited).code).toBe(1)
    const lines = p.stderr().trim().split('\n')
    expect(lines).toHaveLength(1)
    expect(lines[0]).toMatch(
      /^patchbay: the embedded PostgreSQL did not start: configuration file .* contains errors \(invalid value for parameter "shared_buffers": "plenty"\) \(log: .*postgres\.log\)$/,
    )
  }, 120_000)

  it('refuses a DATA_DIR written by the PGlite driver, and migrate-embedded brings its data over', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pb-pglite-'))
    try {
      // What the old driver left: a PGlite data directory in DATA_DIR/pgdata.
      const lite = await PGlite.create({ dataDir: path.join(dir, 'pgdata') })
      const orm = drizzle({ client: lite })
      await migrate(orm, { migrationsFolder: MIGRATIONS_DIR })
      const now = new Date('2026-03-01T10:00:00Z')
      const partner = await createPartner(orm as unknown as Orm, 'Northwind MSP', now)
      await createOrg(orm as unknown as Orm, { name: 'Contoso', partnerId: partner.id }, now)
      await createOrg(orm as unknown as Orm, { name: 'Fabrikam', partnerId: null }, now)
      await createApiKey(orm as unknown as Orm, { name: 'old', scope: 'system', token: TOKEN }, now)
      await lite.close()
      const e = { PORT: '0', DATA_DIR: dir }

      const refused = runPatchbay(['start'], e)
      expect((await refused.exited).code).toBe(2)
      expect(refused.stderr().trim().split('\n')).toHaveLength(1)
      expect(refused.stderr()).toMatch(
        /^patchbay: .*pgdata holds a database written by an older Patchbay \(PGlite\).*"patchbay migrate-embedded"/,
      )

      const migrated = runPatchbay(['migrate-embedded'], e)
      expect((await migrated.exited).code, migrated.stderr()).toBe(0)
      expect(migrated.stdout()).toMatch(/ orgs: 2\n/)
      expect(migrated.stdout()).toMatch(/ partners: 1\n/)
      expect(migrated.stdout()).toMatch(/ api_keys: 1\n/)
      expect(fs.existsSync(path.join(dir, 'pgdata'))).toBe(false)
      expect(fs.readdirSync(dir).some((f) => f.startsWith('pgdata.migrated-'))).toBe(true)

      // Once is enough: a second run has nothing to read.
      const again = runPatchbay(['migrate-embedded'], e)
      expect((await again.exited).code).toBe(2)
      expect(again.stderr()).toContain('nothing to migrate')

      const p = runPatchbay(['start'], e)
      const { url } = await started(p)
      // The old system key still opens the API (no new one is printed), and sees the old organizations.
      expect(p.stdout()).not.toMatch(/pbk_/)
      const orgs = await api(url, 'GET', '/api/v1/orgs')
      expect(orgs.status).toBe(200)
      expect(orgs.body.data.map((o: { name: string }) => o.name).sort()).toEqual(['Contoso', 'Fabrikam'])
      expect(orgs.body.data.find((o: { name: string }) => o.name === 'Contoso').partnerId).toBe(partner.id)
      p.child.kill('SIGTERM')
      expect((await p.exited).code).toBe(0)
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  }, 300_000)
})
