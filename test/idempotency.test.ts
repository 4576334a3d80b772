import { sql } from 'drizzle-orm'
import { Hono } from 'hono'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { authenticate } from '../src/http/auth.ts'
import type { AppEnv } from '../src/http/env.ts'
import { idempotency, requestFingerprint } from '../src/http/idempotency.ts'
import { JobService } from '../src/jobs/service.ts'
import { rows } from '../src/store/db.ts'
import { claimIdempotencyKey, completeIdempotencyKey } from '../src/store/idempotency.ts'
import { WIRED_JOBS } from '../src/wiring.ts'
import { type StandIn, startStandIn } from './fixtures/stand-in.ts'
import { createHarness, type Harness, seedTenants } from './harness.ts'

let h: Harness
let t: Awaited<ReturnType<typeof seedTenants>>
beforeAll(async () => {
  h = await createHarness()
  t = await seedTenants(h)
})
afterAll(() => h.close())

const hook = (name: string) => ({ name, url: 'http://receiver.test:9/in', events: ['alert.triggered'] })

function post(path: string, body: unknown, key: string, token = t.orgAToken) {
  return h.request('POST', path, { token, body, headers: { 'idempotency-key': key } })
}

async function webhookCount(name: string): Promise<number> {
  const [row] = await rows<{ n: number }>(
    h.ctx.db.orm,
    sql`SELECT count(*)::int AS n FROM webhooks WHERE name = ${name}`,
  )
  return row?.n ?? 0
}

describe('Idempotency-Key', () => {
  it('replays the stored response (status and body) to a repeat with the same body', async () => {
    const first = await post('/api/v1/webhooks', hook('once'), 'key-1')
    expect(first.status, await first.clone().text()).toBe(201)
    expect(first.headers.get('idempotent-replayed')).toBeNull()
    const body = await first.text()
    const again = await post('/api/v1/webhooks', hook('once'), 'key-1')
    expect(again.status).toBe(201)
    expect(again.headers.get('idempotent-replayed')).toBe('true')
    expect(again.headers.get('content-type')).toMatch(/^application\/json/)
    expect(await again.text()).toBe(body)
    expect(await webhookCount('once')).toBe(1)
    // Without the header every POST creates.
    expect(
      (await h.request('POST', '/api/v1/webhooks', { token: t.orgAToken, body: hook('once') })).status,
    ).toBe(201)
    expect(await webhookCount('once')).toBe(2)
  })

  it('refuses the same key with a different body or route (422), and keeps the first response', async () => {
    expect((await post('/api/v1/webhooks', hook('first'), 'key-2')).status).toBe(201)
    const other = await post('/api/v1/webhooks', hook('second'), 'key-2')
    expect(other.status).toBe(422)
    expect(await other.json()).toMatchObject({ code: 'idempotency_key_reused' })
    const elsewhere = await post('/api/v1/events', { type: 'alert.triggered', data: {} }, 'key-2')
    expect(elsewhere.status).toBe(422)
    expect(await webhookCount('second')).toBe(0)
    expect((await post('/api/v1/webhooks', hook('first'), 'key-2')).headers.get('idempotent-replayed')).toBe(
      'true',
    )
  })

  it('scopes keys to the API key: another caller with the same key is a new request', async () => {
    const orgB = await h.json('POST', '/api/v1/api-keys', {
      body: { name: 'b', scope: 'organization', orgId: t.orgB.id },
    })
    const a = await post('/api/v1/webhooks', hook('scoped'), 'shared-key')
    const b = await post('/api/v1/webhooks', hook('scoped'), 'shared-key', orgB.body.token)
    expect(a.status).toBe(201)
    expect(b.status).toBe(201)
    expect(b.headers.get('idempotent-replayed')).toBeNull()
    const ids = [(await a.json()) as { id: string }, (await b.json()) as { id: string }].map((x) => x.id)
    expect(ids[0]).not.toBe(ids[1])
    expect(await webhookCount('scoped')).toBe(2)
  })

  it('lets concurrent duplicates wait for the first and answer the same, creating once', async () => {
    const answers = await Promise.all(
      Array.from({ length: 6 }, () => post('/api/v1/webhooks', hook('concurrent'), 'key-concurrent')),
    )
    const bodies = await Promise.all(answers.map((r) => r.text()))
    expect(answers.map((r) => r.status)).toEqual([201, 201, 201, 201, 201, 201])
    expect(new Set(bodies).size).toBe(1)
    expect(answers.filter((r) => r.headers.get('idempotent-replayed') === 'true')).toHaveLength(5)
    expect(await webhookCount('concurrent')).toBe(1)
  })

  it('makes a repeat wait while the first is under way, then replays what the first stored', async () => {
    // The first request, under way in another process: its key is claimed and not yet complete.
    const body = JSON.stringify(hook('waited'))
    const claimed = await claimIdempotencyKey(h.ctx.db.orm, {
      apiKeyId: await keyIdOf(t.orgAToken),
      key: 'key-wait',
      requestHash: requestFingerprint('POST', '/api/v1/webhooks', body),
      now: h.clock.now(),
      leaseMs: 60_000,
    })
    expect(claimed.kind).toBe('owner')
    let settled = false
    const repeat = h
      .request('POST', '/api/v1/webhooks', {
        token: t.orgAToken,
        body,
        headers: { 'idempotency-key': 'key-wait', 'x-request-id': 'the-repeat' },
      })
      .finally(() => {
        settled = true
      })
    // It waits (and says so at debug) rather than answering or running the request itself.
    await vi.waitFor(() =>
      expect(
        h.logs.some((l) => l.includes('the-repeat') && l.includes('waiting for the first request')),
      ).toBe(true),
    )
    expect(settled).toBe(false)
    await completeIdempotencyKey(h.ctx.db.orm, {
      apiKeyId: await keyIdOf(t.orgAToken),
      key: 'key-wait',
      response: { status: 201, contentType: 'application/json', body: '{"id":"from-the-first"}' },
    })
    const res = await repeat
    expect(res.status).toBe(201)
    expect(await res.json()).toEqual({ id: 'from-the-first' })
    expect(await webhookCount('waited')).toBe(0)
  })

  it('wakes a waiting repeat as soon as the first request finishes (NOTIFY), not at its next poll', async () => {
    const vendor = await startStandIn(() => ({ status: 202 }))
    const forward = forwarder(vendor)
    try {
      // The first request is held at the vendor.
      const held = vendor.hold()
      const first = forward.send('key-notify', 'the-first')
      await held.arrived
      let settled = false
      const repeat = forward.send('key-notify', 'the-held-repeat').finally(() => {
        settled = true
      })
      await waitingLogged('the-held-repeat')
      expect(settled).toBe(false)
      held.release({ status: 202 })
      const [a, b] = await Promise.all([first, repeat])
      expect(a.status).toBe(201)
      expect(b.status).toBe(201)
      expect(b.headers.get('idempotent-replayed')).toBe('true')
      expect(await b.json()).toEqual(await a.json())
      expect(forward.runs()).toBe(1)
      expect(vendor.requests).toHaveLength(1)
    } finally {
      await vendor.close()
    }
  })

  it('wakes a waiting repeat when the first ends without a final answer, and runs it afresh', async () => {
    const vendor = await startStandIn(() => ({ status: 202 }))
    const forward = forwarder(vendor)
    try {
      const held = vendor.hold()
      const first = forward.send('key-released', 'the-failing-first')
      await held.arrived
      const repeat = forward.send('key-released', 'the-released-repeat')
      await waitingLogged('the-released-repeat')
      // The vendor's 503 is passed on: not final, so the first releases the key instead of storing it.
      held.release({ status: 503 })
      expect((await first).status).toBe(503)
      const again = await repeat
      expect(again.status).toBe(201)
      expect(again.headers.get('idempotent-replayed')).toBeNull()
      expect(await again.json()).toEqual({ run: 2, vendorStatus: 202 })
    } finally {
      await vendor.close()
    }
  })

  it('forgets keys after 24 hours: the hourly prune deletes them and the key runs afresh', async () => {
    expect((await post('/api/v1/webhooks', hook('daily'), 'key-daily')).status).toBe(201)
    h.clock.advance(24 * 60 * 60_000 + 1)
    const jobs = new JobService(h.ctx, WIRED_JOBS)
    await jobs.runDue()
    h.clock.advance(60 * 60_000)
    await jobs.runDue()
    const [left] = await rows<{ n: number }>(
      h.ctx.db.orm,
      sql`SELECT count(*)::int AS n FROM idempotency_keys WHERE key = 'key-daily'`,
    )
    expect(left?.n).toBe(0)
    const again = await post('/api/v1/webhooks', hook('daily'), 'key-daily')
    expect(again.status).toBe(201)
    expect(again.headers.get('idempotent-replayed')).toBeNull()
    expect(await webhookCount('daily')).toBe(2)
  })

  it('refuses a malformed key with 422 naming the header', async () => {
    const res = await post('/api/v1/webhooks', hook('bad-key'), 'x'.repeat(256))
    expect(res.status).toBe(422)
    expect(((await res.json()) as { details: { path: string }[] }).details[0]?.path).toBe('Idempotency-Key')
    expect(await webhookCount('bad-key')).toBe(0)
  })
})

async function keyIdOf(token: string): Promise<string> {
  const [row] = await rows<{ id: string }>(
    h.ctx.db.orm,
    sql`SELECT id FROM api_keys WHERE token_hash = encode(sha256(${token}::bytea), 'hex')`,
  )
  return row?.id as string
}

/**
 * The middleware as the app mounts it (after authentication), in front of a route that forwards to `vendor` and
 * passes a 503 on; it polls only every 10 minutes, past the test timeout, so a waiting repeat can be answered in
 * time only by the NOTIFY the first request sends when it stores or releases its key.
 */
function forwarder(vendor: StandIn) {
  let runs = 0
  const app = new Hono<AppEnv>()
  app.use('*', async (c, next) => {
    c.set('log', h.ctx.log.child({ requestId: c.req.header('x-request-id') }))
    await next()
  })
  app.use('*', authenticate(h.ctx))
  app.use('*', idempotency(h.ctx, { pollMs: 10 * 60_000 }))
  app.post('/forward', async (c) => {
    const run = ++runs
    const res = await fetch(vendor.url('127.0.0.1', '/ingest'), { method: 'POST', body: await c.req.text() })
    return c.json({ run, vendorStatus: res.status }, res.status === 503 ? 503 : 201)
  })
  return {
    runs: () => runs,
    send: (key: string, requestId: string) =>
      Promise.resolve(
        app.request('/forward', {
          method: 'POST',
          body: '{"n":1}',
          headers: {
            authorization: `Bearer ${t.orgAToken}`,
            'idempotency-key': key,
            'x-request-id': requestId,
          },
        }),
      ),
  }
}

/** Until the request with this id has said (at debug) that it waits for the first. */
async function waitingLogged(requestId: string) {
  await vi.waitFor(() =>
    expect(h.logs.some((l) => l.includes(requestId) && l.includes('waiting for the first request'))).toBe(
      true,
    ),
  )
}
