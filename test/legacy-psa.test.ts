import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { JobService } from '../src/jobs/service.ts'
import { WIRED_JOBS } from '../src/wiring.ts'
import { storedPlainText } from './fixtures/stored-text.ts'
import { createHarness, type Harness, seedTenants } from './harness.ts'
import { ConnectWiseStandIn, JiraStandIn } from './standins/index.ts'

let h: Harness
let t: Awaited<ReturnType<typeof seedTenants>>
let jobs: JobService
let cw: ConnectWiseStandIn
let jira: JiraStandIn
const responses: string[] = []

beforeAll(async () => {
  h = await createHarness()
  t = await seedTenants(h)
  jobs = new JobService(h.ctx, WIRED_JOBS)
  cw = await new ConnectWiseStandIn({ clock: h.clock }).start()
  jira = await new JiraStandIn({ clock: h.clock }).start()
})
afterAll(async () => {
  await Promise.all([cw.close(), jira.close()])
  await h.close()
})

let org: { id: string; token: string }
beforeEach(async () => {
  cw.resetRequests()
  jira.resetRequests()
  const created = await h.json('POST', '/api/v1/orgs', { body: { name: 'Contoso', partnerId: t.partner.id } })
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

const API = '/api/v1/integrations/psa'

describe('legacy PSA settings', () => {
  it('saves a ConnectWise connection, shows it without secrets, and tests it against the vendor', async () => {
    expect((await call('GET', API)).body).toEqual({})
    const saved = await call('POST', API, {
      provider: 'connectwise',
      credentials: cw.credentials,
      settings: { defaultBoard: 'Service Board', defaultStatus: 'New' },
    })
    expect(saved.status).toBe(200)
    expect(saved.body).toMatchObject({
      success: true,
      data: {
        provider: 'connectwise',
        hasCredentials: true,
        settings: { defaultBoard: 'Service Board', defaultStatus: 'New' },
        status: 'pending_verify',
        credentials: { companyId: cw.credentials.companyId, privateKey: null },
      },
    })
    const test = await call('POST', `${API}/test`)
    expect(test.body).toMatchObject({
      success: true,
      message: 'Credentials verified',
      test: { ok: true },
      integration: { status: 'active' },
    })
    expect(cw.requests.length).toBeGreaterThan(0)
    expect(cw.requests.every((r) => r.path.startsWith('/v4_6_release/apis/3.0'))).toBe(true)
    const got = await call('GET', API)
    expect(got.body).toMatchObject({
      id: saved.body.data.id,
      status: 'active',
      lastTestedAt: expect.any(String),
    })

    // PUT changes it in place; a wrong private key fails the test with ConnectWise's own message.
    const put = await call('PUT', API, {
      credentials: { privateKey: 'wrong-private-key-000' },
      settings: { defaultBoard: 'MSP Board' },
    })
    expect(put.body).toMatchObject({
      success: true,
      data: { id: saved.body.data.id, settings: { defaultBoard: 'MSP Board' }, status: 'pending_verify' },
    })
    const bad = await call('POST', `${API}/test`)
    expect(bad.body).toMatchObject({ success: false, test: { ok: false, vendorStatus: 401 } })
    expect(bad.body.message).toMatch(/^ConnectWise answered 401/)
    expect(JSON.stringify(bad.body)).not.toContain('wrong-private-key-000')
    const audit = await call('GET', `/api/v1/audit-logs?orgId=${org.id}`, undefined, h.systemToken)
    const actions = audit.body.data.map((a: { action: string }) => a.action)
    expect(actions).toEqual(
      expect.arrayContaining(['integration.create', 'integration.update', 'psa.connection.test']),
    )
    // The same integration is what the SynthesQ door shows.
    const viaIntegrations = await call('GET', `/api/v1/integrations/${saved.body.data.id}`)
    expect(viaIntegrations.body.data).toMatchObject({ provider: 'connectwise', status: 'error' })
  })

  it('is the same connection /psa/connections shows, with the same validated settings', async () => {
    const saved = await call('POST', API, {
      provider: 'connectwise',
      credentials: cw.credentials,
      settings: {
        autoCreateTickets: true,
        defaultBoard: 'Service Board',
        priorityMap: { critical: 'Priority 1' },
        companyId: 'Contoso',
      },
    })
    expect(saved.status).toBe(200)
    const connection = await call('GET', `/api/v1/psa/connections/${saved.body.data.id}`)
    expect(connection.status).toBe(200)
    expect(connection.body).toMatchObject({
      provider: 'connectwise',
      settings: {
        autoCreateTickets: true,
        defaultBoard: 'Service Board',
        priorityMap: { critical: 'Priority 1' },
        companyId: 'Contoso',
      },
      hasCredentials: true,
    })
    const bad = await call('PUT', API, { settings: { defaultBoard: 'A', defaultQueue: 'B' } })
    expect(bad.status).toBe(422)
    expect(bad.body.details[0].path).toBe('settings.defaultQueue')
  })

  it('the default PSA connection is the newest, unless a provider is named or a default routing rule says', async () => {
    const a = await call('POST', API, { provider: 'connectwise', credentials: cw.credentials })
    h.clock.advance(1000)
    const b = await call('POST', API, { provider: 'jira', credentials: jira.credentials })
    expect((await call('GET', API)).body.id).toBe(b.body.data.id)
    expect((await call('GET', `${API}?provider=connectwise`)).body.id).toBe(a.body.data.id)
    await jobs.runDue()
    const rule = await call('POST', '/api/v1/routing-rules', {
      capability: 'create_ticket',
      integration_id: a.body.data.id,
      is_default: true,
    })
    expect(rule.status, JSON.stringify(rule.body)).toBe(201)
    expect((await call('GET', API)).body.id).toBe(a.body.data.id)
    const test = await call('POST', `${API}/test`, { provider: 'jira' })
    expect(test.body).toMatchObject({ success: true, integration: { id: b.body.data.id } })
    expect(jira.requests.length).toBeGreaterThan(0)
  })

  it('refuses what is not a PSA, unknown fields and secrets in settings; PUT and test need a connection', async () => {
    const notPsa = await call('POST', API, { provider: 'slack', credentials: {} })
    expect(notPsa.status).toBe(422)
    expect(notPsa.body.details[0]).toMatchObject({ path: 'provider' })
    const unknown = await call('POST', API, { provider: 'nope', credentials: {} })
    expect(unknown.status).toBe(422)
    const missing = await call('POST', API, { provider: 'connectwise', credentials: { companyId: 'x' } })
    expect(missing.status).toBe(422)
    expect(missing.body.details.map((d: { path: string }) => d.path)).toContain('credentials.privateKey')
    const secret = await call('POST', API, {
      provider: 'connectwise',
      credentials: cw.credentials,
      settings: { apiToken: 'nope-nope-nope' },
    })
    expect(secret.status).toBe(422)
    expect(secret.body.details[0].path).toBe('settings.apiToken')
    expect((await call('PUT', API, { settings: {} })).status).toBe(404)
    expect((await call('POST', `${API}/test`)).status).toBe(404)
    expect((await call('GET', API)).body).toEqual({})
  })

  it('partner keys name the organization', async () => {
    const saved = await call(
      'POST',
      API,
      { orgId: org.id, provider: 'connectwise', credentials: cw.credentials },
      t.partnerToken,
    )
    expect(saved.body.data.orgId).toBe(org.id)
    expect((await call('GET', API, undefined, t.partnerToken)).status).toBe(400)
    expect((await call('GET', `${API}?orgId=${org.id}`, undefined, t.otherPartnerToken)).status).toBe(404)
    expect((await call('GET', `${API}?orgId=${org.id}`, undefined, t.partnerToken)).body.id).toBe(
      saved.body.data.id,
    )
  })

  it('no secret appears in a response, log line or audit entry', async () => {
    const secrets = [cw.credentials.privateKey, jira.credentials.apiToken, 'wrong-private-key-000'].filter(
      (s): s is string => typeof s === 'string',
    )
    const stored = await storedPlainText(h)
    expect(stored).toContain('psa.connection.test')
    for (const s of secrets) {
      expect(responses.join('\n')).not.toContain(s)
      expect(h.logs.join('\n')).not.toContain(s)
      expect(stored).not.toContain(s)
    }
  })
})
