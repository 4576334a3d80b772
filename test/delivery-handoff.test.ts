import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import {
  type HandoffOffer,
  type HandoffTaker,
  takeHandoffs,
  uniqueLeaseUntil,
} from '../src/delivery/handoff.ts'
import { ingestEvents } from '../src/delivery/ingest.ts'
import { completeMany } from '../src/delivery/store.ts'
import type { ClaimedDelivery, Fanout } from '../src/delivery/types.ts'
import { newId } from '../src/lib/ids.ts'
import { createHarness, type Harness } from './harness.ts'

/** A worker stand-in at the hand-off contract: takes up to `max`, records what it was handed. */
class RecordingTaker implements HandoffTaker {
  handed: ClaimedDelivery[][] = []
  open = 0
  constructor(
    readonly max: number,
    readonly worker = 'handoff-test-worker',
  ) {}
  offer(now: Date): HandoffOffer {
    this.open++
    return { worker: this.worker, leaseUntil: uniqueLeaseUntil(now.getTime() + 60_000), max: this.max }
  }
  settle(_offer: HandoffOffer, handed: ClaimedDelivery[]): void {
    this.open--
    this.handed.push(handed)
  }
}

interface QueueRow {
  id: string
  target_id: string
  attempts: number
  leased_by: string | null
  lease_until: Date | null
}

let h: Harness
let orgId: string
let hooks: string[]
beforeAll(async () => {
  h = await createHarness()
  orgId = (await h.json('POST', '/api/v1/orgs', { body: { name: 'o' } })).body.id
  hooks = []
  for (const name of ['a', 'b', 'c']) {
    const r = await h.json('POST', '/api/v1/webhooks', {
      body: { orgId, name, url: `http://${name}.hooks.test/in`, events: ['*'] },
    })
    hooks.push(r.body.id)
  }
})
afterAll(() => h.close())
beforeEach(async () => {
  await h.ctx.db.query('DELETE FROM delivery_queue')
  await h.ctx.db.query('DELETE FROM delivery_holds')
})

const queueRows = () =>
  h.ctx.db.query<QueueRow>(
    'SELECT id, target_id, attempts, leased_by, lease_until FROM delivery_queue ORDER BY leased_by NULLS LAST, id',
  )

function event(type = 'device.offline') {
  return { orgId, id: newId(), type, occurredAt: h.clock.now(), data: { device: 'dev-1' } }
}

describe('fresh deliveries handed to the ingesting process’s worker', () => {
  it('are queued already leased to it, attempt counted, up to what it takes; the rest wait for a claim', async () => {
    const taker = new RecordingTaker(2)
    const stop = takeHandoffs(h.ctx.db, taker)
    try {
      const e = event()
      const [result] = await ingestEvents(h.ctx.db, h.ctx.fanouts, [e], h.clock.now())
      expect(result?.deliveriesQueued).toBe(3)
      expect(taker.open).toBe(0)
      expect(taker.handed).toHaveLength(1)
      const handed = taker.handed[0] as ClaimedDelivery[]
      expect(handed).toHaveLength(2)
      for (const d of handed) {
        expect(d).toMatchObject({
          orgId,
          eventId: e.id,
          eventType: 'device.offline',
          targetType: 'webhook',
          attempt: 1,
        })
        expect(d.event.data).toEqual({ device: 'dev-1' })
        expect(hooks).toContain(d.targetId)
      }
      const rows = await queueRows()
      expect(rows.map((r) => [r.leased_by, r.attempts])).toEqual([
        ['handoff-test-worker', 1],
        ['handoff-test-worker', 1],
        [null, 0],
      ])
      expect(
        rows
          .slice(0, 2)
          .map((r) => r.id)
          .sort(),
      ).toEqual(handed.map((d) => d.id).sort())
      expect(rows[2]?.lease_until).toBeNull()

      // The taker records the outcome as a claim's holder would: under its worker name and the attempt it holds.
      const now = h.clock.now()
      const done = await completeMany(
        h.ctx.db,
        handed.map((d) => ({
          id: d.id,
          attempt: d.attempt,
          status: 'delivered' as const,
          nextAttemptAt: null,
          responseStatus: 200,
          responseBody: null,
          responseTimeMs: 1,
          errorMessage: null,
          requestHeaders: null,
        })),
        now,
        'handoff-test-worker',
      )
      expect([...done].sort()).toEqual(handed.map((d) => d.id).sort())
      expect((await queueRows()).map((r) => r.leased_by)).toEqual([null])
    } finally {
      stop()
    }
  })

  it('hands nothing when the ingest rolls back, and queues nothing', async () => {
    const taker = new RecordingTaker(10)
    const stop = takeHandoffs(h.ctx.db, taker)
    const boom: Fanout = {
      name: 'boom',
      async fanOut() {
        throw new Error('fan-out failed')
      },
    }
    try {
      await expect(
        ingestEvents(h.ctx.db, [...h.ctx.fanouts, boom], [event()], h.clock.now()),
      ).rejects.toThrow('fan-out failed')
      expect(taker.open).toBe(0)
      expect(taker.handed).toEqual([[]])
      expect(await queueRows()).toEqual([])
    } finally {
      stop()
    }
  })

  it('never hands a delivery for a held target (open circuit): it waits until the hold ends', async () => {
    const taker = new RecordingTaker(10)
    const stop = takeHandoffs(h.ctx.db, taker)
    const until = new Date(h.clock.now().getTime() + 30_000)
    await h.ctx.db.query('INSERT INTO delivery_holds (target_id, until) VALUES ($1, $2)', [hooks[0], until])
    try {
      await ingestEvents(h.ctx.db, h.ctx.fanouts, [event()], h.clock.now())
      const handed = taker.handed[0] as ClaimedDelivery[]
      expect(handed.map((d) => d.targetId).sort()).toEqual([hooks[1], hooks[2]].sort())
      const held = (await queueRows()).filter((r) => r.target_id === hooks[0])
      expect(held.map((r) => [r.leased_by, r.attempts])).toEqual([[null, 0]])
    } finally {
      stop()
    }
  })

  it('hands over only what this ingest queued, not a claim of the same worker with the same lease end', async () => {
    // A claim committed by this worker with exactly the lease end the ingest will use (claims' ends are whole
    // milliseconds; a hand-off's never are, but the ingest must not rely on that alone).
    const leaseUntil = '2030-01-01T00:00:00.000000Z'
    const taker = new RecordingTaker(10)
    taker.offer = () => {
      taker.open++
      return { worker: taker.worker, leaseUntil, max: 10 }
    }
    const stop = takeHandoffs(h.ctx.db, taker)
    try {
      await ingestEvents(h.ctx.db, h.ctx.fanouts, [event()], h.clock.now())
      expect(taker.handed[0]).toHaveLength(3)
      // The next ingest reuses the lease end: the first ingest's rows, committed, are still leased under it.
      await ingestEvents(h.ctx.db, h.ctx.fanouts, [event()], h.clock.now())
      const second = taker.handed[1] as ClaimedDelivery[]
      expect(second).toHaveLength(3)
      const first = new Set((taker.handed[0] as ClaimedDelivery[]).map((d) => d.id))
      expect(second.filter((d) => first.has(d.id))).toEqual([])
    } finally {
      stop()
    }
  })

  it('leaves the queue as before when no worker takes hand-offs', async () => {
    await ingestEvents(h.ctx.db, h.ctx.fanouts, [event()], h.clock.now())
    expect((await queueRows()).map((r) => [r.leased_by, r.attempts])).toEqual([
      [null, 0],
      [null, 0],
      [null, 0],
    ])
  })
})

describe('uniqueLeaseUntil', () => {
  it('never gives the same lease end twice in a process, even within one millisecond', () => {
    // Later than any lease end given before in this test process.
    const at = Date.parse('2100-01-01T00:00:00.000Z')
    expect([uniqueLeaseUntil(at), uniqueLeaseUntil(at), uniqueLeaseUntil(at - 5)]).toEqual([
      '2100-01-01T00:00:00.000001Z',
      '2100-01-01T00:00:00.000002Z',
      '2100-01-01T00:00:00.000003Z',
    ])
    // Never a whole millisecond, which is what a claim's lease end always is.
    expect(uniqueLeaseUntil(at + 1)).toBe('2100-01-01T00:00:00.001001Z')
  })
})
