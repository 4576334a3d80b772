import { randomUUID } from 'node:crypto'
import { beforeAll, describe, expect, it } from 'vitest'
import { DeliveryWorker } from '../src/delivery/worker.ts'
import { transports } from '../src/wiring.ts'
import { actionsFixture, type Tenants } from './actions-fixture.ts'
import type { Harness } from './harness.ts'
import { type GraphStandIn, startGraph } from './standins/graph.ts'
import {
  MicrosoftDirectory,
  type MicrosoftLoginStandIn,
  type MsTenant,
  type MsUser,
  startMicrosoftLogin,
} from './standins/microsoft-login.ts'

/**
 * Microsoft 365 actions (all need approval) against the Graph stand-in: a user created with the five properties
 * Graph requires, never before approval and once after (also when Graph's answer is lost: the retry finds the user
 * by userPrincipalName), the password masked everywhere Patchbay shows or stores the action; a user disabled and
 * their sessions revoked; licenses added and removed in one assignLicense, read back before a retry; Graph's 400s
 * and 404s fail the action with Graph's words.
 */
const PASSWORD = 'Xq7!never-in-a-row-pw-5521'
const APP = randomUUID()
const APP_SECRET = 'Gr4ph~app-secret-for-actions'
const E3 = randomUUID()
const E5 = randomUUID()
const PLAN = randomUUID()

const fx = actionsFixture('microsoft365', {
  // The directory runs on the harness's clock (token lifetimes, sign-in times).
  standIn: async (h) => {
    const dir = new MicrosoftDirectory(h.clock)
    const partner = dir.addTenant({ id: randomUUID(), domain: 'msp.onmicrosoft.com', name: 'MSP' })
    dir.addApp({ appId: APP, secret: APP_SECRET, homeTenant: partner.id })
    const tenant = dir.addTenant({
      id: randomUUID(),
      domain: 'contoso.onmicrosoft.com',
      name: 'Contoso',
      consents: new Map([[APP, ['User.ReadWrite.All', 'Organization.Read.All']]]),
      users: [
        user('Adele Vance', 'adele@contoso.onmicrosoft.com', { usageLocation: 'US', licenses: [E5] }),
        user('Megan Bowen', 'megan@contoso.onmicrosoft.com', { usageLocation: null }),
      ],
      skus: [sku(E3, 'ENTERPRISEPACK', 10, 0), sku(E5, 'SPE_E5', 5, 1)],
    })
    const login = await startMicrosoftLogin(dir)
    const graph = await startGraph(dir)
    return { dir, tenant, login, graph, close: () => Promise.all([login.close(), graph.close()]) }
  },
  credentials: ({ tenant, login, graph }) => ({
    tenantId: tenant.id,
    clientId: APP,
    clientSecret: APP_SECRET,
    loginBaseUrl: login.baseUrl,
    baseUrl: graph.baseUrl,
  }),
})
let h: Harness
let t: Tenants
let dir: MicrosoftDirectory
let login: MicrosoftLoginStandIn
let graph: GraphStandIn
let tenant: MsTenant
let approverKey: string
beforeAll(() => {
  h = fx.h
  t = fx.t
  approverKey = fx.approverKey
  dir = fx.standIn.dir
  tenant = fx.standIn.tenant
  login = fx.standIn.login
  graph = fx.standIn.graph
})

function user(
  displayName: string,
  upn: string,
  o: { usageLocation: string | null; licenses?: string[] },
): MsUser {
  return {
    id: randomUUID(),
    displayName,
    userPrincipalName: upn,
    mail: upn,
    accountEnabled: true,
    mailNickname: upn.split('@')[0] as string,
    usageLocation: o.usageLocation,
    assignedLicenses: (o.licenses ?? []).map((skuId) => ({ skuId, disabledPlans: [] })),
  }
}

function sku(skuId: string, skuPartNumber: string, enabled: number, consumedUnits: number) {
  return {
    skuId,
    skuPartNumber,
    capabilityStatus: 'Enabled',
    consumedUnits,
    prepaidUnits: { enabled, suspended: 0, warning: 0, lockedOut: 0 },
  }
}

const { act, approve, get } = fx
const writes = (method: string, path: RegExp) =>
  graph.server.requests.filter((q) => q.method === method && path.test(q.path.split('?')[0] as string))
const userPosts = () => writes('POST', /^\/v1\.0\/users$/)
const newUser = (alias: string) => ({
  displayName: `New ${alias}`,
  mailNickname: alias,
  userPrincipalName: `${alias}@contoso.onmicrosoft.com`,
  password: PASSWORD,
  usageLocation: 'GB',
})

/** Every table's rows as text, searched for the password (the sealed input is encrypted, so it never matches). */
async function tablesHolding(text: string): Promise<string[]> {
  const tables = await h.ctx.db.query<{ name: string }>(
    `SELECT quote_ident(table_name) AS name FROM information_schema.tables
      WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'`,
  )
  const found: string[] = []
  for (const { name } of tables) {
    const [row] = await h.ctx.db.query<{ n: string }>(
      `SELECT count(*) AS n FROM ${name} t WHERE strpos(t::text, $1) > 0`,
      [text],
    )
    if (Number(row?.n) > 0) found.push(name)
  }
  return found
}

describe('Microsoft 365: declared actions', () => {
  it('lists the three actions, each needing approval, with the input as JSON Schema', async () => {
    const r = await h.json('GET', `/api/v1/integrations/providers?orgId=${t.orgA.id}`)
    expect(r.status).toBe(200)
    const m365 = r.body.data.find((p: { name: string }) => p.name === 'microsoft365')
    const byName = Object.fromEntries(m365.actions.map((a: { name: string }) => [a.name, a]))
    expect(Object.keys(byName).sort()).toEqual(['assign_licenses', 'create_user', 'disable_user'])
    for (const a of Object.values(byName) as { needs_approval: boolean }[])
      expect(a.needs_approval).toBe(true)
    const create = byName.create_user as { input_schema: { properties: object; required: string[] } }
    expect(Object.keys(create.input_schema.properties)).toEqual(
      expect.arrayContaining(['displayName', 'mailNickname', 'userPrincipalName', 'password']),
    )
    expect(create.input_schema.required).toEqual(
      expect.arrayContaining(['displayName', 'mailNickname', 'userPrincipalName', 'password']),
    )
  })
})

describe('Microsoft 365: create a user', () => {
  it('is sent once after approval, exactly as Graph documents it, and the password is shown nowhere', async () => {
    const r = await act('create_user', newUser('nestor'))
    expect(r.status, JSON.stringify(r.body)).toBe(202)
    expect(r.body.status).toBe('pending_approval')
    expect(r.body.input.password).toBe('********')
    expect(r.body.preview).toEqual({
      ok: true,
      vendor: { userPrincipalName: 'nestor@contoso.onmicrosoft.com', available: true },
    })

    // The requester's own key cannot approve, and nothing leaves before a second key does.
    expect((await approve(r.body.id, t.orgAToken)).status).toBe(403)
    await h.worker.drain()
    expect(userPosts()).toHaveLength(0)

    expect((await approve(r.body.id)).status).toBe(202)
    await h.worker.drain()
    await h.worker.drain()
    expect(userPosts()).toHaveLength(1)
    const sent = userPosts()[0]
    expect(sent?.headers.authorization).toMatch(/^Bearer /)
    expect(sent?.headers['content-type']).toContain('application/json')
    expect(sent?.json).toEqual({
      accountEnabled: true,
      displayName: 'New nestor',
      mailNickname: 'nestor',
      userPrincipalName: 'nestor@contoso.onmicrosoft.com',
      passwordProfile: { forceChangePasswordNextSignIn: true, password: PASSWORD },
      usageLocation: 'GB',
    })
    const created = tenant.users.find((u) => u.userPrincipalName === 'nestor@contoso.onmicrosoft.com')
    expect(created?.passwordProfile?.password).toBe(PASSWORD)

    const done = await get(r.body.id)
    expect(done.status).toBe('completed')
    expect(done.result.vendorRef).toBe(created?.id)
    expect(done.input).toMatchObject({
      userPrincipalName: 'nestor@contoso.onmicrosoft.com',
      mailNickname: 'nestor',
    })
    expect(done.input.password).toBe('********')

    // Nowhere: the action, the list, the audit log, the events, nor any row of any table.
    expect(JSON.stringify(done)).not.toContain(PASSWORD)
    const list = await h.json('GET', '/api/v1/actions?action=create_user&limit=100', { token: t.orgAToken })
    expect(list.body.data.map((a: { id: string }) => a.id)).toContain(r.body.id)
    expect(JSON.stringify(list.body)).not.toContain(PASSWORD)
    const audit = await h.json('GET', '/api/v1/audit-logs?action=action.*&limit=100', { token: t.orgAToken })
    expect(audit.status).toBe(200)
    expect(audit.body.data.length).toBeGreaterThan(0)
    expect(JSON.stringify(audit.body)).not.toContain(PASSWORD)
    const events = await h.ctx.db.query<{ type: string; data: unknown }>(
      `SELECT type, data FROM events WHERE data->>'actionId' = $1`,
      [r.body.id],
    )
    expect(events.map((e) => e.type).sort()).toEqual([
      'action.approved',
      'action.completed',
      'action.requested',
    ])
    expect(JSON.stringify(events)).not.toContain(PASSWORD)
    expect(await tablesHolding(PASSWORD)).toEqual([])
    // The sweep does find what is stored in clear: the rest of the input.
    expect(await tablesHolding('nestor@contoso.onmicrosoft.com')).toEqual(expect.arrayContaining(['actions']))
  })

  it('fails on Graph’s 400 for a UPN already taken, with Graph’s message, shown to the approver first', async () => {
    const r = await act('create_user', { ...newUser('adele'), displayName: 'Another Adele' })
    expect(r.status).toBe(202)
    expect(r.body.preview.vendor).toMatchObject({
      available: false,
      existing: { displayName: 'Adele Vance' },
    })
    const before = userPosts().length
    await approve(r.body.id)
    await h.worker.drain()
    expect(userPosts()).toHaveLength(before + 1)
    const failed = await get(r.body.id)
    expect(failed.status).toBe('failed')
    expect(failed.error).toContain(
      'Request_BadRequest: Another object with the same value for property userPrincipalName already exists.',
    )
    expect(failed.attempts).toHaveLength(1)
    expect(failed.attempts[0]).toMatchObject({ outcome: 'failed', vendorStatus: 400 })
    expect(JSON.stringify(failed)).not.toContain(PASSWORD)
    expect(tenant.users.filter((u) => u.userPrincipalName === 'adele@contoso.onmicrosoft.com')).toHaveLength(
      1,
    )
  })

  it('creates the user once when Graph’s answer is lost: the retry finds it by userPrincipalName', async () => {
    const r = await act('create_user', newUser('lidia'))
    await approve(r.body.id)
    graph.loseNextWriteAnswer = true
    const before = userPosts().length
    await h.worker.drain()
    expect(userPosts()).toHaveLength(before + 1)
    expect((await get(r.body.id)).status).toBe('running')
    h.clock.advance(600_000)
    await h.worker.drain()
    expect(userPosts()).toHaveLength(before + 1)
    const lookups = graph.server.requests.filter(
      (q) => q.method === 'GET' && q.path.startsWith('/v1.0/users/lidia%40contoso.onmicrosoft.com'),
    )
    expect(lookups.length).toBeGreaterThanOrEqual(2) // the preview's, then the retry's
    const done = await get(r.body.id)
    expect(done.status).toBe('completed')
    expect(done.attempts.map((a: { vendorStatus: number }) => a.vendorStatus)).toEqual([504, 200])
    const lidia = tenant.users.filter((u) => u.userPrincipalName === 'lidia@contoso.onmicrosoft.com')
    expect(lidia).toHaveLength(1)
    expect(done.result.vendorRef).toBe(lidia[0]?.id)
    expect(await tablesHolding(PASSWORD)).toEqual([])
  })

  it('creates the user once when the worker dies mid-attempt after Graph took the request', async () => {
    const r = await act('create_user', newUser('patti'))
    await approve(r.body.id)
    const before = userPosts().length
    const held = graph.server.hold()
    const doomed = new DeliveryWorker(h.ctx, transports(h.ctx), { leaseMs: 1000 })
    const abandoned = doomed.drain()
    const inFlight = await held.arrived
    expect(inFlight.method).toBe('POST')
    expect(inFlight.path).toBe('/v1.0/users')
    // Graph acts on the request (here: the same request once more, past the hold) while the worker that sent it is
    // gone as far as the database knows: its lease runs out and another worker takes over.
    const taken = await fetch(graph.server.url('127.0.0.1', '/v1.0/users'), {
      method: 'POST',
      headers: { authorization: String(inFlight.headers.authorization), 'content-type': 'application/json' },
      body: inFlight.body,
    })
    expect(taken.status).toBe(201)
    const created = (await taken.json()) as { id: string }
    h.clock.advance(1001)
    await h.worker.drain()
    expect(userPosts()).toHaveLength(before + 2) // the held one and Graph's own processing of it, nothing more
    const lookups = graph.server.requests.filter((q) =>
      q.path.startsWith('/v1.0/users/patti%40contoso.onmicrosoft.com?'),
    )
    expect(lookups.map((q) => q.method)).toEqual(['GET', 'GET']) // the preview's, then the new worker's
    const done = await get(r.body.id)
    expect(done.status).toBe('completed')
    expect(done.result.vendorRef).toBe(created.id)
    // The dead worker's answer finally arrives (Graph's 201); it changes nothing.
    held.release({ status: 201, body: created })
    await abandoned
    expect(tenant.users.filter((u) => u.userPrincipalName === 'patti@contoso.onmicrosoft.com')).toHaveLength(
      1,
    )
    const after = await get(r.body.id)
    expect(after.status).toBe('completed')
    expect(after.result.vendorRef).toBe(created.id)
  })

  it('names bad fields', async () => {
    const r = await act('create_user', {
      displayName: '',
      mailNickname: 'has space',
      userPrincipalName: 'no-at-sign',
      usageLocation: 'usa',
    })
    expect(r.status).toBe(422)
    const paths = r.body.details.map((d: { path: string }) => d.path)
    expect(paths).toEqual(
      expect.arrayContaining([
        'input.displayName',
        'input.mailNickname',
        'input.userPrincipalName',
        'input.password',
        'input.usageLocation',
      ]),
    )
  })
})

describe('Microsoft 365: disable a user and revoke their sessions', () => {
  it('PATCHes accountEnabled false, then revokes sign-in sessions, once after approval', async () => {
    const adele = tenant.users[0] as MsUser
    const r = await act('disable_user', { userId: adele.userPrincipalName })
    expect(r.body.preview.vendor.user).toMatchObject({ id: adele.id, accountEnabled: true })
    await h.worker.drain()
    expect(writes('PATCH', /^\/v1\.0\/users\//)).toHaveLength(0)
    await approve(r.body.id)
    await h.worker.drain()
    const patches = writes('PATCH', /^\/v1\.0\/users\//)
    expect(patches).toHaveLength(1)
    expect(patches[0]?.path).toBe('/v1.0/users/adele%40contoso.onmicrosoft.com')
    expect(patches[0]?.json).toEqual({ accountEnabled: false })
    const revokes = writes('POST', /\/revokeSignInSessions$/)
    expect(revokes).toHaveLength(1)
    expect(revokes[0]?.path).toBe('/v1.0/users/adele%40contoso.onmicrosoft.com/revokeSignInSessions')
    expect(revokes[0]?.body).toBe('')
    expect(adele.accountEnabled).toBe(false)
    expect(adele.signInSessionsValidFromDateTime).toBe(h.clock.now().toISOString())
    const done = await get(r.body.id)
    expect(done.status).toBe('completed')
    expect(JSON.parse(done.attempts[0].vendorBody)).toMatchObject({
      disable: { status: 204 },
      revokeSignInSessions: { status: 200, body: { value: true } },
    })
  })

  it('never sends a rejected one', async () => {
    const megan = tenant.users[1] as MsUser
    const patchesBefore = writes('PATCH', /^\/v1\.0\/users\//).length
    const r = await act('disable_user', { userId: megan.id })
    const rejected = await h.json('POST', `/api/v1/actions/${r.body.id}/reject`, {
      token: approverKey,
      body: { reason: 'Megan is on leave, not leaving' },
    })
    expect(rejected.status).toBe(200)
    expect((await approve(r.body.id)).status).toBe(409)
    await h.worker.drain()
    expect(writes('PATCH', /^\/v1\.0\/users\//)).toHaveLength(patchesBefore)
    expect(writes('POST', /\/revokeSignInSessions$/).filter((q) => q.path.includes(megan.id))).toHaveLength(0)
    expect(megan.accountEnabled).toBe(true)
    expect((await get(r.body.id)).status).toBe('rejected')
  })

  it('works with the narrower permissions, and fails with Graph’s 403 without them', async () => {
    const narrow = dir.addTenant({
      id: randomUUID(),
      domain: 'fabrikam.onmicrosoft.com',
      name: 'Fabrikam',
      consents: new Map([
        [
          APP,
          [
            'User.Read.All',
            'Organization.Read.All',
            'User.EnableDisableAccount.All',
            'User.RevokeSessions.All',
          ],
        ],
      ]),
      users: [user('Alex Wilber', 'alex@fabrikam.onmicrosoft.com', { usageLocation: 'US' })],
    })
    const readOnly = dir.addTenant({
      id: randomUUID(),
      domain: 'tailspin.onmicrosoft.com',
      name: 'Tailspin',
      consents: new Map([[APP, ['User.Read.All', 'Organization.Read.All']]]),
      users: [user('Pradeep Gupta', 'pradeep@tailspin.onmicrosoft.com', { usageLocation: 'US' })],
    })
    const connect = async (tenantId: string) => {
      const r = await h.json('POST', '/api/v1/integrations', {
        token: t.orgAToken,
        body: {
          provider: 'microsoft365',
          name: tenantId,
          credentials: {
            tenantId,
            clientId: APP,
            clientSecret: APP_SECRET,
            loginBaseUrl: login.baseUrl,
            baseUrl: graph.baseUrl,
          },
          enabled_capabilities: ['read_resources'],
        },
      })
      expect(r.status, JSON.stringify(r.body)).toBe(201)
      return r.body.data.id as string
    }
    const disable = async (integration: string, userId: string) => {
      const r = await h.json('POST', `/api/v1/integrations/${integration}/actions`, {
        token: t.orgAToken,
        body: { action: 'disable_user', input: { userId } },
      })
      expect(r.status, JSON.stringify(r.body)).toBe(202)
      await approve(r.body.id)
      await h.worker.drain()
      return get(r.body.id)
    }
    const alex = narrow.users[0] as MsUser
    expect((await disable(await connect(narrow.id), alex.id)).status).toBe('completed')
    expect(alex.accountEnabled).toBe(false)

    const pradeep = readOnly.users[0] as MsUser
    const failed = await disable(await connect(readOnly.id), pradeep.id)
    expect(failed.status).toBe('failed')
    expect(failed.error).toContain(
      'Authorization_RequestDenied: Insufficient privileges to complete the operation.',
    )
    expect(failed.attempts).toHaveLength(1)
    expect(pradeep.accountEnabled).toBe(true)
  })

  it('fails with Graph’s 404 for a user the tenant does not have', async () => {
    const ghost = randomUUID()
    const r = await act('disable_user', { userId: ghost })
    expect(r.body.preview).toMatchObject({ ok: false, status: 404 })
    await approve(r.body.id)
    await h.worker.drain()
    const failed = await get(r.body.id)
    expect(failed.status).toBe('failed')
    expect(failed.error).toContain(`Request_ResourceNotFound: Resource '${ghost}' does not exist`)
    expect(failed.attempts).toHaveLength(1)
  })
})

describe('Microsoft 365: assign and remove licenses', () => {
  it('sends one assignLicense with addLicenses and removeLicenses, as Graph documents it', async () => {
    const adele = tenant.users[0] as MsUser
    const r = await act('assign_licenses', {
      userId: adele.id,
      addLicenses: [{ skuId: E3, disabledPlans: [PLAN] }],
      removeLicenses: [E5],
    })
    expect(r.status, JSON.stringify(r.body)).toBe(202)
    expect(r.body.preview.vendor).toEqual({
      user: { id: adele.id, displayName: 'Adele Vance', userPrincipalName: adele.userPrincipalName },
      add: [{ skuId: E3, skuPartNumber: 'ENTERPRISEPACK', available: 10 }],
      remove: [{ skuId: E5, skuPartNumber: 'SPE_E5', available: 4 }],
    })
    await h.worker.drain()
    expect(writes('POST', /\/assignLicense$/)).toHaveLength(0)
    await approve(r.body.id)
    await h.worker.drain()
    const sent = writes('POST', /\/assignLicense$/)
    expect(sent).toHaveLength(1)
    expect(sent[0]?.path).toBe(`/v1.0/users/${adele.id}/assignLicense`)
    expect(sent[0]?.json).toEqual({
      addLicenses: [{ disabledPlans: [PLAN], skuId: E3 }],
      removeLicenses: [E5],
    })
    expect(adele.assignedLicenses).toEqual([{ skuId: E3, disabledPlans: [PLAN] }])
    const done = await get(r.body.id)
    expect(done.status).toBe('completed')
    expect(done.result.vendorRef).toBe(adele.id)
  })

  it('reads the licenses back before a retry, and sends nothing when the first attempt took', async () => {
    const lidia = tenant.users.find((u) => u.mailNickname === 'lidia') as MsUser
    const r = await act('assign_licenses', { userId: lidia.id, addLicenses: [{ skuId: E5 }] })
    await approve(r.body.id)
    graph.loseNextWriteAnswer = true
    const before = writes('POST', /\/assignLicense$/).length
    await h.worker.drain()
    h.clock.advance(600_000)
    await h.worker.drain()
    expect(writes('POST', /\/assignLicense$/)).toHaveLength(before + 1)
    expect(lidia.assignedLicenses).toEqual([{ skuId: E5, disabledPlans: [] }])
    const done = await get(r.body.id)
    expect(done.status).toBe('completed')
    expect(done.attempts.map((a: { vendorStatus: number }) => a.vendorStatus)).toEqual([504, 200])
  })

  it('fails with Graph’s words for a user without a usage location', async () => {
    const megan = tenant.users[1] as MsUser
    const r = await act('assign_licenses', { userId: megan.id, addLicenses: [{ skuId: E3 }] })
    await approve(r.body.id)
    await h.worker.drain()
    const failed = await get(r.body.id)
    expect(failed.status).toBe('failed')
    expect(failed.error).toContain('License assignment cannot be done for user with invalid usage location.')
    expect(megan.assignedLicenses).toEqual([])

    // An admin sets her usage location; the action is retried by hand and goes through.
    megan.usageLocation = 'NL'
    const retry = await h.json('POST', `/api/v1/actions/${r.body.id}/retry`, { token: t.orgAToken })
    expect(retry.status).toBe(202)
    await h.worker.drain()
    const done = await get(r.body.id)
    expect(done.status).toBe('completed')
    expect(done.attempts.map((a: { vendorStatus: number }) => a.vendorStatus)).toEqual([400, 200])
    expect(megan.assignedLicenses).toEqual([{ skuId: E3, disabledPlans: [] }])
  })

  it('names bad fields: nothing to do, a SKU both added and removed', async () => {
    const none = await act('assign_licenses', { userId: randomUUID() })
    expect(none.status).toBe(422)
    expect(none.body.details.map((d: { path: string }) => d.path)).toContain('input.addLicenses')
    const both = await act('assign_licenses', {
      userId: randomUUID(),
      addLicenses: [{ skuId: E3 }],
      removeLicenses: [E3, 'not-a-sku'],
    })
    expect(both.status).toBe(422)
    expect(both.body.details.map((d: { path: string }) => d.path)).toContain('input.removeLicenses.1')
  })
})

describe('Microsoft 365: approval', () => {
  it('sends none of its actions before approval, nor after a rejection or expiry; the requester cannot approve', async () => {
    const adele = tenant.users[0] as MsUser
    await fx.neverSentUnapproved(
      [
        { action: 'create_user', input: newUser('never') },
        { action: 'disable_user', input: { userId: adele.id } },
        { action: 'assign_licenses', input: { userId: adele.id, removeLicenses: [E3] } },
      ],
      () => graph.server.requests.filter((q) => q.method !== 'GET').length,
    )
    expect(await tablesHolding(PASSWORD)).toEqual([])
  })
})
