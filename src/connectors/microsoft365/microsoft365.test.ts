import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { connectorTestEnv } from '../../../test/standins/env.ts'
import { startGraph } from '../../../test/standins/graph.ts'
import {
  type MicrosoftDirectory as Directory,
  MicrosoftDirectory,
  type MsTenant,
  startMicrosoftLogin,
} from '../../../test/standins/microsoft-login.ts'
import { ManualClock } from '../../lib/clock.ts'
import type { CachedToken, ConnectorEnv, ResourceQuery, TokenCache } from '../types.ts'
import { VendorError } from '../vendor-error.ts'
import { microsoft365 } from './index.ts'

const clock = new ManualClock('2026-02-18T12:00:00.000Z')
const base = connectorTestEnv(clock)
let dir: Directory
let login: Awaited<ReturnType<typeof startMicrosoftLogin>>
let graph: Awaited<ReturnType<typeof startGraph>>
let tenant: MsTenant
let bare: MsTenant
const APP = randomUUID()
const SECRET = 'Zq8~secret.value-that-must-never-leak'
const PARTNER = randomUUID()
const E3 = randomUUID()
const EMS = randomUUID()

/** A TokenCache like the one the app gives connectors, kept in memory. */
function memoryCache(): TokenCache & { map: Map<string, CachedToken> } {
  const map = new Map<string, CachedToken>()
  return {
    map,
    get: async (k) => map.get(k),
    set: async (k, t) => void map.set(k, t),
    drop: async (k) => void map.delete(k),
  }
}

function creds(t: MsTenant = tenant, over: Record<string, unknown> = {}) {
  return {
    tenantId: t.id,
    clientId: APP,
    clientSecret: SECRET,
    loginBaseUrl: login.baseUrl,
    baseUrl: graph.baseUrl,
    ...over,
  }
}

function env(tokens?: TokenCache): ConnectorEnv {
  return tokens ? { ...base, tokens } : base
}

async function rejection(p: Promise<unknown>): Promise<VendorError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(err).toBeInstanceOf(VendorError)
  return err as VendorError
}

const list = <K extends 'users' | 'groups' | 'licenses' | 'mailbox-usage'>(
  kind: K,
  q: Partial<ResourceQuery> = {},
  e = env(),
  c = creds(),
) =>
  // biome-ignore lint/style/noNonNullAssertion: the connector has resources
  microsoft365.resources!.list(c, kind, { filter: {}, limit: 2, ...q }, e)

beforeAll(async () => {
  dir = new MicrosoftDirectory(clock)
  dir.addApp({ appId: APP, secret: SECRET, homeTenant: PARTNER })
  login = await startMicrosoftLogin(dir)
  graph = await startGraph(dir)
})
afterAll(async () => {
  await login.close()
  await graph.close()
  await base.close()
})
beforeEach(() => {
  dir.tenants.clear()
  dir.addTenant({ id: PARTNER, domain: 'msp.onmicrosoft.com', name: 'Acme MSP' })
  tenant = dir.addTenant({
    id: randomUUID(),
    domain: 'contoso.onmicrosoft.com',
    name: 'Contoso Ltd',
    consents: new Map([
      [APP, ['User.Read.All', 'Group.Read.All', 'Organization.Read.All', 'Reports.Read.All']],
    ]),
    users: [
      {
        id: 'u1',
        displayName: 'Adele Vance',
        userPrincipalName: 'adele@contoso.com',
        mail: 'adele@contoso.com',
        accountEnabled: true,
        assignedLicenses: [
          { skuId: E3, disabledPlans: [] },
          { skuId: EMS, disabledPlans: [] },
        ],
      },
      {
        id: 'u2',
        displayName: 'Alex Wilber',
        userPrincipalName: 'alex@contoso.com',
        mail: null,
        accountEnabled: false,
        assignedLicenses: [],
      },
      {
        id: 'u3',
        displayName: 'Bianca Pisani',
        userPrincipalName: 'bianca@contoso.com',
        mail: 'bianca@contoso.com',
        accountEnabled: true,
        assignedLicenses: [{ skuId: E3, disabledPlans: [] }],
      },
    ],
    groups: [
      {
        id: 'g1',
        displayName: 'Sales',
        mail: 'sales@contoso.com',
        groupTypes: ['Unified'],
        securityEnabled: false,
        mailEnabled: true,
        description: null,
      },
    ],
    skus: [
      {
        skuId: E3,
        skuPartNumber: 'ENTERPRISEPACK',
        capabilityStatus: 'Enabled',
        consumedUnits: 2,
        prepaidUnits: { enabled: 25, suspended: 0, warning: 0, lockedOut: 0 },
      },
      {
        skuId: EMS,
        skuPartNumber: 'EMS',
        capabilityStatus: 'Enabled',
        consumedUnits: 1,
        prepaidUnits: { enabled: 5, suspended: 0, warning: 0, lockedOut: 0 },
      },
    ],
    mailboxes: [
      {
        userPrincipalName: 'adele@contoso.com',
        displayName: 'Adele Vance',
        lastActivityDate: '2026-02-17',
        itemCount: 1520,
        storageUsedInBytes: 734003200,
      },
      {
        userPrincipalName: 'bianca@contoso.com',
        displayName: 'Pisani, Bianca "B"',
        lastActivityDate: '2026-02-16',
        itemCount: 88,
        storageUsedInBytes: 1048576,
      },
      {
        userPrincipalName: 'alex@contoso.com',
        displayName: 'Alex Wilber',
        lastActivityDate: '',
        itemCount: 0,
        storageUsedInBytes: 0,
      },
    ],
  })
  bare = dir.addTenant({ id: randomUUID(), domain: 'fabrikam.onmicrosoft.com', name: 'Fabrikam' })
  login.issued.length = 0
  graph.server.requests.length = 0
  graph.reportsAsCsv = false
})

describe('Microsoft 365 connector: sign-in and verify', () => {
  it('signs in to the customer tenant with client credentials for Graph and names the tenant', async () => {
    expect(await microsoft365.verify(creds(), env())).toEqual({ ok: true, account: 'Contoso Ltd' })
    expect(login.issued).toEqual([
      { tenant: tenant.id, clientId: APP, scope: 'https://graph.microsoft.com/.default', ok: true },
    ])
    const tokenReq = login.server.requests.at(-1)
    expect(tokenReq?.path).toBe(`/${tenant.id}/oauth2/v2.0/token`)
    expect(new URLSearchParams(tokenReq?.body).get('grant_type')).toBe('client_credentials')
  })

  it('keeps the token for its lifetime in env.tokens, and signs in again when it expires', async () => {
    const cache = memoryCache()
    await microsoft365.verify(creds(), env(cache))
    await microsoft365.probe?.(creds(), env(cache))
    expect(login.issued).toHaveLength(1)
    expect([...cache.map.keys()].join()).not.toContain(SECRET)
    expect([...cache.map.values()][0]?.expiresAt).toBe(clock.now().getTime() + 3599_000)
    clock.advance(3599_000 - 30_000)
    await microsoft365.probe?.(creds(), env(cache))
    expect(login.issued).toHaveLength(2)
  })

  it('without a token cache, signs in for each call', async () => {
    await microsoft365.verify(creds(), env())
    await microsoft365.verify(creds(), env())
    expect(login.issued).toHaveLength(2)
  })

  it('drops a cached token Graph refuses (401) and signs in once more', async () => {
    const cache = memoryCache()
    await microsoft365.verify(creds(), env(cache))
    dir.expireTokens()
    expect(await microsoft365.probe?.(creds(), env(cache))).toEqual({ ok: true })
    expect(login.issued).toHaveLength(2)
  })

  it('explains a tenant without consent (AADSTS7000229), keeping Microsoft’s words, without the secret', async () => {
    const r = await microsoft365.verify(creds(bare), env())
    expect(r.ok).toBe(false)
    if (r.ok) return
    expect(r.status).toBe(401)
    expect(r.error).toMatch(
      new RegExp(
        `^Microsoft Entra ID answered 401: AADSTS7000229: The client application ${APP} is missing service principal in the tenant ${bare.id}\\. See instructions here: https://go\\.microsoft\\.com/fwlink/\\?linkid=2225119 Trace ID: `,
      ),
    )
    expect(r.error).toContain(
      `How to fix: The app has no service principal in this tenant: consent was never granted or was removed. Grant admin consent`,
    )
    expect(r.error).toContain(`https://login.microsoftonline.com/${bare.id}/adminconsent?client_id=${APP}`)
    expect(r.error).not.toContain(SECRET)
  })

  it('explains an app unknown to the tenant (AADSTS700016) and a wrong secret (AADSTS7000215) without echoing it', async () => {
    const other = randomUUID()
    const r = await microsoft365.verify(creds(tenant, { clientId: other }), env())
    expect(r).toMatchObject({ ok: false, status: 400 })
    expect(!r.ok && r.error).toContain(
      `AADSTS700016: Application with identifier '${other}' was not found in the directory 'Contoso Ltd'.`,
    )
    expect(!r.ok && r.error).toContain('How to fix: The app is not present in this tenant')
    const wrong = 'wrong-secret-value-1234'
    const w = await microsoft365.verify(creds(tenant, { clientSecret: wrong }), env())
    expect(w).toMatchObject({ ok: false, status: 401 })
    expect(!w.ok && w.error).toContain('AADSTS7000215: Invalid client secret provided.')
    expect(!w.ok && w.error).toContain('How to fix: The client secret is wrong')
    expect(!w.ok && w.error).not.toContain(wrong)
  })

  it('explains Graph’s Authorization_IdentityNotFound (consent removed) and Authorization_RequestDenied', async () => {
    const cache = memoryCache()
    await microsoft365.verify(creds(), env(cache))
    const granted = tenant.consents.get(APP) as string[]
    tenant.consents.delete(APP)
    const r = await microsoft365.probe?.(creds(), env(cache))
    expect(r).toMatchObject({ ok: false, status: 401 })
    // the cached token was dropped, and signing in again now fails as the tenant has no service principal
    expect(r?.ok === false && r.error).toContain('AADSTS7000229')
    tenant.consents.set(
      APP,
      granted.filter((p) => p !== 'Reports.Read.All'),
    )
    const e = await rejection(list('mailbox-usage'))
    expect(e.status).toBe(403)
    expect(e.message).toMatch(
      /^Microsoft Graph answered 403: Authorization_RequestDenied: Insufficient privileges to complete the operation\. — How to fix: The app is consented but lacks a Graph permission/,
    )
    // what the remaining permissions allow still works
    expect(await microsoft365.verify(creds(), env())).toEqual({ ok: true, account: 'Contoso Ltd' })
  })

  it('surfaces Graph’s Identity-not-found on a fresh token verbatim', async () => {
    const cache = memoryCache()
    await microsoft365.verify(creds(), env(cache))
    tenant.consents.delete(APP)
    // the token in the cache is still valid for Graph's sign-in check but the app is gone from the tenant;
    // without a cache entry to drop, the 401 is Graph's own
    const e = await rejection(list('groups', {}, env(), creds()))
    expect(e.message).toContain('AADSTS7000229')
    const cached = await rejection(list('groups', {}, env({ ...cache, drop: async () => undefined })))
    expect(cached.message).toMatch(
      /^Microsoft Graph answered 401: Authorization_IdentityNotFound: The identity of the calling application could not be established\. — How to fix: Microsoft Graph does not know the app/,
    )
  })

  it('reports Graph’s 429 and the sign-in’s 503 with their Retry-After, without waiting', async () => {
    graph.failNext({ status: 429, retryAfter: 12 })
    const e = await rejection(list('users'))
    expect(e).toMatchObject({ status: 429, retryAfterMs: 12_000, retryable: true })
    expect(e.message).toBe('Microsoft Graph answered 429: TooManyRequests: Too many requests.')
    login.failNext({ status: 503, retryAfter: 7 })
    const s = await rejection(list('users'))
    expect(s).toMatchObject({ status: 503, retryAfterMs: 7_000 })
  })
})

describe('Microsoft 365 connector: resources', () => {
  it('pages users behind an opaque cursor, with licenses named by SKU part number', async () => {
    const p1 = await list('users')
    expect(p1.items.map((u) => [u.id, u.name, u.email, u.enabled, u.licenses])).toEqual([
      ['u1', 'Adele Vance', 'adele@contoso.com', true, ['ENTERPRISEPACK', 'EMS']],
      ['u2', 'Alex Wilber', 'alex@contoso.com', false, []],
    ])
    expect(p1.items[0]?.raw).toMatchObject({ userPrincipalName: 'adele@contoso.com' })
    expect(p1.next).toBeDefined()
    expect(p1.next).not.toContain('skiptoken')
    const p2 = await list('users', { cursor: p1.next })
    expect(p2.items.map((u) => u.id)).toEqual(['u3'])
    expect(p2.next).toBeUndefined()
    const firstPage = graph.server.requests.find((r) => r.path.startsWith('/v1.0/users'))
    expect(firstPage?.path).toBe(
      '/v1.0/users?$select=id%2CdisplayName%2CuserPrincipalName%2Cmail%2CaccountEnabled%2CassignedLicenses&$top=2',
    )
  })

  it('refuses a cursor it did not issue, or one pointing away from Graph, and unknown filters', async () => {
    const forged = Buffer.from(JSON.stringify({ next: 'http://evil.test/steal' })).toString('base64url')
    expect(await rejection(list('users', { cursor: forged }))).toMatchObject({ status: 400 })
    expect(await rejection(list('users', { cursor: 'not-a-cursor' }))).toMatchObject({ status: 400 })
    const f = await rejection(list('groups', { filter: { site: 'x' } }))
    expect(f).toMatchObject({ status: 400, message: 'Microsoft Graph: groups has no filter "site"' })
  })

  it('reads groups and subscribed SKUs as licenses', async () => {
    expect((await list('groups')).items).toEqual([
      {
        id: 'g1',
        name: 'Sales',
        email: 'sales@contoso.com',
        raw: expect.objectContaining({ groupTypes: ['Unified'] }),
      },
    ])
    const l = await list('licenses')
    expect(l.items.map(({ raw: _, ...x }) => x)).toEqual([
      { id: E3, sku: 'ENTERPRISEPACK', total: 25, consumed: 2 },
      { id: EMS, sku: 'EMS', total: 5, consumed: 1 },
    ])
  })

  it('reads the mailbox usage report as JSON pages', async () => {
    const p1 = await list('mailbox-usage')
    expect(p1.items.map(({ raw: _, ...x }) => x)).toEqual([
      {
        id: 'adele@contoso.com',
        name: 'Adele Vance',
        storageUsedBytes: 734003200,
        itemCount: 1520,
        lastActivity: '2026-02-17T00:00:00.000Z',
      },
      {
        id: 'bianca@contoso.com',
        name: 'Pisani, Bianca "B"',
        storageUsedBytes: 1048576,
        itemCount: 88,
        lastActivity: '2026-02-16T00:00:00.000Z',
      },
    ])
    const p2 = await list('mailbox-usage', { cursor: p1.next })
    expect(p2.items.map((m) => [m.id, m.lastActivity])).toEqual([['alex@contoso.com', null]])
    expect(p2.next).toBeUndefined()
    const req = graph.server.requests.find((r) => r.path.includes('getMailboxUsageDetail'))
    expect(decodeURIComponent(req?.path ?? '')).toBe(
      "/v1.0/reports/getMailboxUsageDetail(period='D7')?$format=application/json",
    )
  })

  it('reads the report as CSV when Graph redirects to the download, without sending the token there', async () => {
    graph.reportsAsCsv = true
    const r = await list('mailbox-usage', { filter: { period: 'D30' } })
    expect(r.next).toBeUndefined()
    expect(r.items.map(({ raw: _, ...x }) => x)).toEqual([
      {
        id: 'adele@contoso.com',
        name: 'Adele Vance',
        storageUsedBytes: 734003200,
        itemCount: 1520,
        lastActivity: '2026-02-17T00:00:00.000Z',
      },
      {
        id: 'bianca@contoso.com',
        name: 'Pisani, Bianca "B"',
        storageUsedBytes: 1048576,
        itemCount: 88,
        lastActivity: '2026-02-16T00:00:00.000Z',
      },
      { id: 'alex@contoso.com', name: 'Alex Wilber', storageUsedBytes: 0, itemCount: 0, lastActivity: null },
    ])
    expect(r.items[0]?.raw).toMatchObject({ reportPeriod: '30', hasArchive: 'False' })
    const download = graph.server.requests.find((q) => q.path.startsWith('/download/'))
    expect(download?.headers.authorization).toBeUndefined()
    expect(await rejection(list('mailbox-usage', { filter: { period: 'D1' } }))).toMatchObject({
      status: 400,
    })
  })
})
