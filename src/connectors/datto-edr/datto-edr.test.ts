import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { DattoEdrStandIn } from '../../../test/standins/datto-edr.ts'
import { connectorTestEnv } from '../../../test/standins/env.ts'
import { ManualClock } from '../../lib/clock.ts'
import { connector } from '../registry.ts'
import type { ResourceOperations } from '../types.ts'
import { VendorError } from '../vendor-error.ts'
import { dattoEdr } from './index.ts'

const clock = new ManualClock('2026-01-15T12:00:00.000Z')
const env = connectorTestEnv(clock)
const ops = dattoEdr.resources as ResourceOperations
let edr: DattoEdrStandIn

beforeAll(async () => {
  edr = await new DattoEdrStandIn({ clock }).start()
})
afterAll(async () => {
  await edr.close()
  await env.close()
})
beforeEach(() => {
  edr.resetRequests()
  clock.set('2026-01-15T12:00:00.000Z')
})

const filterOf = (i: number) => JSON.parse(edr.requests[i]?.query.get('filter') ?? 'null')

describe('descriptor', () => {
  it('is a security connector whose instance is a destination and whose token is secret', () => {
    expect(connector('datto-edr')).toBe(dattoEdr)
    const s = dattoEdr.descriptor.credentialSchema
    expect(dattoEdr.descriptor.category).toBe('security')
    expect(s.instance).toMatchObject({ destination: true, sensitive: false, required: true })
    expect(s.apiToken).toMatchObject({ sensitive: true, required: true })
    expect(s.tokenExpiresAt).toMatchObject({ sensitive: false, required: false })
    expect(s.baseUrl).toMatchObject({ destination: true })
  })
})

describe('verify', () => {
  it("calls /api/Version with the token in the Authorization header and reports the token's expiry", async () => {
    const r = await dattoEdr.verify(edr.credentials, env)
    expect(r).toEqual({
      ok: true,
      account: `Datto EDR ${new URL(edr.url).host} (4.3.1)`,
      expiresAt: '2026-03-01T00:00:00.000Z',
    })
    expect(edr.requests[0]?.path).toBe('/api/Version')
    expect(edr.requests[0]?.headers.authorization).toBe(edr.credentials.apiToken)
    expect(edr.requests[0]?.query.has('access_token')).toBe(false)
  })

  it('warns from 30 days before the token expires', async () => {
    clock.set('2026-02-01T00:00:00.000Z')
    expect(await dattoEdr.verify(edr.credentials, env)).toMatchObject({
      ok: true,
      expiresAt: '2026-03-01T00:00:00.000Z',
    })
    clock.set('2026-02-20T00:00:00.000Z')
    expect(await dattoEdr.verify(edr.credentials, env)).toMatchObject({
      ok: true,
      warning:
        'The Datto EDR API token expires on 2026-03-01, in 9 days: make a new one in the console and save it here before then',
    })
  })

  it('says the token has expired when Datto EDR refuses it past its expiry', async () => {
    clock.set('2026-03-02T00:00:00.000Z')
    expect(await dattoEdr.verify(edr.credentials, env)).toEqual({
      ok: false,
      status: 401,
      error:
        'Datto EDR answered 401: Authorization Required (AUTHORIZATION_REQUIRED) — the API token expired on 2026-03-01; make a new one in the Datto EDR console and save it with its new expiry',
    })
  })

  it("reports a wrong token in the vendor's words, without the token", async () => {
    edr.failNext(401, {
      body: { error: { statusCode: 401, message: `bad token ${edr.credentials.apiToken}` } },
    })
    const r = await dattoEdr.verify(edr.credentials, env)
    expect(r).toEqual({ ok: false, status: 401, error: 'Datto EDR answered 401: bad token [redacted]' })
  })

  it('builds the host from the instance name, and refuses hosts outside infocyte.com', async () => {
    const { baseUrl: _, ...creds } = edr.credentials
    // No stand-in answers for contoso.infocyte.com here; the resolver says so, proving where the call went.
    const r = await dattoEdr.verify(creds, env)
    // No vendor answered, so there is no vendor status: the result says the name did not resolve.
    expect(r).toEqual({
      ok: false,
      failure: 'dns',
      error: 'Datto EDR URL host "contoso.infocyte.com" could not be resolved',
    })
    expect(await dattoEdr.verify({ ...creds, instance: 'https://evil.example.com' }, env)).toEqual({
      ok: false,
      status: 400,
      error:
        'Datto EDR: instance "https://evil.example.com" is neither an instance name nor an https://<instance>.infocyte.com URL',
    })
    expect(edr.requests).toHaveLength(0)
  })
})

describe('resources', () => {
  it('lists open alerts by default, with a LoopBack filter, normalized', async () => {
    const page = await ops.list(edr.credentials, 'alerts', { filter: {}, limit: 50 }, env)
    expect(filterOf(0)).toEqual({ where: { archived: false }, order: 'id ASC', limit: 50, skip: 0 })
    expect(edr.requests[0]?.path).toBe('/api/AlertDetails')
    expect(page.items.map(({ raw: _, ...a }) => a)).toEqual([
      {
        id: 'alert-001',
        status: 'open',
        severity: 'critical',
        message: 'Blacklist: Process payload1.exe',
        deviceId: 'host-ws-001',
        hostname: 'WS-001',
        site: null,
        createdAt: '2026-02-11T08:00:00.000Z',
        resolvedAt: null,
      },
      expect.objectContaining({ id: 'alert-002', severity: 'medium', hostname: 'WS-002' }),
      expect.objectContaining({ id: 'alert-004', severity: 'low', message: 'Autostart payload4.exe' }),
    ])
    expect(page.next).toBeUndefined()
  })

  it('reads archived alerts, or all, on request', async () => {
    const archived = await ops.list(
      edr.credentials,
      'alerts',
      { filter: { status: 'archived' }, limit: 50 },
      env,
    )
    expect(archived.items.map((a) => [a.id, a.status, a.resolvedAt])).toEqual([
      ['alert-003', 'resolved', '2026-02-17T09:00:00.000Z'],
    ])
    const all = await ops.list(
      edr.credentials,
      'alerts',
      { filter: { status: 'all', hostname: 'WS-001' }, limit: 50 },
      env,
    )
    expect(all.items.map((a) => a.id)).toEqual(['alert-001', 'alert-003', 'alert-004'])
    expect(filterOf(1).where).toEqual({ hostname: 'WS-001' })
    await expect(
      ops.list(edr.credentials, 'alerts', { filter: { status: 'closed' }, limit: 50 }, env),
    ).rejects.toMatchObject({
      status: 400,
      message: 'Datto EDR: filter status must be one of open, archived, all; got "closed"',
    })
  })

  it('pages agents with skip and limit (at most 1000)', async () => {
    const first = await ops.list(edr.credentials, 'agents', { filter: {}, limit: 3 }, env)
    const second = await ops.list(
      edr.credentials,
      'agents',
      { cursor: first.next, filter: {}, limit: 3 },
      env,
    )
    expect([...first.items, ...second.items].map((a) => `${a.name}:${a.online}`)).toEqual([
      'WS-001:true',
      'WS-002:true',
      'WS-003:true',
      'WS-004:false',
      'WS-005:true',
    ])
    expect(second.next).toBeUndefined()
    expect([filterOf(0), filterOf(1)].map((f) => [f.skip, f.limit])).toEqual([
      [0, 3],
      [3, 3],
    ])
    expect(first.items[0]).toEqual({
      id: 'agent-001',
      name: 'WS-001',
      hostname: 'WS-001',
      ip: '10.0.0.10',
      mac: null,
      os: 'Windows 11 Pro 23H2',
      site: 'HQ',
      online: true,
      lastSeen: '2026-02-17T10:30:00.000Z',
      raw: edr.raw.agents[0],
    })
    await ops.list(edr.credentials, 'agents', { filter: {}, limit: 5000 }, env)
    expect(filterOf(2).limit).toBe(1000)
  })

  it('passes a 429 on with its Retry-After', async () => {
    edr.failNext(429, { retryAfter: 20 })
    const err = await ops.list(edr.credentials, 'agents', { filter: {}, limit: 3 }, env).catch((e) => e)
    expect(err).toBeInstanceOf(VendorError)
    expect(err).toMatchObject({
      status: 429,
      retryAfterMs: 20_000,
      message: 'Datto EDR answered 429: Too many requests, please try again later. (TOO_MANY_REQUESTS)',
    })
  })
})
