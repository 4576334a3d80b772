import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { JobService } from '../src/jobs/service.ts'
import { WIRED_JOBS } from '../src/wiring.ts'
import { storedPlainText } from './fixtures/stored-text.ts'
import { createHarness, type Harness, seedTenants } from './harness.ts'
import { ConnectWiseStandIn } from './standins/connectwise.ts'
import { TicketingStandIn } from './standins/ticketing.ts'

const API_KEY = 'tk_LEAKCHECK_q1w2e3r4t5y6'
const CONSOLE = 'https://console.patchbay.example'

let h: Harness
let t: Awaited<ReturnType<typeof seedTenants>>
let jobs: JobService
let tk: TicketingStandIn
let cw: ConnectWiseStandIn
const responses: string[] = []

beforeAll(async () => {
  h = await createHarness({ env: { PATCHBAY_CONSOLE_URL: CONSOLE } })
  t = await seedTenants(h)
  jobs = new JobService(h.ctx, WIRED_JOBS)
  tk = await new TicketingStandIn({ apiKey: API_KEY, clock: h.clock }).start()
  cw = await new ConnectWiseStandIn({ clock: h.clock }).start()
})
afterAll(async () => {
  await Promise.all([tk.close(), cw.close()])
  await h.close()
})

let org: { id: string; token: string }
beforeEach(async () => {
  tk.resetRequests()
  tk.tickets.length = 0
  const created = await h.json('POST', '/api/v1/orgs', {
    body: { name: 'Fabrikam', partnerId: t.partner.id },
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

async function save(body: Record<string, unknown>) {
  const res = await call('POST', '/api/v1/integrations/ticketing', body)
  expect(res.status, JSON.stringify(res.body)).toBe(200)
  return res.body
}

const settings = () => ({
  provider: 'custom',
  apiUrl: tk.apiUrl,
  apiKey: API_KEY,
  projectKey: 'BREEZE',
  autoCreate: true,
})

function alert(alertId: string, extra: Record<string, unknown> = {}) {
  return {
    type: 'alert.triggered',
    data: {
      alertId,
      alertName: 'Disk almost full',
      severity: 'critical',
      deviceId: 'dev-7',
      hostname: 'FILESERVER-02',
      message: 'C: is 97% full.',
      ...extra,
    },
  }
}

describe('settings and test', () => {
  it('saves, shows the key masked, and tests the credentials for real', async () => {
    expect((await call('GET', '/api/v1/integrations/ticketing')).body).toEqual({})
    const saved = await save(settings())
    const expected = {
      provider: 'custom',
      apiUrl: tk.apiUrl,
      apiKey: `****${API_KEY.slice(-4)}`,
      projectKey: 'BREEZE',
      autoCreate: true,
    }
    expect(saved).toMatchObject({
      success: true,
      data: { ...expected, integration: { status: 'pending_verify' } },
    })
    expect((await call('GET', '/api/v1/integrations/ticketing')).body).toMatchObject(expected)

    const ok = await call('POST', '/api/v1/integrations/ticketing/test')
    expect(ok.body).toMatchObject({
      success: true,
      message: 'Connection successful. Credentials validated.',
      integration: { status: 'active' },
    })
    expect(tk.requests.at(-1)).toMatchObject({ method: 'GET', path: '/api' })
    expect(tk.requests.at(-1)?.headers.authorization).toBe(`Bearer ${API_KEY}`)

    // A wrong key: the API's own refusal, and the integration in error.
    await save({ apiKey: 'tk_wrong_key_0000000' })
    const bad = await call('POST', '/api/v1/integrations/ticketing/test')
    expect(bad.body).toMatchObject({
      success: false,
      message: 'Ticketing endpoint answered 401: Invalid API key',
      test: { vendorStatus: 401, retryable: false },
      integration: { status: 'error', lastError: 'Ticketing endpoint answered 401: Invalid API key' },
    })
    expect(JSON.stringify(bad.body)).not.toContain('tk_wrong_key_0000000')
    // Updating leaves other fields as they were.
    const back = await save({ apiKey: API_KEY, autoCreate: false })
    expect(back.data).toMatchObject({ ...expected, autoCreate: false })
    await jobs.runDue()
    expect((await call('GET', '/api/v1/integrations/ticketing')).body.integration.status).toBe('active')
    const audit = await call('GET', `/api/v1/audit-logs?orgId=${org.id}`, undefined, h.systemToken)
    const actions = audit.body.data.map((a: { action: string }) => a.action)
    expect(actions.filter((a: string) => a === 'integration.test')).toHaveLength(2)
    expect(actions).toContain('integration.create')
  })

  it('refuses bad input and needs apiUrl and apiKey the first time', async () => {
    const missing = await call('POST', '/api/v1/integrations/ticketing', { apiUrl: tk.apiUrl })
    expect(missing.status).toBe(422)
    expect(missing.body.details).toEqual([{ path: 'apiKey', message: 'The apiKey field is required.' }])
    const badUrl = await call('POST', '/api/v1/integrations/ticketing', {
      apiUrl: 'ftp://x',
      apiKey: API_KEY,
    })
    expect(badUrl.status).toBe(422)
    expect(badUrl.body.details[0].path).toBe('apiUrl')
    const extra = await call('POST', '/api/v1/integrations/ticketing', { ...settings(), priority: 'high' })
    expect(extra.status).toBe(422)
    expect(extra.body.details).toEqual([{ path: 'priority', message: 'Unknown field' }])
    expect((await call('POST', '/api/v1/integrations/ticketing/test')).status).toBe(404)
  })
})

describe('autoCreate', () => {
  it('opens exactly one ticket per alert, in the documented format', async () => {
    await save(settings())
    const first = await call('POST', '/api/v1/events', alert('al-1'))
    expect(first.body.deliveriesQueued).toBe(1)
    // The same alert again under another event id, the same event again, a second alert twice in one batch,
    // and events that are not new alerts.
    await call('POST', '/api/v1/events', alert('al-1', { message: 'Still full.' }))
    await call('POST', '/api/v1/events', { id: first.body.id, ...alert('al-1') })
    const batch = await call('POST', '/api/v1/events/batch', {
      events: [
        alert('al-2'),
        alert('al-2'),
        { type: 'alert.resolved', data: { alertId: 'al-1' } },
        { type: 'alert.escalated', data: { alertId: 'al-3', severity: 'critical' } },
      ],
    })
    expect(batch.body.deliveriesQueued).toBe(1)
    expect(await h.worker.drain()).toBe(2)
    expect(tk.tickets).toHaveLength(2)
    // Both were due at once and attempted side by side: find them by alert, not by order.
    const one = tk.tickets.find((x) => x.body.externalRef === 'al-1')
    const two = tk.tickets.find((x) => x.body.externalRef === 'al-2')
    expect(one?.body).toEqual({
      title: 'Critical alert: Disk almost full on FILESERVER-02',
      description: [
        'C: is 97% full.',
        '',
        'Severity: Critical',
        'Device: FILESERVER-02 (dev-7)',
        'Alert: Disk almost full',
        'Status: triggered',
        'Organization: Fabrikam',
        'Event: alert.triggered',
        '',
        `${CONSOLE}/alerts/al-1`,
      ].join('\n'),
      projectKey: 'BREEZE',
      severity: 'critical',
      source: 'patchbay',
      externalRef: 'al-1',
      alert: { id: 'al-1', name: 'Disk almost full', status: 'triggered', severity: 'critical' },
      device: { id: 'dev-7', hostname: 'FILESERVER-02' },
      org: { id: org.id, name: 'Fabrikam' },
      event: { id: first.body.id, type: 'alert.triggered', timestamp: h.clock.now().toISOString() },
      link: `${CONSOLE}/alerts/al-1`,
    })
    expect(two?.body.alert).toMatchObject({ id: 'al-2' })
    expect(one?.idempotencyKey).toMatch(/^[0-9a-f-]{36}$/)

    // Later triggers of the same alert still open nothing.
    await call('POST', '/api/v1/events', alert('al-2'))
    expect(await h.worker.drain()).toBe(0)
    const rows = await h.ctx.db.query<{ alert_key: string; external_id: string; external_url: string }>(
      `SELECT alert_key, external_id, external_url FROM ticketing_alert_tickets WHERE org_id = $1 ORDER BY alert_key`,
      [org.id],
    )
    expect(rows).toEqual([
      { alert_key: 'al-1', external_id: one?.id, external_url: one?.url },
      { alert_key: 'al-2', external_id: two?.id, external_url: two?.url },
    ])
    const history = await call('GET', '/api/v1/deliveries?targetType=ticketing')
    expect(history.body.data).toHaveLength(2)
    for (const d of history.body.data) expect(d).toMatchObject({ status: 'delivered', responseStatus: 201 })
  })

  it('a lost answer is retried with the same Idempotency-Key, and still one ticket', async () => {
    await save(settings())
    // The API creates the ticket, but its answer is lost (a proxy in front of it timed out).
    tk.loseNextAnswer()
    await call('POST', '/api/v1/events', alert('al-9'))
    await h.worker.drain()
    const [waiting] = (await call('GET', '/api/v1/deliveries?targetType=ticketing')).body.data
    expect(waiting).toMatchObject({ status: 'retrying', responseStatus: 504 })
    h.clock.advance(1_000)
    expect(await h.worker.drain()).toBe(1)
    const [done] = (await call('GET', '/api/v1/deliveries?targetType=ticketing')).body.data
    expect(done).toMatchObject({ status: 'delivered', responseStatus: 200, attempt: 2 })
    const posts = tk.requests.filter((r) => r.method === 'POST')
    expect(posts).toHaveLength(2)
    expect(posts[0]?.headers['idempotency-key']).toBe(posts[1]?.headers['idempotency-key'])
    expect(tk.tickets).toHaveLength(1)
  })

  it('honours create_ticket routing rules: an alert routed elsewhere opens no ticket here', async () => {
    const saved = await save(settings())
    await jobs.runDue()
    const psa = await call('POST', '/api/v1/integrations/psa', {
      provider: 'connectwise',
      credentials: cw.credentials,
    })
    expect(psa.status).toBe(200)
    await jobs.runDue()
    // Critical alerts go to the PSA; the rest to no one in particular.
    const rule = await call('POST', '/api/v1/routing-rules', {
      capability: 'create_ticket',
      integration_id: psa.body.data.id,
      priority: 10,
      conditions: [{ field: 'severity', operator: 'eq', value: 'critical' }],
    })
    expect(rule.status, JSON.stringify(rule.body)).toBe(201)
    await call('POST', '/api/v1/events', alert('al-routed'))
    await call('POST', '/api/v1/events', alert('al-mine', { severity: 'warning' }))
    await h.worker.drain()
    expect(tk.tickets.map((x) => x.body.externalRef)).toEqual(['al-mine'])
    // A rule that picks this integration keeps the alert here.
    const mine = await call('POST', '/api/v1/routing-rules', {
      capability: 'create_ticket',
      integration_id: saved.data.integration.id,
      priority: 20,
      conditions: [{ field: 'hostname', operator: 'eq', value: 'FILESERVER-02' }],
    })
    expect(mine.status).toBe(201)
    await call('POST', '/api/v1/events', alert('al-here'))
    await h.worker.drain()
    expect(tk.tickets.map((x) => x.body.externalRef).sort()).toEqual(['al-here', 'al-mine'])
  })

  it('is off unless autoCreate is true', async () => {
    await save({ ...settings(), autoCreate: false })
    const res = await call('POST', '/api/v1/events', alert('al-1'))
    expect(res.body.deliveriesQueued).toBe(0)
  })

  it('a refusing API leaves a failed delivery; retried on request, it creates the ticket', async () => {
    const saved = await save(settings())
    tk.failNext(422, { body: { error: 'Project BREEZE is archived' } })
    await call('POST', '/api/v1/events', alert('al-5'))
    await h.worker.drain()
    const failed = await call('GET', '/api/v1/deliveries?targetType=ticketing&status=failed')
    expect(failed.body.data).toEqual([
      expect.objectContaining({
        responseStatus: 422,
        errorMessage: 'Ticketing endpoint answered 422: Project BREEZE is archived',
        targetId: saved.data.integration.id,
      }),
    ])
    expect(tk.tickets).toHaveLength(0)
    const retry = await call('POST', '/api/v1/deliveries/retry', {
      targetType: 'ticketing',
      targetId: saved.data.integration.id,
    })
    expect(retry.body.queued).toBe(1)
    expect(await h.worker.drain()).toBe(1)
    expect(tk.tickets).toHaveLength(1)
    // Recovering again does nothing: the failed delivery was already retried.
    const again = await call('POST', '/api/v1/deliveries/retry', { targetType: 'ticketing' })
    expect(again.body.queued).toBe(0)
  })
})

describe('secrets', () => {
  it('the API key appears in no response, log line, audit entry or stored delivery', async () => {
    const stored = await storedPlainText(h)
    expect(stored).toContain('integration.test')
    for (const key of [API_KEY, 'tk_wrong_key_0000000']) {
      expect(responses.join('\n')).not.toContain(key)
      expect(h.logs.join('\n')).not.toContain(key)
      expect(stored).not.toContain(key)
    }
  })
})
