import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { connectorTestEnv } from '../../../test/standins/env.ts'
import { UniFiStandIn } from '../../../test/standins/unifi.ts'
import { ManualClock } from '../../lib/clock.ts'
import { connector } from '../registry.ts'
import type { RequestBudget, ResourceOperations } from '../types.ts'
import { VendorError } from '../vendor-error.ts'
import { unifi } from './index.ts'

const clock = new ManualClock('2026-02-18T12:00:00.000Z')
const env = connectorTestEnv(clock)
const ops = unifi.resources as ResourceOperations
let u: UniFiStandIn

beforeAll(async () => {
  u = await new UniFiStandIn({ clock }).start()
})
afterAll(async () => {
  await u.close()
  await env.close()
})
beforeEach(() => u.resetRequests())

const cloudOnly = () => ({ siteManagerApiKey: u.credentials.siteManagerApiKey, baseUrl: u.url })
const consoleOnly = () => {
  const { siteManagerApiKey: _, baseUrl: __, ...rest } = u.credentials
  return rest
}
const seen = () =>
  u.requests.map((r) => `${r.path}${r.query.size ? `?${decodeURIComponent(String(r.query))}` : ''}`)

describe('descriptor', () => {
  it('marks both keys sensitive and every field that decides where requests go as a destination', () => {
    expect(connector('unifi')).toBe(unifi)
    expect(unifi.descriptor.category).toBe('networking')
    const s = unifi.descriptor.credentialSchema
    expect(s.siteManagerApiKey).toMatchObject({ sensitive: true })
    expect(s.networkApiKey).toMatchObject({ sensitive: true })
    expect(s.consoleUrl).toMatchObject({ destination: true, sensitive: false })
    expect(s.consoleCertSha256).toMatchObject({ destination: true, sensitive: false })
    expect(s.baseUrl).toMatchObject({ destination: true })
    expect(new RegExp(s.consoleCertSha256?.pattern ?? '').test(u.fingerprint)).toBe(true)
  })
})

describe('verify', () => {
  it('checks the Site Manager key and the console key, each with X-API-KEY', async () => {
    const port = new URL(u.consoleUrl).port
    expect(await unifi.verify(u.credentials, env)).toEqual({
      ok: true,
      account: `UniFi Site Manager and Network 10.5.66 at unifi-console.test:${port}`,
    })
    expect(seen()).toEqual(['/v1/hosts?pageSize=1', '/proxy/network/integration/v1/info'])
    expect(u.requests.map((r) => r.headers['x-api-key'])).toEqual([
      u.credentials.siteManagerApiKey,
      u.credentials.networkApiKey,
    ])
  })

  it('accepts a console URL pasted with the integration path', async () => {
    const creds = { ...consoleOnly(), consoleUrl: `${u.consoleUrl}/proxy/network/integration/` }
    expect(await unifi.verify(creds, env)).toMatchObject({ ok: true })
    expect(seen()).toEqual(['/proxy/network/integration/v1/info'])
  })

  it("reports the console's own error for a wrong key, without the key", async () => {
    const r = await unifi.verify({ ...consoleOnly(), networkApiKey: 'wrong-network-key' }, env)
    expect(r).toEqual({
      ok: false,
      status: 401,
      error: 'UniFi console answered 401: Missing credentials (api.authentication.missing-credentials)',
    })
  })

  it('needs one of the two APIs, and both halves of a console', async () => {
    expect(await unifi.verify({}, env)).toMatchObject({ ok: false, status: 400 })
    expect(await unifi.verify({ consoleUrl: u.consoleUrl }, env)).toEqual({
      ok: false,
      status: 400,
      error: 'UniFi: a console needs both consoleUrl and networkApiKey; one of them is missing',
    })
    expect(u.requests).toHaveLength(0)
  })
})

describe("the console's self-signed certificate", () => {
  it('is accepted when its SHA-256 fingerprint is pinned, however it is written', async () => {
    const lower = u.fingerprint.replace(/:/g, '').toLowerCase()
    expect(await unifi.verify({ ...consoleOnly(), consoleCertSha256: lower }, env)).toMatchObject({
      ok: true,
    })
  })

  it('is refused when another fingerprint is pinned, before the key is sent', async () => {
    const wrong = 'AB:'.repeat(31).concat('AB')
    const r = await unifi.verify({ ...consoleOnly(), consoleCertSha256: wrong }, env)
    expect(r).toEqual({
      ok: false,
      failure: 'tls',
      error: `UniFi console: TLS error: the server's certificate (SHA-256 ${u.fingerprint}) is not the pinned certificate (SHA-256 ${wrong})`,
    })
    expect(u.requests).toHaveLength(0)
  })

  it('is refused without a pin, because verification stays on, even after a pinned connection to it', async () => {
    expect(await unifi.verify(consoleOnly(), env)).toMatchObject({ ok: true })
    u.resetRequests()
    const { consoleCertSha256: _, ...unpinned } = consoleOnly()
    const r = await unifi.verify(unpinned, env)
    expect(r.ok).toBe(false)
    expect(r.ok ? '' : r.error).toMatch(
      /^UniFi console: TLS error: .*self-signed certificate.*\. A console with a self-signed certificate needs that certificate's SHA-256 fingerprint in consoleCertSha256$/,
    )
    expect(u.requests).toHaveLength(0)
  })

  it('refuses a pin that is not a SHA-256 fingerprint', async () => {
    const r = await unifi.verify({ ...consoleOnly(), consoleCertSha256: 'abc' }, env)
    // Refused before any request: no vendor answered, so there is no vendor status (issue 19, item 3).
    expect(r).toMatchObject({ ok: false, failure: 'blocked' })
    expect(r).not.toHaveProperty('status')
  })
})

describe('rate limits', () => {
  it("passes Site Manager's 429 on with its Retry-After", async () => {
    u.failNext(429, { retryAfter: 5, path: '/v1/hosts' })
    const err = await ops.list(cloudOnly(), 'hosts', { filter: {}, limit: 10 }, env).catch((e) => e)
    expect(err).toBeInstanceOf(VendorError)
    expect(err).toMatchObject({
      status: 429,
      retryAfterMs: 5000,
      message: 'UniFi Site Manager answered 429: Rate limit exceeded',
    })
  })

  it("keeps Site Manager's 10,000 requests a minute in the shared budget, per account", async () => {
    const takes: [string, number, number][] = []
    const budget: RequestBudget = {
      take: async (account, limit, windowMs) => {
        takes.push([account, limit, windowMs])
        return takes.length === 1 ? 0 : 12_000
      },
    }
    await ops.list(cloudOnly(), 'hosts', { filter: {}, limit: 10 }, { ...env, budget })
    const err = await ops
      .list(cloudOnly(), 'hosts', { filter: {}, limit: 10 }, { ...env, budget })
      .catch((e) => e)
    expect(err).toMatchObject({ status: 429, retryAfterMs: 12_000 })
    expect(err.message).toBe(
      "UniFi Site Manager: the account's 10,000 requests a minute are spent; try again in 12 s",
    )
    expect(u.requests).toHaveLength(1)
    expect(takes[0]?.[0]).toMatch(/^unifi-site-manager:/)
    expect(takes[0]?.[0]).not.toContain(u.credentials.siteManagerApiKey)
    expect(takes[0]?.slice(1)).toEqual([10_000, 60_000])
  })
})

describe('resources', () => {
  it('lists hosts from Site Manager, following nextToken', async () => {
    const first = await ops.list(cloudOnly(), 'hosts', { filter: {}, limit: 1 }, env)
    const second = await ops.list(cloudOnly(), 'hosts', { cursor: first.next, filter: {}, limit: 1 }, env)
    expect([...first.items, ...second.items].map(({ raw: _, ...h }) => h)).toEqual([
      { id: 'host-udm-pro-1', name: 'HQ UDM Pro', ip: '203.0.113.10', online: true, lastSeen: null },
      {
        id: 'host-ucg-2',
        name: 'Branch Gateway',
        ip: '198.51.100.20',
        online: false,
        lastSeen: '2026-02-17T22:15:00.000Z',
      },
    ])
    expect(second.next).toBeUndefined()
    expect(seen()[1]).toMatch(/^\/v1\/hosts\?pageSize=1&nextToken=\S+$/)
  })

  it('reads sites from the console by default, and from the cloud on request', async () => {
    const local = await ops.list(u.credentials, 'sites', { filter: {}, limit: 10 }, env)
    expect(local.items.map(({ raw: _, ...s }) => s)).toEqual([
      { id: u.raw.sites[0]?.id, name: 'Default', description: null },
      { id: u.raw.sites[1]?.id, name: 'Branch Office', description: null },
    ])
    const cloud = await ops.list(u.credentials, 'sites', { filter: { source: 'cloud' }, limit: 10 }, env)
    expect(cloud.items.map((s) => [s.id, s.name])).toEqual([
      ['cloud-site-1', 'Default'],
      ['cloud-site-2', 'Branch'],
    ])
    expect((await ops.list(cloudOnly(), 'sites', { filter: {}, limit: 10 }, env)).items).toHaveLength(2)
  })

  it("walks every site's devices on the console, a page at a time", async () => {
    const names: string[] = []
    let cursor: string | undefined
    let pages = 0
    do {
      const page = await ops.list(consoleOnly(), 'devices', { cursor, filter: {}, limit: 2 }, env)
      names.push(
        ...page.items.map((d) => `${d.name}@${d.site === u.raw.sites[0]?.id ? 'hq' : 'branch'}:${d.online}`),
      )
      cursor = page.next
      pages += 1
    } while (cursor && pages < 10)
    expect(names).toEqual(['AP 1-1@hq:true', 'AP 1-2@hq:false', 'AP 1-3@hq:true', 'AP 2-1@branch:true'])
    expect(pages).toBe(3)
    const first = (await ops.list(consoleOnly(), 'devices', { filter: {}, limit: 1 }, env)).items[0]
    expect(first).toEqual({
      id: u.raw.devices[String(u.raw.sites[0]?.id)]?.[0]?.id,
      name: 'AP 1-1',
      hostname: null,
      ip: '192.168.1.2',
      mac: '94:2a:6f:01:00:01',
      os: null,
      site: u.raw.sites[0]?.id,
      online: true,
      lastSeen: null,
      raw: u.raw.devices[String(u.raw.sites[0]?.id)]?.[0],
    })
  })

  it("reads one site's clients, and one host's devices from the cloud", async () => {
    const branch = String(u.raw.sites[1]?.id)
    const clients = await ops.list(u.credentials, 'clients', { filter: { siteId: branch }, limit: 10 }, env)
    expect(clients.items.map(({ raw: _, ...c }) => c)).toEqual([
      {
        id: u.raw.clients[branch]?.[0]?.id,
        name: 'client-2-1',
        hostname: null,
        ip: '192.168.2.101',
        mac: null,
        os: null,
        site: branch,
        online: true,
        lastSeen: null,
      },
    ])
    expect(clients.next).toBeUndefined()
    expect(seen()).toEqual([`/proxy/network/integration/v1/sites/${branch}/clients?offset=0&limit=10`])
    const devices = await ops.list(
      u.credentials,
      'devices',
      { filter: { source: 'cloud', hostId: 'host-ucg-2' }, limit: 10 },
      env,
    )
    expect(devices.items.map((d) => [d.id, d.site, d.online])).toEqual([['dev-c', 'host-ucg-2', true]])
    expect(seen().at(-1)).toBe('/v1/devices?hostIds[]=host-ucg-2&pageSize=10')
  })

  it('says which credentials a kind needs, and refuses filters it does not take', async () => {
    await expect(ops.list(cloudOnly(), 'clients', { filter: {}, limit: 10 }, env)).rejects.toMatchObject({
      status: 400,
      message: 'UniFi: console clients need a console (consoleUrl and networkApiKey)',
    })
    await expect(ops.list(consoleOnly(), 'hosts', { filter: {}, limit: 10 }, env)).rejects.toMatchObject({
      status: 400,
      message: 'UniFi: hosts need the Site Manager API key (siteManagerApiKey)',
    })
    await expect(
      ops.list(u.credentials, 'devices', { filter: { source: 'cloud', siteId: 'x' }, limit: 10 }, env),
    ).rejects.toMatchObject({ status: 400 })
    await expect(
      ops.list(u.credentials, 'hosts', { filter: { siteId: 'x' }, limit: 10 }, env),
    ).rejects.toMatchObject({
      status: 400,
      message: 'UniFi: hosts has no filter "siteId"; it accepts none',
    })
    expect(u.requests).toHaveLength(0)
  })
})
