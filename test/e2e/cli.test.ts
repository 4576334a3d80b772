import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { formatKeyRing, generateKeyRing } from '../../src/vault/keyring.ts'
import { openTestDatabase, servedUrl, type TestDatabase } from '../databases.ts'
import { runPatchbay } from './process.ts'

let dataDir: string
let served: TestDatabase | undefined
const ring = formatKeyRing(generateKeyRing('e2e'))

beforeAll(async () => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pb-e2e-'))
  if (servedUrl) served = await openTestDatabase(inject('dbTemplate'))
})
afterAll(async () => {
  fs.rmSync(dataDir, { recursive: true, force: true })
  await served?.drop()
})

function env(extra: Record<string, string> = {}): Record<string, string | undefined> {
  return {
    PORT: '0',
    DATA_DIR: dataDir,
    ...(served ? { DATABASE_URL: served.url, PATCHBAY_ENCRYPTION_KEYS: ring } : {}),
    ...extra,
  }
}

describe(`patchbay as a process (${servedUrl ? 'served' : 'embedded'})`, () => {
  it('starts, prints a working system token once, and shuts down cleanly on SIGTERM', async () => {
    const p = runPatchbay(['start'], env())
    const [, token] = (await p.waitFor(/\n\s+(pbk_[\w-]+)\n/)) as RegExpMatchArray
    const [, url] = (await p.waitFor(/"url":"(http:\/\/[^"]+)"/)) as RegExpMatchArray
    // The first start says what it is doing before it is ready, not seconds of silence.
    const said = p.stdout()
    const steps = served
      ? ['"applying database migrations"']
      : ['"first start: creating the embedded PostgreSQL database', '"applying database migrations"']
    let at = -1
    for (const step of steps) {
      const next = said.indexOf(step)
      expect(next, step).toBeGreaterThan(at)
      at = next
    }
    expect(said.indexOf(url as string)).toBeGreaterThan(at)
    const res = await fetch(`${url}/api/v1/orgs`, { headers: { authorization: `Bearer ${token}` } })
    expect(res.status).toBe(200)
    expect((await fetch(`${url}/readyz`)).status).toBe(200)
    p.child.kill('SIGTERM')
    expect((await p.exited).code).toBe(0)
    expect(p.stdout()).toContain('"msg":"stopped"')

    // A second start reuses everything and prints no new token.
    const again = runPatchbay(['start'], env())
    const [, url2] = (await again.waitFor(/"url":"(http:\/\/[^"]+)"/)) as RegExpMatchArray
    expect(again.stdout()).not.toMatch(/pbk_/)
    expect(
      (await fetch(`${url2}/api/v1/orgs`, { headers: { authorization: `Bearer ${token}` } })).status,
    ).toBe(200)
    again.child.kill('SIGINT')
    expect((await again.exited).code).toBe(0)
  }, 300_000)

  it('creates tokens and rotates keys from the command line', async () => {
    const created = runPatchbay(['token', 'create', '--scope', 'system', '--name', 'ops'], env())
    const [, token] = (await created.waitFor(/\n\s+(pbk_[\w-]+)\n/)) as RegExpMatchArray
    expect((await created.exited).code).toBe(0)
    expect(token).toMatch(/^pbk_/)

    const bad = runPatchbay(['token', 'create', '--scope', 'organization'], env())
    expect((await bad.exited).code).toBe(2)
    expect(bad.stderr()).toContain('--org-id must name an existing organization')

    const rotate = runPatchbay(['keys', 'rotate'], env())
    expect((await rotate.exited).code).toBe(0)
    expect(rotate.stdout()).toMatch(/re-encrypting every stored secret under key "[\w-]+"/)
    expect(rotate.stdout()).toContain('done:')
  }, 300_000)

  it('refuses bad configuration with every problem named', async () => {
    const fresh = path.join(dataDir, 'never-created')
    const p = runPatchbay(
      ['start'],
      env({
        DATA_DIR: fresh,
        PORT: 'eighty',
        LOG_LEVEL: 'loud',
        PATCHBAY_ALLOWED_TARGET_CIDRS: '999.0.0.0/8',
        PATCHBAY_ENCRYPTION_KEYS: 'k1',
      }),
    )
    expect((await p.exited).code).toBe(2)
    expect(p.stderr()).toContain('PORT:')
    expect(p.stderr()).toContain('LOG_LEVEL:')
    expect(p.stderr()).toContain('PATCHBAY_ALLOWED_TARGET_CIDRS: "999.0.0.0/8" is not a CIDR range')
    expect(p.stderr()).toContain('PATCHBAY_ENCRYPTION_KEYS:')
    // Validated before anything is touched: no data directory, no key ring.
    expect(fs.existsSync(fresh)).toBe(false)
  }, 180_000)

  it.runIf(servedUrl)(
    'refuses a served database without an encryption key ring',
    async () => {
      const p = runPatchbay(['start'], { ...env(), PATCHBAY_ENCRYPTION_KEYS: undefined })
      expect((await p.exited).code).toBe(1)
      expect(p.stderr()).toContain('PATCHBAY_ENCRYPTION_KEYS is required with DATABASE_URL')
    },
    180_000,
  )
})
