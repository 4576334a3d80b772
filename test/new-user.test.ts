// What a new user tripped over (issue 19): each item has its own test here or beside the feature it concerns.
import { execFile } from 'node:child_process'
import fs from 'node:fs'
import type { AddressInfo } from 'node:net'
import { promisify } from 'node:util'
import { serve } from '@hono/node-server'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { TARGET_TYPES } from '../src/delivery/targets.ts'
import { JobService } from '../src/jobs/service.ts'
import { transports, WIRED_JOBS } from '../src/wiring.ts'
import { createHarness, type Harness, seedTenants } from './harness.ts'
import { Receiver } from './standins/receiver.ts'
import { type SlackStandin, startSlackStandin } from './standins/slack.ts'
import { ZendeskStandIn } from './standins/zendesk.ts'

let h: Harness
let t: Awaited<ReturnType<typeof seedTenants>>
let slack: SlackStandin
let rx: Receiver
beforeAll(async () => {
  h = await createHarness()
  t = await seedTenants(h)
  slack = await startSlackStandin()
  rx = await new Receiver().start()
})
afterAll(async () => {
  await rx.stop()
  await slack.close()
  await h.close()
})

describe('delivery recovery filters', () => {
  it('refuses an unknown target type with 422 instead of queueing nothing', async () => {
    const res = await h.json('POST', '/api/v1/deliveries/retry', {
      token: t.orgAToken,
      body: { targetType: 'bogus' },
    })
    expect(res.status).toBe(422)
    expect(res.body.details).toEqual([{ path: 'targetType', message: expect.stringContaining('webhook') }])
    const list = await h.json('GET', '/api/v1/deliveries?targetType=bogus', { token: t.orgAToken })
    expect(list.status).toBe(422)
    expect(
      transports(h.ctx)
        .map((x) => x.type)
        .sort(),
    ).toEqual([...TARGET_TYPES].sort())
    for (const kind of TARGET_TYPES) {
      const ok = await h.json('POST', '/api/v1/deliveries/retry', {
        token: t.orgAToken,
        body: { targetType: kind },
      })
      expect(ok.status, kind).toBe(202)
    }
  })
})

describe('events without data', () => {
  it('are documented as optional, and stored and shown with data: {}', async () => {
    const doc = (await h.json('GET', '/api/v1/openapi.json')).body
    const event = doc.components.schemas.Event
    expect(event.required).not.toContain('data')
    expect(event.properties.data.description).toContain('data: {}')
    const res = await h.json('POST', '/api/v1/events', {
      token: t.orgAToken,
      body: { type: 'device.online', id: 'no-data' },
    })
    expect(res.status).toBe(202)
    const hook = await h.json('POST', '/api/v1/webhooks', {
      token: t.orgAToken,
      body: { name: 'h', url: 'https://receiver.test/x', events: ['device.online'] },
    })
    expect(hook.status).toBe(201)
    await h.json('POST', '/api/v1/events', {
      token: t.orgAToken,
      body: { type: 'device.online', id: 'no-data-2' },
    })
    const [d] = (await h.json('GET', `/api/v1/webhooks/${hook.body.id}/deliveries`, { token: t.orgAToken }))
      .body.data
    expect(d).toMatchObject({ eventId: 'no-data-2', payload: {} })
  })
})

describe('chat channels created through POST /integrations', () => {
  it("get the chat doors' default notifyOn (critical and warning alerts), unless they say otherwise", async () => {
    const viaIntegrations = await h.json('POST', '/api/v1/integrations', {
      token: t.orgAToken,
      body: {
        provider: 'slack',
        name: 'ops',
        enabled_capabilities: ['send_notification'],
        credentials: slack.credentials(slack.addWebhook()),
      },
    })
    expect(viaIntegrations.status, JSON.stringify(viaIntegrations.body)).toBe(201)
    expect(viaIntegrations.body.data.settings).toEqual({ notifyOn: ['alert.critical', 'alert.warning'] })
    const viaSettings = await h.json('POST', '/api/v1/integrations/slack', {
      token: t.orgAToken,
      body: slack.credentials(slack.addWebhook()),
    })
    expect(viaSettings.status, JSON.stringify(viaSettings.body)).toBe(200)
    expect(viaSettings.body.data.notifyOn).toEqual(['alert.critical', 'alert.warning'])
    const chosen = await h.json('POST', '/api/v1/integrations', {
      token: t.orgAToken,
      body: {
        provider: 'slack',
        name: 'quiet',
        enabled_capabilities: ['send_notification'],
        credentials: slack.credentials(slack.addWebhook()),
        settings: { notifyOn: [] },
      },
    })
    expect(chosen.body.data.settings).toEqual({ notifyOn: [] })
  })
})

const MONITORING_KEY = 'mon-key-0123456789abcdef'

describe('POST /integrations/{id}/test', () => {
  it('is in the OpenAPI document, verifies the stored credentials and records the outcome', async () => {
    const doc = (await h.json('GET', '/api/v1/openapi.json')).body
    expect(doc.paths['/api/v1/integrations/{id}/test']?.post).toBeDefined()
    const saved = await h.json('PUT', '/api/v1/integrations/monitoring', {
      token: t.orgAToken,
      body: { endpoint: rx.url('/synthesq-test'), apiKey: MONITORING_KEY },
    })
    expect(saved.status, JSON.stringify(saved.body)).toBe(200)
    const id = saved.body.integration.id as string
    expect(saved.body.integration.status).toBe('pending_verify')

    rx.respond('/synthesq-test', { status: 401, body: 'bad key' })
    const refused = await h.json('POST', `/api/v1/integrations/${id}/test`, { token: t.orgAToken })
    expect(refused.status).toBe(200)
    expect(refused.body).toMatchObject({
      success: false,
      message: expect.stringContaining('401'),
      data: { ok: false, vendor_status: 401, failure: 'vendor', integration: { id, status: 'error' } },
    })
    expect(
      rx.at('/synthesq-test').at(-1)?.headers.authorization ?? rx.at('/synthesq-test').at(-1)?.body,
    ).toBeDefined()

    rx.respond('/synthesq-test', { status: 202, body: 'ok' })
    const ok = await h.json('POST', `/api/v1/integrations/${id}/test`, { token: t.orgAToken })
    expect(ok.body).toMatchObject({
      success: true,
      data: {
        ok: true,
        error: null,
        vendor_status: 202,
        failure: null,
        integration: { id, status: 'active', last_tested_at: h.clock.now().toISOString() },
      },
    })
    const audit = await h.json('GET', '/api/v1/audit-logs?action=integration.test', { token: t.orgAToken })
    expect(audit.body.data.length).toBeGreaterThanOrEqual(2)
    // Another organization's key cannot test it.
    const other = await h.json('POST', `/api/v1/integrations/${id}/test`, { token: t.orgCToken })
    expect(other.status).toBe(404)
  })
})

describe('test results say what failed, the same on every door', () => {
  it('reports dns with no vendor status when the host does not resolve, and the vendor status on success', async () => {
    // The harness resolves only *.test names: this host resolves to nothing, as a typo'd domain would.
    const saved = await h.json('PUT', '/api/v1/integrations/monitoring', {
      token: t.orgAToken,
      body: { endpoint: 'https://ingest.nowhere.example/v1', apiKey: MONITORING_KEY },
    })
    expect(saved.status, JSON.stringify(saved.body)).toBe(200)
    const dns = await h.json('POST', '/api/v1/integrations/monitoring/test', { token: t.orgAToken })
    expect(dns.body).toMatchObject({
      success: false,
      test: { ok: false, vendorStatus: null, failure: 'dns', retryable: true },
    })
    const byId = await h.json('POST', `/api/v1/integrations/${saved.body.integration.id}/test`, {
      token: t.orgAToken,
    })
    expect(byId.body.data).toMatchObject({ ok: false, vendor_status: null, failure: 'dns' })

    const unreachable = await h.json('PUT', '/api/v1/integrations/monitoring', {
      token: t.orgAToken,
      body: { endpoint: 'http://closed.test:1/v1', apiKey: MONITORING_KEY },
    })
    expect(unreachable.status).toBe(200)
    const refused = await h.json('POST', '/api/v1/integrations/monitoring/test', { token: t.orgAToken })
    expect(refused.body.test).toMatchObject({ ok: false, vendorStatus: null, failure: 'connect' })

    rx.respond('/door-ok', { status: 200, body: 'ok' })
    await h.json('PUT', '/api/v1/integrations/monitoring', {
      token: t.orgAToken,
      body: { endpoint: rx.url('/door-ok'), apiKey: MONITORING_KEY },
    })
    const ok = await h.json('POST', '/api/v1/integrations/monitoring/test', { token: t.orgAToken })
    expect(ok.body.test).toMatchObject({ ok: true, vendorStatus: 200, failure: null })

    // Chat answers the same way: the platform's status on success, what failed when none answered.
    const chat = await h.json('POST', '/api/v1/integrations/slack', {
      token: t.orgAToken,
      body: { ...slack.credentials(slack.addWebhook()), test: true },
    })
    expect(chat.body.test).toMatchObject({ ok: true, vendorStatus: 200, failure: null })
    const chatDns = await h.json('POST', '/api/v1/integrations/slack', {
      token: t.orgAToken,
      body: {
        ...slack.credentials(slack.addWebhook()),
        baseUrl: 'https://hooks.nowhere.example',
        test: true,
      },
    })
    expect(chatDns.body.test).toMatchObject({ ok: false, vendorStatus: null, failure: 'dns' })
  })
})

describe('PATCH /integrations/{id} with credentials on an integration in error', () => {
  it('re-queues verification, even with unchanged credentials (the SynthesQ troubleshooting guide)', async () => {
    const jobs = new JobService(h.ctx, WIRED_JOBS)
    rx.respond('/reverify', { status: 401, body: 'key revoked' })
    const saved = await h.json('PUT', '/api/v1/integrations/monitoring', {
      body: { orgId: t.orgB.id, endpoint: rx.url('/reverify'), apiKey: MONITORING_KEY },
    })
    expect(saved.status, JSON.stringify(saved.body)).toBe(200)
    const id = saved.body.integration.id as string
    await jobs.runDue()
    const failed = await h.json('GET', `/api/v1/integrations/${id}`)
    expect(failed.body.data.status).toBe('error')
    const before = rx.at('/reverify').length

    // The vendor side is fixed; the user sends the same credentials again.
    rx.respond('/reverify', { status: 200, body: 'ok' })
    const patched = await h.json('PATCH', `/api/v1/integrations/${id}`, {
      body: { credentials: { apiKey: MONITORING_KEY } },
    })
    expect(patched.status, JSON.stringify(patched.body)).toBe(200)
    expect(patched.body.data.status).toBe('pending_verify')
    await jobs.runDue()
    expect(rx.at('/reverify').length).toBe(before + 1)
    expect((await h.json('GET', `/api/v1/integrations/${id}`)).body.data.status).toBe('active')

    // On an active integration, unchanged credentials change nothing and queue nothing.
    const again = await h.json('PATCH', `/api/v1/integrations/${id}`, {
      body: { credentials: { apiKey: MONITORING_KEY } },
    })
    expect(again.body.data.status).toBe('active')
    await jobs.runDue()
    expect(rx.at('/reverify').length).toBe(before + 1)
  })
})

describe('every problem of a request at once', () => {
  it('the monitoring door refuses secret-named fields at any depth, with the other problems of the request', async () => {
    const res = await h.json('PUT', '/api/v1/integrations/monitoring', {
      token: t.orgAToken,
      body: {
        endpoint: 'https://monitoring.test/ingest',
        forwardEvents: ['gpu'],
        password: 'hunter2-hunter2',
        nested: { token: 'tok-0123456789', ok: 1 },
        list: [{ clientSecret: 'x' }],
      },
    })
    expect(res.status).toBe(422)
    expect(res.body.details.map((d: { path: string }) => d.path).sort()).toEqual(
      ['forwardEvents.0', 'list.0.clientSecret', 'nested.token', 'password'].sort(),
    )
    expect(
      JSON.stringify(await h.json('GET', '/api/v1/integrations/monitoring', { token: t.orgAToken })),
    ).not.toContain('tok-0123456789')
  })

  it('an unknown field does not hide the other problems (PSA settings)', async () => {
    const res = await h.json('POST', '/api/v1/psa/connections', {
      token: t.orgAToken,
      body: {
        provider: 'connectwise',
        name: 'x',
        credentials: {},
        settings: { bogus: true, defaultBoard: 'A', defaultQueue: 'B' },
      },
    })
    expect(res.status).toBe(422)
    const paths = res.body.details.map((d: { path: string }) => d.path)
    expect(paths).toContain('settings.bogus')
    expect(paths).toContain('settings.defaultQueue')
  })
})

describe('a PSA sync of a connection in error with nothing mapped', () => {
  it('checks the credentials with the vendor and fails in its words instead of reporting completed', async () => {
    const jobs = new JobService(h.ctx, WIRED_JOBS)
    const zd = await new ZendeskStandIn({ clock: h.clock }).start()
    try {
      const created = await h.json('POST', '/api/v1/psa/connections', {
        token: t.orgAToken,
        body: { provider: 'zendesk', name: 'Zendesk in error', credentials: zd.credentials },
      })
      expect(created.status, JSON.stringify(created.body)).toBe(201)
      const id = created.body.id as string
      zd.failNext(401, { times: 10 })
      await jobs.runDue()
      expect((await h.json('GET', `/api/v1/psa/connections/${id}`, { token: t.orgAToken })).body.status).toBe(
        'error',
      )
      const before = zd.requests.length
      const sync = await h.json('POST', `/api/v1/psa/connections/${id}/sync`, { token: t.orgAToken })
      expect(sync.status).toBe(202)
      await jobs.runDue()
      const after = (await h.json('GET', `/api/v1/psa/connections/${id}`, { token: t.orgAToken })).body
      expect(zd.requests.length).toBeGreaterThan(before)
      expect(after.lastSyncStatus).toBe('failed')
      expect(after.lastSyncError).toContain('The PSA connection is in error')
    } finally {
      await zd.close()
    }
  })
})

describe('credential schemas with "one of these groups" rules', () => {
  it('refuse a ServiceNow connection with no authentication, and the providers list shows the rule', async () => {
    const none = await h.json('POST', '/api/v1/psa/connections', {
      token: t.orgAToken,
      body: { provider: 'servicenow', name: 'No auth', credentials: { instance: 'acme' } },
    })
    expect(none.status).toBe(422)
    expect(none.body.details).toContainEqual({
      path: 'credentials',
      message: expect.stringContaining('username and password'),
    })
    const halfBasic = await h.json('POST', '/api/v1/psa/connections', {
      token: t.orgAToken,
      body: { provider: 'servicenow', name: 'Half', credentials: { instance: 'acme', username: 'svc' } },
    })
    expect(halfBasic.status).toBe(422)
    const providers = await h.json('GET', '/api/v1/integrations/providers', { token: t.orgAToken })
    const sn = providers.body.data.find((p: { name: string }) => p.name === 'servicenow')
    expect(sn.credential_rules).toEqual([
      { one_of: [['username', 'password'], ['oauthToken']], description: expect.any(String) },
    ])
  })
})

describe('the README quick start', () => {
  it('creates a partner, an organization and an organization key, as written', async () => {
    const readme = fs.readFileSync(new URL('../README.md', import.meta.url), 'utf8')
    const at = readme.indexOf('<!-- quick-start: run by test/new-user.test.ts -->')
    expect(at).toBeGreaterThan(0)
    const script = (/```sh\n([\s\S]*?)```/.exec(readme.slice(at)) as RegExpExecArray)[1] as string
    const server = serve({ fetch: h.app.fetch, port: 0, hostname: '127.0.0.1' })
    await new Promise((resolve) => server.once('listening', resolve))
    const port = (server.address() as AddressInfo).port
    try {
      const runnable = script
        .replace(/^TOKEN=.*$/m, `TOKEN=${h.systemToken}`)
        .replace('http://127.0.0.1:8080', `http://127.0.0.1:${port}`)
      const { stdout } = await promisify(execFile)('bash', ['-euc', runnable])
      const key = JSON.parse(stdout)
      expect(key).toMatchObject({ scope: 'organization', token: expect.stringMatching(/^pbk_/) })
      const orgs = await h.json('GET', '/api/v1/orgs', { token: key.token })
      expect(orgs.body.data).toEqual([expect.objectContaining({ name: 'Contoso', id: key.orgId })])
    } finally {
      await new Promise((resolve) => server.close(resolve))
    }
  })
})
