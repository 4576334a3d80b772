import { createHmac, timingSafeEqual } from 'node:crypto'
import { Webhook } from 'standardwebhooks'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { webhooks } from '../src/store/schema/delivery.ts'
import { createHarness, type Harness, seedTenants } from './harness.ts'
import { Receiver } from './standins/receiver.ts'

// The verification example from the Breeze webhooks documentation, verbatim.
function verifyWebhookSignature(
  payload: string,
  secret: string,
  signatureHeader: string,
  timestampHeader: string,
) {
  const expectedSig = signatureHeader.replace('sha256=', '')
  const signatureInput = `${timestampHeader}.${payload}`
  const computedSig = createHmac('sha256', secret).update(signatureInput).digest('hex')
  return timingSafeEqual(Buffer.from(expectedSig, 'hex'), Buffer.from(computedSig, 'hex'))
}

let h: Harness
let t: Awaited<ReturnType<typeof seedTenants>>
let rx: Receiver
beforeAll(async () => {
  h = await createHarness({
    env: { PATCHBAY_DELIVERY_TIMEOUT_MS: '300', PATCHBAY_WEBHOOK_FAILURE_THRESHOLD: '3' },
  })
  t = await seedTenants(h)
  rx = await new Receiver().start()
})
afterAll(async () => {
  await rx.stop()
  await h.close()
})
// Each test gets an organization of its own, so webhooks from one test never receive another's events.
let org: { id: string; token: string }
beforeEach(async () => {
  rx.received.length = 0
  const created = await h.json('POST', '/api/v1/orgs', {
    body: { name: 'Per-test org', partnerId: t.partner.id },
  })
  const key = await h.json('POST', '/api/v1/api-keys', {
    body: { name: 'org', scope: 'organization', orgId: created.body.id },
  })
  org = { id: created.body.id, token: key.body.token }
})

let n = 0
async function webhook(body: Record<string, unknown> = {}, token?: string) {
  const path = `/hook-${++n}`
  const res = await h.json('POST', '/api/v1/webhooks', {
    token: token ?? org.token,
    body: { name: `Hook ${n}`, url: rx.url(path), events: ['alert.triggered', 'device.offline'], ...body },
  })
  expect(res.status, JSON.stringify(res.body)).toBe(201)
  return { ...res.body, path } as { id: string; path: string; [k: string]: unknown }
}

async function emit(type: string, data: Record<string, unknown> = {}, extra: Record<string, unknown> = {}) {
  const res = await h.json('POST', '/api/v1/events', { token: org.token, body: { type, data, ...extra } })
  expect([200, 202]).toContain(res.status)
  return res.body as { id: string; deliveriesQueued: number; duplicate: boolean }
}

async function deliveriesOf(id: string, query = '') {
  return (await h.json('GET', `/api/v1/webhooks/${id}/deliveries${query}`, { token: org.token })).body
}

describe('creating webhooks', () => {
  it('returns the documented shape, encrypts the secret and never returns it', async () => {
    const res = await h.json('POST', '/api/v1/webhooks', {
      token: org.token,
      body: {
        name: 'PagerDuty Alerts',
        url: rx.url('/pd'),
        secret: 'whsec_your_signing_secret',
        events: ['alert.triggered', 'alert.escalated', 'device.offline'],
        headers: [{ key: 'X-Custom-Source', value: 'breeze-rmm' }],
      },
    })
    expect(res.status).toBe(201)
    expect(res.body).toMatchObject({
      orgId: org.id,
      name: 'PagerDuty Alerts',
      url: rx.url('/pd'),
      events: ['alert.triggered', 'alert.escalated', 'device.offline'],
      headers: [{ key: 'X-Custom-Source', value: '****' }],
      status: 'active',
      hasSecret: true,
      createdAt: '2026-02-18T12:00:00.000Z',
      updatedAt: '2026-02-18T12:00:00.000Z',
      lastDeliveryAt: null,
    })
    expect(JSON.stringify(res.body)).not.toContain('whsec_your_signing_secret')
    const [row] = await h.ctx.db.orm.select().from(webhooks)
    expect(row?.secret).toMatch(/^pb1:/)
    expect(row?.secret).not.toContain('your_signing_secret')
    const audit = await h.json('GET', `/api/v1/audit-logs?action=webhook.create&targetId=${res.body.id}`)
    expect(audit.body.data).toHaveLength(1)
    expect(JSON.stringify(audit.body)).not.toContain('whsec_your_signing_secret')
  })

  it('refuses unknown event types and reserved headers with 422, accepts wildcards', async () => {
    const unknown = await h.json('POST', '/api/v1/webhooks', {
      token: org.token,
      body: { name: 'x', url: rx.url(), events: ['alert.triggered', 'alert.exploded'] },
    })
    expect(unknown.status).toBe(422)
    expect(unknown.body.details).toEqual([
      { path: 'events.1', message: expect.stringContaining('Unknown event type "alert.exploded"') },
    ])
    for (const key of ['X-Breeze-Signature', 'Content-Type', 'Host', 'content-length']) {
      const r = await h.json('POST', '/api/v1/webhooks', {
        token: org.token,
        body: { name: 'x', url: rx.url(), events: ['*'], headers: [{ key, value: 'v' }] },
      })
      expect(r.status).toBe(422)
      expect(r.body.details[0].path).toBe('headers.0.key')
    }
    const wild = await webhook({ events: ['alert.*', '*'] })
    expect(wild.events).toEqual(['alert.*', '*'])
  })

  it('needs an organization for partner keys and hides other tenants', async () => {
    const noOrg = await h.json('POST', '/api/v1/webhooks', {
      token: t.partnerToken,
      body: { name: 'x', url: rx.url(), events: ['*'] },
    })
    expect(noOrg).toMatchObject({ status: 400, body: { error: 'Organization context required' } })
    const viaPartner = await webhook({ orgId: t.orgB.id }, t.partnerToken)
    expect(viaPartner.orgId).toBe(t.orgB.id)
    expect((await h.json('GET', `/api/v1/webhooks/${viaPartner.id}`, { token: org.token })).status).toBe(404)
    expect(
      (await h.json('GET', `/api/v1/webhooks/${viaPartner.id}`, { token: t.otherPartnerToken })).status,
    ).toBe(404)
    expect(
      (
        await h.json('PATCH', `/api/v1/webhooks/${viaPartner.id}`, {
          token: t.orgCToken,
          body: { name: 'x' },
        })
      ).status,
    ).toBe(404)
    const foreign = await h.json('POST', '/api/v1/webhooks', {
      token: t.partnerToken,
      body: { orgId: t.orgC.id, name: 'x', url: rx.url(), events: ['*'] },
    })
    expect(foreign.status).toBe(404)
  })
})

describe('delivering', () => {
  it('POSTs the documented payload with the documented headers and a verifiable signature', async () => {
    const w = await webhook({
      secret: 'whsec_your_signing_secret',
      headers: [{ key: 'X-Custom-Source', value: 'breeze-rmm' }],
    })
    const ev = await emit(
      'device.offline',
      { deviceId: 'abc123', hostname: 'WORKSTATION-01', lastSeen: '2026-02-18T12:30:00.000Z' },
      {
        id: 'evt-1',
        timestamp: '2026-02-18T12:34:56.789Z',
      },
    )
    expect(ev).toMatchObject({ id: 'evt-1', duplicate: false })
    expect(ev.deliveriesQueued).toBeGreaterThanOrEqual(1)
    await h.worker.drain()
    const [req] = rx.at(w.path)
    expect(req).toBeDefined()
    const r = req as NonNullable<typeof req>
    expect(JSON.parse(r.body)).toEqual({
      id: 'evt-1',
      type: 'device.offline',
      timestamp: '2026-02-18T12:34:56.789Z',
      orgId: org.id,
      data: { deviceId: 'abc123', hostname: 'WORKSTATION-01', lastSeen: '2026-02-18T12:30:00.000Z' },
    })
    const [delivery] = (await deliveriesOf(w.id)).data
    expect(r.method).toBe('POST')
    expect(r.headers).toMatchObject({
      'content-type': 'application/json',
      'user-agent': 'Breeze-Webhooks/1.0',
      'x-breeze-delivery-id': expect.stringMatching(/^[0-9a-f-]{36}$/),
      'x-breeze-event-id': 'evt-1',
      'x-breeze-event-type': 'device.offline',
      'x-breeze-timestamp': String(h.clock.now().getTime()),
      'x-breeze-signature-timestamp': String(h.clock.now().getTime()),
      'x-custom-source': 'breeze-rmm',
      host: `receiver.test:${rx.port}`,
    })
    expect(
      verifyWebhookSignature(
        r.body,
        'whsec_your_signing_secret',
        r.headers['x-breeze-signature'] as string,
        r.headers['x-breeze-signature-timestamp'] as string,
      ),
    ).toBe(true)
    expect(delivery).toMatchObject({
      webhookId: w.id,
      orgId: org.id,
      status: 'delivered',
      event: 'device.offline',
      eventId: 'evt-1',
      payload: { deviceId: 'abc123', hostname: 'WORKSTATION-01', lastSeen: '2026-02-18T12:30:00.000Z' },
      responseStatus: 200,
      responseBody: 'ok',
      attempt: 1,
      nextAttemptAt: null,
      deliveredAt: h.clock.now().toISOString(),
    })
    expect(typeof delivery.responseTimeMs).toBe('number')
    const got = await h.json('GET', `/api/v1/webhooks/${w.id}`, { token: org.token })
    expect(got.body.deliveryStats).toEqual({
      total: 1,
      pending: 0,
      inProgress: 0,
      delivered: 1,
      failed: 0,
      retrying: 0,
      lastDeliveredAt: h.clock.now().toISOString(),
    })
    expect(got.body.lastDeliveryAt).toBe(h.clock.now().toISOString())
  })

  it('signs with Standard Webhooks on request, and with both secrets for 24 hours after a rotation', async () => {
    // The standardwebhooks library checks timestamps against real time.
    h.clock.set(new Date())
    const created = await webhook({ signatureScheme: 'standard-webhooks' })
    const first = created.secret as string
    expect(first).toMatch(/^whsec_/)
    expect(
      (await h.json('GET', `/api/v1/webhooks/${created.id}`, { token: org.token })).body.secret,
    ).toBeUndefined()
    await emit('alert.triggered', { alertId: 'a1' })
    await h.worker.drain()
    const one = rx.at(created.path)[0] as NonNullable<ReturnType<Receiver['at']>[0]>
    expect(new Webhook(first).verify(one.body, one.headers as Record<string, string>)).toMatchObject({
      type: 'alert.triggered',
    })

    const next = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'
    const patched = await h.json('PATCH', `/api/v1/webhooks/${created.id}`, {
      token: org.token,
      body: { secret: next },
    })
    expect(patched.status).toBe(200)
    await emit('alert.triggered', { alertId: 'a2' })
    await h.worker.drain()
    const two = rx.at(created.path)[1] as NonNullable<ReturnType<Receiver['at']>[0]>
    expect((two.headers['webhook-signature'] as string).split(' ')).toHaveLength(2)
    expect(new Webhook(first).verify(two.body, two.headers as Record<string, string>)).toBeTruthy()
    expect(new Webhook(next).verify(two.body, two.headers as Record<string, string>)).toBeTruthy()

    h.clock.advance(24 * 3_600_000 + 1)
    await emit('alert.triggered', { alertId: 'a3' })
    await h.worker.drain()
    const three = rx.at(created.path)[2] as NonNullable<ReturnType<Receiver['at']>[0]>
    // The standardwebhooks library checks the timestamp against real time; verify the signature itself.
    expect((three.headers['webhook-signature'] as string).split(' ')).toHaveLength(1)
    const expected = createHmac('sha256', Buffer.from(next.slice(6), 'base64'))
      .update(`${three.headers['webhook-id']}.${three.headers['webhook-timestamp']}.${three.body}`)
      .digest('base64')
    expect(three.headers['webhook-signature']).toBe(`v1,${expected}`)
  })

  it('retries with the documented backoff, exactly on time, then dead-letters', async () => {
    const w = await webhook()
    rx.respond(w.path, { status: 500, body: 'boom' })
    await emit('alert.triggered', { alertId: 'r1' })
    const start = h.clock.now().getTime()
    await h.worker.drain()
    const schedule = [1000, 2000, 4000, 8000, 16000]
    let elapsed = 0
    for (const [i, delay] of schedule.entries()) {
      const [d] = (await deliveriesOf(w.id)).data
      expect(d).toMatchObject({
        status: 'retrying',
        attempt: i + 1,
        responseStatus: 500,
        responseBody: 'boom',
      })
      expect(d.nextAttemptAt).toBe(new Date(start + elapsed + delay).toISOString())
      h.clock.advance(delay - 1)
      expect(await h.worker.drain()).toBe(0)
      h.clock.advance(1)
      expect(await h.worker.drain()).toBe(1)
      elapsed += delay
    }
    const [d] = (await deliveriesOf(w.id)).data
    expect(d).toMatchObject({ status: 'failed', attempt: 6, nextAttemptAt: null })
    expect(d.errorMessage).toContain('gave up after 6 attempts')
    const sent = rx.at(w.path)
    expect(sent).toHaveLength(6)
    // "Unique ID for this delivery attempt" (webhooks document); the event id stays the same, receivers dedupe on it.
    expect(new Set(sent.map((r) => r.headers['x-breeze-delivery-id'])).size).toBe(6)
    expect(new Set(sent.map((r) => r.headers['x-breeze-event-id']))).toEqual(new Set([d.eventId]))
  })

  it('uses a per-webhook retry policy set through the API', async () => {
    const w = await webhook({
      retryPolicy: { maxRetries: 2, initialDelayMs: 2000, backoffMultiplier: 3, maxDelayMs: 600000 },
    })
    rx.respond(w.path, { status: 503 })
    await emit('alert.triggered')
    await h.worker.drain()
    h.clock.advance(2000)
    expect(await h.worker.drain()).toBe(1)
    h.clock.advance(5999)
    expect(await h.worker.drain()).toBe(0)
    h.clock.advance(1)
    expect(await h.worker.drain()).toBe(1)
    expect((await deliveriesOf(w.id)).data[0]).toMatchObject({ status: 'failed', attempt: 3 })
    const reset = await h.json('PATCH', `/api/v1/webhooks/${w.id}`, {
      token: org.token,
      body: { retryPolicy: null },
    })
    expect(reset.body.retryPolicy).toEqual({
      maxRetries: 5,
      initialDelayMs: 1000,
      backoffMultiplier: 2,
      maxDelayMs: 300000,
    })
  })

  it('honours Retry-After and treats 408/409/425/429 as retryable, other 4xx as permanent', async () => {
    const w = await webhook()
    rx.respond(w.path, [{ status: 429, headers: { 'retry-after': '7' } }, { status: 200 }])
    await emit('alert.triggered')
    await h.worker.drain()
    expect((await deliveriesOf(w.id)).data[0].nextAttemptAt).toBe(
      new Date(h.clock.now().getTime() + 7000).toISOString(),
    )
    h.clock.advance(6999)
    expect(await h.worker.drain()).toBe(0)
    h.clock.advance(1)
    expect(await h.worker.drain()).toBe(1)
    expect((await deliveriesOf(w.id)).data[0]).toMatchObject({ status: 'delivered', attempt: 2 })

    for (const status of [408, 409, 425]) {
      const r = await webhook()
      rx.respond(r.path, { status })
      await emit('alert.triggered')
      await h.worker.drain()
      expect((await deliveriesOf(r.id)).data[0]).toMatchObject({ status: 'retrying', responseStatus: status })
      await h.json('DELETE', `/api/v1/webhooks/${r.id}`, { token: org.token })
    }
    const bad = await webhook()
    rx.respond(bad.path, { status: 422, body: '{"error":"bad payload"}' })
    await emit('device.offline')
    await h.worker.drain()
    expect((await deliveriesOf(bad.id)).data[0]).toMatchObject({
      status: 'failed',
      attempt: 1,
      responseBody: '{"error":"bad payload"}',
    })
    h.clock.advance(60_000)
    await h.worker.drain()
    expect(rx.at(bad.path)).toHaveLength(1)
  })

  it('marks a webhook failed when the endpoint answers 410, with an audit entry', async () => {
    const w = await webhook()
    rx.respond(w.path, { status: 410 })
    await emit('alert.triggered')
    await h.worker.drain()
    const got = (await h.json('GET', `/api/v1/webhooks/${w.id}`, { token: org.token })).body
    expect(got.status).toBe('failed')
    expect(got.deliveryStats.failed).toBe(1)
    const audit = await h.json('GET', `/api/v1/audit-logs?action=webhook.disable&targetId=${w.id}`)
    expect(audit.body.data[0]).toMatchObject({
      actorType: 'system:delivery-worker',
      summary: { reason: 'endpoint answered 410 Gone' },
    })
    const ev = await emit('alert.triggered')
    await h.worker.drain()
    expect(rx.at(w.path)).toHaveLength(1)
    expect(ev.deliveriesQueued).toBeGreaterThanOrEqual(0)
  })

  it('marks a webhook failed past the consecutive-failure threshold; a success resets the count', async () => {
    const w = await webhook()
    const fail = { status: 400 }
    rx.respond(w.path, [fail, fail, { status: 200 }, fail, fail, fail])
    for (let i = 0; i < 3; i++) {
      await emit('device.offline')
      await h.worker.drain()
    }
    expect((await h.json('GET', `/api/v1/webhooks/${w.id}`, { token: org.token })).body.status).toBe('active')
    for (let i = 0; i < 3; i++) {
      await emit('device.offline')
      await h.worker.drain()
    }
    const got = (await h.json('GET', `/api/v1/webhooks/${w.id}`, { token: org.token })).body
    expect(got.status).toBe('failed')
    const audit = await h.json('GET', `/api/v1/audit-logs?action=webhook.disable&targetId=${w.id}`)
    expect(audit.body.data[0].summary.reason).toBe('3 consecutive deliveries failed (threshold 3)')
    // Re-activating resets the count.
    const again = await h.json('PATCH', `/api/v1/webhooks/${w.id}`, {
      token: org.token,
      body: { status: 'active' },
    })
    expect(again.body.status).toBe('active')
  })

  it('records timeouts, refused connections and redirects as failed attempts with a message', async () => {
    const hang = await webhook()
    rx.respond(hang.path, { hang: true })
    const redirect = await webhook()
    rx.respond(redirect.path, { status: 302, headers: { location: 'http://169.254.169.254/' } })
    const refused = await webhook({ url: 'http://refused.test:1/hook' })
    await emit('alert.triggered')
    await h.worker.drain()
    expect((await deliveriesOf(hang.id)).data[0]).toMatchObject({
      status: 'retrying',
      errorMessage: 'Request timed out after 300 ms',
      responseStatus: null,
    })
    expect((await deliveriesOf(redirect.id)).data[0]).toMatchObject({
      status: 'retrying',
      responseStatus: 302,
      errorMessage: 'Endpoint answered 302 (redirects are not followed)',
    })
    expect((await deliveriesOf(refused.id)).data[0]).toMatchObject({
      status: 'retrying',
      errorMessage: 'Connection refused by 127.0.0.1:1',
    })
    for (const w of [hang, redirect, refused])
      await h.json('DELETE', `/api/v1/webhooks/${w.id}`, { token: org.token })
  })

  it('keeps 1,000 characters of a response body', async () => {
    const w = await webhook()
    rx.respond(w.path, { status: 200, body: 'y'.repeat(3000) })
    await emit('alert.triggered')
    await h.worker.drain()
    expect((await deliveriesOf(w.id)).data[0].responseBody).toHaveLength(1000)
  })

  it('sends nothing to paused webhooks, and resumes when re-activated', async () => {
    const w = await webhook({ events: ['script.failed'] })
    await h.json('PATCH', `/api/v1/webhooks/${w.id}`, { token: org.token, body: { status: 'paused' } })
    const ev = await emit('script.failed')
    expect(ev.deliveriesQueued).toBe(0)
    await h.json('PATCH', `/api/v1/webhooks/${w.id}`, { token: org.token, body: { status: 'active' } })
    expect((await emit('script.failed')).deliveriesQueued).toBe(1)
  })
})

describe('events', () => {
  it('are idempotent by id within an org, and batches fan out in one go', async () => {
    const a = await webhook({ events: ['patch.*'] })
    const b = await webhook({ events: ['patch.installed'] })
    const first = await emit('patch.installed', {}, { id: 'same-id' })
    expect(first).toMatchObject({ duplicate: false, deliveriesQueued: 2 })
    const again = await h.json('POST', '/api/v1/events', {
      token: org.token,
      body: { id: 'same-id', type: 'patch.installed', data: {} },
    })
    expect(again).toMatchObject({
      status: 200,
      body: { id: 'same-id', duplicate: true, deliveriesQueued: 0 },
    })
    // The same id in another org is another event.
    const other = await h.json('POST', '/api/v1/events', {
      token: t.orgCToken,
      body: { id: 'same-id', type: 'patch.installed' },
    })
    expect(other.body.duplicate).toBe(false)

    const batch = await h.json('POST', '/api/v1/events/batch', {
      token: org.token,
      body: {
        events: [
          { type: 'patch.available' },
          { type: 'patch.installed', id: 'b-1' },
          { type: 'patch.installed', id: 'b-1' },
          { type: 'user.login' },
        ],
      },
    })
    expect(batch.status).toBe(202)
    expect(
      batch.body.events.map((e: { deliveriesQueued: number; duplicate: boolean }) => [
        e.deliveriesQueued,
        e.duplicate,
      ]),
    ).toEqual([
      [1, false],
      [2, false],
      [0, true],
      [0, false],
    ])
    expect(batch.body.deliveriesQueued).toBe(3)
    await h.worker.drain()
    expect(rx.at(a.path)).toHaveLength(3)
    expect(rx.at(b.path)).toHaveLength(2)
  })

  it('rejects a batch with an unknown type or over 1,000 events, writing nothing', async () => {
    const before = (await h.json('GET', '/api/v1/deliveries?limit=1', { token: org.token })).body.pagination
      .total
    const bad = await h.json('POST', '/api/v1/events/batch', {
      token: org.token,
      body: { events: [{ type: 'alert.triggered', id: 'never-stored' }, { type: 'alert.nope' }] },
    })
    expect(bad.status).toBe(422)
    expect(bad.body.details).toEqual([
      { path: 'events.1.type', message: expect.stringContaining('Unknown event type') },
    ])
    const big = await h.json('POST', '/api/v1/events/batch', {
      token: org.token,
      body: { events: Array.from({ length: 1001 }, () => ({ type: 'user.login' })) },
    })
    expect(big.status).toBe(422)
    expect(big.body.details[0].path).toBe('events')
    const again = await h.json('POST', '/api/v1/events', {
      token: org.token,
      body: { type: 'alert.triggered', id: 'never-stored' },
    })
    expect(again.body.duplicate).toBe(false)
    expect(
      (await h.json('GET', '/api/v1/deliveries?limit=1', { token: org.token })).body.pagination.total,
    ).toBeGreaterThanOrEqual(before)
  })

  it('lists the catalog with webhook.test', async () => {
    const res = await h.json('GET', '/api/v1/event-types', { token: org.token })
    const types = res.body.data.map((e: { type: string }) => e.type)
    expect(types).toContain('webhook.test')
    expect(types).toContain('remote.session.started')
    expect(types).toEqual(
      expect.arrayContaining([
        'action.requested',
        'action.approved',
        'action.rejected',
        'action.completed',
        'action.failed',
        'action.expired',
        'change.created',
        'change.fully_approved',
        'change.cancelled',
      ]),
    )
    expect(types).toHaveLength(70)
  })
})

describe('history, manual retry and recovery', () => {
  it("paginates and filters a webhook's deliveries, most recent first", async () => {
    const w = await webhook({ events: ['session.login', 'session.logout'] })
    rx.respond(w.path, [{ status: 200 }, { status: 400 }, { status: 200 }, { status: 400 }, { status: 200 }])
    for (let i = 0; i < 5; i++) {
      await emit(i % 2 ? 'session.logout' : 'session.login', { i })
      h.clock.advance(10)
      await h.worker.drain()
    }
    const page1 = await deliveriesOf(w.id, '?page=1&limit=2')
    expect(page1.pagination).toEqual({ page: 1, limit: 2, total: 5 })
    expect(page1.data.map((d: { payload: { i: number } }) => d.payload.i)).toEqual([4, 3])
    const page3 = await deliveriesOf(w.id, '?page=3&limit=2')
    expect(page3.data.map((d: { payload: { i: number } }) => d.payload.i)).toEqual([0])
    const failed = await deliveriesOf(w.id, '?status=failed')
    expect(failed.pagination.total).toBe(2)
    expect(
      (await h.json('GET', `/api/v1/webhooks/${w.id}/deliveries?limit=101`, { token: org.token })).status,
    ).toBe(422)

    const across = await h.json('GET', `/api/v1/deliveries?webhookId=${w.id}&eventType=session.logout`, {
      token: org.token,
    })
    expect(across.body.pagination.total).toBe(2)
    const window = await h.json(
      'GET',
      `/api/v1/deliveries?webhookId=${w.id}&from=${new Date(h.clock.now().getTime() - 20).toISOString()}`,
      { token: org.token },
    )
    expect(window.body.pagination.total).toBe(2)
    const foreign = await h.json('GET', `/api/v1/deliveries?webhookId=${w.id}`, { token: t.orgCToken })
    expect(foreign.body.pagination.total).toBe(0)
  })

  it('retries only failed deliveries, as a new delivery', async () => {
    const w = await webhook({ events: ['automation.failed'] })
    rx.respond(w.path, [{ status: 400 }, { status: 200 }])
    await emit('automation.failed', { run: 1 })
    await h.worker.drain()
    const [failed] = (await deliveriesOf(w.id)).data
    expect(failed.status).toBe('failed')
    const res = await h.json('POST', `/api/v1/webhooks/${w.id}/retry/${failed.id}`, { token: org.token })
    expect(res.status).toBe(202)
    expect(res.body).toEqual({
      message: 'Delivery retry queued',
      delivery: { id: expect.any(String), status: 'pending', attempt: 0 },
    })
    await h.worker.drain()
    const list = (await deliveriesOf(w.id)).data
    const retried = list.find((d: { id: string }) => d.id === res.body.delivery.id)
    expect(retried).toMatchObject({
      status: 'delivered',
      retryOf: failed.id,
      payload: { run: 1 },
      event: 'automation.failed',
    })
    const notFailed = await h.json('POST', `/api/v1/webhooks/${w.id}/retry/${retried.id}`, {
      token: org.token,
    })
    expect(notFailed).toMatchObject({
      status: 409,
      body: { error: 'Only failed deliveries can be retried (this one is delivered)' },
    })
    expect(
      (await h.json('POST', `/api/v1/webhooks/${w.id}/retry/${failed.id}`, { token: org.token })).status,
    ).toBe(409)
    expect(
      (await h.json('POST', `/api/v1/webhooks/${w.id}/retry/${failed.id}`, { token: t.orgCToken })).status,
    ).toBe(404)
  })

  it('recovers every failed delivery matching a filter, once', async () => {
    const w1 = await webhook({ events: ['policy.violation'] })
    const w2 = await webhook({ events: ['policy.violation'] })
    rx.respond(w1.path, { status: 400 })
    rx.respond(w2.path, { status: 400 })
    await emit('policy.violation', { n: 1 })
    h.clock.advance(1000)
    const since = h.clock.now().toISOString()
    await emit('policy.violation', { n: 2 })
    await emit('policy.violation', { n: 3 })
    await h.worker.drain()
    // Three dead letters in a row took both webhooks out of service; the endpoint is fixed, so resume it.
    expect((await h.json('GET', `/api/v1/webhooks/${w1.id}`, { token: org.token })).body.status).toBe(
      'failed',
    )
    rx.respond(w1.path, { status: 200 })
    await h.json('PATCH', `/api/v1/webhooks/${w1.id}`, { token: org.token, body: { status: 'active' } })
    const res = await h.json('POST', '/api/v1/deliveries/retry', {
      token: org.token,
      body: { webhookId: w1.id, since },
    })
    expect(res).toMatchObject({ status: 202, body: { queued: 2 } })
    await h.worker.drain()
    const delivered = await h.json('GET', `/api/v1/deliveries?webhookId=${w1.id}&status=delivered`, {
      token: org.token,
    })
    expect(delivered.body.data.map((d: { payload: { n: number } }) => d.payload.n).sort()).toEqual([2, 3])
    expect(
      (
        await h.json('POST', '/api/v1/deliveries/retry', {
          token: org.token,
          body: { webhookId: w1.id, since },
        })
      ).body.queued,
    ).toBe(0)
    const w2Failed = await h.json('GET', `/api/v1/deliveries?webhookId=${w2.id}&status=failed`, {
      token: org.token,
    })
    expect(w2Failed.body.pagination.total).toBe(3)
    const audit = await h.json('GET', '/api/v1/audit-logs?action=delivery.recover', { token: org.token })
    expect(audit.body.data[0].summary).toMatchObject({ queued: 0 })
  })

  it('sends a test delivery through the pipeline', async () => {
    const w = await webhook({ secret: 'test-secret-123' })
    const res = await h.json('POST', `/api/v1/webhooks/${w.id}/test`, { token: org.token })
    expect(res).toMatchObject({
      status: 202,
      body: {
        message: 'Test delivery queued',
        delivery: { webhookId: w.id, status: 'pending', event: 'webhook.test', attempt: 0 },
      },
    })
    const custom = await h.json('POST', `/api/v1/webhooks/${w.id}/test`, {
      token: org.token,
      body: { event: 'device.online', payload: { message: 'Hello from Breeze RMM' } },
    })
    expect(custom.body.delivery.event).toBe('device.online')
    await h.worker.drain()
    const [a, b] = rx.at(w.path).map((r) => JSON.parse(r.body))
    expect(a).toMatchObject({
      type: 'webhook.test',
      data: { message: expect.any(String), timestamp: h.clock.now().toISOString(), webhookId: w.id },
    })
    expect(b).toMatchObject({ type: 'device.online', data: { message: 'Hello from Breeze RMM' } })
    expect(
      (await h.json('POST', `/api/v1/webhooks/${w.id}/test`, { token: org.token, body: { event: 'nope' } }))
        .status,
    ).toBe(422)
  })

  it('refuses a test delivery to a paused webhook with 409, queueing and counting nothing', async () => {
    const w = await webhook()
    await h.json('PATCH', `/api/v1/webhooks/${w.id}`, { token: org.token, body: { status: 'paused' } })
    const res = await h.json('POST', `/api/v1/webhooks/${w.id}/test`, { token: org.token })
    expect(res.status).toBe(409)
    expect(res.body).toMatchObject({ code: 'conflict', error: expect.stringContaining('paused') })
    await h.worker.drain()
    const got = await h.json('GET', `/api/v1/webhooks/${w.id}`, { token: org.token })
    expect(got.body.deliveryStats).toMatchObject({ total: 0, failed: 0 })
    expect((await deliveriesOf(w.id)).data).toEqual([])
  })

  it('deletes a webhook with its delivery records', async () => {
    const w = await webhook()
    await emit('alert.triggered')
    await h.worker.drain()
    const del = await h.json('DELETE', `/api/v1/webhooks/${w.id}`, { token: org.token })
    expect(del).toMatchObject({ status: 200, body: { id: w.id } })
    expect((await h.json('GET', `/api/v1/webhooks/${w.id}`, { token: org.token })).status).toBe(404)
    expect(
      (await h.json('GET', `/api/v1/deliveries?webhookId=${w.id}`, { token: org.token })).body.pagination
        .total,
    ).toBe(0)
  })

  it('deletes the work still queued for a deleted webhook, so no worker picks it up', async () => {
    const w = await webhook()
    const other = await webhook()
    await emit('alert.triggered')
    await emit('alert.triggered')
    const queued = (id: string) =>
      h.ctx.db.query<{ n: number }>('SELECT count(*)::int AS n FROM delivery_queue WHERE target_id = $1', [
        id,
      ])
    expect(await queued(w.id)).toEqual([{ n: 2 }])
    await h.json('DELETE', `/api/v1/webhooks/${w.id}`, { token: org.token })
    expect(await queued(w.id)).toEqual([{ n: 0 }])
    // The other webhook's deliveries are still there, and are all a worker finds.
    expect(await queued(other.id)).toEqual([{ n: 2 }])
    expect(await h.worker.drain()).toBe(2)
  })

  it('lists webhooks with pagination and a status filter', async () => {
    const a = await webhook()
    await webhook()
    await webhook()
    await h.json('PATCH', `/api/v1/webhooks/${a.id}`, { token: org.token, body: { status: 'failed' } })
    const all = await h.json('GET', '/api/v1/webhooks?limit=2', { token: org.token })
    expect(all.body.data).toHaveLength(2)
    expect(all.body.pagination.total).toBeGreaterThan(2)
    const failed = await h.json('GET', '/api/v1/webhooks?status=failed', { token: org.token })
    expect(failed.body.data.map((w: { id: string }) => w.id)).toEqual([a.id])
    const asPartner = await h.json('GET', `/api/v1/webhooks?orgId=${t.orgB.id}`, { token: t.partnerToken })
    expect(asPartner.body.data.every((w: { orgId: string }) => w.orgId === t.orgB.id)).toBe(true)
  })
})
