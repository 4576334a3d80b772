import { sql } from 'drizzle-orm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createDattoRmm } from '../src/connectors/datto-rmm/index.ts'
import { createItGlue } from '../src/connectors/itglue/index.ts'
import { allConnectors, createRegistry } from '../src/connectors/registry.ts'
import { accountKey } from '../src/connectors/shared/token-cache.ts'
import { JobService } from '../src/jobs/service.ts'
import { WIRED_JOBS } from '../src/wiring.ts'
import { createHarness, type Harness, seedTenants } from './harness.ts'
import { AutotaskStandIn } from './standins/autotask.ts'
import { DattoRmmStandIn } from './standins/datto-rmm.ts'
import { ItGlueStandIn } from './standins/itglue.ts'

/**
 * The resources API on a running app, against the vendor stand-ins: kinds, normalized pages with opaque
 * cursors, filters, vendor errors mapped and scrubbed, tenancy, the default instance by provider name, the
 * shared Datto RMM budget, and the test-before-save advice of a detected region.
 */
let h: Harness
let t: Awaited<ReturnType<typeof seedTenants>>
let jobs: JobService
let rmm: DattoRmmStandIn
let rmm2: DattoRmmStandIn
let itg: ItGlueStandIn
let at: AutotaskStandIn
const ids: Record<string, string> = {}

const API = '/api/v1/integrations'

beforeAll(async () => {
  rmm = await new DattoRmmStandIn({ platform: 'merlot' }).start()
  rmm2 = await new DattoRmmStandIn({ platform: 'merlot' }).start()
  itg = await new ItGlueStandIn({ region: 'eu' }).start()
  at = await new AutotaskStandIn().start()
  const replaced = new Set(['datto-rmm', 'itglue'])
  const connectors = createRegistry([
    ...allConnectors().filter((c) => !replaced.has(c.descriptor.id)),
    createDattoRmm({ platformUrl: (p) => rmm.platformUrl(p) }),
    createItGlue({ regions: itg.regions() }),
  ])
  h = await createHarness({ connectors, env: { PATCHBAY_PROBE_INTERVAL_MS: '0' } })
  t = await seedTenants(h)
  jobs = new JobService(h.ctx, WIRED_JOBS)
  ids.rmm = await configure('datto-rmm', rmm.credentials)
  ids.itglue = await configure('itglue', itg.credentials)
  ids.autotask = await configure('autotask', at.credentials, ['create_ticket'])
})
afterAll(async () => {
  await h.close()
  for (const s of [rmm, rmm2, itg, at]) await s.close()
})

async function configure(
  provider: string,
  credentials: Record<string, unknown>,
  capabilities = ['read_resources'],
  opts: { name?: string; token?: string } = {},
) {
  const r = await h.json('POST', API, {
    token: opts.token ?? t.orgAToken,
    body: {
      provider,
      credentials,
      enabled_capabilities: capabilities,
      ...(opts.name ? { name: opts.name } : {}),
    },
  })
  expect(r.status, JSON.stringify(r.body)).toBe(201)
  await jobs.runDue()
  const got = await h.json('GET', `${API}/${r.body.data.id}`, { token: opts.token ?? t.orgAToken })
  expect(got.body.data.status, JSON.stringify(got.body.data.metadata)).toBe('active')
  return r.body.data.id as string
}

describe('kinds', () => {
  it('lists what each integration reads, with its filters', async () => {
    const r = await h.json('GET', `${API}/${ids.rmm}/resources`, { token: t.orgAToken })
    expect(r.status).toBe(200)
    expect(r.body.data.map((k: { kind: string }) => k.kind)).toEqual([
      'sites',
      'devices',
      'alerts',
      'device-audit',
    ])
    expect(r.body.data[2].filters).toContainEqual({
      name: 'status',
      description: 'open (default) or resolved',
    })
    expect(r.body.meta).toEqual({ integration_id: ids.rmm, provider: 'datto-rmm' })
    const it = await h.json('GET', `${API}/${ids.itglue}/resources`, { token: t.orgAToken })
    expect(it.body.data.map((k: { kind: string }) => k.kind)).toEqual([
      'organizations',
      'configurations',
      'contacts',
      'passwords',
    ])
  })

  it("is tenant-scoped: another organization's key finds nothing", async () => {
    for (const path of [`${API}/${ids.rmm}/resources`, `${API}/${ids.rmm}/resources/devices`]) {
      const r = await h.json('GET', path, { token: t.orgCToken })
      expect(r.status).toBe(404)
      expect(r.body).toMatchObject({ success: false, code: 'not_found' })
    }
    expect(
      (await h.json('GET', `${API}/${ids.rmm}/resources/devices`, { token: t.otherPartnerToken })).status,
    ).toBe(404)
  })
})

describe('pages', () => {
  it('pages devices with an opaque cursor, each item in the device shape', async () => {
    rmm.addDevices(3)
    const seen: string[] = []
    let cursor: string | null = null
    let pages = 0
    do {
      const qs: string = cursor ? `&cursor=${cursor}` : ''
      const r = await h.json('GET', `${API}/${ids.rmm}/resources/devices?limit=4${qs}`, {
        token: t.orgAToken,
      })
      expect(r.status, JSON.stringify(r.body)).toBe(200)
      for (const d of r.body.data) {
        expect(Object.keys(d).sort()).toEqual(
          ['hostname', 'id', 'ip', 'lastSeen', 'mac', 'name', 'online', 'os', 'raw', 'site'].sort(),
        )
        seen.push(d.id)
      }
      expect(r.body.meta).toMatchObject({ kind: 'devices', provider: 'datto-rmm', count: r.body.data.length })
      cursor = r.body.meta.next_cursor
      if (cursor) expect(Buffer.from(cursor, 'base64url').toString()).not.toContain('centrastage')
      pages++
    } while (cursor)
    expect(pages).toBe(2)
    expect(seen).toEqual(rmm.devices.map((d) => d.uid))
  })

  it('passes filters on, and refuses unknown ones, bad values and a cursor of other filters', async () => {
    const open = await h.json('GET', `${API}/${ids.rmm}/resources/alerts?status=resolved`, {
      token: t.orgAToken,
    })
    expect(open.body.data.map((a: { id: string }) => a.id)).toEqual(['alert-resolved-1'])
    const unknown = await h.json('GET', `${API}/${ids.rmm}/resources/devices?color=red`, {
      token: t.orgAToken,
    })
    expect(unknown.status).toBe(400)
    expect(unknown.body).toEqual({
      success: false,
      code: 'invalid_filter',
      message:
        'Unknown filter color for devices; filters: siteId, hostname, deviceType, operatingSystem, siteName',
      vendor_status: 400,
      retry_after_ms: null,
    })
    const bad = await h.json('GET', `${API}/${ids.rmm}/resources/alerts?status=closed`, {
      token: t.orgAToken,
    })
    expect(bad.status).toBe(400)
    expect(bad.body.message).toBe('Datto RMM: the status filter is open or resolved, not "closed"')
    const first = await h.json('GET', `${API}/${ids.rmm}/resources/devices?limit=2`, { token: t.orgAToken })
    const other = await h.json(
      'GET',
      `${API}/${ids.rmm}/resources/devices?limit=2&hostname=WS&cursor=${first.body.meta.next_cursor}`,
      { token: t.orgAToken },
    )
    expect(other.status).toBe(400)
    expect(other.body.message).toBe('The cursor was issued with other filters; give the same filters with it')
    const sites = await h.json(
      'GET',
      `${API}/${ids.rmm}/resources/sites?cursor=${first.body.meta.next_cursor}`,
      {
        token: t.orgAToken,
      },
    )
    expect(sites.body.message).toBe('The cursor was not issued for this listing')
  })

  it('says which kinds a provider offers, and validates kind and limit', async () => {
    const users = await h.json('GET', `${API}/${ids.rmm}/resources/users`, { token: t.orgAToken })
    expect(users.status).toBe(404)
    expect(users.body.message).toBe(
      'Datto RMM offers no users; it offers sites, devices, alerts, device-audit',
    )
    const nonsense = await h.json('GET', `${API}/${ids.rmm}/resources/spaceships`, { token: t.orgAToken })
    expect(nonsense.status).toBe(422)
    expect(Object.keys(nonsense.body.errors)).toEqual(['kind'])
    const limit = await h.json('GET', `${API}/${ids.rmm}/resources/devices?limit=1000`, {
      token: t.orgAToken,
    })
    expect(limit.status).toBe(422)
    expect(limit.body.errors.limit).toEqual(['The limit field may not be greater than 100.'])
  })

  it('reads IT Glue passwords without a value and Autotask tickets in the shared shapes', async () => {
    itg.leakPasswordsInLists = true
    const pw = await h.json('GET', `${API}/${ids.itglue}/resources/passwords?organizationId=100`, {
      token: t.orgAToken,
    })
    itg.leakPasswordsInLists = false
    expect(pw.status).toBe(200)
    expect(pw.body.data).toMatchObject([{ id: '7001', name: 'Domain admin', organizationId: '100' }])
    expect(JSON.stringify(pw.body)).not.toContain('NeverLeaves')
    const tk = at.addTicket({ title: 'VPN down', status: 'New' })
    const tickets = await h.json('GET', `${API}/${ids.autotask}/resources/tickets?status=New`, {
      token: t.orgAToken,
    })
    expect(tickets.body.data).toContainEqual(
      expect.objectContaining({ id: String(tk.id), title: 'VPN down', status: 'New', companyId: '174' }),
    )
    expect(new Set(itg.requests.map((r) => r.method))).toEqual(new Set(['GET']))
  })
})

describe('vendor errors', () => {
  it("passes a 429 on with Retry-After, and a refusal of the stored credentials as 502 in the vendor's words", async () => {
    rmm.failNext(429, { retryAfter: 30, path: '/api/' })
    const limited = await h.request('GET', `${API}/${ids.rmm}/resources/sites`, { token: t.orgAToken })
    expect(limited.status).toBe(429)
    expect(limited.headers.get('retry-after')).toBe('30')
    expect(await limited.json()).toEqual({
      success: false,
      code: 'vendor_rate_limited',
      message: 'Datto RMM answered 429: Too Many Requests',
      vendor_status: 429,
      retry_after_ms: 30_000,
    })
    rmm.failNext(401, { path: '/api/', times: 2 })
    const refused = await h.json('GET', `${API}/${ids.rmm}/resources/sites`, { token: t.orgAToken })
    expect(refused.status).toBe(502)
    expect(refused.body).toMatchObject({ code: 'vendor_error', vendor_status: 401 })
    rmm.failNext(500, { path: '/api/', body: { status: 500, error: `no such key ${rmm.apiSecret}` } })
    const failed = await h.json('GET', `${API}/${ids.rmm}/resources/sites`, { token: t.orgAToken })
    expect(failed.status).toBe(502)
    expect(failed.body.message).toBe('Datto RMM answered 500: no such key [redacted]')
    const missing = await h.json('GET', `${API}/${ids.rmm}/resources/device-audit?deviceId=dev-9999`, {
      token: t.orgAToken,
    })
    expect(missing.status).toBe(404)
    expect(missing.body.message).toBe('Datto RMM answered 404: Not Found')
  })

  it("keeps Datto RMM's 600 requests per 60 s across processes, through the database", async () => {
    const account = accountKey('datto-rmm', rmm.platformUrl('merlot'), rmm.apiKey)
    const now = h.clock.now().getTime()
    // Another process spent the window 10 s ago.
    await h.ctx.db.orm.execute(
      sql`INSERT INTO request_budgets (account, window_start_ms, used) VALUES (${account}, ${now - 10_000}, 600)
          ON CONFLICT (account) DO UPDATE SET window_start_ms = EXCLUDED.window_start_ms, used = EXCLUDED.used`,
    )
    rmm.resetRequests()
    const r = await h.request('GET', `${API}/${ids.rmm}/resources/sites`, { token: t.orgAToken })
    expect(r.status).toBe(429)
    expect(r.headers.get('retry-after')).toBe('50')
    expect(((await r.json()) as { message: string }).message).toBe(
      "Datto RMM: this account's budget of 600 requests per 60 s is spent; try again in 50 s",
    )
    expect(rmm.apiRequests()).toHaveLength(0)
    h.clock.advance(50_000)
    expect((await h.request('GET', `${API}/${ids.rmm}/resources/sites`, { token: t.orgAToken })).status).toBe(
      200,
    )
  })
})

describe('default instance by provider name', () => {
  it("answers from the organization's default instance, and follows a new default", async () => {
    const second = await configure('datto-rmm', rmm2.credentials, ['read_resources'], { name: 'second' })
    rmm.resetRequests()
    rmm2.resetRequests()
    const first = await h.json('GET', '/api/v1/providers/datto-rmm/resources/sites', { token: t.orgAToken })
    expect(first.status).toBe(200)
    expect(first.body.meta.integration_id).toBe(ids.rmm)
    expect(rmm.apiRequests()).toHaveLength(1)
    expect((await h.json('POST', `${API}/${second}/default`, { token: t.orgAToken })).status).toBe(200)
    const moved = await h.json('GET', '/api/v1/providers/datto-rmm/resources/sites', { token: t.orgAToken })
    expect(moved.body.meta.integration_id).toBe(second)
    expect(rmm2.apiRequests()).toHaveLength(1)
    const partner = await h.json('GET', `/api/v1/providers/datto-rmm/resources/sites?orgId=${t.orgA.id}`, {
      token: t.partnerToken,
    })
    expect(partner.body.meta.integration_id).toBe(second)
  })

  it('says when the organization has no instance of the provider', async () => {
    const none = await h.json('GET', `/api/v1/providers/itglue/resources/contacts?orgId=${t.orgB.id}`, {
      token: t.partnerToken,
    })
    expect(none.status).toBe(404)
    expect(none.body.message).toBe('IT Glue integration in this organization not found')
    const unknown = await h.json('GET', '/api/v1/providers/nope/resources/devices', { token: t.orgAToken })
    expect(unknown.status).toBe(404)
    const noOrg = await h.json('GET', '/api/v1/providers/itglue/resources/contacts', {
      token: t.partnerToken,
    })
    expect(noOrg.status).toBe(400)
  })
})

describe('test before save', () => {
  it('advises the IT Glue URL it found for a blank one', async () => {
    const r = await h.json('POST', `${API}/test`, {
      token: t.orgAToken,
      body: { provider: 'itglue', credentials: { apiKey: itg.apiKey } },
    })
    expect(r.body).toMatchObject({
      success: true,
      message: `Connection successful. The account is on IT Glue's EU server: set the API Base URL to ${itg.regionUrl('eu')}.`,
      data: { ok: true, suggested_credentials: { baseUrl: itg.regionUrl('eu') } },
    })
  })

  it('lists the new resources paths in the OpenAPI document', async () => {
    const doc = await h.json('GET', '/api/v1/openapi.json', { token: null })
    expect(Object.keys(doc.body.paths)).toEqual(
      expect.arrayContaining([
        '/api/v1/integrations/{id}/resources',
        '/api/v1/integrations/{id}/resources/{kind}',
        '/api/v1/providers/{provider}/resources/{kind}',
      ]),
    )
  })
})
