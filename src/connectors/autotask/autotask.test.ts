import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { AutotaskStandIn } from '../../../test/standins/autotask.ts'
import { connectorTestEnv } from '../../../test/standins/env.ts'
import { ManualClock } from '../../lib/clock.ts'
import { connector } from '../registry.ts'
import type { TicketOperations } from '../types.ts'
import type { VendorError } from '../vendor-error.ts'
import { autotask, ticketUrl } from './index.ts'

const clock = new ManualClock('2026-02-18T12:00:00.000Z')
const env = connectorTestEnv(clock)
const ops = autotask.tickets as TicketOperations
let at: AutotaskStandIn

beforeAll(async () => {
  at = await new AutotaskStandIn({ clock }).start()
})
afterAll(async () => {
  await at.close()
  await env.close()
})
beforeEach(() => at.resetRequests())

const newTicket = (over: Record<string, string> = {}) => ({
  title: 'Antivirus definitions out of date on LT-114',
  description: 'Definitions are 9 days old.',
  queue: 'Monitoring Alert',
  companyId: '174',
  ...over,
})

describe('descriptor', () => {
  it('is registered with its credential schema', () => {
    expect(connector('autotask')).toBe(autotask)
    expect(Object.keys(autotask.descriptor.credentialSchema)).toEqual([
      'username',
      'secret',
      'integrationCode',
      'zone',
      'defaultCompanyId',
      'baseUrl',
    ])
    expect(autotask.descriptor.credentialSchema.secret).toMatchObject({ sensitive: true, required: true })
    expect(autotask.descriptor.credentialSchema.integrationCode).toMatchObject({
      sensitive: true,
      required: true,
    })
  })

  it("links Autotask's ExecuteCommand page on the zone's web host", () => {
    expect(ticketUrl('https://ww5.autotask.net/', '7001')).toBe(
      'https://ww5.autotask.net/Autotask/AutotaskExtend/ExecuteCommand.aspx?Code=OpenTicketDetail&TicketID=7001',
    )
  })
})

describe('verify', () => {
  it('finds the zone from the user name, then calls with the three headers', async () => {
    expect(await autotask.verify(at.credentials, env)).toEqual({
      ok: true,
      account: 'patchbay-api@acme.example (America East 3)',
    })
    const [zone, info] = at.requests
    expect(zone?.path).toBe('/ATServicesRest/V1.0/zoneInformation')
    expect(zone?.query.get('user')).toBe('patchbay-api@acme.example')
    expect(zone?.headers.secret).toBeUndefined()
    expect(info?.path).toBe('/ATServicesRest/V1.0/Tickets/entityInformation')
    expect(info?.headers).toMatchObject({
      apiintegrationcode: 'ABCDEFGHIJ0123456789KLMNOPQ',
      username: 'patchbay-api@acme.example',
      secret: 'At$ecret-7Yq2Lp9Wn4',
    })
  })

  it("rejects a wrong secret with Autotask's words, and an unknown user at zone discovery", async () => {
    expect(await autotask.verify({ ...at.credentials, secret: 'wrong-secret' }, env)).toEqual({
      ok: false,
      status: 401,
      error: 'Autotask answered 401: Authorization has been denied for this request.',
    })
    expect(await autotask.verify({ ...at.credentials, username: 'nobody@acme.example' }, env)).toEqual({
      ok: false,
      status: 500,
      error: 'Autotask answered 500: Zone information could not be determined for user nobody@acme.example',
    })
  })

  it('never repeats the secret or the integration code', async () => {
    const c = at.credentials
    at.failNext(401, {
      path: 'entityInformation',
      body: { errors: [`bad ${c.secret} / ${c.integrationCode}`] },
    })
    const r = await autotask.verify(c, env)
    expect(r).toEqual({ ok: false, status: 401, error: 'Autotask answered 401: bad [redacted] / [redacted]' })
  })
})

describe('tickets', () => {
  it('creates a ticket with picklist values looked up by name, and the reference as externalID', async () => {
    const t = await ops.createTicket(
      at.credentials,
      newTicket({ externalRef: 'alert-5', priority: 'Critical' }),
      env,
    )
    expect(t).toEqual({
      id: '7001',
      number: 'T20260218.0001',
      title: 'Antivirus definitions out of date on LT-114',
      status: 'New',
      url: 'https://ww5.autotask.net/Autotask/AutotaskExtend/ExecuteCommand.aspx?Code=OpenTicketDetail&TicketID=7001',
      updatedAt: '2026-02-18T12:00:00.000Z',
    })
    expect(at.requests.find((r) => r.method === 'POST' && r.path.endsWith('/Tickets'))?.body).toEqual({
      companyID: 174,
      title: 'Antivirus definitions out of date on LT-114',
      description: 'Definitions are 9 days old.',
      status: 1,
      priority: 4,
      queueID: 8,
      externalID: 'alert-5',
    })
    expect(at.ticket('7001')).toMatchObject({
      queue: 'Monitoring Alert',
      priority: 'Critical',
      externalRef: 'alert-5',
    })
  })

  it('returns the ticket already made for the reference', async () => {
    const before = at.raw.tickets.length
    const first = await ops.createTicket(at.credentials, newTicket({ externalRef: 'alert-6' }), env)
    const again = await ops.createTicket(at.credentials, newTicket({ externalRef: 'alert-6' }), env)
    expect(again).toEqual(first)
    expect(at.raw.tickets.length).toBe(before + 1)
    expect(at.requests.filter((r) => r.path.endsWith('/Tickets/query')).at(-1)?.body).toEqual({
      MaxRecords: 1,
      filter: [{ op: 'eq', field: 'externalID', value: 'alert-6' }],
    })
  })

  it('uses the default company (0, your own) when none is given', async () => {
    const t = await ops.createTicket(at.credentials, newTicket({ companyId: '' }), env)
    expect(at.raw.tickets.find((x) => String(x.id) === t.id)?.companyID).toBe(0)
  })

  it("passes Autotask's refusals through (HTTP 500 with errors), and names unknown picklist labels", async () => {
    const err = await ops
      .createTicket(at.credentials, newTicket({ companyId: '999' }), env)
      .catch((e: unknown) => e)
    expect(err).toMatchObject({ status: 500, message: 'Autotask answered 500: Invalid companyID: 999.' })
    await expect(ops.createTicket(at.credentials, newTicket({ queue: 'Nowhere' }), env)).rejects.toThrow(
      'Autotask: "Nowhere" is not a ticket queue (Client Portal, Monitoring Alert, Level I Support)',
    )
  })

  it('completes a ticket by PATCH with the status value, and adds internal and public notes through the ticket', async () => {
    const t = await ops.createTicket(at.credentials, newTicket(), env)
    clock.advance(75_000)
    await ops.addNote(at.credentials, t.id, { text: 'Acknowledged by Ann\nOn it.', internal: true }, env)
    await ops.addNote(at.credentials, t.id, { text: 'Definitions updated', internal: false }, env)
    const done = await ops.updateStatus(at.credentials, t.id, 'Complete', env)
    expect(done).toMatchObject({ id: t.id, status: 'Complete', updatedAt: '2026-02-18T12:01:15.000Z' })
    expect(at.requests.find((r) => r.method === 'PATCH')?.body).toEqual({ id: Number(t.id), status: 5 })
    const notes = at.requests.filter((r) => r.path.endsWith('/Notes'))
    expect(notes.map((r) => r.path)).toEqual([
      `/ATServicesRest/V1.0/Tickets/${t.id}/Notes`,
      `/ATServicesRest/V1.0/Tickets/${t.id}/Notes`,
    ])
    expect(notes[0]?.body).toEqual({
      ticketID: Number(t.id),
      title: 'Acknowledged by Ann',
      description: 'Acknowledged by Ann\nOn it.',
      noteType: 1,
      publish: 2,
    })
    expect(at.ticket(t.id)?.notes).toEqual([
      { text: 'Acknowledged by Ann\nOn it.', internal: true },
      { text: 'Definitions updated', internal: false },
    ])
  })

  it('treats the null item Autotask answers for a missing ticket as 404', async () => {
    await expect(ops.getTicket(at.credentials, '999999', env)).rejects.toMatchObject({
      status: 404,
      message: 'Autotask: ticket 999999 was not found',
    })
  })
})

describe('companies and queues', () => {
  it('queries active companies and follows pageDetails.nextPageUrl', async () => {
    at.addCompanies(600)
    const first = await ops.listCompanies(at.credentials, {}, env)
    expect(first.items).toHaveLength(500)
    expect(first.items[0]).toEqual({ id: '0', name: 'Acme MSP (own company)' })
    const second = await ops.listCompanies(at.credentials, { cursor: first.next }, env)
    expect(second.next).toBeUndefined()
    const all = [...first.items, ...second.items]
    expect(all).toHaveLength(603)
    expect(all.map((c) => c.name)).not.toContain('Gone Ltd')
    const calls = at.requests.filter((r) => r.path.includes('/Companies/'))
    expect(calls.map((r) => [r.method, r.path])).toEqual([
      ['POST', '/ATServicesRest/V1.0/Companies/query'],
      ['GET', '/ATServicesRest/V1.0/Companies/query/next'],
    ])
    expect(calls[0]?.body).toEqual({
      MaxRecords: 500,
      filter: [{ op: 'eq', field: 'isActive', value: true }],
      IncludeFields: ['id', 'companyName'],
    })
  })

  it('lists the queue picklist as queues', async () => {
    expect(await ops.listQueues?.(at.credentials, env)).toEqual([
      { id: '5', name: 'Client Portal' },
      { id: '8', name: 'Monitoring Alert' },
      { id: '29682833', name: 'Level I Support' },
    ])
  })
})

describe('changed tickets', () => {
  it('queries lastTrackedModificationDateTime >= since and pages through, each page oldest change first', async () => {
    clock.set('2026-02-23T09:00:00.000Z')
    const since = clock.now()
    const made = Array.from({ length: 520 }, (_, i) => {
      clock.advance(1000)
      return at.addTicket({ title: `Changed ${i}` })
    })
    clock.advance(1000)
    at.setStatus(String(made[0]?.id), 'Complete')

    const first = await ops.listChangedTickets(at.credentials, { since }, env)
    expect(first.items).toHaveLength(500)
    expect(first.items.at(-1)).toMatchObject({ title: 'Changed 0', status: 'Complete' })
    const second = await ops.listChangedTickets(at.credentials, { cursor: first.next }, env)
    expect(second.next).toBeUndefined()
    expect([...first.items, ...second.items]).toHaveLength(520)
    expect(at.requests.find((r) => r.method === 'POST')?.body).toEqual({
      MaxRecords: 500,
      filter: [{ op: 'gte', field: 'lastTrackedModificationDateTime', value: '2026-02-23T09:00:00.000Z' }],
    })
  })
})

describe('failures', () => {
  it('surfaces 429 Retry-After and 5xx without waiting', async () => {
    at.failNext(429, { retryAfter: 15, path: '/Tickets/7001' })
    const limited = await ops.getTicket(at.credentials, '7001', env).catch((e: unknown) => e)
    expect(limited).toMatchObject({ status: 429, retryAfterMs: 15_000 })
    expect((limited as VendorError).message).toContain('thread limit')
    at.failNext(503, { path: '/Tickets/7001' })
    const down = await ops.getTicket(at.credentials, '7001', env).catch((e: unknown) => e)
    expect(down).toMatchObject({ status: 503 })
    expect((down as VendorError).retryable).toBe(true)
  })

  it('refuses a non-numeric ticket id before calling', async () => {
    await expect(ops.updateStatus(at.credentials, 'T2026.1', 'Complete', env)).rejects.toMatchObject({
      status: 400,
    })
    expect(at.requests.some((r) => r.method === 'PATCH')).toBe(false)
  })
})

describe('resources', () => {
  const res = () => autotask.resources as NonNullable<typeof autotask.resources>
  const q = (filter: Record<string, string> = {}, limit = 50, cursor?: string) => ({ filter, limit, cursor })

  it('offers companies, resources and tickets', () => {
    expect(res().kinds.map((k) => k.kind)).toEqual(['companies', 'resources', 'tickets'])
  })

  it('pages companies through the query API behind an opaque cursor', async () => {
    if (at.raw.companies.length < 300) at.addCompanies(300)
    const names: string[] = []
    let cursor: string | undefined
    do {
      const page = await res().list(at.credentials, 'companies', q({ active: 'true' }, 250, cursor), env)
      names.push(...page.items.map((c) => c.name))
      cursor = page.next
    } while (cursor)
    expect(names).toEqual(at.raw.companies.filter((c) => c.isActive).map((c) => c.companyName))
    const queries = at.requests.filter((r) => /companies\/query/i.test(r.path))
    expect(queries[0]).toMatchObject({
      method: 'POST',
      body: { MaxRecords: 250, filter: [{ op: 'eq', field: 'isActive', value: true }] },
    })
    expect(queries.length).toBe(Math.ceil(names.length / 250))
    expect(queries.slice(1).every((r) => r.method === 'GET' && r.path.endsWith('/query/next'))).toBe(true)
  })

  it('reads resources with their names and emails', async () => {
    const page = await res().list(at.credentials, 'resources', q({ active: 'true' }), env)
    expect(page.items.map(({ raw: _, ...r }) => r)).toEqual([
      { id: '29682885', name: 'Ada Tech', email: 'ada@acme.example' },
      { id: '29682886', name: 'Bob Dispatch', email: 'bob@acme.example' },
    ])
  })

  it('reads tickets by company and status name, with status labels', async () => {
    const a = at.addTicket({ title: 'Printer offline', status: 'In Progress' })
    at.addTicket({ title: 'New laptop', status: 'New' })
    const page = await res().list(
      at.credentials,
      'tickets',
      q({ companyId: '174', status: 'In Progress' }),
      env,
    )
    expect(page.items).toEqual([
      {
        id: String(a.id),
        number: a.ticketNumber,
        title: 'Printer offline',
        status: 'In Progress',
        companyId: '174',
        updatedAt: a.lastTrackedModificationDateTime,
        raw: expect.objectContaining({ id: a.id }),
      },
    ])
    const query = at.requests.find((r) => /tickets\/query/i.test(r.path))
    expect(query?.body).toMatchObject({
      filter: [
        { op: 'eq', field: 'companyID', value: 174 },
        { op: 'eq', field: 'status', value: 8 },
      ],
    })
    await expect(res().list(at.credentials, 'tickets', q({ status: 'Bogus' }), env)).rejects.toMatchObject({
      status: 400,
    })
    await expect(res().list(at.credentials, 'tickets', q({ queue: '5' }), env)).rejects.toMatchObject({
      status: 400,
      message: 'Autotask: unknown filter queue for tickets',
    })
  })
})
