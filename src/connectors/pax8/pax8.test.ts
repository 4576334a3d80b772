import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { connectorTestEnv } from '../../../test/standins/env.ts'
import { Pax8StandIn } from '../../../test/standins/pax8.ts'
import { ManualClock } from '../../lib/clock.ts'
import { connector } from '../registry.ts'
import type { CachedToken, ResourceOperations, TokenCache } from '../types.ts'
import { VendorError } from '../vendor-error.ts'
import { pax8 } from './index.ts'

/** The token cache contract in memory; the real one keeps tokens in the database. */
class MemoryTokens implements TokenCache {
  readonly map = new Map<string, CachedToken>()
  async get(key: string) {
    return this.map.get(key)
  }
  async set(key: string, token: CachedToken) {
    this.map.set(key, token)
  }
  async drop(key: string) {
    this.map.delete(key)
  }
}

const clock = new ManualClock('2026-02-18T12:00:00.000Z')
const base = connectorTestEnv(clock)
const ops = pax8.resources as ResourceOperations
let px: Pax8StandIn
let tokens: MemoryTokens
let env: typeof base

beforeAll(async () => {
  px = await new Pax8StandIn({ clock }).start()
})
afterAll(async () => {
  await px.close()
  await base.close()
})
beforeEach(() => {
  px.resetRequests()
  px.revokeTokens()
  tokens = new MemoryTokens()
  env = { ...base, tokens }
})

const paths = () => px.requests.map((r) => `${r.method} ${r.path}${r.query.size ? `?${r.query}` : ''}`)

describe('descriptor', () => {
  it('is registered as a marketplace, the secret sensitive and the host a destination', () => {
    expect(connector('pax8')).toBe(pax8)
    expect(pax8.descriptor).toMatchObject({ id: 'pax8', category: 'marketplace' })
    expect(pax8.descriptor.credentialSchema.clientSecret).toMatchObject({ sensitive: true, required: true })
    expect(pax8.descriptor.credentialSchema.baseUrl).toMatchObject({ destination: true, sensitive: false })
    expect(ops.kinds.map((k) => k.kind)).toEqual([
      'companies',
      'products',
      'orders',
      'subscriptions',
      'subscription-history',
    ])
  })
})

describe('verify', () => {
  it('exchanges the client credentials for a token, then reads one company with it', async () => {
    expect(await pax8.verify(px.credentials, env)).toEqual({
      ok: true,
      account: 'Pax8 API client pax8-client-7Hq2Lm (5 companies)',
    })
    const [token, companies] = px.requests
    expect(token?.body).toEqual({
      client_id: 'pax8-client-7Hq2Lm',
      client_secret: 'pax8-secret-Zt4wQ9xK2vB8nR6c',
      audience: 'https://api.pax8.com',
      grant_type: 'client_credentials',
    })
    expect(`${companies?.path}?${companies?.query}`).toBe('/v1/companies?page=0&size=1')
    expect(companies?.headers.authorization).toMatch(/^Bearer pax8-access-/)
  })

  it("reports a wrong secret in Pax8's words, without the secret", async () => {
    const r = await pax8.verify({ ...px.credentials, clientSecret: 'not-the-secret' }, env)
    expect(r).toEqual({ ok: false, status: 401, error: 'Pax8 answered 401: Unauthorized (access_denied)' })
    expect(paths()).toEqual(['POST /v1/token'])
  })

  it('never repeats a secret the vendor echoes', async () => {
    px.failNext(400, {
      path: '/v1/token',
      body: { error: 'invalid_request', error_description: `bad secret ${px.credentials.clientSecret}` },
    })
    const r = await pax8.verify(px.credentials, env)
    expect(JSON.stringify(r)).not.toContain(px.credentials.clientSecret)
    expect(r).toMatchObject({
      ok: false,
      error: 'Pax8 answered 400: bad secret [redacted] (invalid_request)',
    })
  })

  it('passes a 429 on with its Retry-After', async () => {
    px.failNext(429, { retryAfter: 30, path: '/v1/companies' })
    const err = await ops.list(px.credentials, 'companies', { filter: {}, limit: 10 }, env).catch((e) => e)
    expect(err).toBeInstanceOf(VendorError)
    expect(err).toMatchObject({
      status: 429,
      retryAfterMs: 30_000,
      message: 'Pax8 answered 429: Too Many Requests',
    })
  })
})

describe('tokens', () => {
  it('caches the token for its 24 hours and fetches a new one after', async () => {
    await ops.list(px.credentials, 'companies', { filter: {}, limit: 2 }, env)
    clock.advance(23 * 3600_000)
    await ops.list(px.credentials, 'products', { filter: {}, limit: 2 }, env)
    expect(px.tokensIssued).toBeGreaterThan(0)
    expect(paths().filter((p) => p.startsWith('POST'))).toHaveLength(1)
    const [cached] = [...tokens.map.values()]
    expect(cached?.expiresAt).toBe(Date.parse('2026-02-19T12:00:00.000Z'))
    expect(JSON.stringify([...tokens.map.keys()])).not.toContain(px.credentials.clientSecret)
    clock.advance(3600_000)
    await ops.list(px.credentials, 'orders', { filter: {}, limit: 2 }, env)
    expect(paths().filter((p) => p.startsWith('POST'))).toHaveLength(2)
    clock.set('2026-02-18T12:00:00.000Z')
  })

  it('fetches a new token once when Pax8 refuses the cached one, then goes on', async () => {
    await ops.list(px.credentials, 'companies', { filter: {}, limit: 2 }, env)
    px.revokeTokens()
    px.resetRequests()
    const page = await ops.list(px.credentials, 'companies', { filter: {}, limit: 2 }, env)
    expect(page.items).toHaveLength(2)
    expect(paths()).toEqual([
      'GET /v1/companies?page=0&size=2',
      'POST /v1/token',
      'GET /v1/companies?page=0&size=2',
    ])
  })

  it('does not loop when a fresh token is refused too', async () => {
    px.failNext(401, { path: '/v1/companies', times: 2 })
    const err = await ops.list(px.credentials, 'companies', { filter: {}, limit: 2 }, env).catch((e) => e)
    expect(err).toMatchObject({ status: 401, message: 'Pax8 answered 401: Unauthorized' })
    expect(paths()).toEqual(['POST /v1/token', 'GET /v1/companies?page=0&size=2'])
  })

  it('works without a token cache, fetching a token per call', async () => {
    const bare = { ...base }
    await ops.list(px.credentials, 'companies', { filter: {}, limit: 2 }, bare)
    await ops.list(px.credentials, 'companies', { filter: {}, limit: 2 }, bare)
    expect(paths().filter((p) => p.startsWith('POST'))).toHaveLength(2)
  })
})

describe('resources', () => {
  it('pages through companies with an opaque cursor, keeping the page size', async () => {
    const first = await ops.list(px.credentials, 'companies', { filter: {}, limit: 2 }, env)
    expect(first.items.map((c) => c.name)).toEqual(['Customer 1', 'Customer 2'])
    expect(first.items[0]).toMatchObject({ id: px.raw.companies[0]?.id, raw: px.raw.companies[0] })
    const second = await ops.list(
      px.credentials,
      'companies',
      { cursor: first.next, filter: {}, limit: 50 },
      env,
    )
    const third = await ops.list(
      px.credentials,
      'companies',
      { cursor: second.next, filter: {}, limit: 2 },
      env,
    )
    expect([...second.items, ...third.items].map((c) => c.name)).toEqual([
      'Customer 3',
      'Customer 4',
      'Customer 5',
    ])
    expect(third.next).toBeUndefined()
    expect(paths().filter((p) => p.startsWith('GET'))).toEqual([
      'GET /v1/companies?page=0&size=2',
      'GET /v1/companies?page=1&size=2',
      'GET /v1/companies?page=2&size=2',
    ])
  })

  it('caps the page size at 200 and passes filters as Pax8 names them', async () => {
    const active = await ops.list(
      px.credentials,
      'companies',
      { filter: { status: 'Inactive' }, limit: 1000 },
      env,
    )
    expect(active.items.map((c) => c.name)).toEqual(['Customer 5'])
    expect(paths().at(-1)).toBe('GET /v1/companies?page=0&size=200&status=Inactive')
  })

  it('normalizes products, orders and subscriptions', async () => {
    const products = await ops.list(
      px.credentials,
      'products',
      { filter: { vendorName: 'Acronis' }, limit: 10 },
      env,
    )
    expect(products.items).toEqual([
      {
        id: px.raw.products[2]?.id,
        name: 'Acronis Cyber Protect',
        vendor: 'Acronis',
        sku: 'ACR-CP-001',
        raw: px.raw.products[2],
      },
    ])
    const company = String(px.raw.companies[2]?.id)
    const orders = await ops.list(
      px.credentials,
      'orders',
      { filter: { companyId: company }, limit: 10 },
      env,
    )
    expect(orders.items.map((o) => [o.companyId, o.createdAt])).toEqual([
      [company, '2025-12-01T00:00:00.000Z'],
      [company, '2025-12-01T00:00:00.000Z'],
    ])
    const subs = await ops.list(
      px.credentials,
      'subscriptions',
      { filter: { companyId: company, status: 'Cancelled' }, limit: 10 },
      env,
    )
    expect(subs.items).toEqual([
      {
        id: px.raw.subscriptions[5]?.id,
        companyId: company,
        productId: px.raw.products[1]?.id,
        quantity: 8,
        status: 'Cancelled',
        raw: px.raw.subscriptions[5],
      },
    ])
  })

  it("reads one subscription's history, which needs its id", async () => {
    const id = String(px.raw.subscriptions[0]?.id)
    const history = await ops.list(
      px.credentials,
      'subscription-history',
      { filter: { subscriptionId: id }, limit: 10 },
      env,
    )
    expect(history.items.map(({ raw: _, ...h }) => h)).toEqual([
      {
        id: `${id}:0`,
        subscriptionId: id,
        action: 'Active',
        quantity: 5,
        createdAt: '2026-01-10T06:12:14.453Z',
      },
      {
        id: `${id}:1`,
        subscriptionId: id,
        action: 'PendingAutomated',
        quantity: 2,
        createdAt: '2025-12-01T20:20:13.153Z',
      },
    ])
    expect(history.next).toBeUndefined()
    await expect(
      ops.list(px.credentials, 'subscription-history', { filter: {}, limit: 10 }, env),
    ).rejects.toMatchObject({
      status: 400,
      message: 'Pax8: subscription-history needs the filter subscriptionId',
    })
    await expect(
      ops.list(
        px.credentials,
        'subscription-history',
        { filter: { subscriptionId: 'nope' }, limit: 10 },
        env,
      ),
    ).rejects.toMatchObject({
      status: 404,
      message: 'Pax8 answered 404: Subscription not found: No subscription with id nope',
    })
  })

  it('refuses unknown filters, bad filter values, foreign cursors and kinds it does not offer, calling no one', async () => {
    await expect(
      ops.list(px.credentials, 'companies', { filter: { city: 'Denver', colour: 'red' }, limit: 10 }, env),
    ).rejects.toMatchObject({
      status: 400,
      message: 'Pax8: companies has no filter "city", "colour"; it accepts status, country',
    })
    await expect(
      ops.list(px.credentials, 'subscriptions', { filter: { status: 'active' }, limit: 10 }, env),
    ).rejects.toMatchObject({
      status: 400,
      message: expect.stringContaining('filter status must be one of Active,'),
    })
    await expect(
      ops.list(px.credentials, 'companies', { cursor: 'not-a-cursor', filter: {}, limit: 10 }, env),
    ).rejects.toMatchObject({
      status: 400,
      message: 'Pax8: the page cursor is not one this connector issued',
    })
    await expect(ops.list(px.credentials, 'devices', { filter: {}, limit: 10 }, env)).rejects.toMatchObject({
      status: 400,
      message:
        'Pax8 offers no "devices"; it offers companies, products, orders, subscriptions, subscription-history',
    })
    expect(px.requests).toHaveLength(0)
  })
})
