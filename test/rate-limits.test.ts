import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createApp } from '../src/http/app.ts'
import { openServed } from '../src/store/db.ts'
import { createHarness, type Harness, seedTenants } from './harness.ts'

let h: Harness
let t: Awaited<ReturnType<typeof seedTenants>>
beforeAll(async () => {
  h = await createHarness({ env: { PATCHBAY_RATE_LIMIT_CONFIG: '1000', PATCHBAY_RATE_LIMIT_INGEST: '1000' } })
  t = await seedTenants(h)
})
afterAll(() => h.close())

/** A fresh organization key (its own budget), made by the system key. */
async function orgKey(orgId: string, rateLimits?: Record<string, number | null>) {
  const res = await h.json('POST', '/api/v1/api-keys', {
    body: { name: 'limited', scope: 'organization', orgId, ...(rateLimits ? { rateLimits } : {}) },
  })
  expect(res.status, JSON.stringify(res.body)).toBe(201)
  return res.body as { id: string; token: string; rateLimits: Record<string, unknown> }
}

const list = (token: string) => h.request('GET', '/api/v1/webhooks', { token })
const ingest = (token: string) =>
  h.request('POST', '/api/v1/events', { token, body: { type: 'alert.triggered', data: {} } })

describe('per-key rate limits', () => {
  it('answers 429 with Retry-After and the IETF RateLimit headers once the budget is spent', async () => {
    const key = await orgKey(t.orgA.id, { configuration: 3 })
    const remaining: (string | null)[] = []
    for (let i = 0; i < 3; i++) {
      const res = await list(key.token)
      expect(res.status).toBe(200)
      expect(res.headers.get('ratelimit-policy')).toBe('"configuration";q=3;w=60')
      remaining.push(res.headers.get('ratelimit'))
    }
    expect(remaining).toEqual([
      '"configuration";r=2;t=60',
      '"configuration";r=1;t=60',
      '"configuration";r=0;t=60',
    ])
    h.clock.advance(15_500)
    const refused = await list(key.token)
    expect(refused.status).toBe(429)
    expect(refused.headers.get('retry-after')).toBe('45')
    expect(refused.headers.get('ratelimit')).toBe('"configuration";r=0;t=45')
    expect(refused.headers.get('ratelimit-policy')).toBe('"configuration";q=3;w=60')
    expect(await refused.json()).toMatchObject({ code: 'rate_limited' })
    // The window ends: the budget is back.
    h.clock.advance(45_000)
    const again = await list(key.token)
    expect(again.status).toBe(200)
    expect(again.headers.get('ratelimit')).toBe('"configuration";r=2;t=60')
  })

  it('budgets event ingest apart from configuration routes', async () => {
    const key = await orgKey(t.orgA.id, { configuration: 1, ingest: 2 })
    expect((await list(key.token)).status).toBe(200)
    expect((await list(key.token)).status).toBe(429)
    // Configuration is spent; ingest is not.
    const first = await ingest(key.token)
    expect(first.status).toBe(202)
    expect(first.headers.get('ratelimit-policy')).toBe('"ingest";q=2;w=60')
    expect(first.headers.get('ratelimit')).toMatch(/^"ingest";r=1;t=\d+$/)
    expect((await ingest(key.token)).status).toBe(202)
    const third = await ingest(key.token)
    expect(third.status).toBe(429)
    expect(third.headers.get('retry-after')).toMatch(/^\d+$/)
    // Batch ingest shares the ingest budget.
    const batch = await h.request('POST', '/api/v1/events/batch', {
      token: key.token,
      body: { events: [{ type: 'alert.triggered', data: {} }] },
    })
    expect(batch.status).toBe(429)
    // Each key has its own budget.
    const other = await orgKey(t.orgA.id, { configuration: 1, ingest: 2 })
    expect((await list(other.token)).status).toBe(200)
    h.clock.advance(60_000)
  })

  it('uses the server default unless the key sets its own, settable through the API-keys API', async () => {
    const key = await orgKey(t.orgA.id)
    expect(key.rateLimits).toEqual({
      ingest: 1000,
      configuration: 1000,
      custom: { ingest: null, configuration: null },
    })
    expect((await list(key.token)).headers.get('ratelimit-policy')).toBe('"configuration";q=1000;w=60')

    // A system key sets it; the next request is held to it.
    const set = await h.json('PATCH', `/api/v1/api-keys/${key.id}`, {
      body: { rateLimits: { configuration: 2 } },
    })
    expect(set.status, JSON.stringify(set.body)).toBe(200)
    expect(set.body.rateLimits).toEqual({
      ingest: 1000,
      configuration: 2,
      custom: { ingest: null, configuration: 2 },
    })
    const next = await list(key.token)
    expect(next.headers.get('ratelimit-policy')).toBe('"configuration";q=2;w=60')
    // This window already counts two requests (one under the old budget): the budget of two is spent.
    expect((await list(key.token)).status).toBe(429)

    // A key may not raise its own budget; its partner's key may set it; null goes back to the default.
    h.clock.advance(60_000)
    const own = await h.json('PATCH', `/api/v1/api-keys/${key.id}`, {
      token: key.token,
      body: { rateLimits: { configuration: 1_000_000 } },
    })
    expect(own.status).toBe(403)
    const byPartner = await h.json('PATCH', `/api/v1/api-keys/${key.id}`, {
      token: t.partnerToken,
      body: { rateLimits: { configuration: null, ingest: 7 } },
    })
    expect(byPartner.status, JSON.stringify(byPartner.body)).toBe(200)
    expect(byPartner.body.rateLimits.custom).toEqual({ ingest: 7, configuration: null })
    // A partner key reaches no other partner's organizations' keys.
    const foreign = await h.json('PATCH', `/api/v1/api-keys/${key.id}`, {
      token: t.otherPartnerToken,
      body: { rateLimits: { ingest: 9 } },
    })
    expect(foreign.status).toBe(404)
    // Nor may an organization key mint a key with a budget of its own.
    const minted = await h.json('POST', '/api/v1/api-keys', {
      token: key.token,
      body: { name: 'x', scope: 'organization', rateLimits: { ingest: 5 } },
    })
    expect(minted.status).toBe(403)
    const bad = await h.json('PATCH', `/api/v1/api-keys/${key.id}`, { body: { rateLimits: { ingest: 0 } } })
    expect(bad.status).toBe(422)
    expect(bad.body.details[0].path).toBe('rateLimits.ingest')

    const audit = await h.json('GET', `/api/v1/audit-logs?action=api_key.update`)
    expect(audit.body.data.some((e: { targetId: string }) => e.targetId === key.id)).toBe(true)
  })

  it('holds across two API instances sharing the database', async () => {
    const key = await orgKey(t.orgA.id, { configuration: 4 })
    // A second instance with its own connection pool, as a second `patchbay api` process has.
    const db = openServed({ url: h.database.url, poolSize: 2 })
    try {
      const second = createApp({ ...h.ctx, db })
      const call = (app: typeof h.app) =>
        app.request('/api/v1/webhooks', { headers: { authorization: `Bearer ${key.token}` } })
      const statuses = [
        (await call(h.app)).status,
        (await call(second)).status,
        (await call(h.app)).status,
        (await call(second)).status,
        (await call(second)).status,
        (await call(h.app)).status,
      ]
      expect(statuses).toEqual([200, 200, 200, 200, 429, 429])
      // At once, too: of ten concurrent requests across both, exactly the budget gets through.
      h.clock.advance(60_000)
      const burst = await Promise.all(Array.from({ length: 10 }, (_, i) => call(i % 2 ? h.app : second)))
      expect(burst.filter((r) => r.status === 200)).toHaveLength(4)
      expect(burst.filter((r) => r.status === 429)).toHaveLength(6)
    } finally {
      await db.close()
    }
  })

  it('leaves unauthenticated and public requests alone', async () => {
    const res = await h.request('GET', '/api/v1/openapi.json', { token: null })
    expect(res.status).toBe(200)
    expect(res.headers.get('ratelimit')).toBeNull()
  })
})
