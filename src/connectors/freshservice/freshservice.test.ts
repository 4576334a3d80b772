import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { connectorTestEnv } from '../../../test/standins/env.ts'
import { FreshserviceStandIn } from '../../../test/standins/freshservice.ts'
import { ManualClock } from '../../lib/clock.ts'
import { connector } from '../registry.ts'
import type { TicketOperations } from '../types.ts'
import { VendorError } from '../vendor-error.ts'
import { freshservice, ticketUrl } from './index.ts'

const clock = new ManualClock('2026-02-18T12:00:00.000Z')
const env = connectorTestEnv(clock)
const ops = freshservice.tickets as TicketOperations
let fs: FreshserviceStandIn

beforeAll(async () => {
  fs = await new FreshserviceStandIn({ clock }).start()
})
afterAll(async () => {
  await fs.close()
  await env.close()
})
beforeEach(() => fs.resetRequests())

const newTicket = (over: Record<string, string> = {}) => ({
  title: 'Printer PR-3 offline',
  description: 'Toner < 5% & paper jam.\nFloor 2',
  ...over,
})

describe('descriptor', () => {
  it('is registered with its credential schema', () => {
    expect(connector('freshservice')).toBe(freshservice)
    expect(Object.keys(freshservice.descriptor.credentialSchema)).toEqual([
      'domain',
      'apiKey',
      'requesterEmail',
      'baseUrl',
    ])
    expect(freshservice.descriptor.credentialSchema.apiKey).toMatchObject({ sensitive: true, required: true })
  })

  it('links the agent view on the helpdesk domain', () => {
    expect(ticketUrl({ domain: 'acme' }, '12')).toBe('https://acme.freshservice.com/a/tickets/12')
    expect(ticketUrl({ domain: 'https://help.acme.example/' }, '12')).toBe(
      'https://help.acme.example/a/tickets/12',
    )
  })
})

describe('verify', () => {
  it('reads the agent the API key belongs to, with Basic key:X', async () => {
    expect(await freshservice.verify(fs.credentials, env)).toEqual({
      ok: true,
      account: 'Patchbay Bot <patchbay-bot@acme.example>',
    })
    expect(fs.requests.at(-1)?.headers.authorization).toBe(
      `Basic ${Buffer.from('FsKey-9hT4mQ2xV7bN1cZ8:X').toString('base64')}`,
    )
  })

  it("rejects a bad key with Freshservice's message, never the key", async () => {
    expect(await freshservice.verify({ ...fs.credentials, apiKey: 'wrong-api-key' }, env)).toEqual({
      ok: false,
      status: 401,
      error: 'Freshservice answered 401: You have to be logged in to perform this action.',
    })
    const key = fs.credentials.apiKey as string
    fs.failNext(401, { body: { code: 'invalid_credentials', message: `Key ${key} is disabled` } })
    expect(await freshservice.verify(fs.credentials, env)).toMatchObject({
      error: 'Freshservice answered 401: Key [redacted] is disabled',
    })
  })
})

describe('tickets', () => {
  it('creates a ticket with HTML description, numeric priority and status, group by name and department', async () => {
    const t = await ops.createTicket(
      fs.credentials,
      newTicket({ priority: 'Urgent', queue: 'Network Team', companyId: '18000001' }),
      env,
    )
    expect(t).toEqual({
      id: '1',
      title: 'Printer PR-3 offline',
      status: 'Open',
      url: 'https://acme.freshservice.com/a/tickets/1',
      updatedAt: '2026-02-18T12:00:00.000Z',
    })
    expect(fs.requests.find((r) => r.method === 'POST')?.body).toEqual({
      subject: 'Printer PR-3 offline',
      description: 'Toner &lt; 5% &amp; paper jam.<br>Floor 2',
      email: 'alerts@acme.example',
      priority: 4,
      status: 2,
      source: 2,
      group_id: 14000002,
      department_id: 18000001,
    })
    expect(fs.ticket('1')).toMatchObject({ queue: 'Network Team', company: 'Contoso', priority: '4' })
  })

  it("falls back to the API key's agent as the requester", async () => {
    const { requesterEmail: _, ...creds } = fs.credentials
    const t = await ops.createTicket(creds, newTicket(), env)
    expect(fs.requests.map((r) => r.path)).toEqual(['/api/v2/agents/me', '/api/v2/tickets'])
    expect(fs.raw.tickets.find((x) => String(x.id) === t.id)?.requester_email).toBe(
      'patchbay-bot@acme.example',
    )
  })

  it("passes Freshservice's validation errors through, field by field", async () => {
    await expect(ops.createTicket(fs.credentials, newTicket({ queue: '999' }), env)).rejects.toMatchObject({
      status: 400,
      message:
        'Freshservice answered 400: Validation failed: group_id: There is no group matching the given group_id',
    })
    await expect(ops.createTicket(fs.credentials, newTicket({ priority: 'Critical' }), env)).rejects.toThrow(
      'Freshservice: "Critical" is not a ticket priority (Low, Medium, High, Urgent)',
    )
  })

  it('resolves by name, and adds private and public notes', async () => {
    const t = await ops.createTicket(fs.credentials, newTicket(), env)
    clock.advance(45_000)
    await ops.addNote(fs.credentials, t.id, { text: 'Acknowledged by Ann', internal: true }, env)
    const resolved = await ops.updateStatus(fs.credentials, t.id, 'Resolved', env)
    expect(resolved).toMatchObject({ status: 'Resolved', updatedAt: '2026-02-18T12:00:45.000Z' })
    await ops.addNote(fs.credentials, t.id, { text: 'Fixed <toner>', internal: false }, env)
    expect(fs.ticket(t.id)?.notes).toEqual([
      { text: 'Acknowledged by Ann', internal: true },
      { text: 'Fixed <toner>', internal: false },
    ])
    const writes = fs.requests.filter((r) => r.method !== 'GET').slice(1)
    expect(writes.map((r) => [r.method, r.body])).toEqual([
      ['POST', { body: 'Acknowledged by Ann', private: true }],
      ['PUT', { status: 4 }],
      ['POST', { body: 'Fixed &lt;toner&gt;', private: false }],
    ])
    expect(await ops.getTicket(fs.credentials, t.id, env)).toEqual(resolved)
    expect((await ops.updateStatus(fs.credentials, t.id, '5', env)).status).toBe('Closed')
  })

  it('answers 404 in Freshservice’s words', async () => {
    await expect(ops.getTicket(fs.credentials, '424242', env)).rejects.toMatchObject({
      status: 404,
      message: 'Freshservice answered 404: The requested resource could not be found',
    })
  })
})

describe('departments and groups', () => {
  it('pages through departments with page/per_page and the Link header', async () => {
    fs.addDepartments(150)
    const first = await ops.listCompanies(fs.credentials, {}, env)
    expect(first.items).toHaveLength(100)
    const second = await ops.listCompanies(fs.credentials, { cursor: first.next }, env)
    expect(second.next).toBeUndefined()
    expect([...first.items, ...second.items]).toHaveLength(152)
    expect(first.items[0]).toEqual({ id: '18000001', name: 'Contoso' })
    expect(fs.requests.map((r) => [r.query.get('page'), r.query.get('per_page')])).toEqual([
      ['1', '100'],
      ['2', '100'],
    ])
  })

  it('lists agent groups as queues', async () => {
    expect(await ops.listQueues?.(fs.credentials, env)).toEqual([
      { id: '14000001', name: 'Service Desk' },
      { id: '14000002', name: 'Network Team' },
    ])
  })
})

describe('changed tickets', () => {
  it('always sends updated_since (or old tickets are left out), and pages through', async () => {
    clock.set('2026-02-22T10:00:00.000Z')
    const since = clock.now()
    // Created long ago, changed now: only updated_since finds it.
    clock.advance(1000)
    const old = fs.addTicket({ subject: 'Old but changed', createdAt: new Date('2025-06-01T00:00:00Z') })
    const made = Array.from({ length: 120 }, (_, i) => {
      clock.advance(1000)
      return fs.addTicket({ subject: `Changed ${i}` })
    })
    clock.advance(1000)
    fs.setStatus(String(made[5]?.id), 'Pending')

    const first = await ops.listChangedTickets(fs.credentials, { since }, env)
    const second = await ops.listChangedTickets(fs.credentials, { cursor: first.next }, env)
    expect(second.next).toBeUndefined()
    const all = [...first.items, ...second.items]
    expect(all).toHaveLength(121)
    expect(all[0]).toMatchObject({ id: String(old.id), title: 'Old but changed' })
    expect(all.find((t) => t.title === 'Changed 5')?.status).toBe('Pending')
    expect(fs.requests[0]?.query.get('updated_since')).toBe('2026-02-22T10:00:00Z')
    expect(fs.requests[0]?.query.get('order_type')).toBe('asc')

    fs.resetRequests()
    await ops.listChangedTickets(fs.credentials, {}, env)
    expect(fs.requests[0]?.query.get('updated_since')).toBe('1970-01-01T00:00:00Z')
  })
})

describe('failures', () => {
  it('surfaces 429 Retry-After and 5xx as retryable VendorErrors', async () => {
    fs.failNext(429, { retryAfter: 20 })
    const limited = await ops.getTicket(fs.credentials, '1', env).catch((e: unknown) => e)
    expect(limited).toMatchObject({
      status: 429,
      retryAfterMs: 20_000,
      message: 'Freshservice answered 429: You have exceeded the limit of requests per minute',
    })
    fs.failNext(500)
    const broken = await ops
      .addNote(fs.credentials, '1', { text: 'x', internal: true }, env)
      .catch((e: unknown) => e)
    expect(broken).toBeInstanceOf(VendorError)
    expect((broken as VendorError).retryable).toBe(true)
  })
})
