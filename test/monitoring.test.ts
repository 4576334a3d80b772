import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { JobService } from '../src/jobs/service.ts'
import { WIRED_JOBS } from '../src/wiring.ts'
import { bearer, type RecordedRequest, type Reply, type StandIn, startStandIn } from './fixtures/stand-in.ts'
import { storedPlainText } from './fixtures/stored-text.ts'
import { createHarness, type Harness, seedTenants } from './harness.ts'

const API_KEY = 'mon_LEAKCHECK_a1b2c3d4e5f6'
const NEW_KEY = 'mon_LEAKCHECK_rotated_9z8y'
const PER_TARGET = 5

let h: Harness
let t: Awaited<ReturnType<typeof seedTenants>>
let jobs: JobService
let receiver: StandIn
/** What the monitoring receiver answers next (after checking the key); the default accepts. */
let answers: Reply[] = []
const responses: string[] = []

/** An observability platform's ingest API: JSON POSTs with the Bearer key, 202 when accepted. */
function ingest(req: RecordedRequest): Reply {
  if (req.method !== 'POST' || !req.path.startsWith('/ingest'))
    return { status: 404, body: { error: 'Not found' } }
  const key = bearer(req)
  if (key !== API_KEY && key !== NEW_KEY)
    return { status: 401, body: { error: `Invalid API key "${key ?? ''}"` } }
  if (!String(req.headers['content-type']).startsWith('application/json') || typeof req.json !== 'object')
    return { status: 400, body: { error: 'Body must be JSON' } }
  return answers.shift() ?? { status: 202, body: { accepted: true } }
}

beforeAll(async () => {
  h = await createHarness({ env: { PATCHBAY_TARGET_CONCURRENCY: String(PER_TARGET) } })
  t = await seedTenants(h)
  jobs = new JobService(h.ctx, WIRED_JOBS)
  receiver = await startStandIn(ingest)
})
afterAll(async () => {
  await receiver.close()
  await h.close()
})

let org: { id: string; token: string }
beforeEach(async () => {
  receiver.requests.length = 0
  answers = []
  const created = await h.json('POST', '/api/v1/orgs', {
    body: { name: 'Northwind', partnerId: t.partner.id },
  })
  const key = await h.json('POST', '/api/v1/api-keys', {
    body: { name: 'org', scope: 'organization', orgId: created.body.id },
  })
  org = { id: created.body.id, token: key.body.token }
})

// biome-ignore lint/suspicious/noExplicitAny: tests read response bodies loosely and assert on them
async function call(method: string, path: string, body?: unknown, token?: string): Promise<any> {
  const res = await h.json(method, path, { token: token ?? org.token, ...(body ? { body } : {}) })
  responses.push(JSON.stringify(res.body ?? null))
  return res
}

const endpoint = (path = '/ingest') => receiver.url('monitoring.test', path)

async function save(body: Record<string, unknown>) {
  const res = await call('PUT', '/api/v1/integrations/monitoring', body)
  expect(res.status, JSON.stringify(res.body)).toBe(200)
  return res.body
}

function telemetry(i: number, metrics: Record<string, unknown>) {
  return { type: 'device.telemetry', data: { deviceId: `dev-${i}`, hostname: `HOST-${i}`, ...metrics } }
}

const sample = {
  cpu: { usagePercent: 93.5, cores: 8 },
  memory: { usedBytes: 7_516_192_768, totalBytes: 8_589_934_592, usagePercent: 87.5 },
  disk: [{ mount: 'C:', usedBytes: 100, totalBytes: 200 }],
  network: { rxBytesPerSec: 1200, txBytesPerSec: 800 },
}

function batches() {
  return receiver.requests
    .filter((r) => (r.json as { type?: string })?.type === 'patchbay.telemetry')
    .map((r) => r.json as { data: { orgId: string; count: number; events: Array<Record<string, unknown>> } })
}

describe('settings', () => {
  it('GET is {} until saved; PUT stores the free-form object, the key sealed and masked', async () => {
    expect(await call('GET', '/api/v1/integrations/monitoring')).toMatchObject({ status: 200, body: {} })
    const saved = await save({
      endpoint: endpoint(),
      apiKey: API_KEY,
      metricsEnabled: true,
      forwardEvents: ['cpu', 'memory', 'disk', 'network'],
      region: 'eu-west',
      tags: { team: 'noc' },
    })
    const expected = {
      endpoint: endpoint(),
      apiKey: `****${API_KEY.slice(-4)}`,
      metricsEnabled: true,
      forwardEvents: ['cpu', 'memory', 'disk', 'network'],
      region: 'eu-west',
      tags: { team: 'noc' },
    }
    expect(saved).toMatchObject({ success: true, data: expected, integration: { status: 'pending_verify' } })
    expect((await call('GET', '/api/v1/integrations/monitoring')).body).toEqual(expected)
    // Verification posts a real patchbay.test event with the key.
    await jobs.runDue()
    expect(receiver.requests).toHaveLength(1)
    expect(receiver.requests[0]?.json).toMatchObject({ type: 'patchbay.test', source: 'patchbay' })
    expect(bearer(receiver.requests[0] as RecordedRequest)).toBe(API_KEY)
    const row = await call('GET', `/api/v1/integrations/${saved.integration.id}`)
    expect(row.body.data).toMatchObject({ provider: 'generic-monitoring', status: 'active' })

    // PUT replaces the object; the key is kept when absent or masked, and replaced when given.
    const replaced = await save({ endpoint: endpoint(), apiKey: expected.apiKey, forwardEvents: ['cpu'] })
    expect(replaced.data).toEqual({ endpoint: endpoint(), apiKey: expected.apiKey, forwardEvents: ['cpu'] })
    const rotated = await save({ endpoint: endpoint(), apiKey: NEW_KEY })
    expect(rotated.data).toEqual({ endpoint: endpoint(), apiKey: `****${NEW_KEY.slice(-4)}` })
    const actions = (
      await call('GET', `/api/v1/audit-logs?orgId=${org.id}`, undefined, h.systemToken)
    ).body.data.map((a: { action: string }) => a.action)
    expect(actions.filter((a: string) => a === 'integration.update')).toHaveLength(2)
  })

  it('partner keys name the organization; other tenants see nothing', async () => {
    await call(
      'PUT',
      '/api/v1/integrations/monitoring',
      { orgId: org.id, endpoint: endpoint() },
      t.partnerToken,
    )
    const viaPartner = await call(
      'GET',
      `/api/v1/integrations/monitoring?orgId=${org.id}`,
      undefined,
      t.partnerToken,
    )
    expect(viaPartner.body).toEqual({ endpoint: endpoint() })
    const noOrg = await call(
      'PUT',
      '/api/v1/integrations/monitoring',
      { endpoint: endpoint() },
      t.partnerToken,
    )
    expect(noOrg.status).toBe(400)
    const other = await call('GET', `/api/v1/integrations/monitoring?orgId=${org.id}`, undefined, t.orgCToken)
    expect(other.status).toBe(404)
  })

  it('refuses bad input naming the field', async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ apiKey: API_KEY }, 'endpoint'],
      [{ endpoint: 'not a url' }, 'endpoint'],
      [{ endpoint: endpoint(), forwardEvents: ['cpu', 'gpu'] }, 'forwardEvents.1'],
      [{ endpoint: endpoint(), metricsEnabled: 'yes' }, 'metricsEnabled'],
      [{ endpoint: endpoint(), password: 'hunter2-hunter2' }, 'password'],
      [{ endpoint: endpoint(), apiKey: '****zzzz' }, 'apiKey'],
      [{ endpoint: 'https://10.0.0.5/ingest' }, 'endpoint'],
    ]
    for (const [body, path] of cases) {
      const res = await call('PUT', '/api/v1/integrations/monitoring', body)
      expect(res.status, JSON.stringify(body)).toBe(422)
      expect(res.body.details.map((d: { path: string }) => d.path)).toContain(path)
    }
    expect((await call('GET', '/api/v1/integrations/monitoring')).body).toEqual({})
  })
})

describe('test endpoint', () => {
  it('succeeds only on 2xx, reporting the endpoint’s answer otherwise', async () => {
    expect((await call('POST', '/api/v1/integrations/monitoring/test')).status).toBe(404)
    await save({ endpoint: endpoint(), apiKey: API_KEY })
    const ok = await call('POST', '/api/v1/integrations/monitoring/test')
    expect(ok.body).toMatchObject({
      success: true,
      message: 'Connection successful.',
      test: { ok: true },
      integration: { status: 'active' },
    })
    expect(receiver.requests.at(-1)?.json).toMatchObject({ type: 'patchbay.test' })

    answers.push({ status: 503, body: { error: 'Ingest paused for maintenance' } })
    const down = await call('POST', '/api/v1/integrations/monitoring/test')
    expect(down.body).toMatchObject({
      success: false,
      message: 'Monitoring endpoint answered 503: Ingest paused for maintenance',
      test: { ok: false, vendorStatus: 503, retryable: true },
      integration: { status: 'error' },
    })
    // A new endpoint, even on the same host, needs the key given again (the destination rule, issue 11).
    await save({ endpoint: endpoint('/nowhere'), apiKey: API_KEY })
    const wrongPath = await call('POST', '/api/v1/integrations/monitoring/test')
    expect(wrongPath.body).toMatchObject({
      success: false,
      message: 'Monitoring endpoint answered 404: Not found',
    })
    const audit = await call(
      'GET',
      `/api/v1/audit-logs?orgId=${org.id}&action=integration.test`,
      undefined,
      h.systemToken,
    )
    expect(audit.body.data).toHaveLength(3)
  })
})

describe('forwarding', () => {
  it('forwards telemetry in batches, with only the families forwardEvents selects', async () => {
    await save({ endpoint: endpoint(), apiKey: API_KEY, forwardEvents: ['cpu', 'memory'] })
    const events = [
      telemetry(1, sample),
      telemetry(2, { cpu: { usagePercent: 12 } }),
      telemetry(3, { disk: sample.disk }),
      telemetry(4, { memory: sample.memory, network: sample.network }),
      { type: 'device.offline', data: { deviceId: 'dev-1' } },
    ]
    const res = await call('POST', '/api/v1/events/batch', { events })
    expect(res.body.events.map((e: { deliveriesQueued: number }) => e.deliveriesQueued)).toEqual([
      1, 1, 0, 1, 0,
    ])
    expect(await h.worker.drain()).toBe(3)
    const sent = batches()
    expect(sent).toHaveLength(1)
    expect(receiver.requests.at(-1)?.path).toBe('/ingest')
    expect(bearer(receiver.requests.at(-1) as RecordedRequest)).toBe(API_KEY)
    const body = receiver.requests.at(-1)?.json as Record<string, unknown>
    expect(body).toMatchObject({
      type: 'patchbay.telemetry',
      source: 'patchbay',
      timestamp: h.clock.now().toISOString(),
      data: { orgId: org.id, count: 3 },
    })
    const forwarded = [...(sent[0]?.data.events ?? [])].sort((a, b) =>
      String(a.deviceId).localeCompare(String(b.deviceId)),
    )
    expect(forwarded).toEqual([
      {
        id: res.body.events[0].id,
        deliveryId: expect.any(String),
        type: 'device.telemetry',
        timestamp: h.clock.now().toISOString(),
        deviceId: 'dev-1',
        hostname: 'HOST-1',
        metrics: { cpu: sample.cpu, memory: sample.memory },
      },
      expect.objectContaining({ deviceId: 'dev-2', metrics: { cpu: { usagePercent: 12 } } }),
      expect.objectContaining({ deviceId: 'dev-4', metrics: { memory: sample.memory } }),
    ])
    const history = await call('GET', '/api/v1/deliveries?targetType=monitoring')
    expect(history.body.data).toHaveLength(3)
    for (const d of history.body.data) expect(d).toMatchObject({ status: 'delivered', responseStatus: 202 })
  })

  it('a backlog goes out a batch per request, at most the per-target limit each', async () => {
    await save({ endpoint: endpoint(), forwardEvents: ['cpu'] })
    const events = Array.from({ length: 12 }, (_, i) => telemetry(i, { cpu: { usagePercent: i } }))
    await call('POST', '/api/v1/events/batch', { events })
    expect(await h.worker.drain()).toBe(12)
    expect(batches().map((b) => b.data.count)).toEqual([PER_TARGET, PER_TARGET, 12 - 2 * PER_TARGET])
    const forwarded = batches().flatMap((b) => b.data.events.map((e) => e.deviceId))
    expect(new Set(forwarded).size).toBe(12)
  })

  it('metricsEnabled false forwards nothing', async () => {
    await save({ endpoint: endpoint(), metricsEnabled: false })
    const res = await call('POST', '/api/v1/events', telemetry(1, sample))
    expect(res.body.deliveriesQueued).toBe(0)
  })

  it('a refusing endpoint leaves failed deliveries; recovery sends them again', async () => {
    const saved = await save({ endpoint: endpoint(), apiKey: API_KEY })
    answers.push({ status: 400, body: { error: 'Unknown metric schema' } })
    await call('POST', '/api/v1/events/batch', { events: [telemetry(1, sample), telemetry(2, sample)] })
    await h.worker.drain()
    const failed = await call('GET', '/api/v1/deliveries?targetType=monitoring&status=failed')
    expect(failed.body.data).toHaveLength(2)
    expect(failed.body.data[0]).toMatchObject({
      responseStatus: 400,
      errorMessage: 'Monitoring endpoint answered 400: Unknown metric schema',
      attempt: 1,
    })
    const retry = await call('POST', '/api/v1/deliveries/retry', {
      targetType: 'monitoring',
      targetId: saved.integration.id,
    })
    expect(retry.body.queued).toBe(2)
    expect(await h.worker.drain()).toBe(2)
    expect(batches().map((b) => b.data.count)).toEqual([2, 2])
    const delivered = await call('GET', '/api/v1/deliveries?targetType=monitoring&status=delivered')
    expect(delivered.body.data).toHaveLength(2)
  })

  it('honours a 429 Retry-After for the whole batch', async () => {
    await save({ endpoint: endpoint(), apiKey: API_KEY })
    answers.push({ status: 429, body: { error: 'Slow down' }, headers: { 'retry-after': '20' } })
    await call('POST', '/api/v1/events/batch', { events: [telemetry(1, sample), telemetry(2, sample)] })
    expect(await h.worker.drain()).toBe(2)
    h.clock.advance(19_999)
    expect(await h.worker.drain()).toBe(0)
    h.clock.advance(1)
    expect(await h.worker.drain()).toBe(2)
    expect(batches().map((b) => b.data.count)).toEqual([2, 2])
  })
})

describe('secrets', () => {
  it('the API key appears in no response, log line or audit entry', async () => {
    const stored = await storedPlainText(h)
    expect(stored).toContain('device.telemetry')
    for (const key of [API_KEY, NEW_KEY]) {
      expect(responses.join('\n')).not.toContain(key)
      expect(h.logs.join('\n')).not.toContain(key)
      expect(stored).not.toContain(key)
    }
  })
})
