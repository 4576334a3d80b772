import { sql } from 'drizzle-orm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { pruneDeliveries } from '../src/delivery/retention.ts'
import { INTERRUPTED } from '../src/delivery/store.ts'
import { rows } from '../src/store/db.ts'
import { createHarness, type Harness, seedTenants } from './harness.ts'
import { Receiver } from './standins/receiver.ts'

const DAY = 86_400_000
const BEARER = 'Bearer sk_live_attempts_9f8e3210'

let h: Harness
let t: Awaited<ReturnType<typeof seedTenants>>
let rx: Receiver
beforeAll(async () => {
  h = await createHarness()
  t = await seedTenants(h)
  rx = await new Receiver().start()
})
afterAll(async () => {
  await rx.stop()
  await h.close()
})

let n = 0
const earlier: string[] = []
/** A webhook on its own path; the earlier ones are paused, so an event reaches this one alone. */
async function webhook(body: Record<string, unknown> = {}) {
  for (const id of earlier.splice(0)) {
    const paused = await h.json('PATCH', `/api/v1/webhooks/${id}`, {
      token: t.orgAToken,
      body: { status: 'paused' },
    })
    expect(paused.status).toBe(200)
  }
  const path = `/attempts-${++n}`
  const res = await h.json('POST', '/api/v1/webhooks', {
    token: t.orgAToken,
    body: {
      name: `Hook ${n}`,
      url: rx.url(path),
      events: [`device.offline`],
      headers: [{ key: 'Authorization', value: BEARER }],
      ...body,
    },
  })
  expect(res.status, JSON.stringify(res.body)).toBe(201)
  earlier.push(res.body.id)
  return { id: res.body.id as string, path }
}

async function emitOne(webhookId: string) {
  const ev = await h.json('POST', '/api/v1/events', {
    token: t.orgAToken,
    body: { type: 'device.offline', data: { deviceId: `d${n}` } },
  })
  expect(ev.status).toBe(202)
  await h.worker.drain()
  const list = await h.json('GET', `/api/v1/webhooks/${webhookId}/deliveries`, { token: t.orgAToken })
  const [d] = list.body.data
  return d.id as string
}

async function keptAttempts(deliveryId: string) {
  return rows<{ attempt: number }>(
    h.ctx.db.orm,
    sql`SELECT attempt FROM delivery_attempts WHERE delivery_id = ${deliveryId} ORDER BY attempt`,
  )
}

describe("a delivery's attempts", () => {
  it('are each on its timeline: request headers with secrets masked, response status and body, error', async () => {
    const w = await webhook()
    rx.respond(w.path, [
      { status: 500, body: 'boom' },
      { status: 503, body: 'busy' },
      { status: 200, body: 'thanks' },
    ])
    const id = await emitOne(w.id)
    h.clock.advance(1000)
    expect(await h.worker.drain()).toBe(1)
    h.clock.advance(2000)
    expect(await h.worker.drain()).toBe(1)

    const res = await h.json('GET', `/api/v1/deliveries/${id}`, { token: t.orgAToken })
    expect(res.status).toBe(200)
    expect(res.body).toMatchObject({ id, status: 'delivered', attempt: 3, responseStatus: 200 })
    const attempts = res.body.attempts as Record<string, unknown>[]
    expect(
      attempts.map((a) => [a.attempt, a.outcome, a.responseStatus, a.responseBody, a.errorMessage]),
    ).toEqual([
      [1, 'retry', 500, 'boom', 'Endpoint answered 500'],
      [2, 'retry', 503, 'busy', 'Endpoint answered 503'],
      [3, 'delivered', 200, 'thanks', null],
    ])
    // The receiver got the real value; the timeline shows it masked, with the signature headers as sent.
    const sent = rx.at(w.path)
    expect(sent).toHaveLength(3)
    expect(sent[0]?.headers.authorization).toBe(BEARER)
    const first = attempts[0]?.requestHeaders as Record<string, string>
    expect(first.Authorization).toBe('****3210')
    expect(first['x-breeze-event-id']).toBe(sent[0]?.headers['x-breeze-event-id'])
    expect(first['x-breeze-signature']).toBe(sent[0]?.headers['x-breeze-signature'])
    expect(first['content-type']).toBe('application/json')
    const second = attempts[1]?.requestHeaders as Record<string, string>
    expect(second['x-breeze-delivery-id']).toBe(sent[1]?.headers['x-breeze-delivery-id'])
    expect(attempts[2]?.requestHeaders).toBeNull()
    expect(JSON.stringify(res.body)).not.toContain('sk_live_attempts')
    expect(attempts.map((a) => a.at)).toEqual([
      new Date(Date.parse('2026-02-18T12:00:00.000Z')).toISOString(),
      new Date(Date.parse('2026-02-18T12:00:01.000Z')).toISOString(),
      new Date(Date.parse('2026-02-18T12:00:03.000Z')).toISOString(),
    ])
    // Only the attempts that did not deliver are kept apart from the history row.
    expect(await keptAttempts(id)).toEqual([{ attempt: 1 }, { attempt: 2 }])
  })

  it('keep nothing beside the history row for a first-try success', async () => {
    const w = await webhook()
    rx.respond(w.path, { status: 204 })
    const id = await emitOne(w.id)
    expect(await keptAttempts(id)).toEqual([])
    const res = await h.json('GET', `/api/v1/deliveries/${id}`, { token: t.orgAToken })
    expect(res.body.attempts).toMatchObject([
      { attempt: 1, outcome: 'delivered', responseStatus: 204, requestHeaders: null },
    ])
  })

  it('keep an attempt cut short by a worker that stopped, before the retry that delivered', async () => {
    const w = await webhook()
    rx.respond(w.path, { status: 204 })
    const ev = await h.json('POST', '/api/v1/events', {
      token: t.orgAToken,
      body: { type: 'device.offline', data: { deviceId: 'crashed' } },
    })
    expect(ev.status).toBe(202)
    const list = await h.json('GET', `/api/v1/webhooks/${w.id}/deliveries`, { token: t.orgAToken })
    const id = list.body.data[0].id as string
    // A worker that claimed it (counting attempt 1) and died before recording anything: its lease runs out.
    await h.ctx.db.query(
      `UPDATE delivery_queue SET attempts = 1, lease_until = $2, leased_by = 'a worker that died' WHERE id = $1`,
      [id, new Date(h.clock.now().getTime() + 60_000)],
    )
    h.clock.advance(61_000)
    expect(await h.worker.drain()).toBe(1)
    const res = await h.json('GET', `/api/v1/deliveries/${id}`, { token: t.orgAToken })
    expect(res.body).toMatchObject({ status: 'delivered', attempt: 2 })
    expect(res.body.attempts).toMatchObject([
      { attempt: 1, outcome: 'retry', responseStatus: null, errorMessage: INTERRUPTED, requestHeaders: null },
      { attempt: 2, outcome: 'delivered', responseStatus: 204 },
    ])
    expect(Date.parse(res.body.attempts[0].at)).toBe(h.clock.now().getTime())
  })

  it('end with the failure that dead-lettered it; other tenants get 404', async () => {
    const w = await webhook()
    rx.respond(w.path, { status: 400, body: '{"error":"bad"}' })
    const id = await emitOne(w.id)
    const res = await h.json('GET', `/api/v1/deliveries/${id}`, { token: t.orgAToken })
    expect(res.body).toMatchObject({ status: 'failed', attempt: 1 })
    expect(res.body.attempts).toMatchObject([
      {
        attempt: 1,
        outcome: 'failed',
        responseStatus: 400,
        responseBody: '{"error":"bad"}',
        errorMessage: 'Endpoint answered 400; not retried',
        requestHeaders: { Authorization: '****3210' },
      },
    ])
    const other = await h.json('GET', `/api/v1/deliveries/${id}`, { token: t.orgCToken })
    expect(other.status).toBe(404)
    const partner = await h.json('GET', `/api/v1/deliveries/${id}`, { token: t.otherPartnerToken })
    expect(partner.status).toBe(404)
    expect((await h.json('GET', `/api/v1/deliveries/${id}`, { token: t.partnerToken })).status).toBe(200)
  })

  it('are pruned with their deliveries; a delivery still retrying keeps them', async () => {
    const failing = await webhook()
    rx.respond(failing.path, { status: 422, body: 'no' })
    const gone = await emitOne(failing.id)
    const slow = await webhook({
      retryPolicy: { maxRetries: 50, initialDelayMs: DAY, backoffMultiplier: 1, maxDelayMs: DAY },
    })
    rx.respond(slow.path, { status: 503 })
    const kept = await emitOne(slow.id)
    expect(await keptAttempts(gone)).toEqual([{ attempt: 1 }])
    expect(await keptAttempts(kept)).toEqual([{ attempt: 1 }])

    h.clock.advance(31 * DAY)
    const r = await pruneDeliveries(h.ctx.db, new Date(h.clock.now().getTime() - 30 * DAY))
    // Those of the earlier tests' finished deliveries as well: two retries, an interrupted attempt, a dead letter,
    // and this one.
    expect(r.attempts).toBe(5)
    expect(await keptAttempts(gone)).toEqual([])
    expect(await keptAttempts(kept)).toEqual([{ attempt: 1 }])
    expect((await h.json('GET', `/api/v1/deliveries/${gone}`, { token: t.orgAToken })).status).toBe(404)
  })
})
