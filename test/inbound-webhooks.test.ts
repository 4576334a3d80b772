import { createHash, createHmac } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { Webhook } from 'standardwebhooks'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { autotaskInbound } from '../src/connectors/autotask/inbound.ts'
import { connectwiseInbound, keyUrlProblem } from '../src/connectors/connectwise/inbound.ts'
import type { InboundRequest } from '../src/connectors/shared/inbound.ts'
import { JobService } from '../src/jobs/service.ts'
import { claimJobs } from '../src/jobs/store.ts'
import { WIRED_JOBS } from '../src/wiring.ts'
import { alertData, automationSettings, newOrg } from './fixtures/psa.ts'
import { createHarness, type Harness, seedTenants } from './harness.ts'
import { AutotaskStandIn, ConnectWiseStandIn } from './standins/index.ts'
import { Receiver } from './standins/receiver.ts'

/**
 * Inbound vendor webhooks on a running app: sources, each vendor's documented payloads with good and bad
 * signatures, the pipeline into platform events (a webhook receiver and PSA stand-ins end to end), the dead letter
 * with its analysis, replay, and a worker that dies mid-pipeline.
 */
const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures/inbound')
const fixture = (name: string) => fs.readFileSync(path.join(FIXTURES, name))
const PUBLIC_URL = 'https://patchbay.example.com'

let h: Harness
let t: Awaited<ReturnType<typeof seedTenants>>
let jobs: JobService
let rx: Receiver
let keys: Receiver
let evil: Receiver
let cw: ConnectWiseStandIn
let at: AutotaskStandIn
let org: { id: string; token: string }

beforeAll(async () => {
  h = await createHarness({
    env: {
      PATCHBAY_PROBE_INTERVAL_MS: '0',
      PATCHBAY_PSA_SYNC_INTERVAL_MS: '0',
      PATCHBAY_PUBLIC_URL: PUBLIC_URL,
      PATCHBAY_INBOUND_MAX_BODY_BYTES: '4096',
      PATCHBAY_INBOUND_REJECT_LIMIT: '3',
    },
  })
  t = await seedTenants(h)
  jobs = new JobService(h.ctx, WIRED_JOBS)
  rx = await new Receiver().start()
  keys = await new Receiver('cw-keys.test').start()
  evil = await new Receiver('evil.test').start()
  cw = await new ConnectWiseStandIn({ clock: h.clock }).start()
  at = await new AutotaskStandIn({ clock: h.clock }).start()
})
afterAll(async () => {
  await rx.stop()
  await keys.stop()
  await evil.stop()
  await cw.close()
  await at.close()
  await h.close()
})

let n = 0
beforeEach(async () => {
  org = await newOrg(h, t.partner.id, `Inbound ${++n}`)
  rx.received.length = 0
  keys.received.length = 0
  evil.received.length = 0
})

// biome-ignore lint/suspicious/noExplicitAny: response bodies are read loosely and asserted on
async function api(method: string, p: string, body?: unknown, token = org.token): Promise<any> {
  const r = await h.json(method, p, { token, ...(body !== undefined ? { body } : {}) })
  return r
}

async function source(body: Record<string, unknown>) {
  const r = await api('POST', '/api/v1/webhook-sources', { name: 'src', ...body })
  expect(r.status, JSON.stringify(r.body)).toBe(201)
  return r.body as { id: string; url: string; secret: string; setup: string[] }
}

/** POSTs to a source's URL as the vendor would: raw bytes, the given headers. */
async function send(url: string, body: string | Buffer, headers: Record<string, string> = {}) {
  const u = new URL(url)
  const res = await h.app.request(`${u.pathname}${u.search}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : new Uint8Array(body),
  })
  const text = await res.text()
  return {
    status: res.status,
    text,
    headers: res.headers,
    body: text.startsWith('{') ? JSON.parse(text) : text,
  }
}

async function event(id: string) {
  const r = await api('GET', `/api/v1/webhook-events/${id}`)
  expect(r.status).toBe(200)
  return r.body
}

async function platformWebhook(events: string[]) {
  rx.respond('/platform', { status: 200 })
  const r = await api('POST', '/api/v1/webhooks', {
    name: 'platform',
    url: rx.url('/platform'),
    secret: 'platform-secret',
    events,
  })
  expect(r.status).toBe(201)
}

const delivered = () =>
  rx.at('/platform').map((r) => JSON.parse(r.body) as { type: string; data: Record<string, unknown> })

const sha1 = (secret: string, body: string | Buffer) =>
  `sha1=${createHmac('sha1', secret).update(body).digest('base64')}`
const cwSign = (key: string, body: string | Buffer) =>
  createHmac('sha256', createHash('sha256').update(key).digest()).update(body).digest('base64')

async function connectPsa(provider: 'connectwise' | 'autotask', extra: Record<string, string> = {}) {
  const s = provider === 'connectwise' ? cw : at
  const r = await api('POST', '/api/v1/psa/connections', {
    provider,
    name: provider,
    credentials: { ...s.credentials, ...extra },
    settings: automationSettings(provider, s),
  })
  expect(r.status, JSON.stringify(r.body)).toBe(201)
  expect((await api('POST', `/api/v1/psa/connections/${r.body.id}/test`)).body.success).toBe(true)
  return r.body.id as string
}

async function ticketFor(connectionId: string, alertId: string) {
  await api('POST', '/api/v1/events', { type: 'alert.triggered', data: alertData(alertId) })
  await h.worker.drain()
  const [m] = await h.ctx.db.query<{ external_ticket_id: string; status: string }>(
    'SELECT external_ticket_id, status FROM psa_ticket_mappings WHERE connection_id = $1 AND alert_id = $2',
    [connectionId, alertId],
  )
  expect(m?.external_ticket_id).toBeTruthy()
  return m as { external_ticket_id: string; status: string }
}

const mappingStatus = async (connectionId: string, ticketId: string) =>
  (
    await h.ctx.db.query<{ status: string }>(
      'SELECT status FROM psa_ticket_mappings WHERE connection_id = $1 AND external_ticket_id = $2',
      [connectionId, ticketId],
    )
  )[0]?.status

describe('documented test vectors', () => {
  const req = (body: Buffer | string, headers: Record<string, string>): InboundRequest => ({
    body: Buffer.from(body),
    headers,
    query: {},
  })

  it('Autotask: the computed vector verifies; one changed byte does not', () => {
    const body =
      '{"Action":"Create","Guid":"a1da62a4-2c49-40a8-8183-69994ce5b3eb","EntityType":"Ticket","Id":351181,"Fields":{"TicketNumber":"T20250915.0001"},"EventTime":"2025-09-15T14:57:50Z","SequenceNumber":1,"PersonId":30691780}'
    const ctx = { secrets: ['test-secret-key'], now: new Date() }
    const headers = { 'x-hook-signature': 'sha1=02QVqjN/QURNucB0Wv+9CyoRUhM=' }
    expect(autotaskInbound.verify(req(body, headers), ctx)).toMatchObject({ result: 'ok' })
    expect(autotaskInbound.verify(req(`${body} `, headers), ctx)).toMatchObject({
      result: 'reject',
      errorClass: 'signature_mismatch',
    })
  })

  it('ConnectWise: the cloud and custom-origin vectors and the captured fixtures verify with the cached key', async () => {
    const cache = new Map<string, { value: string; expires: number }>()
    const now = new Date()
    const base = { secrets: [], now, env: h.ctx as never, cache }
    const cases: [string | Buffer, string, string | undefined][] = [
      [
        '{"ProductInstanceId":"instance-1","Type":"ticket","ID":123,"Metadata":{"key_url":"https://api-na.myconnectwise.net/v4_6_release/system/callbackkey/index.rails?id=test"}}',
        'Npzr+jGnIkoiCIYBpg0euaup9wJC89yWJBlgfSEvYHs=',
        undefined,
      ],
      [
        '{"ProductInstanceId":"instance-1","Type":"ticket","ID":123,"Metadata":{"key_url":"https://cw.example.com/v4_6_release//system/callbackkey/index.rails?id=test"}}',
        'TX+N5PExxWA3sNKCV/dmlXgm575eAPRLgwM/S9Ywuec=',
        'https://cw.example.com',
      ],
      [fixture('contact-update.json'), 'N2rfTC6bE723vlHgmjvZa35vDoGJ/nv1YlVtrHjx8WQ=', undefined],
      [fixture('contact-delete.json'), '8Ku4KaS21dKkeSZfgAeBWRcdKxvmeZFzcolLdg5hqV4=', undefined],
    ]
    for (const [body, signature, site] of cases) {
      const keyUrl = JSON.parse(body.toString()).Metadata.key_url as string
      cache.set(keyUrl, { value: 'test-signing-key', expires: now.getTime() + 60_000 })
      const integration = site ? { publicCredentials: { siteUrl: site } } : undefined
      const r = req(body, { 'x-content-signature': signature })
      expect(connectwiseInbound.verify(r, { secrets: [], now, integration })).toEqual({ result: 'defer' })
      expect(await connectwiseInbound.verifyDeferred?.(r, { ...base, integration })).toMatchObject({
        result: 'ok',
      })
      const trailing = req(Buffer.concat([Buffer.from(body), Buffer.from(' ')]), {
        'x-content-signature': signature,
      })
      expect(await connectwiseInbound.verifyDeferred?.(trailing, { ...base, integration })).toMatchObject({
        result: 'reject',
        errorClass: 'signature_mismatch',
      })
    }
  })

  it('ConnectWise key URLs: cloud hosts and the configured origin only', () => {
    const site = { publicCredentials: { siteUrl: 'https://cw.example.com' } }
    expect(
      keyUrlProblem(
        'https://api-na.myconnectwise.net/v4_6_release/system/callbackkey/index.rails',
        undefined,
      ),
    ).toBeUndefined()
    expect(
      keyUrlProblem('https://cw.example.com/v4_6_release//system/callbackkey/index.rails?id=test', site),
    ).toBeUndefined()
    for (const bad of [
      'http://cw.example.com/key',
      'https://user:pass@cw.example.com/key',
      'https://cw.example.com/key#fragment',
      'not a url',
      'https://cw.example.com.evil.test/key',
      'https://cw.example.com:444/key',
      'https://evil.myconnectwise.net/key',
      'http://api-na.myconnectwise.net/key',
      'https://127.0.0.1/key',
    ]) {
      expect(keyUrlProblem(bad, site), bad).toBeDefined()
    }
    expect(keyUrlProblem('https://cw.example.com/key', undefined)).toMatch(/no integration is linked/)
  })
})

describe('webhook sources', () => {
  it('creates a source with its URL and secret once, scoped to the organization, audited', async () => {
    const s = await source({
      provider: 'autotask',
      name: 'Autotask tickets',
      eventTypes: ['psa.ticket.updated'],
    })
    expect(s.url).toMatch(new RegExp(`^${PUBLIC_URL}/hooks/[A-Za-z0-9_-]{24}$`))
    expect(s.secret).toMatch(/^pbs_[A-Za-z0-9_-]{32}$/)
    expect(s.setup.join('\n')).toContain(s.url)
    expect(s.setup.join('\n')).toContain(s.secret)
    const got = await api('GET', `/api/v1/webhook-sources/${s.id}`)
    expect(got.body).toMatchObject({
      id: s.id,
      provider: 'autotask',
      url: s.url,
      eventTypes: ['psa.ticket.updated'],
    })
    expect(JSON.stringify(got.body)).not.toContain(s.secret)
    const listed = await api('GET', '/api/v1/webhook-sources')
    expect(listed.body.data.map((x: { id: string }) => x.id)).toEqual([s.id])
    expect(JSON.stringify(listed.body)).not.toContain(s.secret)
    expect((await api('GET', `/api/v1/webhook-sources/${s.id}`, undefined, t.orgCToken)).status).toBe(404)
    const stored = await h.ctx.db.query<{ secret: string }>(
      'SELECT secret FROM webhook_sources WHERE id = $1',
      [s.id],
    )
    expect(stored[0]?.secret).toMatch(/^pb1:/)
    const audit = await api('GET', `/api/v1/audit-logs?orgId=${org.id}`)
    expect(audit.body.data.map((a: { action: string }) => a.action)).toContain('webhook_source.create')
    expect(JSON.stringify(audit.body)).not.toContain(s.secret)
  })

  it('refuses unknown providers, event types and integrations of another provider with 422', async () => {
    const bad = await api('POST', '/api/v1/webhook-sources', { provider: 'nope', name: 'x' })
    expect(bad.status).toBe(422)
    expect(bad.body.error).toContain('"nope" cannot send webhooks')
    const badType = await api('POST', '/api/v1/webhook-sources', {
      provider: 'generic',
      name: 'x',
      eventTypes: ['no.such'],
    })
    expect(badType.status).toBe(422)
    expect(badType.body.error).toContain('eventTypes.0')
    const cwId = await connectPsa('connectwise')
    const wrong = await api('POST', '/api/v1/webhook-sources', {
      provider: 'autotask',
      name: 'x',
      integrationId: cwId,
    })
    expect(wrong.status).toBe(422)
    expect(wrong.body.error).toContain('is a connectwise integration')
  })

  it('builds the URL from the request when PATCHBAY_PUBLIC_URL is not set', async () => {
    const plain = await createHarness()
    try {
      const r = await plain.json('POST', '/api/v1/webhook-sources', {
        body: {
          provider: 'generic',
          name: 'x',
          orgId: (await plain.json('POST', '/api/v1/orgs', { body: { name: 'o' } })).body.id,
        },
      })
      expect(r.status).toBe(201)
      expect(r.body.url).toMatch(/^http:\/\/localhost\/hooks\//)
    } finally {
      await plain.close()
    }
  })

  it('rotation returns a new secret; the old one verifies for 24 hours more, then not', async () => {
    const s = await source({ provider: 'autotask' })
    const body = JSON.stringify({ Action: 'Update', EntityType: 'Contact', Id: 1, Fields: {} })
    const rotated = await api('POST', `/api/v1/webhook-sources/${s.id}/rotate-secret`)
    expect(rotated.status).toBe(200)
    expect(rotated.body.secret).not.toBe(s.secret)
    expect(rotated.body.url).toBe(s.url)
    expect(rotated.body.previousSecretValidUntil).toBe(
      new Date(h.clock.now().getTime() + 24 * 3_600_000).toISOString(),
    )
    expect((await send(s.url, body, { 'x-hook-signature': sha1(s.secret, body) })).status).toBe(202)
    expect((await send(s.url, body, { 'x-hook-signature': sha1(rotated.body.secret, body) })).status).toBe(
      202,
    )
    h.clock.advance(24 * 3_600_000)
    expect((await send(s.url, body, { 'x-hook-signature': sha1(s.secret, body) })).status).toBe(401)
    expect((await send(s.url, body, { 'x-hook-signature': sha1(rotated.body.secret, body) })).status).toBe(
      202,
    )
  })

  it('deleting a source removes its URL and its log', async () => {
    const s = await source({ provider: 'generic' })
    const body = JSON.stringify({ type: 'device.online', data: {} })
    const sig = `sha256=${createHmac('sha256', s.secret).update(body).digest('hex')}`
    expect((await send(s.url, body, { 'x-signature': sig })).status).toBe(202)
    expect((await api('DELETE', `/api/v1/webhook-sources/${s.id}`)).status).toBe(200)
    expect((await send(s.url, body, { 'x-signature': sig })).status).toBe(404)
    expect((await api('GET', `/api/v1/webhook-events?sourceId=${s.id}`)).body.data).toEqual([])
  })
})

describe('Autotask', () => {
  it('a signed ticket update becomes psa.ticket.updated, reaches a webhook, and names the mapping status at once', async () => {
    const connectionId = await connectPsa('autotask')
    await platformWebhook(['psa.ticket.updated'])
    const mapping = await ticketFor(connectionId, 'at-alert-1')
    const s = await source({ provider: 'autotask', integrationId: connectionId })
    const complete = at.picklists.status.find((p) => p.label === at.statuses.resolved)?.value as string
    const body = JSON.stringify({
      Action: 'Update',
      Guid: 'a1da62a4-2c49-40a8-8183-69994ce5b3eb',
      EntityType: 'Ticket',
      Id: Number(mapping.external_ticket_id),
      Fields: { TicketNumber: 'T20250915.0002', Status: complete },
      EventTime: '2025-09-15T14:57:50Z',
      SequenceNumber: 2,
      PersonId: 30691780,
    })
    const res = await send(s.url, body, { 'x-hook-signature': sha1(s.secret, body) })
    expect(res.status).toBe(202)
    expect((await event(res.body.id)).status).toBe('received')
    await jobs.runDue()
    const e = await event(res.body.id)
    expect(e).toMatchObject({ status: 'processed', stage: 'apply', failure: null })
    expect(e.platformEvents).toEqual([{ id: expect.stringMatching(/^whe:/), type: 'psa.ticket.updated' }])
    expect(e.attempts.map((a: { stage: string; ok: boolean }) => `${a.stage}:${a.ok}`)).toEqual([
      'verify:true',
      'parse:true',
      'normalize:true',
      'apply:true',
    ])
    expect(await mappingStatus(connectionId, mapping.external_ticket_id)).toBe(at.statuses.resolved)
    await h.worker.drain()
    expect(delivered()).toEqual([
      expect.objectContaining({
        type: 'psa.ticket.updated',
        data: expect.objectContaining({
          provider: 'autotask',
          ticketId: mapping.external_ticket_id,
          status: complete,
        }),
      }),
    ])
  })

  it('a forged signature is refused with 401, without storing the body or any side effect, and counted', async () => {
    const s = await source({ provider: 'autotask' })
    const body = JSON.stringify({ Action: 'Update', EntityType: 'Ticket', Id: 5, Fields: { Status: '5' } })
    const res = await send(s.url, body, { 'x-hook-signature': sha1('not-the-secret', body) })
    expect(res.status).toBe(401)
    expect(res.body.error).toContain('X-Hook-Signature'.toLowerCase())
    const list = await api('GET', `/api/v1/webhook-events?sourceId=${s.id}`)
    expect(list.body.data).toHaveLength(1)
    expect(list.body.data[0]).toMatchObject({
      status: 'rejected',
      stage: 'verify',
      preview: null,
      failure: {
        stage: 'verify',
        errorClass: 'signature_mismatch',
        suggestion: expect.stringContaining('The secret configured in Autotask differs'),
      },
    })
    expect((await event(list.body.data[0].id)).body).toBeNull()
    expect((await api('GET', `/api/v1/webhook-sources/${s.id}`)).body.rejectedCount).toBe(1)
    const queued = await h.ctx.db.query(
      "SELECT id FROM jobs WHERE kind = 'inbound.process' AND payload->>'orgId' = $1",
      [org.id],
    )
    expect(queued).toHaveLength(0)
  })

  it('rejections past the limit in a minute are answered 429 and not logged', async () => {
    const s = await source({ provider: 'autotask' })
    const statuses: number[] = []
    for (let i = 0; i < 5; i++)
      statuses.push((await send(s.url, '{}', { 'x-hook-signature': 'sha1=AAAA' })).status)
    expect(statuses).toEqual([401, 401, 401, 429, 429])
    expect((await api('GET', `/api/v1/webhook-events?sourceId=${s.id}`)).body.data).toHaveLength(3)
    h.clock.advance(60_000)
    expect((await send(s.url, '{}', { 'x-hook-signature': 'sha1=AAAA' })).status).toBe(401)
    expect((await api('GET', `/api/v1/webhook-sources/${s.id}`)).body.rejectedCount).toBe(6)
  })

  it('an oversized body is refused with 413 and nothing is stored', async () => {
    const s = await source({ provider: 'autotask' })
    const body = JSON.stringify({ pad: 'x'.repeat(5000) })
    const res = await send(s.url, body, { 'x-hook-signature': sha1(s.secret, body) })
    expect(res.status).toBe(413)
    expect((await api('GET', `/api/v1/webhook-events?sourceId=${s.id}`)).body.data).toEqual([])
  })
})

describe('ConnectWise', () => {
  const KEY_PATH = '/v4_6_release//system/callbackkey/index.rails'

  async function setup() {
    keys.respond(KEY_PATH.split('?')[0] as string, {
      status: 200,
      body: '{"signing_key": "test-signing-key"}',
    })
    const connectionId = await connectPsa('connectwise', { siteUrl: keys.url('') })
    const s = await source({ provider: 'connectwise', integrationId: connectionId })
    return { connectionId, s }
  }

  const callback = (ticketId: string, keyUrl: string, status = 'Resolved') =>
    JSON.stringify({
      Action: 'updated',
      CallbackObjectRecId: 26604,
      CompanyId: 'Cobalt',
      Entity: JSON.stringify({
        id: Number(ticketId),
        summary: 'Disk almost full',
        status: { id: 3, name: status },
      }),
      FromUrl: 'cw-keys.test',
      ID: Number(ticketId),
      MemberId: 'Aurasell',
      MessageId: `msg-${ticketId}-${status}`,
      Metadata: { key_url: keyUrl },
      Type: 'ticket',
    })

  it('a signed ticket callback fetches the key once, becomes psa.ticket.updated and moves the mapping', async () => {
    const { connectionId, s } = await setup()
    await platformWebhook(['psa.ticket.updated'])
    const mapping = await ticketFor(connectionId, 'cw-alert-1')
    const keyUrl = `${keys.url(KEY_PATH)}?companyName=Cobalt&id=e17e6674`
    const body = callback(mapping.external_ticket_id, keyUrl)
    const res = await send(s.url, body, { 'x-content-signature': cwSign('test-signing-key', body) })
    expect(res.status).toBe(202)
    expect(keys.received).toHaveLength(0)
    await jobs.runDue()
    expect(await event(res.body.id)).toMatchObject({
      status: 'processed',
      verified: expect.stringContaining('key_url'),
    })
    expect(keys.received).toHaveLength(1)
    expect(await mappingStatus(connectionId, mapping.external_ticket_id)).toBe('Resolved')
    const again = callback(mapping.external_ticket_id, keyUrl, 'In Progress')
    const res2 = await send(s.url, again, { 'x-content-signature': cwSign('test-signing-key', again) })
    await jobs.runDue()
    expect((await event(res2.body.id)).status).toBe('processed')
    expect(keys.received).toHaveLength(1)
    expect(await mappingStatus(connectionId, mapping.external_ticket_id)).toBe('In Progress')
    await h.worker.drain()
    expect(delivered().map((d) => d.data.status)).toEqual(['Resolved', 'In Progress'])
  })

  it('the captured contact fixtures verify and produce no platform event', async () => {
    const { s } = await setup()
    const raw = fixture('contact-create.json')
      .toString()
      .replace('{{testServerURL}}', `http://cw-keys.test:${keys.port}`)
    keys.respond('/v2025_1//system/callbackkey/index.rails', {
      status: 200,
      body: '{"signing_key": "test-signing-key"}',
    })
    const res = await send(s.url, raw, { 'x-content-signature': cwSign('test-signing-key', raw) })
    expect(res.status).toBe(202)
    await jobs.runDue()
    const e = await event(res.body.id)
    expect(e, JSON.stringify(e.failure)).toMatchObject({ status: 'processed', platformEvents: [] })
  })

  it('a key_url outside the allow-list is never fetched', async () => {
    const { s } = await setup()
    evil.respond(KEY_PATH, { status: 200, body: '{"signing_key": "test-signing-key"}' })
    for (const keyUrl of [
      `${evil.url(KEY_PATH)}?id=1`,
      'https://evil.myconnectwise.net/key',
      `http://127.0.0.1:${keys.port}${KEY_PATH}`,
    ]) {
      const body = callback('1', keyUrl)
      const res = await send(s.url, body, { 'x-content-signature': cwSign('test-signing-key', body) })
      expect(res.status, keyUrl).toBe(401)
      expect(res.body.error).toContain('key_url host not allowed')
    }
    await jobs.runDue()
    expect(evil.received).toHaveLength(0)
    expect(keys.received).toHaveLength(0)
    const [rejected] = (await api('GET', `/api/v1/webhook-events?sourceId=${s.id}&limit=1`)).body.data
    expect(rejected.failure.suggestion).toContain("set the integration's site URL")
  })

  it('an unsigned callback is refused before any lookup; a bad signature is rejected after the key fetch and its body dropped', async () => {
    const { s } = await setup()
    const body = callback('77', `${keys.url(KEY_PATH)}?id=2`)
    expect((await send(s.url, body)).status).toBe(401)
    expect(keys.received).toHaveLength(0)
    const res = await send(s.url, body, { 'x-content-signature': cwSign('wrong-key', body) })
    expect(res.status).toBe(202)
    await jobs.runDue()
    const e = await event(res.body.id)
    expect(e).toMatchObject({ status: 'rejected', body: null, failure: { errorClass: 'signature_mismatch' } })
    expect(keys.received).toHaveLength(1)
  })

  it('a key URL that keeps failing is retried 3 times with backoff, dead-lettered with analysis, and replay after the fix processes it', async () => {
    const { connectionId, s } = await setup()
    const mapping = await ticketFor(connectionId, 'cw-alert-dlq')
    keys.respond('/flaky', { status: 503, body: 'maintenance' })
    const body = callback(mapping.external_ticket_id, keys.url('/flaky'))
    const res = await send(s.url, body, { 'x-content-signature': cwSign('test-signing-key', body) })
    expect(res.status).toBe(202)
    await jobs.runDue()
    expect((await event(res.body.id)).status).toBe('retrying')
    for (const wait of [30_000, 60_000, 120_000]) {
      h.clock.advance(wait - 1)
      expect((await jobs.runDue()).kinds).not.toContain('inbound.process')
      h.clock.advance(1)
      expect((await jobs.runDue()).kinds).toContain('inbound.process')
    }
    const failed = await event(res.body.id)
    expect(failed).toMatchObject({
      status: 'failed',
      stage: 'verify',
      failure: {
        stage: 'verify',
        errorClass: 'key_fetch_failed',
        error: 'fetching key_url answered 503',
        suggestion: expect.stringContaining('could not be fetched'),
      },
    })
    expect(failed.attempts.filter((a: { ok: boolean }) => !a.ok)).toHaveLength(4)
    expect(keys.at('/flaky')).toHaveLength(4)
    expect(
      (await api('GET', `/api/v1/webhook-events?status=failed&sourceId=${s.id}`)).body.data,
    ).toHaveLength(1)

    keys.respond('/flaky', { status: 200, body: '{"signing_key": "test-signing-key"}' })
    const replay = await api('POST', `/api/v1/webhook-events/${res.body.id}/replay`)
    expect(replay.status).toBe(202)
    expect(replay.body.replayOf).toBe(res.body.id)
    await jobs.runDue()
    expect(await event(replay.body.id)).toMatchObject({ status: 'processed', replayOf: res.body.id })
    expect(await mappingStatus(connectionId, mapping.external_ticket_id)).toBe('Resolved')
  })

  it('a change to a ticket Patchbay did not create fails at apply with the analysis', async () => {
    const { s } = await setup()
    const body = callback('999123', `${keys.url(KEY_PATH)}?id=3`)
    const res = await send(s.url, body, { 'x-content-signature': cwSign('test-signing-key', body) })
    await jobs.runDue()
    expect(await event(res.body.id)).toMatchObject({
      status: 'failed',
      stage: 'apply',
      platformEvents: null,
      failure: {
        errorClass: 'no_mapping',
        error: 'no ticket mapping or change control for ConnectWise PSA ticket 999123',
        suggestion: expect.stringContaining(
          'the ticket was not created by Patchbay nor linked to a change control',
        ),
      },
    })
  })
})

describe('Microsoft Graph', () => {
  it('answers the validationToken handshake with the decoded token as text/plain, storing nothing', async () => {
    const s = await source({ provider: 'msgraph' })
    const started = performance.now()
    const res = await send(
      `${s.url}?validationToken=Validation%3A%20Testing%20client%20application%20%3Cb%3E`,
      '',
    )
    expect(performance.now() - started).toBeLessThan(10_000)
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/)
    expect(res.text).toBe('Validation: Testing client application <b>')
    expect((await api('GET', `/api/v1/webhook-events?sourceId=${s.id}`)).body.data).toEqual([])
  })

  it('notifications with the right clientState become m365 events; a wrong clientState is refused', async () => {
    const s = await source({ provider: 'msgraph' })
    await platformWebhook(['m365.*'])
    const forged = fixture('event-message-created.json')
    expect((await send(s.url, forged)).status).toBe(401)
    const ids: string[] = []
    for (const name of [
      'event-message-created.json',
      'event-message-updated.json',
      'event-message-deleted.json',
    ]) {
      const body = fixture(name)
        .toString()
        .replace('"clientState": "me/messages"', `"clientState": "${s.secret}"`)
      const res = await send(s.url, body)
      expect(res.status).toBe(202)
      ids.push(res.body.id)
    }
    await jobs.runDue()
    await h.worker.drain()
    expect(
      delivered()
        .map((d) => [d.type, d.data.resourceId])
        .sort(),
    ).toEqual([
      ['m365.message.created', 'message_123'],
      ['m365.message.deleted', 'message_798'],
      ['m365.message.updated', 'message_654'],
    ])
  })
})

describe('Datto RMM', () => {
  const alert = (resolved: boolean) =>
    JSON.stringify({
      alertUID: 'd1e2f3',
      alertMessage: 'Disk C: below 5%',
      priority: 'Critical',
      deviceId: 'dev-77',
      hostname: 'SRV-77',
      siteId: 'site-1',
      siteName: 'HQ',
      resolvedAlert: resolved ? 'true' : 'false',
    })

  it('an alert with the secret becomes alert.triggered, opens a PSA ticket and reaches a webhook; its resolution alert.resolved', async () => {
    await connectPsa('connectwise')
    await platformWebhook(['alert.*'])
    const s = await source({ provider: 'datto-rmm' })
    const res = await send(`${s.url}?secret=${s.secret}`, alert(false))
    expect(res.status).toBe(202)
    const stored = await event(res.body.id)
    expect(JSON.stringify(stored)).not.toContain(s.secret)
    await jobs.runDue()
    await h.worker.drain()
    expect(cw.tickets().filter((x) => x.externalRef === 'd1e2f3')).toHaveLength(1)
    const viaHeader = await send(s.url, alert(true), { 'x-patchbay-secret': s.secret })
    expect(viaHeader.status).toBe(202)
    expect(JSON.stringify(await event(viaHeader.body.id))).not.toContain(s.secret)
    await jobs.runDue()
    await h.worker.drain()
    expect(delivered().map((d) => [d.type, d.data.alertId, d.data.severity, d.data.hostname])).toEqual([
      ['alert.triggered', 'd1e2f3', 'critical', 'SRV-77'],
      ['alert.resolved', 'd1e2f3', 'critical', 'SRV-77'],
    ])
  })

  it('no secret, or the wrong one, is refused; a test send with placeholders produces nothing', async () => {
    const s = await source({ provider: 'datto-rmm' })
    expect((await send(s.url, alert(false))).status).toBe(401)
    expect((await send(`${s.url}?secret=wrong`, alert(false))).status).toBe(401)
    const test = JSON.stringify({
      alertUID: '[alert_uid]',
      alertMessage: '[alert_message]',
      siteId: '[site_id]',
    })
    const res = await send(`${s.url}?secret=${s.secret}`, test)
    await jobs.runDue()
    expect(await event(res.body.id)).toMatchObject({ status: 'processed', platformEvents: [] })
  })
})

describe('generic sources', () => {
  it('verifies Standard Webhooks within five minutes and plain HMAC-SHA256; later or unsigned requests are refused', async () => {
    const s = await source({ provider: 'generic' })
    expect(s.secret).toMatch(/^whsec_/)
    await platformWebhook(['device.online'])
    const body = JSON.stringify({ type: 'device.online', id: 'ext-1', data: { deviceId: 'd-1' } })
    const wh = new Webhook(s.secret)
    const sign = (at: Date) => ({
      'webhook-id': 'msg_1',
      'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
      'webhook-signature': wh.sign('msg_1', at, body),
    })
    expect((await send(s.url, body, sign(h.clock.now()))).status).toBe(202)
    expect((await send(s.url, body, sign(new Date(h.clock.now().getTime() - 6 * 60_000)))).status).toBe(401)
    expect((await send(s.url, body)).status).toBe(401)
    const hex = `sha256=${createHmac('sha256', s.secret).update(body).digest('hex')}`
    expect((await send(s.url, body, { 'x-signature': hex })).status).toBe(202)
    await jobs.runDue()
    await h.worker.drain()
    expect(delivered().map((d) => d.type)).toEqual(['device.online', 'device.online'])
  })

  it('an unknown event type fails at normalize at once (no retries) with the analysis', async () => {
    const s = await source({ provider: 'generic' })
    const body = JSON.stringify({ type: 'no.such.type', data: {} })
    const res = await send(s.url, body, {
      'x-signature': `sha256=${createHmac('sha256', s.secret).update(body).digest('hex')}`,
    })
    expect((await jobs.runDue()).kinds).toEqual(['inbound.process'])
    expect(await event(res.body.id)).toMatchObject({
      status: 'failed',
      stage: 'normalize',
      failure: { errorClass: 'unknown_event_type', error: '"no.such.type" is not a platform event type' },
    })
  })
})

describe('event log', () => {
  it('filters by source, provider, status, stage, time and text, pages by cursor, and replays in bulk', async () => {
    const s = await source({ provider: 'generic' })
    const post = async (type: string) => {
      const body = JSON.stringify({ type, data: { marker: `m-${type}` } })
      h.clock.advance(1000)
      return (
        await send(s.url, body, {
          'x-signature': `sha256=${createHmac('sha256', s.secret).update(body).digest('hex')}`,
        })
      ).body.id as string
    }
    const from = h.clock.now()
    const ok1 = await post('device.online')
    const bad1 = await post('nope.one')
    const bad2 = await post('nope.two')
    await jobs.runDue()
    const q = (query: string) => api('GET', `/api/v1/webhook-events?sourceId=${s.id}&${query}`)
    expect((await q('status=failed')).body.data.map((e: { id: string }) => e.id)).toEqual([bad2, bad1])
    expect((await q('status=processed&stage=apply')).body.data.map((e: { id: string }) => e.id)).toEqual([
      ok1,
    ])
    expect((await q('q=m-nope.two')).body.data.map((e: { id: string }) => e.id)).toEqual([bad2])
    expect((await q('provider=autotask')).body.data).toEqual([])
    expect((await q(`from=${new Date(from.getTime() + 1500).toISOString()}`)).body.data).toHaveLength(2)
    const page1 = await q('limit=2')
    expect(page1.body.data.map((e: { id: string }) => e.id)).toEqual([bad2, bad1])
    const page2 = await q(`limit=2&cursor=${page1.body.next}`)
    expect(page2.body).toEqual({ data: [expect.objectContaining({ id: ok1 })], next: null })
    expect((await q('cursor=bogus')).status).toBe(422)
    const detail = await event(bad1)
    expect(detail.headers['x-signature']).toMatch(/^sha256=/)
    expect(detail.body).toContain('nope.one')
    expect(detail.attempts.at(-1)).toMatchObject({
      stage: 'normalize',
      ok: false,
      durationMs: expect.any(Number),
    })

    const bulk = await api('POST', '/api/v1/webhook-events/replay', { sourceId: s.id })
    expect(bulk.status).toBe(202)
    expect(bulk.body.count).toBe(2)
    const replays = await q('status=received')
    expect(replays.body.data.map((e: { replayOf: string }) => e.replayOf).sort()).toEqual([bad1, bad2].sort())
    const foreign = await api('GET', `/api/v1/webhook-events?sourceId=${s.id}`, undefined, t.orgCToken)
    expect(foreign.body).toEqual({ data: [], next: null })
    expect((await api('GET', `/api/v1/webhook-events/${ok1}`, undefined, t.orgCToken)).status).toBe(404)
    expect((await api('POST', `/api/v1/webhook-events/${bad1}/replay`, undefined, t.orgCToken)).status).toBe(
      404,
    )
  })
})

describe('durability', () => {
  it('a worker that dies mid-pipeline loses nothing: another takes the job over after its lease, once', async () => {
    await jobs.runDue()
    const s = await source({ provider: 'generic' })
    await platformWebhook(['device.offline'])
    const body = JSON.stringify({ type: 'device.offline', data: { deviceId: 'd-9' } })
    const res = await send(s.url, body, {
      'x-signature': `sha256=${createHmac('sha256', s.secret).update(body).digest('hex')}`,
    })
    // A worker claimed the job and was killed before finishing it: its lease holds the job for 30 s.
    const claimed = await claimJobs(h.ctx.db.orm, {
      workerId: 'dead-worker',
      now: h.clock.now(),
      limit: 10,
      leases: { 'inbound.process': 30_000 },
      groupRoom: {},
      groupLimit: 4,
    })
    expect(claimed.map((j) => j.kind)).toEqual(['inbound.process'])
    expect((await event(res.body.id)).status).toBe('received')
    // Only the inbound jobs matter here: periodic tasks (e.g. the minutely actions.expire) may fall due meanwhile.
    const inboundDue = async () => (await jobs.runDue()).kinds.filter((k) => k.startsWith('inbound.'))
    h.clock.advance(29_999)
    expect(await inboundDue()).toEqual([])
    h.clock.advance(1)
    expect(await inboundDue()).toEqual(['inbound.process'])
    const e = await event(res.body.id)
    expect(e.status).toBe('processed')
    // A crash after the ingest but before the event was marked processed: the retried apply ingests nothing twice.
    await h.ctx.db.query(
      "UPDATE webhook_events SET status = 'processing', platform_events = NULL WHERE id = $1",
      [res.body.id],
    )
    await h.ctx.db.query(
      "UPDATE jobs SET status = 'pending', run_at = $2, attempts = 0 WHERE kind = 'inbound.process' AND payload->>'eventId' = $1",
      [res.body.id, h.clock.now()],
    )
    expect((await jobs.runDue()).kinds).toEqual(['inbound.process'])
    expect((await event(res.body.id)).platformEvents).toEqual(e.platformEvents)
    await h.worker.drain()
    expect(delivered().map((d) => d.type)).toEqual(['device.offline'])
  })
})
