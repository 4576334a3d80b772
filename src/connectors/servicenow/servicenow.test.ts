import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { connectorTestEnv } from '../../../test/standins/env.ts'
import { ServiceNowStandIn } from '../../../test/standins/servicenow.ts'
import { ManualClock } from '../../lib/clock.ts'
import { connector } from '../registry.ts'
import type { TicketOperations } from '../types.ts'
import type { VendorError } from '../vendor-error.ts'
import { servicenow, ticketUrl } from './index.ts'

const clock = new ManualClock('2026-02-18T12:00:00.000Z')
const env = connectorTestEnv(clock)
const ops = servicenow.tickets as TicketOperations
let sn: ServiceNowStandIn

beforeAll(async () => {
  sn = await new ServiceNowStandIn({ clock }).start()
})
afterAll(async () => {
  await sn.close()
  await env.close()
})
beforeEach(() => sn.resetRequests())

const newTicket = (over: Record<string, string> = {}) => ({
  title: 'Switch SW-CORE-1 unreachable',
  description: 'No ping answer for 5 minutes.',
  ...over,
})

describe('descriptor', () => {
  it('is registered with its credential schema', () => {
    expect(connector('servicenow')).toBe(servicenow)
    expect(Object.keys(servicenow.descriptor.credentialSchema)).toEqual([
      'instance',
      'username',
      'password',
      'oauthToken',
      'closeCode',
      'baseUrl',
    ])
    expect(servicenow.descriptor.credentialSchema.password).toMatchObject({ sensitive: true })
    expect(servicenow.descriptor.credentialSchema.oauthToken).toMatchObject({ sensitive: true })
  })

  it('links the incident form on the instance', () => {
    const id = '0123456789abcdef0123456789abcdef'
    const expected = `https://acme.service-now.com/nav_to.do?uri=incident.do%3Fsys_id%3D${id}`
    expect(ticketUrl({ instance: 'acme' }, id)).toBe(expected)
    expect(ticketUrl({ instance: 'https://acme.service-now.com/' }, id)).toBe(expected)
  })
})

describe('verify', () => {
  it('reads the integration user with Basic auth', async () => {
    expect(await servicenow.verify(sn.credentials, env)).toEqual({
      ok: true,
      account: 'Patchbay Integration on acme.service-now.com',
    })
    const req = sn.requests.at(-1)
    expect(req?.path).toBe('/api/now/table/sys_user')
    expect(req?.query.get('sysparm_query')).toBe('user_name=patchbay.integration')
    expect(req?.headers.authorization).toBe(
      `Basic ${Buffer.from('patchbay.integration:Sn0w-Pa55-w0rd-xyz').toString('base64')}`,
    )
  })

  it('uses an OAuth token instead when one is given', async () => {
    const { password: _, ...creds } = sn.credentials
    expect(await servicenow.verify({ ...creds, oauthToken: sn.oauthToken }, env)).toEqual({
      ok: true,
      account: 'acme.service-now.com',
    })
    expect(sn.requests.at(-1)?.headers.authorization).toBe(`Bearer ${sn.oauthToken}`)
  })

  it("rejects a bad password with ServiceNow's message and detail, never the password", async () => {
    expect(await servicenow.verify({ ...sn.credentials, password: 'not-the-password' }, env)).toEqual({
      ok: false,
      status: 401,
      error: 'ServiceNow answered 401: User Not Authenticated: Required to provide Auth information',
    })
    const pw = sn.credentials.password as string
    sn.failNext(401, { body: { error: { message: `Bad password ${pw}`, detail: null }, status: 'failure' } })
    const r = await servicenow.verify(sn.credentials, env)
    expect(JSON.stringify(r)).not.toContain(pw)
  })

  it('recognises a hibernating instance', async () => {
    sn.hibernate()
    try {
      expect(await servicenow.verify(sn.credentials, env)).toEqual({
        ok: false,
        status: 503,
        error: 'ServiceNow: the instance is hibernating; wake it up and try again',
      })
    } finally {
      sn.hibernate(false)
    }
  })
})

describe('incidents', () => {
  it('creates an incident with impact/urgency for the priority, group and company by name, and correlation_id', async () => {
    const t = await ops.createTicket(
      sn.credentials,
      newTicket({ externalRef: 'alert-10', priority: '2', queue: 'Network', companyId: 'Contoso' }),
      env,
    )
    expect(t).toEqual({
      id: expect.stringMatching(/^[0-9a-f]{32}$/),
      number: 'INC0010001',
      title: 'Switch SW-CORE-1 unreachable',
      status: 'New',
      url: `https://acme.service-now.com/nav_to.do?uri=incident.do%3Fsys_id%3D${t.id}`,
      updatedAt: '2026-02-18T12:00:00.000Z',
    })
    expect(sn.requests.find((r) => r.method === 'POST')?.body).toEqual({
      short_description: 'Switch SW-CORE-1 unreachable',
      description: 'No ping answer for 5 minutes.',
      correlation_id: 'alert-10',
      correlation_display: 'Patchbay',
      impact: '1',
      urgency: '2',
      assignment_group: '287ee6fea9fe198100ada7950d0b1b73',
      company: '31bea3d53790200044e0bfc8bcbe5dec',
    })
    expect(sn.ticket(t.id)).toMatchObject({
      queue: 'Network',
      company: 'Contoso',
      priority: '2',
      externalRef: 'alert-10',
    })
  })

  it('finds the incident already made for a reference', async () => {
    const before = sn.raw.incident.length
    const first = await ops.createTicket(sn.credentials, newTicket({ externalRef: 'alert-11' }), env)
    const again = await ops.createTicket(sn.credentials, newTicket({ externalRef: 'alert-11' }), env)
    expect(again).toEqual(first)
    expect(sn.raw.incident.length).toBe(before + 1)
    expect(
      sn.requests
        .filter((r) => r.method === 'GET')
        .at(-1)
        ?.query.get('sysparm_query'),
    ).toBe('correlation_id=alert-11')
  })

  it('says which group or company name is unknown', async () => {
    await expect(ops.createTicket(sn.credentials, newTicket({ queue: 'Nope' }), env)).rejects.toThrow(
      'ServiceNow: there is no assignment group named "Nope"',
    )
  })

  it('resolves with close_code and close_notes, moves by label or code, and writes work notes and comments', async () => {
    const t = await ops.createTicket(sn.credentials, newTicket(), env)
    clock.advance(30_000)
    expect(await ops.updateStatus(sn.credentials, t.id, 'In Progress', env)).toMatchObject({
      status: 'In Progress',
    })
    await ops.addNote(sn.credentials, t.id, { text: 'Acknowledged by Ann', internal: true }, env)
    await ops.addNote(sn.credentials, t.id, { text: 'We are looking into it', internal: false }, env)
    const resolved = await ops.updateStatus(sn.credentials, t.id, '6', env)
    expect(resolved).toMatchObject({ status: 'Resolved', updatedAt: '2026-02-18T12:00:30.000Z' })
    expect(sn.requests.filter((r) => r.method === 'PATCH').map((r) => r.body)).toEqual([
      { state: '2' },
      { work_notes: 'Acknowledged by Ann' },
      { comments: 'We are looking into it' },
      { state: '6', close_code: 'Solution provided', close_notes: 'Resolved through Patchbay.' },
    ])
    expect(sn.ticket(t.id)?.notes).toEqual([
      { text: 'Acknowledged by Ann', internal: true },
      { text: 'We are looking into it', internal: false },
    ])
    expect(sn.raw.incident.find((r) => r.sys_id === t.id)).toMatchObject({ state: '6', active: 'false' })
    expect(await ops.getTicket(sn.credentials, t.id, env)).toEqual(resolved)
  })

  it("relays a data policy's refusal word for word, and names the states it knows", async () => {
    const t = await ops.createTicket(sn.credentials, newTicket(), env)
    // An instance whose data policy also wants a field Patchbay does not fill.
    sn.failNext(403, {
      body: {
        error: { message: 'Operation Failed', detail: 'Data Policy Exception: \n Root cause is mandatory\n' },
        status: 'failure',
      },
    })
    const err = await ops.updateStatus(sn.credentials, t.id, 'Resolved', env).catch((e: unknown) => e)
    expect(err).toMatchObject({
      status: 403,
      message: 'ServiceNow answered 403: Operation Failed: Data Policy Exception: \n Root cause is mandatory',
    })
    expect((err as VendorError).retryable).toBe(false)
    await expect(ops.updateStatus(sn.credentials, t.id, 'Closed', env)).resolves.toMatchObject({
      status: 'Closed',
    })
    await expect(ops.updateStatus(sn.credentials, t.id, 'Pending', env)).rejects.toThrow(
      'ServiceNow: "Pending" is not an incident state (New, In Progress, On Hold, Resolved, Closed, Canceled, or a state number)',
    )
  })

  it('answers 404 in ServiceNow’s words for an unknown sys_id', async () => {
    await expect(
      ops.getTicket(sn.credentials, 'ffffffffffffffffffffffffffffffff', env),
    ).rejects.toMatchObject({
      status: 404,
      message:
        "ServiceNow answered 404: No Record found: Record doesn't exist or ACL restricts the record retrieval",
    })
  })
})

describe('companies and groups', () => {
  it('pages through core_company by offset, following the Link header', async () => {
    sn.addCompanies(150)
    const first = await ops.listCompanies(sn.credentials, {}, env)
    expect(first.items).toHaveLength(100)
    const second = await ops.listCompanies(sn.credentials, { cursor: first.next }, env)
    expect(second.next).toBeUndefined()
    expect([...first.items, ...second.items]).toHaveLength(152)
    expect(sn.requests.map((r) => r.query.get('sysparm_offset'))).toEqual(['0', '100'])
  })

  it('lists active assignment groups as queues', async () => {
    expect(await ops.listQueues?.(sn.credentials, env)).toEqual([
      { id: '287ee6fea9fe198100ada7950d0b1b73', name: 'Network' },
      { id: '8a5055c9c61122780043563ef53438e3', name: 'Service Desk' },
    ])
  })
})

describe('changed incidents', () => {
  it('queries sys_updated_on >= since ordered by it, a page at a time', async () => {
    clock.set('2026-02-21T06:00:00.400Z')
    const since = clock.now()
    const made = Array.from({ length: 110 }, (_, i) => {
      clock.advance(1000)
      return sn.addIncident({ short_description: `Changed ${i}` })
    })
    clock.advance(1000)
    sn.setStatus(made[0]?.sys_id as string, 'Resolved')

    const first = await ops.listChangedTickets(sn.credentials, { since }, env)
    expect(first.items).toHaveLength(100)
    const second = await ops.listChangedTickets(sn.credentials, { cursor: first.next }, env)
    expect(second.next).toBeUndefined()
    const all = [...first.items, ...second.items]
    expect(all).toHaveLength(110)
    expect(all[0]?.title).toBe('Changed 1')
    expect(all.at(-1)).toMatchObject({ title: 'Changed 0', status: 'Resolved' })
    expect(sn.requests[0]?.query.get('sysparm_query')).toBe(
      'sys_updated_on>=2026-02-21 06:00:00^ORDERBYsys_updated_on',
    )
  })
})

describe('failures', () => {
  it('surfaces 429 Retry-After and 5xx as retryable, and a missing password as a configuration error', async () => {
    sn.failNext(429, { retryAfter: 5 })
    const limited = await ops.listQueues?.(sn.credentials, env).catch((e: unknown) => e)
    expect(limited).toMatchObject({ status: 429, retryAfterMs: 5000 })
    sn.failNext(500)
    const broken = await ops.getTicket(sn.credentials, 'x', env).catch((e: unknown) => e)
    expect(broken).toMatchObject({ status: 500, message: 'ServiceNow answered 500: Internal Server Error' })
    expect((broken as VendorError).retryable).toBe(true)
    const { password: _, ...noPassword } = sn.credentials
    await expect(ops.getTicket(noPassword, 'x', env)).rejects.toMatchObject({
      status: 400,
      message: 'ServiceNow: the connection needs a username and password, or an OAuth token',
    })
  })
})
