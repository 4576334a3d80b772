import { sql } from 'drizzle-orm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { JobService } from '../src/jobs/service.ts'
import { rows } from '../src/store/db.ts'
import { WIRED_JOBS } from '../src/wiring.ts'
import { alertData, automationSettings, newOrg, secretsOf } from './fixtures/psa.ts'
import { createHarness, type Harness, seedTenants } from './harness.ts'
import { ConnectWiseStandIn, JiraStandIn } from './standins/index.ts'

/** The /api/v1/psa/connections routes as the Breeze document describes them, on the ConnectWise stand-in. */
let h: Harness
let t: Awaited<ReturnType<typeof seedTenants>>
let jobs: JobService
let cw: ConnectWiseStandIn
let jira: JiraStandIn
const API = '/api/v1/psa/connections'
const responses: string[] = []

beforeAll(async () => {
  h = await createHarness({ env: { PATCHBAY_PROBE_INTERVAL_MS: '0', PATCHBAY_PSA_SYNC_INTERVAL_MS: '0' } })
  t = await seedTenants(h)
  jobs = new JobService(h.ctx, WIRED_JOBS)
  cw = await new ConnectWiseStandIn({ clock: h.clock }).start()
  jira = await new JiraStandIn({ clock: h.clock }).start()
})
afterAll(async () => {
  await cw.close()
  await jira.close()
  await h.close()
})

// biome-ignore lint/suspicious/noExplicitAny: response bodies are read loosely and asserted on
async function api(method: string, path: string, token: string, body?: unknown): Promise<any> {
  const r = await h.json(method, path, { token, ...(body !== undefined ? { body } : {}) })
  responses.push(JSON.stringify(r.body ?? null))
  return r
}

async function create(token: string, body: Record<string, unknown> = {}) {
  const r = await api('POST', API, token, {
    provider: 'connectwise',
    name: `ConnectWise ${Math.random().toString(36).slice(2, 8)}`,
    credentials: cw.credentials,
    ...body,
  })
  expect(r.status, JSON.stringify(r.body)).toBe(201)
  return r.body
}

describe('creating', () => {
  it('returns the documented shape without credentials', async () => {
    const org = await newOrg(h, t.partner.id, 'Shape')
    const r = await api('POST', API, org.token, {
      provider: 'connectwise',
      name: 'ConnectWise — Contoso',
      credentials: cw.credentials,
      settings: { defaultBoard: 'Service Board', defaultStatus: 'New' },
    })
    expect(r.status).toBe(201)
    expect(r.body).toEqual({
      id: expect.any(String),
      orgId: org.id,
      provider: 'connectwise',
      name: 'ConnectWise — Contoso',
      settings: { defaultBoard: 'Service Board', defaultStatus: 'New' },
      status: 'pending_verify',
      enabled: true,
      isDefault: true,
      hasCredentials: true,
      syncSettings: { lastTestedAt: null, status: null },
      lastError: null,
      lastTestedAt: null,
      lastSyncedAt: null,
      lastSyncAt: null,
      lastSyncStatus: null,
      lastSyncError: null,
      lastSync: null,
      createdAt: '2026-02-18T12:00:00.000Z',
      updatedAt: '2026-02-18T12:00:00.000Z',
    })
    // The background verification calls the vendor for real.
    cw.resetRequests()
    await jobs.runDue()
    expect(cw.requests.map((x) => x.path)).toEqual(['/v4_6_release/apis/3.0/system/info'])
    expect((await api('GET', `${API}/${r.body.id}`, org.token)).body.status).toBe('active')
  })

  it('refuses bad input with 422 naming the field, and writes nothing', async () => {
    const org = await newOrg(h, t.partner.id, 'Bad input')
    const cases: [Record<string, unknown>, string][] = [
      [{ provider: 'slack' }, 'provider'],
      [{ provider: 'nope' }, 'provider'],
      [{ name: '' }, 'name'],
      [{ credentials: { ...cw.credentials, privateKey: undefined } }, 'credentials.privateKey'],
      [{ credentials: { ...cw.credentials, clientId: 'not-a-uuid' } }, 'credentials.clientId'],
      [{ credentials: { ...cw.credentials, apiKey: 'x' } }, 'credentials.apiKey'],
      [{ settings: { autoCreateTickets: 'yes' } }, 'settings.autoCreateTickets'],
      [{ settings: { board: 'Service Board' } }, 'settings.board'],
      [{ settings: { priorityMap: { urgent: 'P1' } } }, 'settings.priorityMap.urgent'],
      [{ settings: { defaultBoard: 'A', defaultQueue: 'B' } }, 'settings.defaultQueue'],
      [{ settings: { severities: ['fatal'] } }, 'settings.severities.0'],
      [{ extra: true }, 'extra'],
    ]
    for (const [patch, path] of cases) {
      const r = await api('POST', API, org.token, {
        provider: 'connectwise',
        name: 'x',
        credentials: cw.credentials,
        ...patch,
      })
      expect(r.status, path).toBe(422)
      expect(r.body.code).toBe('validation_failed')
      expect(
        r.body.details.map((d: { path: string }) => d.path),
        path,
      ).toContain(path)
    }
    const list = await api('GET', API, org.token)
    expect(list.body.pagination.total).toBe(0)
  })

  it('needs an organization for partner keys, and names are unique per provider', async () => {
    const noOrg = await api('POST', API, t.partnerToken, {
      provider: 'connectwise',
      name: 'x',
      credentials: cw.credentials,
    })
    expect(noOrg).toMatchObject({ status: 400, body: { error: 'Organization context required' } })
    const org = await newOrg(h, t.partner.id, 'Names')
    await create(t.partnerToken, { orgId: org.id, name: 'Main' })
    const again = await api('POST', API, org.token, {
      provider: 'connectwise',
      name: 'main',
      credentials: cw.credentials,
    })
    expect(again.status).toBe(422)
    expect(again.body.details.map((d: { path: string }) => d.path)).toContain('name')
    const second = await create(org.token, { name: 'Second account' })
    expect(second.isDefault).toBe(false)
  })
})

describe('listing', () => {
  it('filters by organization and provider, pages, and puts the most recently updated first', async () => {
    const org = await newOrg(h, t.partner.id, 'Listing')
    const a = await create(org.token, { name: 'A' })
    h.clock.advance(1000)
    const b = await create(org.token, { name: 'B' })
    h.clock.advance(1000)
    const j = await create(org.token, { provider: 'jira', name: 'J', credentials: jira.credentials })
    h.clock.advance(1000)
    await api('PATCH', `${API}/${a.id}`, org.token, { name: 'A renamed' })
    const all = await api('GET', API, org.token)
    expect(all.body.data.map((c: { id: string }) => c.id)).toEqual([a.id, j.id, b.id])
    expect(all.body.pagination).toEqual({ page: 1, limit: 50, total: 3 })
    const cwOnly = await api('GET', `${API}?provider=connectwise`, org.token)
    expect(cwOnly.body.data.map((c: { id: string }) => c.id)).toEqual([a.id, b.id])
    const page2 = await api('GET', `${API}?limit=2&page=2`, org.token)
    expect(page2.body).toMatchObject({ data: [{ id: b.id }], pagination: { page: 2, limit: 2, total: 3 } })
    expect((await api('GET', `${API}?limit=101`, org.token)).status).toBe(422)
    expect((await api('GET', `${API}?provider=slack`, org.token)).status).toBe(422)
    const byPartner = await api('GET', `${API}?orgId=${org.id}`, t.partnerToken)
    expect(byPartner.body.pagination.total).toBe(3)
    const other = await api('GET', `${API}?orgId=${org.id}`, t.otherPartnerToken)
    expect(other.status).toBe(404)
  })
})

describe('updating', () => {
  it('changes only the given fields; new credentials replace the stored ones and are verified again', async () => {
    const org = await newOrg(h, t.partner.id, 'Updating')
    const c = await create(org.token, { settings: { defaultBoard: 'Service Board' } })
    await jobs.runDue()
    h.clock.advance(1000)
    const renamed = await api('PATCH', `${API}/${c.id}`, org.token, { name: 'Production' })
    expect(renamed.body).toMatchObject({
      name: 'Production',
      status: 'active',
      settings: { defaultBoard: 'Service Board' },
      updatedAt: h.clock.now().toISOString(),
    })
    const settings = await api('PATCH', `${API}/${c.id}`, org.token, {
      settings: { defaultBoard: 'MSP Board', defaultStatus: 'New', autoSync: true },
    })
    expect(settings.body.settings).toEqual({
      defaultBoard: 'MSP Board',
      defaultStatus: 'New',
      autoSync: true,
    })

    // A credentials object missing required fields is refused whole; nothing changes.
    const partial = await api('PATCH', `${API}/${c.id}`, org.token, {
      credentials: { privateKey: 'priv-rotated-0000000' },
    })
    expect(partial.status).toBe(422)
    expect(partial.body.details.map((d: { path: string }) => d.path)).toEqual(
      expect.arrayContaining(['credentials.companyId', 'credentials.publicKey', 'credentials.clientId']),
    )
    expect((await api('GET', `${API}/${c.id}`, org.token)).body.status).toBe('active')

    // The stand-in's keys, with baseUrl left out: the stored baseUrl goes too, so the call goes to the
    // real ConnectWise host, which the test resolver does not know.
    const { baseUrl: _dropped, ...withoutBase } = cw.credentials
    const replaced = await api('PATCH', `${API}/${c.id}`, org.token, { credentials: withoutBase })
    expect(replaced.body).toMatchObject({ status: 'pending_verify', hasCredentials: true })
    const tested = await api('POST', `${API}/${c.id}/test`, org.token)
    expect(tested.body.success).toBe(false)
    expect(tested.body.message).toMatch(/api-na\.myconnectwise\.net/)
    const restored = await api('PATCH', `${API}/${c.id}`, org.token, { credentials: cw.credentials })
    expect(restored.body.status).toBe('pending_verify')
    expect((await api('POST', `${API}/${c.id}/test`, org.token)).body).toEqual({
      success: true,
      message: 'Credentials verified',
    })
  })
})

describe('testing', () => {
  it("records a failure with the vendor's message verbatim, and the next success", async () => {
    const org = await newOrg(h, t.partner.id, 'Testing')
    const c = await create(org.token)
    cw.failNext(401)
    h.clock.advance(5000)
    const failed = await api('POST', `${API}/${c.id}/test`, org.token)
    expect(failed.status).toBe(200)
    expect(failed.body.success).toBe(false)
    expect(failed.body.message).toContain('The public/private key pair or the company is not valid')
    const got = await api('GET', `${API}/${c.id}`, org.token)
    expect(got.body).toMatchObject({
      status: 'error',
      lastTestedAt: h.clock.now().toISOString(),
      syncSettings: { status: 'failed' },
      lastError: expect.stringContaining('The public/private key pair'),
    })
    const ok = await api('POST', `${API}/${c.id}/test`, org.token)
    expect(ok.body.success).toBe(true)
    expect((await api('GET', `${API}/${c.id}`, org.token)).body).toMatchObject({
      status: 'active',
      syncSettings: { status: 'verified' },
      lastError: null,
    })
    const audit = await api(
      'GET',
      `/api/v1/audit-logs?action=psa.connection.test&targetId=${c.id}`,
      org.token,
    )
    expect(audit.body.data.map((e: { summary: { ok: boolean } }) => e.summary.ok)).toEqual([true, false])
  })
})

describe('status', () => {
  it('pauses (no tickets, no sync), re-activates, and marks a connection failed by hand', async () => {
    const org = await newOrg(h, t.partner.id, 'Status')
    const c = await create(org.token, { settings: automationSettings('connectwise', cw) })
    await api('POST', `${API}/${c.id}/test`, org.token)
    const paused = await api('POST', `${API}/${c.id}/status`, org.token, { status: 'paused' })
    expect(paused.body).toMatchObject({ status: 'inactive', enabled: false })
    const event = await api('POST', '/api/v1/events', org.token, {
      type: 'alert.triggered',
      data: alertData('paused-alert'),
    })
    expect(event.body.deliveriesQueued).toBe(0)
    const sync = await api('POST', `${API}/${c.id}/sync`, org.token)
    expect(sync).toMatchObject({ status: 409, body: { code: 'conflict' } })

    const active = await api('POST', `${API}/${c.id}/status`, org.token, { status: 'active' })
    expect(active.body).toMatchObject({ status: 'active', enabled: true })
    const marked = await api('POST', `${API}/${c.id}/status`, org.token, { status: 'error' })
    expect(marked.body).toMatchObject({ status: 'error', lastError: 'Marked as failed through the API' })
    expect(
      (await api('POST', '/api/v1/events', org.token, { type: 'alert.triggered', data: alertData('e-1') }))
        .body.deliveriesQueued,
    ).toBe(0)
    expect((await api('POST', `${API}/${c.id}/test`, org.token)).body.success).toBe(true)
    expect((await api('GET', `${API}/${c.id}`, org.token)).body.status).toBe('active')
    expect((await api('POST', `${API}/${c.id}/status`, org.token, { status: 'broken' })).status).toBe(422)
    const actions = (
      await api('GET', `/api/v1/audit-logs?targetId=${c.id}&limit=100`, org.token)
    ).body.data.map((e: { action: string }) => e.action)
    expect(actions).toEqual(
      expect.arrayContaining(['integration.disable', 'integration.activate', 'integration.mark_error']),
    )
  })
})

describe('tenancy', () => {
  it("another organization's connection is 404 on every route, and other kinds of integration too", async () => {
    const c = await create(t.orgAToken, { settings: automationSettings('connectwise', cw) })
    const paths: [string, string, unknown?][] = [
      ['GET', `${API}/${c.id}`],
      ['PATCH', `${API}/${c.id}`, { name: 'stolen' }],
      ['DELETE', `${API}/${c.id}`],
      ['POST', `${API}/${c.id}/test`],
      ['POST', `${API}/${c.id}/sync`],
      ['POST', `${API}/${c.id}/status`, { status: 'paused' }],
      ['GET', `${API}/${c.id}/tickets`],
    ]
    for (const token of [t.orgCToken, t.otherPartnerToken]) {
      for (const [method, path, body] of paths) {
        const r = await api(method, path, token, body)
        expect(r.status, `${method} ${path}`).toBe(404)
        expect(JSON.stringify(r.body)).not.toContain(c.name)
      }
      expect((await api('GET', API, token)).body.data.map((x: { id: string }) => x.id)).not.toContain(c.id)
    }
    expect((await api('GET', `${API}/${c.id}`, t.partnerToken)).status).toBe(200)
    expect((await api('GET', `${API}/${c.id}`, t.orgAToken)).body.name).toBe(c.name)

    // A generic ticketing endpoint is an integration, but not a PSA connection.
    const ticketing = await api('POST', '/api/v1/integrations', t.orgAToken, {
      provider: 'generic-ticketing',
      credentials: { apiUrl: 'https://tickets.example.test/api', apiKey: 'tk_generic_123456' },
      enabled_capabilities: ['create_ticket'],
    })
    expect(ticketing.status, JSON.stringify(ticketing.body)).toBe(201)
    expect((await api('GET', `${API}/${ticketing.body.data.id}`, t.orgAToken)).status).toBe(404)
    expect((await api('DELETE', `${API}/${ticketing.body.data.id}`, t.orgAToken)).status).toBe(404)
  })
})

describe('deleting', () => {
  it('erases the credentials and the ticket mappings', async () => {
    const org = await newOrg(h, t.partner.id, 'Deleting')
    const c = await create(org.token, { settings: automationSettings('connectwise', cw) })
    await api('POST', `${API}/${c.id}/test`, org.token)
    for (const alertId of ['d-1', 'd-2']) {
      await api('POST', '/api/v1/events', org.token, { type: 'alert.triggered', data: alertData(alertId) })
    }
    await h.worker.drain()
    expect((await api('GET', `${API}/${c.id}/tickets`, org.token)).body.pagination.total).toBe(2)
    const del = await api('DELETE', `${API}/${c.id}`, org.token)
    expect(del.body).toEqual({ success: true, id: c.id, ticketMappingsRemoved: 2 })
    const left = await rows<{ n: number }>(
      h.ctx.db.orm,
      sql`SELECT count(*)::int AS n FROM psa_ticket_mappings WHERE connection_id = ${c.id}`,
    )
    expect(left[0]?.n).toBe(0)
    const [row] = await rows<{ credentials: string | null; deleted_at: Date | null }>(
      h.ctx.db.orm,
      sql`SELECT credentials, deleted_at FROM integrations WHERE id = ${c.id}`,
    )
    expect(row?.credentials).toBeNull()
    expect(row?.deleted_at).not.toBeNull()
    const audit = await api(
      'GET',
      `/api/v1/audit-logs?action=psa.ticket_mappings.delete&targetId=${c.id}`,
      org.token,
    )
    expect(audit.body.data[0].summary).toMatchObject({ mappingsRemoved: 2 })
    expect((await api('DELETE', `${API}/${c.id}`, org.token)).status).toBe(404)
  })
})

describe('secrets and documentation', () => {
  it('never shows a credential in a response, a log line or an audit entry', async () => {
    const secrets = [...secretsOf('connectwise', cw), ...secretsOf('jira', jira), 'priv-rotated-0000000']
    const audit = await api('GET', '/api/v1/audit-logs?limit=100', h.systemToken)
    expect(audit.body.data.some((e: { action: string }) => e.action === 'integration.update')).toBe(true)
    const everything = [...responses, h.logs.join('\n')].join('\n')
    for (const s of secrets) expect(everything, s).not.toContain(s)
  })

  it('documents every PSA route in the OpenAPI document', async () => {
    const doc = await api('GET', '/api/v1/openapi.json', h.systemToken)
    const paths = Object.keys(doc.body.paths).filter((p) => p.startsWith('/api/v1/psa'))
    expect(paths.sort()).toEqual(
      [
        '/api/v1/psa/connections',
        '/api/v1/psa/connections/{id}',
        '/api/v1/psa/connections/{id}/status',
        '/api/v1/psa/connections/{id}/sync',
        '/api/v1/psa/connections/{id}/test',
        '/api/v1/psa/connections/{id}/tickets',
        '/api/v1/psa/tickets',
      ].sort(),
    )
    expect(doc.body.components.schemas.PsaSettings.properties).toHaveProperty('statusMap')
  })
})
