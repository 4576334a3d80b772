import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createHarness, type Harness } from './harness.ts'
import { Receiver } from './standins/receiver.ts'

/** Polls (without assuming any timing) until `check` passes or `ms` runs out. */
async function eventually<T>(check: () => Promise<T | undefined>, ms: number): Promise<T> {
  const deadline = Date.now() + ms
  for (;;) {
    const value = await check()
    if (value !== undefined) return value
    if (Date.now() > deadline) throw new Error('condition not met in time')
    await new Promise((r) => setTimeout(r, 20))
  }
}

const HANG_TIMEOUT_MS = 10_000

describe('fairness between targets', () => {
  let h: Harness
  let rx: Receiver
  beforeAll(async () => {
    h = await createHarness({
      // Long enough that a loaded CI machine still delivers the healthy 50 well inside it (CI once took over 4 s).
      env: { PATCHBAY_DELIVERY_TIMEOUT_MS: String(HANG_TIMEOUT_MS), PATCHBAY_TARGET_CONCURRENCY: '4' },
    })
    rx = await new Receiver().start()
  })
  afterAll(async () => {
    await rx.stop()
    await h.worker.stop()
    await h.close()
  })

  it('delivers to a healthy endpoint while another never answers', async () => {
    const org = (await h.json('POST', '/api/v1/orgs', { body: { name: 'o' } })).body
    rx.respond('/dead', { hang: true })
    const dead = await h.json('POST', '/api/v1/webhooks', {
      body: { orgId: org.id, name: 'dead', url: rx.url('/dead'), events: ['*'] },
    })
    const healthy = await h.json('POST', '/api/v1/webhooks', {
      body: { orgId: org.id, name: 'ok', url: rx.url('/ok'), events: ['*'] },
    })
    // The dead endpoint's deliveries are queued first, so a FIFO engine would serve them first.
    await h.json('PATCH', `/api/v1/webhooks/${healthy.body.id}`, { body: { status: 'paused' } })
    await h.json('POST', '/api/v1/events/batch', {
      body: { events: Array.from({ length: 50 }, () => ({ orgId: org.id, type: 'device.online' })) },
    })
    await h.json('PATCH', `/api/v1/webhooks/${healthy.body.id}`, { body: { status: 'active' } })
    await h.json('PATCH', `/api/v1/webhooks/${dead.body.id}`, { body: { status: 'paused' } })
    await h.json('PATCH', `/api/v1/webhooks/${dead.body.id}`, { body: { status: 'active' } })
    await h.json('POST', '/api/v1/events/batch', {
      body: { events: Array.from({ length: 50 }, () => ({ orgId: org.id, type: 'device.online' })) },
    })

    const started = Date.now()
    await h.worker.start()
    await eventually(async () => (rx.at('/ok').length >= 50 ? true : undefined), 15_000)
    const elapsed = Date.now() - started
    // Every healthy delivery arrived before the first hung request could even time out…
    expect(elapsed).toBeLessThan(HANG_TIMEOUT_MS)
    // …while the dead endpoint held no more than its share of attempts.
    expect(rx.at('/dead').length).toBeLessThanOrEqual(4)
    await eventually(async () => {
      const r = await h.json(
        'GET',
        `/api/v1/deliveries?webhookId=${healthy.body.id}&status=delivered&limit=1`,
      )
      return r.body.pagination.total === 50 ? true : undefined
    }, 5000)
    const stuck = await h.json('GET', `/api/v1/deliveries?webhookId=${dead.body.id}&status=delivered&limit=1`)
    expect(stuck.body.pagination.total).toBe(0)
  })
})
