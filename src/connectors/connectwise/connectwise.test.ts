import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { ConnectWiseStandIn } from '../../../test/standins/connectwise.ts'
import { connectorTestEnv } from '../../../test/standins/env.ts'
import { ManualClock } from '../../lib/clock.ts'
import { connector } from '../registry.ts'
import type { TicketOperations } from '../types.ts'
import { VendorError } from '../vendor-error.ts'
import { connectwise, ticketUrl } from './index.ts'

const clock = new ManualClock('2026-02-18T12:00:00.000Z')
const env = connectorTestEnv(clock)
const ops = connectwise.tickets as TicketOperations
let cw: ConnectWiseStandIn

beforeAll(async () => {
  cw = await new ConnectWiseStandIn({ clock }).start()
})
afterAll(async () => {
  await cw.close()
  await env.close()
})
beforeEach(() => cw.resetRequests())

const newTicket = (over: Record<string, string> = {}) => ({
  title: 'Disk C: almost full on SRV-01',
  description: 'Free space below 5%.\n\nDevice: SRV-01',
  queue: 'Service Board',
  companyId: 'Contoso',
  ...over,
})

describe('descriptor', () => {
  it('is registered, with every credential field and a baseUrl override', () => {
    expect(connector('connectwise')).toBe(connectwise)
    expect(connectwise.descriptor).toMatchObject({ id: 'connectwise', category: 'psa' })
    expect(Object.keys(connectwise.descriptor.credentialSchema)).toEqual([
      'companyId',
      'publicKey',
      'privateKey',
      'clientId',
      'siteUrl',
      'baseUrl',
    ])
    expect(connectwise.descriptor.credentialSchema.privateKey).toMatchObject({
      sensitive: true,
      required: true,
    })
  })

  it('links tickets to the site people log in to, whatever host the API uses', () => {
    const creds = { ...cw.credentials, siteUrl: 'https://eu.myconnectwise.net/v4_6_release/apis/3.0' }
    expect(ticketUrl(creds, 42)).toBe(
      'https://eu.myconnectwise.net/v4_6_release/services/system_io/Service/fv_sr100_request.rails?service_recid=42&companyName=contoso',
    )
    expect(ticketUrl({ companyId: 'x', siteUrl: 'cw.example.com:8443' }, 1)).toMatch(
      /^https:\/\/cw\.example\.com:8443\/v4_6_release\//,
    )
  })
})

describe('verify', () => {
  it('accepts good credentials, sending Basic company+public:private and the clientId header', async () => {
    const r = await connectwise.verify(cw.credentials, env)
    expect(r).toEqual({ ok: true, account: 'contoso (ConnectWise PSA v2025.1.102345)' })
    const req = cw.requests.at(-1)
    expect(req?.path).toBe('/v4_6_release/apis/3.0/system/info')
    const basic = Buffer.from('contoso+pub-Xq7eL2mN9aB4:priv-Zr8kW3pQ6tY1vC5d').toString('base64')
    expect(req?.headers.authorization).toBe(`Basic ${basic}`)
    expect(req?.headers.clientid).toBe(cw.credentials.clientId)
  })

  it("rejects bad keys with ConnectWise's own message", async () => {
    const r = await connectwise.verify({ ...cw.credentials, privateKey: 'wrong-private-key' }, env)
    expect(r).toEqual({
      ok: false,
      status: 401,
      error: 'ConnectWise answered 401: The public/private key pair or the company is not valid',
    })
  })

  it('never repeats a secret, even when the vendor echoes it', async () => {
    const creds = cw.credentials
    cw.failNext(401, {
      body: { code: 'Unauthorized', message: `bad key ${creds.privateKey} for ${creds.clientId}` },
    })
    const r = await connectwise.verify(creds, env)
    expect(r.ok).toBe(false)
    const text = JSON.stringify(r)
    expect(text).not.toContain(creds.privateKey)
    expect(text).not.toContain(creds.clientId)
    expect(text).toContain('[redacted]')
  })

  it('reports a missing credential without calling anyone', async () => {
    const { privateKey: _, ...creds } = cw.credentials
    expect(await connectwise.verify(creds, env)).toEqual({
      ok: false,
      status: 400,
      error: 'ConnectWise: the connection has no "privateKey"',
    })
    expect(cw.requests).toHaveLength(0)
  })
})

describe('tickets', () => {
  it('creates a ticket on the board, for the company, with the external reference', async () => {
    const t = await ops.createTicket(cw.credentials, newTicket({ externalRef: 'alert-0001' }), env)
    expect(t).toMatchObject({ title: 'Disk C: almost full on SRV-01', status: 'New' })
    expect(t.url).toBe(
      `https://na.myconnectwise.net/v4_6_release/services/system_io/Service/fv_sr100_request.rails?service_recid=${t.id}&companyName=contoso`,
    )
    const post = cw.requests.find((r) => r.method === 'POST')
    expect(post?.body).toEqual({
      summary: 'Disk C: almost full on SRV-01',
      initialDescription: 'Free space below 5%.\n\nDevice: SRV-01',
      board: { name: 'Service Board' },
      company: { identifier: 'Contoso' },
      externalXRef: 'alert-0001',
    })
    expect(cw.ticket(t.id)).toMatchObject({
      queue: 'Service Board',
      company: 'Contoso',
      externalRef: 'alert-0001',
    })
  })

  it('returns the existing ticket when the same reference is created again', async () => {
    const before = cw.raw.tickets.length
    const first = await ops.createTicket(cw.credentials, newTicket({ externalRef: 'alert-0002' }), env)
    const again = await ops.createTicket(cw.credentials, newTicket({ externalRef: 'alert-0002' }), env)
    expect(again.id).toBe(first.id)
    expect(cw.raw.tickets.length).toBe(before + 1)
    expect(
      cw.requests
        .filter((r) => r.method === 'GET')
        .at(-1)
        ?.query.get('conditions'),
    ).toBe('externalXRef="alert-0002"')
  })

  it('cuts summaries to the 100 characters ConnectWise accepts, and sets status and priority by name', async () => {
    const t = await ops.createTicket(
      cw.credentials,
      newTicket({ title: 'x'.repeat(150), status: 'In Progress', priority: 'Priority 2 - Quick Response' }),
      env,
    )
    expect(cw.ticket(t.id)).toMatchObject({
      title: 'x'.repeat(100),
      status: 'In Progress',
      priority: 'Priority 2 - Quick Response',
    })
  })

  it("passes ConnectWise's validation errors through word for word", async () => {
    const err = await ops
      .createTicket(cw.credentials, { title: 'No company', description: '' }, env)
      .catch((e: unknown) => e)
    expect(err).toBeInstanceOf(VendorError)
    expect(err).toMatchObject({
      status: 400,
      message: 'ConnectWise answered 400: ticket object is invalid: The company field is required.',
    })
    expect((err as VendorError).retryable).toBe(false)
  })

  it('gets a ticket, moves it to a status by name with JSON Patch, and adds internal and public notes', async () => {
    const created = await ops.createTicket(cw.credentials, newTicket(), env)
    clock.advance(60_000)
    expect(await ops.getTicket(cw.credentials, created.id, env)).toEqual(created)

    const resolved = await ops.updateStatus(cw.credentials, created.id, 'Resolved', env)
    expect(resolved).toMatchObject({
      id: created.id,
      status: 'Resolved',
      updatedAt: '2026-02-18T12:01:00.000Z',
    })
    expect(cw.requests.find((r) => r.method === 'PATCH')?.body).toEqual([
      { op: 'replace', path: 'status', value: { name: 'Resolved' } },
    ])

    await ops.addNote(cw.credentials, created.id, { text: 'Acknowledged by Ann', internal: true }, env)
    await ops.addNote(cw.credentials, created.id, { text: 'We are on it', internal: false }, env)
    expect(cw.ticket(created.id)?.notes).toEqual([
      { text: 'Acknowledged by Ann', internal: true },
      { text: 'We are on it', internal: false },
    ])
    expect(cw.requests.filter((r) => r.path.endsWith('/notes')).map((r) => r.body)).toEqual([
      {
        text: 'Acknowledged by Ann',
        detailDescriptionFlag: false,
        internalAnalysisFlag: true,
        resolutionFlag: false,
      },
      {
        text: 'We are on it',
        detailDescriptionFlag: true,
        internalAnalysisFlag: false,
        resolutionFlag: false,
      },
    ])
  })

  it("reports a status the board doesn't have in ConnectWise's words", async () => {
    const t = await ops.createTicket(cw.credentials, newTicket(), env)
    await expect(ops.updateStatus(cw.credentials, t.id, 'Done', env)).rejects.toThrow(
      'ConnectWise answered 400: ticket object is invalid: Service Status Done not found for Service Board 1',
    )
  })

  it('answers 404 for a ticket that does not exist', async () => {
    const err = await ops.getTicket(cw.credentials, '999999', env).catch((e: unknown) => e)
    expect(err).toMatchObject({ status: 404, message: 'ConnectWise answered 404: Ticket 999999 not found' })
  })
})

describe('companies and boards', () => {
  it('pages through companies with page/pageSize, following the Link header', async () => {
    cw.addCompanies(150)
    const first = await ops.listCompanies(cw.credentials, {}, env)
    expect(first.items).toHaveLength(100)
    expect(first.next).toBeDefined()
    const second = await ops.listCompanies(cw.credentials, { cursor: first.next }, env)
    expect(second.next).toBeUndefined()
    const all = [...first.items, ...second.items]
    expect(all).toHaveLength(152)
    expect(all).toContainEqual({ id: '250', name: 'Contoso Ltd' })
    expect(all.map((c) => c.name)).not.toContain('Deleted Company')
    expect(cw.requests.map((r) => r.query.get('page'))).toEqual(['1', '2'])
  })

  it('lists active boards as queues', async () => {
    expect(await ops.listQueues?.(cw.credentials, env)).toEqual([
      { id: '2', name: 'Help Desk' },
      { id: '1', name: 'Service Board' },
    ])
  })
})

describe('changed tickets', () => {
  it('lists tickets updated since a time, oldest change first, a page at a time', async () => {
    clock.set('2026-02-19T08:00:00.000Z')
    const since = clock.now()
    clock.advance(1000)
    const made = Array.from({ length: 130 }, (_, i) => {
      clock.advance(1000)
      return cw.addTicket({ summary: `Changed ${i}` })
    })
    clock.advance(1000)
    cw.setStatus(String(made[0]?.id), 'Resolved')

    const first = await ops.listChangedTickets(cw.credentials, { since }, env)
    expect(first.items).toHaveLength(100)
    expect(first.items[0]?.title).toBe('Changed 1')
    const second = await ops.listChangedTickets(cw.credentials, { cursor: first.next }, env)
    expect(second.next).toBeUndefined()
    const all = [...first.items, ...second.items]
    expect(all).toHaveLength(130)
    expect(all.at(-1)).toMatchObject({ title: 'Changed 0', status: 'Resolved' })
    const updated = all.map((t) => t.updatedAt ?? '')
    expect([...updated].sort()).toEqual(updated)
    expect(cw.requests[0]?.query.get('conditions')).toBe('lastUpdated>=[2026-02-19T08:00:00Z]')
    expect(cw.requests[0]?.query.get('orderBy')).toBe('lastUpdated asc')
  })
})

describe('failures', () => {
  it('surfaces 429 with Retry-After as retryAfterMs, without waiting', async () => {
    cw.failNext(429, { retryAfter: 30 })
    const err = await ops.getTicket(cw.credentials, '1001', env).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(VendorError)
    expect(err).toMatchObject({ status: 429, retryAfterMs: 30_000 })
    expect((err as VendorError).message).toContain('Too many requests')
    expect((err as VendorError).retryable).toBe(true)
  })

  it('treats 5xx as retryable and 401 as not', async () => {
    cw.failNext(503)
    const outage = await ops.listQueues?.(cw.credentials, env).catch((e: unknown) => e)
    expect(outage).toMatchObject({
      status: 503,
      message: 'ConnectWise answered 503: The service is temporarily unavailable',
    })
    expect((outage as VendorError).retryable).toBe(true)
    const denied = await ops
      .createTicket({ ...cw.credentials, publicKey: 'nope' }, newTicket(), env)
      .catch((e: unknown) => e)
    expect(denied).toMatchObject({ status: 401 })
    expect((denied as VendorError).retryable).toBe(false)
  })
})
