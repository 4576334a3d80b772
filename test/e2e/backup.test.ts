import { execFile } from 'node:child_process'
import { createHmac } from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { openTestDatabase, servedUrl } from '../databases.ts'
import { Receiver } from '../standins/receiver.ts'
import { apiClient, runPatchbay } from './process.ts'

// patchbay backup / restore of the embedded database, through the command line as an operator runs them. The
// commands always use the embedded database (DATABASE_URL is not passed), so this runs once, in the embedded run.
const exec = promisify(execFile)
// The machine's own psql (PostgreSQL 15 client on Debian 12); test/backup.test.ts says when it is missing.
const psql = [
  ...(process.env.PATH ?? '').split(':').map((d) => path.join(d, 'psql')),
  '/usr/lib/postgresql/15/bin/psql',
].find((p) => fs.existsSync(p))
const TOKEN = 'pbk_backup_test_bootstrap_token_0123456789'
const api = apiClient(TOKEN)
let root: string
let rx: Receiver

beforeAll(async () => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'pb-backup-'))
  // As root, the embedded server runs as "postgres", which must be able to enter the DATA_DIRs below.
  fs.chmodSync(root, 0o711)
  rx = await new Receiver('127.0.0.1').start()
  rx.respond('/hook', { status: 200 })
})
afterAll(async () => {
  await rx.stop()
  fs.rmSync(root, { recursive: true, force: true })
})

const env = (dataDir: string) => ({
  PORT: '0',
  DATA_DIR: dataDir,
  PATCHBAY_BOOTSTRAP_TOKEN: TOKEN,
  PATCHBAY_ALLOWED_TARGET_CIDRS: '127.0.0.0/8',
  LOG_LEVEL: 'info',
})

async function run(args: string[], dataDir: string) {
  const p = runPatchbay(args, { ...env(dataDir), LOG_LEVEL: 'warn' })
  const { code } = await p.exited
  return { code, stdout: p.stdout(), stderr: p.stderr() }
}

async function delivered(url: string, webhookId: string, want: number) {
  let total = 0
  for (const until = Date.now() + 60_000; Date.now() < until; ) {
    const r = await api(url, 'GET', `/api/v1/deliveries?webhookId=${webhookId}&status=delivered&limit=1`)
    total = r.body.pagination.total
    if (total >= want) break
    await new Promise((r) => setTimeout(r, 100))
  }
  return total
}

describe.runIf(!servedUrl)('patchbay backup and restore (embedded)', () => {
  it('backs up while running, restores into a fresh DATA_DIR with its key ring, and everything is back', async () => {
    const original = path.join(root, 'original')
    const file = path.join(root, 'patchbay.backup')
    const first = runPatchbay(['start'], env(original))
    const [, url] = (await first.waitFor(/"url":"(http:\/\/[^"]+)"/)) as RegExpMatchArray
    const org = await api(url as string, 'POST', '/api/v1/orgs', { name: 'Backed-up MSP' })
    const hook = await api(url as string, 'POST', '/api/v1/webhooks', {
      orgId: org.body.id,
      name: 'kept',
      url: `http://127.0.0.1:${rx.port}/hook`,
      secret: 'backup-test-signing-secret',
      events: ['device.online'],
    })
    expect(hook.status).toBe(201)
    await api(url as string, 'POST', '/api/v1/events', {
      orgId: org.body.id,
      id: 'before-backup',
      type: 'device.online',
      data: { n: 1 },
    })
    expect(await delivered(url as string, hook.body.id, 1)).toBe(1)

    // While it runs: a backup is taken from its database; a restore onto it is refused.
    const backup = await run(['backup', file], original)
    expect(backup.stderr).toBe('')
    expect(backup.code).toBe(0)
    expect(backup.stdout).toContain('Patchbay is running')
    expect(backup.stdout).toMatch(/done: \d+ rows in \d+ tables/)
    expect(fs.statSync(file).mode & 0o777).toBe(0o600)
    const refused = await run(['restore', file], original)
    expect(refused.code).toBe(1)
    expect(refused.stderr).toMatch(/DATA_DIR .* is in use by another Patchbay process \(pid \d+\)/)
    expect((await run(['backup', file], original)).stderr).toContain('already exists')

    first.child.kill('SIGTERM')
    expect((await first.exited).code).toBe(0)

    // A fresh DATA_DIR without the key ring: refused before anything is created.
    const fresh = path.join(root, 'fresh')
    const noKeys = await run(['restore', file], fresh)
    expect(noKeys.code).toBe(2)
    expect(noKeys.stderr).toContain('no key ring')
    expect(fs.existsSync(path.join(fresh, 'postgres'))).toBe(false)

    // With the key ring copied over, as the README says: everything comes back.
    fs.mkdirSync(fresh)
    fs.copyFileSync(path.join(original, 'keyring'), path.join(fresh, 'keyring'))
    fs.rmSync(original, { recursive: true, force: true })
    const restored = await run(['restore', file], fresh)
    expect(restored.stderr).toBe('')
    expect(restored.code).toBe(0)
    expect(restored.stdout).toMatch(/done: \d+ rows/)
    // A second restore onto data is refused and changes nothing.
    const again = await run(['restore', file], fresh)
    expect(again.code).toBe(2)
    expect(again.stderr).toContain('already holds data')
    // Unless forced: then the backup replaces what is there (the same rows again, not twice).
    const forced = await run(['restore', file, '--force'], fresh)
    expect(forced.stderr).toBe('')
    expect(forced.code).toBe(0)
    const report = (stdout: string) => stdout.split('\n').filter((l) => !l.startsWith('{')) // not the log lines
    expect(report(forced.stdout)).toEqual(report(restored.stdout))

    // The same file is a pg_dump plain-format script: PostgreSQL's own psql loads it into a migrated database.
    if (psql) {
      const target = await openTestDatabase(inject('dbTemplate'))
      try {
        const loaded = await exec(psql, [
          '-X',
          '-q',
          '-v',
          'ON_ERROR_STOP=1',
          '--single-transaction',
          '-d',
          target.url,
          '-f',
          file,
        ])
        expect(loaded.stderr).toBe('')
        const names = await target.db.query<{ name: string }>('SELECT name FROM orgs')
        expect(names.map((o) => o.name)).toEqual(['Backed-up MSP'])
        const events = await target.db.query<{ event_id: string; status: string }>(
          'SELECT event_id, status FROM deliveries',
        )
        expect(events).toEqual([{ event_id: 'before-backup', status: 'delivered' }])
      } finally {
        await target.drop()
      }
    }

    const second = runPatchbay(['start'], env(fresh))
    const [, url2] = (await second.waitFor(/"url":"(http:\/\/[^"]+)"/)) as RegExpMatchArray
    // The bootstrap token of the original still opens (the API key came back, not a new one).
    expect(second.stdout()).not.toMatch(/pbk_/)
    const orgs = await api(url2 as string, 'GET', '/api/v1/orgs')
    expect(orgs.body.data.map((o: { name: string }) => o.name)).toEqual(['Backed-up MSP'])
    const history = await api(url2 as string, 'GET', `/api/v1/deliveries?webhookId=${hook.body.id}&limit=10`)
    expect(history.body.data.map((d: { eventId: string; status: string }) => [d.eventId, d.status])).toEqual([
      ['before-backup', 'delivered'],
    ])
    // The webhook's sealed signing secret opens under the copied key ring: a new event is delivered, signed.
    await api(url2 as string, 'POST', '/api/v1/events', {
      orgId: org.body.id,
      id: 'after-restore',
      type: 'device.online',
      data: { n: 2 },
    })
    expect(await delivered(url2 as string, hook.body.id, 2)).toBe(2)
    const last = rx.received.at(-1)
    expect(last?.headers['x-breeze-event-id']).toBe('after-restore')
    // Signed with the original secret (HMAC-SHA256 over "timestamp.body", as the Breeze document says).
    const expected = createHmac('sha256', 'backup-test-signing-secret')
      .update(`${last?.headers['x-breeze-signature-timestamp']}.${last?.body}`)
      .digest('hex')
    expect(last?.headers['x-breeze-signature']).toBe(`sha256=${expected}`)
    second.child.kill('SIGTERM')
    expect((await second.exited).code).toBe(0)
  }, 420_000) // four Patchbay processes, two restores and psql, on a shared 2-core machine
})

describe.runIf(servedUrl)('patchbay backup and restore with DATABASE_URL', () => {
  it("point at PostgreSQL's own tools", async () => {
    const p = runPatchbay(['backup', path.join(root, 'x')], { DATABASE_URL: servedUrl, DATA_DIR: root })
    expect((await p.exited).code).toBe(2)
    expect(p.stderr()).toContain('pg_dump -Fc')
  })
})
