import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createHarness, type Harness } from './harness.ts'
import { Receiver } from './standins/receiver.ts'

/** The deliveries list pages by cursor as well as by page, and says when its total is capped. */

let h: Harness
let rx: Receiver
beforeAll(async () => {
  h = await createHarness()
  rx = await new Receiver().start()
})
afterAll(async () => {
  await rx.stop()
  await h.close()
})

interface Listed {
  data: { id: string; eventId: string; status: string }[]
  pagination: { page: number; limit: number; total: number }
  totalCapped: boolean
  nextCursor: string | null
}

describe('deliveries list paging', () => {
  it('continues from a cursor, most recent first, to a last page without one', async () => {
    const org = (await h.json('POST', '/api/v1/orgs', { body: { name: 'paging' } })).body
    rx.respond('/ok', { status: 200 })
    const hook = await h.json('POST', '/api/v1/webhooks', {
      body: { orgId: org.id, name: 'ok', url: rx.url('/ok'), events: ['user.login'] },
    })
    for (let i = 0; i < 7; i++) {
      await h.json('POST', '/api/v1/events', { body: { orgId: org.id, type: 'user.login', id: `e${i}` } })
      h.clock.advance(1000)
    }
    // Two still queued (pending), the rest delivered.
    await h.worker.drain()
    for (const id of ['e7', 'e8']) {
      await h.json('POST', '/api/v1/events', { body: { orgId: org.id, type: 'user.login', id } })
      h.clock.advance(1000)
    }

    const seen: string[] = []
    let cursor: string | null = null
    const pages: [number, boolean, boolean][] = []
    do {
      const q: string = `/api/v1/deliveries?orgId=${org.id}&limit=4${cursor ? `&cursor=${cursor}` : ''}`
      const r = (await h.json('GET', q)).body as Listed
      seen.push(...r.data.map((d) => d.eventId))
      pages.push([r.pagination.total, r.totalCapped, r.nextCursor === null])
      cursor = r.nextCursor
    } while (cursor)
    expect(seen).toEqual(['e8', 'e7', 'e6', 'e5', 'e4', 'e3', 'e2', 'e1', 'e0'])
    expect(pages).toEqual([
      [9, false, false],
      [9, false, false],
      [9, false, true],
    ])

    // The webhook's own list takes the cursor too, with its status filter (pending ones come from the queue).
    const first = (
      await h.json('GET', `/api/v1/webhooks/${hook.body.id}/deliveries?limit=3&status=delivered`)
    ).body as Listed
    expect(first.data.map((d) => d.eventId)).toEqual(['e6', 'e5', 'e4'])
    const next = (
      await h.json(
        'GET',
        `/api/v1/webhooks/${hook.body.id}/deliveries?limit=3&status=delivered&cursor=${first.nextCursor}`,
      )
    ).body as Listed
    expect(next.data.map((d) => d.eventId)).toEqual(['e3', 'e2', 'e1'])
    const pending = (await h.json('GET', `/api/v1/deliveries?orgId=${org.id}&status=pending`)).body as Listed
    expect(pending.data.map((d) => `${d.eventId}:${d.status}`)).toEqual(['e8:pending', 'e7:pending'])
    expect(pending).toMatchObject({ pagination: { total: 2 }, totalCapped: false, nextCursor: null })
    const bad = await h.json('GET', `/api/v1/deliveries?cursor=nope`)
    expect(bad.status).toBe(422)
  })

  it('lists and counts a delivery a worker holds as in progress, apart from the pending ones', async () => {
    const org = (await h.json('POST', '/api/v1/orgs', { body: { name: 'leased' } })).body
    rx.respond('/held', { status: 200 })
    const hook = (
      await h.json('POST', '/api/v1/webhooks', {
        body: { orgId: org.id, name: 'held', url: rx.url('/held'), events: ['user.login'] },
      })
    ).body
    for (const id of ['l0', 'l1', 'l2']) {
      await h.json('POST', '/api/v1/events', { body: { orgId: org.id, type: 'user.login', id } })
      h.clock.advance(1000)
    }
    // A worker's claim, as the engine takes it: a lease on the queue row, the history row untouched.
    await h.ctx.db.query(
      `UPDATE delivery_queue q SET lease_until = now() + interval '1 minute', leased_by = 'test'
       FROM deliveries d WHERE d.id = q.id AND d.org_id = $1 AND d.event_id = 'l1'`,
      [org.id],
    )
    const list = async (status: string) => {
      const r = (await h.json('GET', `/api/v1/deliveries?orgId=${org.id}&status=${status}`)).body as Listed
      return { ids: r.data.map((d) => `${d.eventId}:${d.status}`), total: r.pagination.total }
    }
    expect(await list('in_progress')).toEqual({ ids: ['l1:in_progress'], total: 1 })
    expect(await list('pending')).toEqual({ ids: ['l2:pending', 'l0:pending'], total: 2 })
    const got = await h.json('GET', `/api/v1/webhooks/${hook.id}`)
    expect(got.body.deliveryStats).toMatchObject({ total: 3, pending: 2, inProgress: 1, delivered: 0 })
  })
})
