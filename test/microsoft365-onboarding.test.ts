import { randomUUID } from 'node:crypto'
import { sql } from 'drizzle-orm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { rows } from '../src/store/db.ts'
import { createHarness, type Harness, seedTenants } from './harness.ts'
import { type GraphStandIn, startGraph } from './standins/graph.ts'
import {
  MicrosoftDirectory,
  type MicrosoftLoginStandIn,
  type MsTenant,
  startMicrosoftLogin,
} from './standins/microsoft-login.ts'
import { type PartnerCenterStandIn, startPartnerCenter } from './standins/partner-center.ts'

/**
 * The CSP/GDAP wizard on a running app, across three customer tenants: two whose GDAP relationship lets the
 * partner grant consent end up with verified Microsoft 365 integrations in the organizations chosen for them;
 * the third, without the role, shows why and how to fix it, and a resume after the fix (and after a Graph outage
 * mid-run) finishes it without granting consent or creating its integration twice.
 */
let h: Harness
let t: Awaited<ReturnType<typeof seedTenants>>
let dir: MicrosoftDirectory
let login: MicrosoftLoginStandIn
let graph: GraphStandIn
let pc: PartnerCenterStandIn
const APP = randomUUID()
const SECRET = 'Xy9~partner-app-secret-never-shown'
const PARTNER_TENANT = randomUUID()
let contoso: MsTenant
let fabrikam: MsTenant
let northwind: MsTenant

const BASE = '/api/v1/onboarding/microsoft365'

function tenantWithUsers(name: string, domain: string): MsTenant {
  return dir.addTenant({
    id: randomUUID(),
    name,
    domain,
    users: [
      {
        id: randomUUID(),
        displayName: `Admin of ${name}`,
        userPrincipalName: `admin@${domain}`,
        mail: null,
        accountEnabled: true,
        assignedLicenses: [],
      },
    ],
  })
}

beforeAll(async () => {
  h = await createHarness({ env: { PATCHBAY_PROBE_INTERVAL_MS: '0' } })
  t = await seedTenants(h)
  dir = new MicrosoftDirectory(h.clock)
  dir.addApp({ appId: APP, secret: SECRET, homeTenant: PARTNER_TENANT })
  dir.addTenant({ id: PARTNER_TENANT, domain: 'acmemsp.onmicrosoft.com', name: 'Acme MSP' })
  contoso = tenantWithUsers('Contoso', 'contoso.onmicrosoft.com')
  fabrikam = tenantWithUsers('Fabrikam', 'fabrikam.onmicrosoft.com')
  northwind = tenantWithUsers('Northwind', 'northwind.onmicrosoft.com')
  login = await startMicrosoftLogin(dir)
  graph = await startGraph(dir)
  pc = await startPartnerCenter(dir, { partnerTenant: PARTNER_TENANT, pageSize: 2 })
  pc.addCustomer(contoso)
  pc.addCustomer(fabrikam)
  pc.addCustomer(northwind, { gdapRoles: ['Directory Readers', 'User Administrator'] })
})
afterAll(async () => {
  await Promise.all([login.close(), graph.close(), pc.close()])
  await h.close()
})

const appBody = (over: Record<string, unknown> = {}) => ({
  appId: APP,
  clientSecret: SECRET,
  partnerTenantId: PARTNER_TENANT,
  loginBaseUrl: login.baseUrl,
  graphBaseUrl: graph.baseUrl,
  partnerCenterBaseUrl: pc.baseUrl,
  ...over,
})

const byCustomer = (list: { customerId: string }[]) =>
  Object.fromEntries(list.map((c) => [c.customerId, c])) as Record<string, Record<string, unknown>>

describe('Microsoft 365 onboarding (CSP/GDAP wizard)', () => {
  it('registers the partner app only with a partner key, and only once Microsoft accepts it', async () => {
    const org = await h.json('PUT', `${BASE}/app`, { token: t.orgAToken, body: appBody() })
    expect(org.status).toBe(403)
    const wrong = await h.json('PUT', `${BASE}/app`, {
      token: t.partnerToken,
      body: appBody({ clientSecret: 'not-the-secret-9876' }),
    })
    expect(wrong.status).toBe(422)
    expect(wrong.body.details).toEqual([{ path: 'clientSecret', message: expect.any(String) }])
    expect(wrong.body.details[0].message).toMatch(
      /^Microsoft Entra ID answered 401: AADSTS7000215: Invalid client secret provided\..* — How to fix: The client secret is wrong/,
    )
    expect(JSON.stringify(wrong.body)).not.toContain('not-the-secret-9876')
    expect((await h.json('GET', `${BASE}/app`, { token: t.partnerToken })).status).toBe(404)

    const ok = await h.json('PUT', `${BASE}/app`, { token: t.partnerToken, body: appBody() })
    expect(ok.status).toBe(200)
    expect(ok.body).toMatchObject({
      partnerId: t.partner.id,
      appId: APP,
      partnerTenantId: PARTNER_TENANT,
      hasClientSecret: true,
      grants: [
        {
          enterpriseApplicationId: '00000003-0000-0000-c000-000000000000',
          scope: 'User.Read.All,Group.Read.All,Organization.Read.All,Reports.Read.All',
        },
      ],
    })
    expect(JSON.stringify(ok.body)).not.toContain(SECRET)
    const stored = await rows<{ client_secret: string }>(
      h.ctx.db.orm,
      sql`select client_secret from microsoft365_partner_apps`,
    )
    expect(stored).toHaveLength(1)
    expect(stored[0]?.client_secret).toMatch(/^pb1:/)
    expect(stored[0]?.client_secret).not.toContain(SECRET)
    expect(login.issued.at(-1)).toEqual({
      tenant: PARTNER_TENANT,
      clientId: APP,
      scope: 'https://api.partnercenter.microsoft.com/.default',
      ok: true,
    })
  })

  it("lists the partner's customers from Partner Center, across its pages", async () => {
    const r = await h.json('GET', `${BASE}/customers`, { token: t.partnerToken })
    expect(r.status).toBe(200)
    expect(
      r.body.data.map((c: { companyName: string; status: string }) => [c.companyName, c.status]),
    ).toEqual([
      ['Contoso', 'not_selected'],
      ['Fabrikam', 'not_selected'],
      ['Northwind', 'not_selected'],
    ])
    const continued = pc.server.requests.filter((q) => q.path.startsWith('/v1/customers?'))
    expect(continued.map((q) => q.headers['ms-continuationtoken'] !== undefined)).toEqual([false, true])
  })

  it('consents, creates and verifies an integration per customer; one without the GDAP role shows why and how', async () => {
    const other = await h.json('POST', `${BASE}/customers`, {
      token: t.partnerToken,
      body: { customers: [{ customerId: contoso.id, orgId: t.orgC.id }] },
    })
    expect(other.status).toBe(422)
    expect(other.body.details[0].path).toBe('customers.0.orgId')

    const r = await h.json('POST', `${BASE}/customers`, {
      token: t.partnerToken,
      body: {
        customers: [
          { customerId: contoso.id, orgId: t.orgA.id },
          { customerId: fabrikam.id, orgId: t.orgB.id },
          { customerId: northwind.id, orgId: t.orgA.id },
        ],
      },
    })
    expect(r.status, JSON.stringify(r.body)).toBe(200)
    const s = byCustomer(r.body.data)
    expect(s[contoso.id]).toMatchObject({ status: 'verified', orgId: t.orgA.id, error: null })
    expect(s[fabrikam.id]).toMatchObject({ status: 'verified', orgId: t.orgB.id, error: null })
    expect(s[northwind.id]).toMatchObject({
      status: 'failed',
      failedStep: 'consent',
      integrationId: null,
      error:
        'Partner Center answered 403: 403: Permission denied. The partner has no active GDAP relationship with the Cloud Application Administrator or Application Administrator role for this customer.',
    })
    expect(s[northwind.id]?.fix).toMatch(
      /^Give the partner a GDAP relationship with this customer that includes the Cloud Application Administrator/,
    )

    // the consents Partner Center recorded carry the app's grants
    expect(pc.consents.map((c) => [c.customerId, c.applicationId, c.scope])).toEqual([
      [contoso.id, APP, 'User.Read.All,Group.Read.All,Organization.Read.All,Reports.Read.All'],
      [fabrikam.id, APP, 'User.Read.All,Group.Read.All,Organization.Read.All,Reports.Read.All'],
    ])

    const inA = await h.json('GET', '/api/v1/integrations?provider=microsoft365', { token: t.orgAToken })
    expect(inA.body.data).toHaveLength(1)
    expect(inA.body.data[0]).toMatchObject({
      id: s[contoso.id]?.integrationId,
      provider: 'microsoft365',
      name: 'Microsoft 365 – contoso.onmicrosoft.com',
      status: 'active',
      credentials: { tenantId: contoso.id, clientId: APP, clientSecret: null, baseUrl: graph.baseUrl },
    })
    const inB = await h.json('GET', '/api/v1/integrations?provider=microsoft365', {
      token: t.partnerToken,
      headers: {},
    })
    const fab = inB.body.data.find((i: { id: string }) => i.id === s[fabrikam.id]?.integrationId)
    expect(fab).toMatchObject({ org_id: t.orgB.id, status: 'active' })
    expect(fab.credentials.tenantId).toBe(fabrikam.id)

    const audit = await h.json('GET', '/api/v1/audit-logs?action=microsoft365.onboarding.*&limit=100', {
      token: t.partnerToken,
    })
    const steps = audit.body.data
      .map((a: { action: string; targetId: string; summary: { outcome?: string } }) => [
        a.targetId === contoso.id ? 'contoso' : a.targetId === fabrikam.id ? 'fabrikam' : 'northwind',
        a.action.replace('microsoft365.onboarding.', ''),
        a.summary.outcome ?? null,
      ])
      .reverse()
    expect(steps.filter((x: string[]) => x[0] === 'contoso')).toEqual([
      ['contoso', 'select', null],
      ['contoso', 'consent', 'granted'],
      ['contoso', 'integration', null],
      ['contoso', 'verify', 'verified'],
    ])
    expect(steps.filter((x: string[]) => x[0] === 'northwind')).toEqual([
      ['northwind', 'select', null],
      ['northwind', 'consent', 'failed'],
    ])
    expect(h.logs.join('\n')).not.toContain(SECRET)
    expect(JSON.stringify(audit.body)).not.toContain(SECRET)
  })

  it('resumes from where each customer stopped, once the GDAP role is given, through a Graph outage', async () => {
    const before = byCustomer((await h.json('GET', `${BASE}/state`, { token: t.partnerToken })).body.data)
    pc.customers.find((c) => c.id === northwind.id)?.gdapRoles.push('Cloud Application Administrator')
    pc.failNext({ status: 429, retryAfter: 2 })
    const limited = byCustomer((await h.json('POST', `${BASE}/resume`, { token: t.partnerToken })).body.data)
    expect(limited[northwind.id]).toMatchObject({
      status: 'failed',
      failedStep: 'consent',
      error: 'Partner Center answered 429: 429: Rate limit is exceeded.',
      fix: 'Partner Center is limiting requests (Retry-After 2 s): resume the onboarding after that.',
    })
    graph.failNext({ status: 503, retryAfter: 30 })
    const first = byCustomer((await h.json('POST', `${BASE}/resume`, { token: t.partnerToken })).body.data)
    expect(first[northwind.id]).toMatchObject({ status: 'failed', failedStep: 'verify' })
    expect(first[northwind.id]?.error).toBe(
      'Microsoft Graph answered 503: ServiceUnavailable: Service is temporarily unavailable.',
    )
    expect(first[northwind.id]?.fix).toBe('Resume the onboarding once Microsoft answers again.')
    const integrationId = first[northwind.id]?.integrationId
    expect(integrationId).toEqual(expect.any(String))
    // the verified customers were left alone
    expect(first[contoso.id]).toEqual(before[contoso.id])

    const second = byCustomer((await h.json('POST', `${BASE}/resume`, { token: t.partnerToken })).body.data)
    expect(second[northwind.id]).toMatchObject({ status: 'verified', integrationId, error: null, fix: null })
    expect(pc.consents.filter((c) => c.customerId === northwind.id)).toHaveLength(1)
    const inA = await h.json('GET', '/api/v1/integrations?provider=microsoft365', { token: t.orgAToken })
    expect(inA.body.data.map((i: { name: string; status: string }) => [i.name, i.status]).sort()).toEqual([
      ['Microsoft 365 – contoso.onmicrosoft.com', 'active'],
      ['Microsoft 365 – northwind.onmicrosoft.com', 'active'],
    ])
  })

  it('explains a tenant whose consent is missing when the integration is verified', async () => {
    // consent removed in the customer tenant (the enterprise app deleted): the integration's test says why
    contoso.consents.delete(APP)
    const state = byCustomer((await h.json('GET', `${BASE}/state`, { token: t.partnerToken })).body.data)
    const id = state[contoso.id]?.integrationId as string
    const r = await h.json('POST', '/api/v1/integrations/test', {
      token: t.orgAToken,
      body: { provider: 'microsoft365', credentials: {}, integration_id: id },
    })
    expect(r.body.success).toBe(false)
    expect(JSON.stringify(r.body)).toContain(
      `AADSTS7000229: The client application ${APP} is missing service principal`,
    )
    expect(JSON.stringify(r.body)).toContain('How to fix: The app has no service principal in this tenant')
    expect(JSON.stringify(r.body)).not.toContain(SECRET)
  })
})
