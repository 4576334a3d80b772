// What a new user tripped over (issue 19): each item has its own test here or beside the feature it concerns.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createHarness, type Harness, seedTenants } from './harness.ts'

let h: Harness
let t: Awaited<ReturnType<typeof seedTenants>>
beforeAll(async () => {
  h = await createHarness()
  t = await seedTenants(h)
})
afterAll(async () => {
  await h.close()
})

describe('delivery recovery filters', () => {
  it('refuses an unknown target type with 422 instead of queueing nothing', async () => {
    const res = await h.json('POST', '/api/v1/deliveries/retry', {
      token: t.orgAToken,
      body: { targetType: 'bogus' },
    })
    expect(res.status).toBe(422)
    expect(res.body.details).toEqual([{ path: 'targetType', message: expect.stringContaining('webhook') }])
    const list = await h.json('GET', '/api/v1/deliveries?targetType=bogus', { token: t.orgAToken })
    expect(list.status).toBe(422)
    for (const kind of ['webhook', 'psa', 'notification', 'monitoring', 'ticketing']) {
      const ok = await h.json('POST', '/api/v1/deliveries/retry', {
        token: t.orgAToken,
        body: { targetType: kind },
      })
      expect(ok.status, kind).toBe(202)
    }
  })
})
