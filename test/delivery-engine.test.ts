import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DEFAULT_RETRY_POLICY } from '../src/delivery/policy.ts'
import type { ClaimedDelivery, Transport } from '../src/delivery/types.ts'
import { DeliveryWorker } from '../src/delivery/worker.ts'
import { newId } from '../src/lib/ids.ts'
import { deliveries, events } from '../src/store/schema/delivery.ts'
import { createHarness, type Harness } from './harness.ts'

let h: Harness
let orgId: string
beforeAll(async () => {
  h = await createHarness({ env: { PATCHBAY_TARGET_CONCURRENCY: '3' } })
  orgId = (await h.json('POST', '/api/v1/orgs', { body: { name: 'o' } })).body.id
})
afterAll(() => h.close())

async function queue(targetType: string, targetId: string, n: number) {
  const now = h.clock.now()
  for (let i = 0; i < n; i++) {
    const id = newId(now.getTime())
    await h.ctx.db.orm
      .insert(events)
      .values({ orgId, id, type: 'device.telemetry', occurredAt: now, data: { i }, createdAt: now })
    await h.ctx.db.orm.insert(deliveries).values({
      id: newId(now.getTime()),
      orgId,
      targetType,
      targetId,
      eventId: id,
      eventType: 'device.telemetry',
      nextAttemptAt: now,
      createdAt: now,
      updatedAt: now,
    })
  }
}

describe('the delivery engine with other transports', () => {
  it("hands batch transports each target's deliveries together, at most the per-target limit at a time", async () => {
    const calls: ClaimedDelivery[][] = []
    const batchy: Transport = {
      type: 'batchy',
      retryPolicy: () => DEFAULT_RETRY_POLICY,
      attempt: async () => ({ kind: 'failed', errorMessage: 'not used' }),
      attemptBatch: async (ds) => {
        calls.push(ds)
        return ds.map((d) =>
          (d.event.data as { i: number }).i === 1
            ? { kind: 'retry' as const, errorMessage: 'item rejected', responseStatus: 207 }
            : { kind: 'delivered' as const, responseStatus: 202 },
        )
      },
    }
    const a = newId()
    const b = newId()
    await queue('batchy', a, 5)
    await queue('batchy', b, 2)
    const worker = new DeliveryWorker(h.ctx, [batchy])
    expect(await worker.drain()).toBe(7)
    expect(calls.map((c) => `${c[0]?.targetId === a ? 'a' : 'b'}:${c.length}`).sort()).toEqual([
      'a:2',
      'a:3',
      'b:2',
    ])
    for (const c of calls) expect(new Set(c.map((d) => d.targetId)).size).toBe(1)
    const listed = await h.json('GET', `/api/v1/deliveries?targetId=${a}`)
    // Target a's second item (i = 1) was refused by the batch endpoint; only it is retried.
    expect(listed.body.data.map((d: { status: string }) => d.status).sort()).toEqual([
      'delivered',
      'delivered',
      'delivered',
      'delivered',
      'retrying',
    ])
  })

  it('dead-letters deliveries no transport knows, saying so', async () => {
    const t = newId()
    await queue('mystery', t, 1)
    await new DeliveryWorker(h.ctx, []).drain()
    const [d] = (await h.json('GET', `/api/v1/deliveries?targetId=${t}`)).body.data
    expect(d).toMatchObject({
      status: 'failed',
      errorMessage: 'No transport for target type "mystery"',
      targetType: 'mystery',
    })
  })
})
