import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { JobService } from '../src/jobs/service.ts'
import { WIRED_JOBS } from '../src/wiring.ts'
import { createHarness, type Harness } from './harness.ts'
import { DattoEdrStandIn } from './standins/datto-edr.ts'

/**
 * Credentials that expire (Datto EDR's API token lasts a year): the connector reports the expiry on every
 * successful check, and from 30 days before it a warning, which the status page shows and counts as
 * needs_attention while the integration still works, so someone replaces the token before it breaks.
 */
const API = '/api/v1/integrations'
let h: Harness
let jobs: JobService
let edr: DattoEdrStandIn

beforeAll(async () => {
  h = await createHarness({ env: { PATCHBAY_PROBE_INTERVAL_MS: String(5 * 60_000) } })
  jobs = new JobService(h.ctx, WIRED_JOBS)
  edr = await new DattoEdrStandIn({ clock: h.clock }).start()
})
afterAll(async () => {
  await edr.close()
  await h.close()
})

async function statusOf(orgId: string, id: string) {
  const r = await h.json('GET', `${API}/status?orgId=${orgId}`)
  expect(r.status).toBe(200)
  return {
    summary: r.body.data.summary,
    item: r.body.data.integrations.find((i: { id: string }) => i.id === id),
  }
}

describe('an expiring Datto EDR token on the status page', () => {
  it('is connected while the expiry is far, then needs attention with a warning from 30 days before', async () => {
    const orgId = (await h.json('POST', '/api/v1/orgs', { body: { name: 'Expiry Co' } })).body.id
    // The token expires on 2026-04-30; the harness clock starts on 2026-02-18 (71 days before).
    edr.tokenExpiresAt = new Date('2026-04-30T00:00:00Z')
    const created = await h.json('POST', API, {
      body: {
        orgId,
        provider: 'datto-edr',
        name: 'EDR',
        credentials: edr.credentials,
        enabled_capabilities: ['read_resources'],
      },
    })
    expect(created.status, JSON.stringify(created.body)).toBe(201)
    const id = created.body.data.id as string
    await jobs.runDue()

    const far = await statusOf(orgId, id)
    expect(far.item).toMatchObject({
      status: 'active',
      health: 'connected',
      warning: null,
      credentials_expire_at: '2026-04-30T00:00:00.000Z',
    })

    // 20 days before the expiry, the next probe brings the warning; the integration still works.
    h.clock.set('2026-04-10T00:00:00.000Z')
    await jobs.runDue()
    const near = await statusOf(orgId, id)
    expect(near.item).toMatchObject({
      status: 'active',
      health: 'needs_attention',
      latest_probe: { ok: true },
    })
    expect(near.item.warning).toMatch(/expires on 2026-04-30/)
    expect(near.summary).toMatchObject({ connected: 0, needs_attention: 1 })

    // A new token entered (with its own expiry) clears the warning at the next check.
    edr.tokenExpiresAt = new Date('2027-04-09T00:00:00Z')
    const patched = await h.json('PATCH', `${API}/${id}`, { body: { credentials: edr.credentials } })
    expect(patched.status, JSON.stringify(patched.body)).toBe(200)
    await jobs.runDue()
    const renewed = await statusOf(orgId, id)
    expect(renewed.item).toMatchObject({
      health: 'connected',
      warning: null,
      credentials_expire_at: '2027-04-09T00:00:00.000Z',
    })
  })
})
