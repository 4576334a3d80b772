import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { DattoRmmStandIn } from '../../../test/standins/datto-rmm.ts'
import { connectorTestEnv } from '../../../test/standins/env.ts'
import { ManualClock } from '../../lib/clock.ts'
import { connector } from '../registry.ts'
import { MemoryTokenCache } from '../shared/token-cache.ts'
import type { ConnectorEnv, ResourceOperations } from '../types.ts'
import { VendorError } from '../vendor-error.ts'
import { createDattoRmm, dattoRmm } from './index.ts'

const clock = new ManualClock('2026-02-18T12:00:00.000Z')
const base = connectorTestEnv(clock)
let env: ConnectorEnv
let rmm: DattoRmmStandIn
let rmmConnector: ReturnType<typeof createDattoRmm>
let ops: ResourceOperations

beforeAll(async () => {
  rmm = await new DattoRmmStandIn({ clock, platform: 'vidal' }).start()
  rmmConnector = createDattoRmm({ platformUrl: (p) => rmm.platformUrl(p) })
  ops = rmmConnector.resources as ResourceOperations
})
afterAll(async () => {
  await rmm.close()
  await base.close()
})
beforeEach(() => {
  rmm.resetRequests()
  env = { ...base, tokens: new MemoryTokenCache(() => clock.now().getTime()) }
})

const keyOnly = () => ({ apiKey: rmm.apiKey, apiSecret: rmm.apiSecret })
const q = (filter: Record<string, string> = {}, limit = 50, cursor?: string) => ({ filter, limit, cursor })

async function rejection(p: Promise<unknown>): Promise<VendorError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(err).toBeInstanceOf(VendorError)
  return err as VendorError
}

describe('descriptor', () => {
  it('is registered as an RMM whose platform and baseUrl are destinations', () => {
    expect(connector('datto-rmm')).toBe(dattoRmm)
    const s = dattoRmm.descriptor.credentialSchema
    expect(dattoRmm.descriptor.category).toBe('rmm')
    expect(s.apiKey).toMatchObject({ sensitive: true, required: true })
    expect(s.apiSecret).toMatchObject({ sensitive: true, required: true })
    expect(s.platform).toMatchObject({ destination: true, required: false })
    expect(s.baseUrl).toMatchObject({ destination: true })
    expect(new RegExp(s.platform?.pattern ?? '').test('zinfandel')).toBe(true)
    expect(new RegExp(s.platform?.pattern ?? '').test('evil.example')).toBe(false)
  })
})

describe('verify', () => {
  it("exchanges the key for a token with Datto's public client, then reads the account", async () => {
    expect(await rmmConnector.verify(rmm.credentials, env)).toEqual({ ok: true, account: 'Acme MSP' })
    const [tokenReq] = rmm.tokenRequests()
    expect(tokenReq?.method).toBe('POST')
    expect(tokenReq?.headers.authorization).toBe(
      `Basic ${Buffer.from('public-client:public').toString('base64')}`,
    )
    expect(Object.fromEntries(new URLSearchParams(tokenReq?.raw))).toEqual({
      grant_type: 'password',
      username: rmm.apiKey,
      password: rmm.apiSecret,
    })
    expect(rmm.apiRequests().map((r) => `${r.method} ${r.path}`)).toEqual(['GET /api/v2/account'])
    expect(rmm.apiRequests()[0]?.headers.authorization).toMatch(/^Bearer rmm-token-\d+$/)
  })

  it('finds the platform of a key given without one, and advises it instead of storing it', async () => {
    const result = await rmmConnector.verify(keyOnly(), env)
    expect(result).toEqual({
      ok: true,
      account: 'Acme MSP',
      advice: `The account is on the vidal platform (${rmm.platformUrl('vidal')}): set platform to vidal.`,
      suggestedCredentials: { platform: 'vidal' },
    })
    expect(rmm.tokenRequests().map((r) => r.platform)).toEqual(['pinotage', 'merlot', 'concord', 'vidal'])
    // The token detection obtained is used; no second token request.
    expect(rmm.apiRequests()).toHaveLength(1)
  })

  it('calls only the platform the credentials name', async () => {
    expect(await rmmConnector.verify({ ...keyOnly(), platform: 'vidal' }, env)).toEqual({
      ok: true,
      account: 'Acme MSP',
    })
    expect(rmm.tokenRequests().map((r) => r.platform)).toEqual(['vidal'])
    const wrong = await rmmConnector.verify({ ...keyOnly(), platform: 'syrah' }, env)
    expect(wrong).toEqual({
      ok: false,
      status: 400,
      error: 'Datto RMM answered 400: invalid_grant: Bad credentials',
    })
  })

  it('says no platform took a wrong secret, without the secret', async () => {
    const result = await rmmConnector.verify({ apiKey: rmm.apiKey, apiSecret: 'wrong-secret-value' }, env)
    expect(result).toEqual({
      ok: false,
      status: 401,
      error:
        'Datto RMM: no platform (pinotage, merlot, concord, vidal, zinfandel, syrah) accepted the API key and ' +
        'secret; the last said: Datto RMM answered 400: invalid_grant: Bad credentials',
    })
    expect(rmm.tokenRequests()).toHaveLength(6)
  })

  it('passes on a 429 with its Retry-After', async () => {
    rmm.failNext(429, { retryAfter: 30, path: '/api/v2/account' })
    const err = await rejection(ops.list(rmm.credentials, 'sites', q(), env))
    expect(err.message).toBe('Datto RMM answered 429: Too Many Requests')
    expect(err).toMatchObject({ status: 429, retryAfterMs: 30_000 })
  })
})

describe('tokens', () => {
  it('are cached for their lifetime and fetched again when it ends', async () => {
    await ops.list(rmm.credentials, 'sites', q(), env)
    await ops.list(rmm.credentials, 'devices', q(), env)
    expect(rmm.tokenRequests()).toHaveLength(1)
    clock.advance(100 * 3_600_000)
    await ops.list(rmm.credentials, 'sites', q(), env)
    expect(rmm.tokenRequests()).toHaveLength(2)
    // The cached token had expired: no request was refused on the way.
    expect(rmm.apiRequests()).toHaveLength(3)
  })

  it('are fetched again once when the API answers 401, and the call goes through', async () => {
    await ops.list(rmm.credentials, 'sites', q(), env)
    rmm.revokeTokens()
    const page = await ops.list(rmm.credentials, 'sites', q(), env)
    expect(page.items.map((s) => s.id)).toEqual(['site-0001-contoso', 'site-0002-fabrikam'])
    expect(rmm.tokenRequests()).toHaveLength(2)
    const statuses = rmm.apiRequests().map((r) => r.headers.authorization)
    expect(statuses[1]).toBe(statuses[0])
    expect(statuses[2]).not.toBe(statuses[1])
  })

  it('are not fetched over and over when the API keeps refusing', async () => {
    rmm.failNext(401, { path: '/api/', times: 5 })
    const err = await rejection(ops.list(rmm.credentials, 'sites', q(), env))
    expect(err).toMatchObject({ status: 401, message: 'Datto RMM answered 401: Unauthorized' })
    expect(rmm.tokenRequests()).toHaveLength(2)
    expect(rmm.apiRequests()).toHaveLength(2)
  })
})

describe('resources', () => {
  it('pages devices through pageDetails.nextPageUrl behind an opaque cursor', async () => {
    rmm.addDevices(7)
    const seen: string[] = []
    let cursor: string | undefined
    const paths: string[] = []
    do {
      const page = await ops.list(rmm.credentials, 'devices', q({}, 4, cursor), env)
      seen.push(...page.items.map((d) => d.id))
      cursor = page.next
      const last = rmm.apiRequests().at(-1)
      paths.push(`${last?.path}?${last?.query.toString()}`)
    } while (cursor)
    expect(seen).toEqual(rmm.devices.map((d) => d.uid))
    expect(paths).toEqual([
      '/api/v2/account/devices?page=0&max=4',
      '/api/v2/account/devices?page=1&max=4',
      '/api/v2/account/devices?page=2&max=4',
    ])
    rmm.devices.splice(3)
  })

  it('normalizes a device', async () => {
    const page = await ops.list(rmm.credentials, 'devices', q({ hostname: 'ws-0001' }), env)
    const d = rmm.devices[0]
    expect(page.items).toEqual([
      {
        id: d?.uid,
        name: d?.hostname,
        hostname: d?.hostname,
        ip: d?.intIpAddress,
        mac: null,
        os: d?.operatingSystem,
        site: d?.siteUid,
        online: d?.online,
        lastSeen: new Date(d?.lastSeen ?? '').toISOString(),
        raw: expect.objectContaining({ uid: d?.uid, siteName: 'Fabrikam' }),
      },
    ])
    expect(rmm.apiRequests().at(-1)?.query.get('hostname')).toBe('ws-0001')
  })

  it('reads open and resolved alerts, of the account, a site or a device', async () => {
    const open = await ops.list(rmm.credentials, 'alerts', q(), env)
    expect(open.items.map((a) => [a.id, a.status, a.severity])).toEqual([
      ['alert-open-1', 'open', 'critical'],
      ['alert-open-2', 'open', 'medium'],
    ])
    expect(open.items[0]).toMatchObject({
      message: 'Disk C: is 97% full',
      deviceId: 'dev-0001',
      hostname: 'WS-0001',
      site: 'site-0002-fabrikam',
      createdAt: '2026-02-18T10:00:00.000Z',
      resolvedAt: null,
    })
    const resolved = await ops.list(
      rmm.credentials,
      'alerts',
      q({ status: 'resolved', deviceId: 'dev-0001' }),
      env,
    )
    expect(resolved.items).toMatchObject([
      {
        id: 'alert-resolved-1',
        status: 'resolved',
        severity: 'high',
        resolvedAt: '2026-02-18T11:00:00.000Z',
      },
    ])
    const muted = await ops.list(
      rmm.credentials,
      'alerts',
      q({ siteId: 'site-0001-contoso', muted: 'true' }),
      env,
    )
    expect(muted.items.map((a) => a.id)).toEqual(['alert-open-2'])
    expect(rmm.apiRequests().map((r) => r.path)).toEqual([
      '/api/v2/account/alerts/open',
      '/api/v2/device/dev-0001/alerts/resolved',
      '/api/v2/site/site-0001-contoso/alerts/open',
    ])
  })

  it("reads one device's audit", async () => {
    const page = await ops.list(rmm.credentials, 'device-audit', q({ deviceId: 'dev-0002' }), env)
    expect(page).toEqual({
      items: [
        {
          deviceId: 'dev-0002',
          manufacturer: 'Dell Inc.',
          model: 'OptiPlex 7090',
          serialNumber: 'SN1002',
          os: null,
          raw: expect.objectContaining({ nics: expect.any(Array) }),
        },
      ],
    })
    const missing = await rejection(
      ops.list(rmm.credentials, 'device-audit', q({ deviceId: 'dev-9999' }), env),
    )
    expect(missing).toMatchObject({ status: 404, message: 'Datto RMM answered 404: Not Found' })
  })

  it('refuses unknown filters, bad values and foreign cursors before calling Datto', async () => {
    const cases: [string, Record<string, string>, string | undefined, string][] = [
      ['sites', { color: 'red' }, undefined, 'Datto RMM: unknown filter color for sites'],
      [
        'alerts',
        { status: 'closed' },
        undefined,
        'Datto RMM: the status filter is open or resolved, not "closed"',
      ],
      ['device-audit', {}, undefined, 'Datto RMM: device-audit needs the deviceId filter'],
      ['devices', { siteId: '../account' }, undefined, 'Datto RMM: "../account" is not a site uid'],
      ['devices', {}, 'not-a-cursor', 'Datto RMM: the page cursor is not one this connector issued'],
      [
        'devices',
        {},
        Buffer.from(JSON.stringify({ next: 'https://evil.example/x' })).toString('base64url'),
        'Datto RMM: the page cursor is not one this connector issued',
      ],
    ]
    for (const [kind, filter, cursor, message] of cases) {
      const err = await rejection(ops.list(rmm.credentials, kind as 'sites', q(filter, 10, cursor), env))
      expect(err).toMatchObject({ status: 400, message })
    }
    expect(rmm.apiRequests()).toHaveLength(0)
  })

  it("keeps the vendor's words and drops the credentials from them", async () => {
    rmm.failNext(500, {
      path: '/api/',
      body: {
        status: 500,
        error: `backend rejected key ${rmm.apiKey} / ${rmm.apiSecret}`,
        path: '/v2/account/sites',
      },
    })
    const err = await rejection(ops.list(rmm.credentials, 'sites', q(), env))
    expect(err.message).toBe('Datto RMM answered 500: backend rejected key [redacted] / [redacted]')
  })
})
