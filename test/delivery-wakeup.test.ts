import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import type { Timers } from '../src/delivery/timers.ts'
import { DeliveryWorker } from '../src/delivery/worker.ts'
import { transports } from '../src/wiring.ts'
import { createHarness, type Harness, seedTenants } from './harness.ts'
import { Receiver } from './standins/receiver.ts'

/**
 * The running worker's idle wait (its loop, not drain()): a retry goes when it falls due, because the wait's timer
 * is set from the queue's next due time, not from a fixed poll. Time is the harness's manual clock and timers the
 * test fires by hand; what the loop does in between is real (PostgreSQL, NOTIFY, a receiver on loopback).
 */

let h: Harness
let rx: Receiver
let org: { id: string; token: string }
beforeAll(async () => {
  h = await createHarness()
  const t = await seedTenants(h)
  rx = await new Receiver().start()
  const created = await h.json('POST', '/api/v1/orgs', { body: { name: 'Wakeup', partnerId: t.partner.id } })
  const key = await h.json('POST', '/api/v1/api-keys', {
    body: { name: 'org', scope: 'organization', orgId: created.body.id },
  })
  org = { id: created.body.id, token: key.body.token }
})
afterAll(async () => {
  await rx.stop()
  await h.close()
})

/** Timers run by hand: `set` lists the length of every timer set, in order; `fire(ms)` runs the pending ones of that length. */
function manualTimers() {
  const pending = new Map<number, { fn: () => void; ms: number }>()
  const set: number[] = []
  let next = 1
  const timers: Timers = {
    set(fn, ms) {
      const id = next++
      pending.set(id, { fn, ms })
      set.push(ms)
      return id
    },
    clear(handle) {
      pending.delete(handle as number)
    },
  }
  const fire = (ms: number) => {
    for (const [id, t] of [...pending]) {
      if (t.ms !== ms) continue
      pending.delete(id)
      t.fn()
    }
  }
  return { timers, pending, set, fire }
}

/** Waits (without a fixed sleep) until what the loop does in the background makes `check` pass. */
const eventually = (check: () => void) => vi.waitFor(check, { timeout: 20_000, interval: 5 })

describe('the running delivery worker', () => {
  it('wakes for a retry exactly when it falls due, not at the next poll', async () => {
    const hook = await h.json('POST', '/api/v1/webhooks', {
      token: org.token,
      body: {
        name: 'flaky',
        url: rx.url('/flaky'),
        events: ['alert.triggered'],
        retryPolicy: { maxRetries: 3, initialDelayMs: 200, backoffMultiplier: 1, maxDelayMs: 200 },
      },
    })
    expect(hook.status).toBe(201)
    rx.respond('/flaky', [{ status: 500 }, { status: 200 }])
    const t = manualTimers()
    const worker = new DeliveryWorker(h.ctx, transports(h.ctx), {
      timers: t.timers,
      pollMs: 60_000,
      reapEveryMs: 3_600_000,
    })
    await worker.start()
    try {
      // Idle with nothing queued: the wait is the poll interval.
      await eventually(() => expect(t.set).toContain(60_000))
      const sent = await h.json('POST', '/api/v1/events', {
        token: org.token,
        body: { type: 'alert.triggered', data: {} },
      })
      expect(sent.status).toBe(202)
      // NOTIFY ends the wait; the first attempt fails, its retry is due in 200 ms (the manual clock stands still):
      // the worker's next wait is exactly that, not the poll interval.
      await eventually(() => expect(t.set).toContain(200))
      expect(rx.at('/flaky')).toHaveLength(1)
      expect(t.set.filter((ms) => ms !== 60_000 && ms !== 200)).toEqual([])
      h.clock.advance(200)
      t.fire(200)
      await eventually(() => expect(rx.at('/flaky')).toHaveLength(2))
      await eventually(async () =>
        expect(
          (await h.json('GET', '/api/v1/deliveries', { token: org.token })).body.data.map(
            (d: { status: string; attempt: number }) => `${d.status}:${d.attempt}`,
          ),
        ).toEqual(['delivered:2']),
      )
    } finally {
      await worker.stop()
    }
  })
})
