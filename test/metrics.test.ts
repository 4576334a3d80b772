import { createHmac } from 'node:crypto'
import { Writable } from 'node:stream'
import { eq } from 'drizzle-orm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DeliveryWorker } from '../src/delivery/worker.ts'
import { createApp } from '../src/http/app.ts'
import { JobService } from '../src/jobs/service.ts'
import { createLogger } from '../src/lib/logger.ts'
import { metricsOf } from '../src/lib/metrics.ts'
import { MetricsService } from '../src/server.ts'
import { integrationProbes } from '../src/store/schema/integrations.ts'
import { transports, WIRED_JOBS } from '../src/wiring.ts'
import { type StandIn, startStandIn } from './fixtures/stand-in.ts'
import { createHarness, type Harness, seedTenants } from './harness.ts'
import { Receiver } from './standins/receiver.ts'

const METRICS_TOKEN = 'metrics-token-0123456789abcdef'
const PROBE_INTERVAL = 5 * 60_000

let h: Harness
let t: Awaited<ReturnType<typeof seedTenants>>
let rx: Receiver
let vendor: StandIn
beforeAll(async () => {
  h = await createHarness({
    env: {
      PATCHBAY_METRICS_TOKEN: METRICS_TOKEN,
      PATCHBAY_DELIVERY_TIMEOUT_MS: '300',
      PATCHBAY_PROBE_INTERVAL_MS: String(PROBE_INTERVAL),
    },
  })
  t = await seedTenants(h)
  rx = await new Receiver().start()
  vendor = await startStandIn(() => ({ status: 202, body: { accepted: true } }))
})
afterAll(async () => {
  await rx.stop()
  await vendor.close()
  await h.close()
})

type Sample = { name: string; labels: Record<string, string>; value: number }

function parse(text: string): Sample[] {
  const out: Sample[] = []
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line)
    if (!m) continue
    const labels: Record<string, string> = {}
    for (const l of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g))
      labels[l[1] as string] = l[2] as string
    out.push({ name: m[1] as string, labels, value: Number(m[3]) })
  }
  return out
}

async function scrape(): Promise<Sample[]> {
  const res = await h.request('GET', '/metrics', { token: METRICS_TOKEN })
  expect(res.status).toBe(200)
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/)
  return parse(await res.text())
}

/** The sample's value, 0 when the series does not exist (yet). */
function value(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  const found = samples.find(
    (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  )
  return found?.value ?? 0
}

let n = 0
async function webhook(path: string) {
  const res = await h.json('POST', '/api/v1/webhooks', {
    token: t.orgAToken,
    body: {
      name: `Hook ${++n}`,
      url: rx.url(path),
      events: ['alert.triggered'],
      retryPolicy: { maxRetries: 1, initialDelayMs: 1000, backoffMultiplier: 2, maxDelayMs: 1000 },
    },
  })
  expect(res.status, JSON.stringify(res.body)).toBe(201)
  return res.body as { id: string }
}

async function emit() {
  const res = await h.json('POST', '/api/v1/events', {
    token: t.orgAToken,
    body: { type: 'alert.triggered', data: { n: ++n } },
  })
  expect(res.status).toBe(202)
}

describe('GET /metrics', () => {
  it('is not there without PATCHBAY_METRICS_TOKEN, and needs the token when it is', async () => {
    const off = createApp({ ...h.ctx, config: { ...h.ctx.config, PATCHBAY_METRICS_TOKEN: undefined } })
    expect(
      (await off.request('/metrics', { headers: { authorization: `Bearer ${METRICS_TOKEN}` } })).status,
    ).toBe(404)
    expect((await h.request('GET', '/metrics', { token: null })).status).toBe(401)
    const wrong = await h.request('GET', '/metrics', { token: `${METRICS_TOKEN}x` })
    expect(wrong.status).toBe(401)
    expect(wrong.headers.get('www-authenticate')).toContain('Bearer')
    // An API key is not the metrics token.
    expect((await h.request('GET', '/metrics', { token: h.systemToken })).status).toBe(401)
  })

  it('counts deliveries by target kind and outcome, with attempt latency, after real deliveries', async () => {
    const before = await scrape()
    await webhook('/ok')
    const failing = await webhook('/down')
    rx.respond('/down', { status: 500 })
    await emit()
    await h.worker.drain()
    // The failing webhook retries once (maxRetries 1), then fails for good.
    h.clock.advance(10 * 60_000)
    await h.worker.drain()
    expect(rx.at('/ok')).toHaveLength(1)
    expect(rx.at('/down')).toHaveLength(2)
    const after = await scrape()
    const delta = (name: string, labels: Record<string, string>) =>
      value(after, name, labels) - value(before, name, labels)
    expect(delta('patchbay_deliveries_total', { kind: 'webhook', outcome: 'delivered' })).toBe(1)
    expect(delta('patchbay_deliveries_total', { kind: 'webhook', outcome: 'failed' })).toBe(1)
    expect(delta('patchbay_delivery_attempts_total', { kind: 'webhook', result: 'delivered' })).toBe(1)
    expect(delta('patchbay_delivery_attempts_total', { kind: 'webhook', result: 'retrying' })).toBe(1)
    expect(delta('patchbay_delivery_attempts_total', { kind: 'webhook', result: 'failed' })).toBe(1)
    expect(delta('patchbay_delivery_attempt_duration_seconds_count', { kind: 'webhook' })).toBe(3)
    expect(
      value(after, 'patchbay_delivery_attempt_duration_seconds_sum', { kind: 'webhook' }),
    ).toBeGreaterThan(0)
    expect(
      value(after, 'patchbay_delivery_attempt_duration_seconds_bucket', { kind: 'webhook', le: '+Inf' }),
    ).toBe(value(after, 'patchbay_delivery_attempt_duration_seconds_count', { kind: 'webhook' }))
    await h.json('DELETE', `/api/v1/webhooks/${failing.id}`, { token: t.orgAToken })
  })

  it('reads the queue depth, the oldest due delivery and open circuits from the database at scrape time', async () => {
    await h.worker.drain()
    const idle = await scrape()
    expect(value(idle, 'patchbay_delivery_queue_depth')).toBe(0)
    expect(value(idle, 'patchbay_delivery_oldest_due_age_seconds')).toBe(0)
    rx.respond('/slow', { status: 503 })
    const slow = await webhook('/slow')
    await emit()
    await emit()
    h.clock.advance(7_000)
    const waiting = await scrape()
    // The /ok webhook from the test before and /slow: two deliveries per event.
    expect(value(waiting, 'patchbay_delivery_queue_depth')).toBe(4)
    expect(value(waiting, 'patchbay_delivery_queue_due')).toBe(4)
    expect(value(waiting, 'patchbay_delivery_oldest_due_age_seconds')).toBe(7)
    expect(value(waiting, 'patchbay_delivery_open_circuits')).toBe(0)
    // A worker that opens a circuit after one failed call: /slow's circuit opens and holds its other delivery.
    const worker = new DeliveryWorker(h.ctx, transports(h.ctx), { circuitThreshold: 1, perTarget: 1 })
    await worker.drain()
    const open = await scrape()
    expect(value(open, 'patchbay_delivery_open_circuits')).toBe(1)
    expect(value(open, 'patchbay_delivery_queue_depth')).toBe(2)
    expect(value(open, 'patchbay_delivery_queue_due')).toBe(0)
    await h.json('DELETE', `/api/v1/webhooks/${slow.id}`, { token: t.orgAToken })
  })

  it('counts HTTP requests by route pattern and status, never by raw path', async () => {
    const hook = await webhook('/route')
    await h.json('GET', `/api/v1/webhooks/${hook.id}`, { token: t.orgAToken })
    await h.json('GET', '/api/v1/webhooks/00000000-0000-4000-8000-000000000000', { token: t.orgAToken })
    await h.json('GET', '/api/v1/no-such-thing')
    const s = await scrape()
    expect(
      value(s, 'patchbay_http_requests_total', {
        method: 'GET',
        route: '/api/v1/webhooks/:id',
        status: '200',
      }),
    ).toBe(1)
    expect(
      value(s, 'patchbay_http_requests_total', {
        method: 'GET',
        route: '/api/v1/webhooks/:id',
        status: '404',
      }),
    ).toBe(1)
    expect(
      value(s, 'patchbay_http_requests_total', { method: 'GET', route: 'unmatched', status: '404' }),
    ).toBe(1)
    expect(s.some((x) => x.labels.route?.includes(hook.id))).toBe(false)
    expect(
      value(s, 'patchbay_http_request_duration_seconds_count', { method: 'POST', route: '/api/v1/events' }),
    ).toBeGreaterThan(0)
  })

  it('reports jobs waiting and probe outcomes per provider', async () => {
    const jobs = new JobService(h.ctx, WIRED_JOBS)
    await jobs.runDue()
    const created = await h.json('POST', '/api/v1/integrations', {
      body: {
        orgId: t.orgB.id,
        provider: 'generic-monitoring',
        name: 'Monitor',
        credentials: { endpoint: vendor.url('monitor.test', '/in') },
        enabled_capabilities: ['forward_events'],
      },
    })
    expect(created.status, JSON.stringify(created.body)).toBe(201)
    // Its verification is a job, waiting until a worker runs it.
    expect(value(await scrape(), 'patchbay_jobs', { status: 'pending' })).toBeGreaterThanOrEqual(1)
    await jobs.runDue()
    vendor.respond(() => ({ status: 503, body: { error: 'down' } }))
    // A new integration's first probe falls within an interval after the next sweep: two intervals hold one.
    for (let i = 0; i < (2 * PROBE_INTERVAL) / 30_000; i++) {
      h.clock.advance(30_000)
      await jobs.runDue()
    }
    const probed = await h.ctx.db.orm
      .select()
      .from(integrationProbes)
      .where(eq(integrationProbes.integrationId, created.body.data.id))
    expect(probed.length).toBeGreaterThanOrEqual(1)
    expect(probed.every((p) => !p.ok)).toBe(true)
    const s = await scrape()
    expect(value(s, 'patchbay_probes_total', { provider: 'generic-monitoring', outcome: 'failed' })).toBe(
      probed.length,
    )
    expect(value(s, 'patchbay_probes_total', { provider: 'generic-monitoring', outcome: 'ok' })).toBe(0)
  })
})

describe('inbound events', () => {
  it('counts inbound vendor webhook events by provider and the status they enter', async () => {
    const src = await h.json('POST', '/api/v1/webhook-sources', {
      token: t.orgAToken,
      body: { name: 'src', provider: 'generic' },
    })
    expect(src.status, JSON.stringify(src.body)).toBe(201)
    const { url, secret } = src.body as { url: string; secret: string }
    const send = (body: string, signed: boolean) =>
      h.app.request(new URL(url).pathname, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...(signed
            ? { 'x-signature': `sha256=${createHmac('sha256', secret).update(body).digest('hex')}` }
            : {}),
        },
        body,
      })
    const before = await scrape()
    expect(
      (await send(JSON.stringify({ type: 'device.online', data: { deviceId: 'd-1' } }), true)).status,
    ).toBe(202)
    expect((await send(JSON.stringify({ type: 'no.such.type', data: {} }), true)).status).toBe(202)
    expect((await send(JSON.stringify({ type: 'device.online', data: {} }), false)).status).toBe(401)
    await new JobService(h.ctx, WIRED_JOBS).runDue()
    const after = await scrape()
    const delta = (status: string) =>
      value(after, 'patchbay_inbound_events_total', { provider: 'generic', status }) -
      value(before, 'patchbay_inbound_events_total', { provider: 'generic', status })
    expect(delta('received')).toBe(2)
    expect(delta('rejected')).toBe(1)
    expect(delta('processed')).toBe(1)
    expect(delta('failed')).toBe(1)
  })
})

describe('a worker process', () => {
  it('serves its own counters on GET /metrics, over HTTP, with the same token', async () => {
    const svc = new MetricsService({
      ...h.ctx,
      metrics: metricsOf(h.ctx),
      config: { ...h.ctx.config, PORT: 0, HOST: '127.0.0.1' },
    })
    await svc.start()
    try {
      const url = `http://127.0.0.1:${svc.address?.port}/metrics`
      expect((await fetch(url)).status).toBe(401)
      const res = await fetch(url, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } })
      expect(res.status).toBe(200)
      const s = parse(await res.text())
      // What this test file's worker delivered above.
      expect(
        value(s, 'patchbay_deliveries_total', { kind: 'webhook', outcome: 'delivered' }),
      ).toBeGreaterThan(0)
      expect(value(s, 'patchbay_deliveries_total', { kind: 'webhook', outcome: 'delivered' })).toBe(
        value(await scrape(), 'patchbay_deliveries_total', { kind: 'webhook', outcome: 'delivered' }),
      )
    } finally {
      await svc.stop()
    }
  })
})

describe('request log', () => {
  it('writes one line per request at the default level: method, route, status, duration, request id', async () => {
    const lines: string[] = []
    const sink = new Writable({
      write(chunk, _enc, cb) {
        lines.push(String(chunk))
        cb()
      },
    })
    const app = createApp({ ...h.ctx, log: createLogger('info', sink) })
    const hook = await webhook('/logged')
    const res = await app.request(`/api/v1/webhooks/${hook.id}`, {
      headers: { authorization: `Bearer ${t.orgAToken}`, 'x-request-id': 'req-123' },
    })
    expect(res.status).toBe(200)
    const logged = lines.map((l) => JSON.parse(l)).filter((l) => l.msg === 'request')
    expect(logged).toHaveLength(1)
    expect(logged[0]).toMatchObject({
      level: 30,
      method: 'GET',
      route: '/api/v1/webhooks/:id',
      status: 200,
      requestId: 'req-123',
    })
    expect(typeof logged[0].ms).toBe('number')
    // The pattern, never the path: an inbound hook's path is its secret address.
    expect(lines.join('')).not.toContain(hook.id)
    // The caller's token never reaches the line.
    expect(lines.join('')).not.toContain(t.orgAToken)
  })
})
