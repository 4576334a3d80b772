import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { connectorTestEnv } from '../../../test/standins/env.ts'
import { ZendeskStandIn } from '../../../test/standins/zendesk.ts'
import { ManualClock } from '../../lib/clock.ts'
import { connector } from '../registry.ts'
import type { TicketOperations } from '../types.ts'
import { VendorError } from '../vendor-error.ts'
import { ticketUrl, zendesk } from './index.ts'

const clock = new ManualClock('2026-02-18T12:00:00.000Z')
const env = connectorTestEnv(clock)
const ops = zendesk.tickets as TicketOperations
let zd: ZendeskStandIn

beforeAll(async () => {
  zd = await new ZendeskStandIn({ clock, exportPageSize: 50 }).start()
})
afterAll(async () => {
  await zd.close()
  await env.close()
})
beforeEach(() => zd.resetRequests())

const newTicket = (over: Record<string, string> = {}) => ({
  title: 'Backup failed on FS-01',
  description: 'The nightly backup job failed twice.',
  ...over,
})

describe('descriptor', () => {
  it('is registered with its credential schema', () => {
    expect(connector('zendesk')).toBe(zendesk)
    expect(Object.keys(zendesk.descriptor.credentialSchema)).toEqual([
      'subdomain',
      'email',
      'apiToken',
      'baseUrl',
    ])
    expect(zendesk.descriptor.credentialSchema.apiToken).toMatchObject({ sensitive: true, required: true })
  })

  it('links the agent view of a ticket, whatever form the subdomain was given in', () => {
    expect(ticketUrl({ subdomain: 'acme' }, '7')).toBe('https://acme.zendesk.com/agent/tickets/7')
    expect(ticketUrl({ subdomain: 'https://Acme.zendesk.com/' }, '7')).toBe(
      'https://acme.zendesk.com/agent/tickets/7',
    )
  })
})

describe('verify', () => {
  it('accepts an agent, sending Basic email/token:apiToken', async () => {
    expect(await zendesk.verify(zd.credentials, env)).toEqual({
      ok: true,
      account: 'Patchbay Bot <ops@acme.example> (admin)',
    })
    expect(zd.requests.at(-1)?.headers.authorization).toBe(
      `Basic ${Buffer.from('ops@acme.example/token:zd-tok-8fJ2kL9qW3eR5tY7').toString('base64')}`,
    )
  })

  it('treats the anonymous user /users/me answers to bad credentials as a failure', async () => {
    const r = await zendesk.verify({ ...zd.credentials, apiToken: 'wrong-token-123' }, env)
    expect(r).toEqual({
      ok: false,
      status: 401,
      error:
        'Zendesk did not accept the credentials: /api/v2/users/me answered as an anonymous user (check the email, the API token, and that token access is enabled)',
    })
    expect(zd.requests.at(-1)?.path).toBe('/api/v2/users/me')
  })

  it("reports Zendesk's own 401 text, without the token", async () => {
    const token = zd.credentials.apiToken as string
    zd.failNext(401, { body: { error: `Couldn't authenticate you with ${token}` } })
    expect(await zendesk.verify(zd.credentials, env)).toEqual({
      ok: false,
      status: 401,
      error: "Zendesk answered 401: Couldn't authenticate you with [redacted]",
    })
  })
})

describe('tickets', () => {
  it('creates a ticket in a group (by name), with the reference as external_id', async () => {
    const t = await ops.createTicket(
      zd.credentials,
      newTicket({
        externalRef: 'alert-1',
        queue: 'Network Operations',
        priority: 'urgent',
        companyId: '360001',
      }),
      env,
    )
    expect(t).toEqual({
      id: '1',
      title: 'Backup failed on FS-01',
      status: 'new',
      url: 'https://acme.zendesk.com/agent/tickets/1',
      updatedAt: '2026-02-18T12:00:00.000Z',
    })
    expect(zd.requests.find((r) => r.method === 'POST')?.body).toEqual({
      ticket: {
        subject: 'Backup failed on FS-01',
        comment: { body: 'The nightly backup job failed twice.' },
        external_id: 'alert-1',
        priority: 'urgent',
        group_id: 3602,
        organization_id: 360001,
      },
    })
    expect(zd.ticket('1')).toMatchObject({
      queue: 'Network Operations',
      externalRef: 'alert-1',
      company: '360001',
    })
  })

  it('returns the ticket that already carries the reference', async () => {
    const before = zd.raw.tickets.length
    const first = await ops.createTicket(zd.credentials, newTicket({ externalRef: 'alert-2' }), env)
    const again = await ops.createTicket(zd.credentials, newTicket({ externalRef: 'alert-2' }), env)
    expect(again).toEqual(first)
    expect(zd.raw.tickets.length).toBe(before + 1)
    expect(
      zd.requests
        .filter((r) => r.method === 'GET')
        .at(-1)
        ?.query.get('external_id'),
    ).toBe('alert-2')
  })

  it("passes Zendesk's validation details through", async () => {
    await expect(
      ops.createTicket(zd.credentials, newTicket({ priority: 'critical' }), env),
    ).rejects.toMatchObject({
      status: 422,
      message: 'Zendesk answered 422: Record validation errors: Priority: critical is not valid',
    })
    await expect(ops.createTicket(zd.credentials, newTicket({ queue: 'Nobody' }), env)).rejects.toThrow(
      'Zendesk: there is no group named "Nobody"',
    )
  })

  it('solves a ticket and adds private and public comments through ticket updates', async () => {
    const t = await ops.createTicket(zd.credentials, newTicket(), env)
    clock.advance(90_000)
    await ops.addNote(zd.credentials, t.id, { text: 'Acknowledged by Ann', internal: true }, env)
    const solved = await ops.updateStatus(zd.credentials, t.id, 'Solved', env)
    expect(solved).toMatchObject({ status: 'solved', updatedAt: '2026-02-18T12:01:30.000Z' })
    await ops.addNote(zd.credentials, t.id, { text: 'Backup ran fine tonight', internal: false }, env)
    expect(zd.ticket(t.id)?.notes).toEqual([
      { text: 'Acknowledged by Ann', internal: true },
      { text: 'Backup ran fine tonight', internal: false },
    ])
    expect(zd.requests.filter((r) => r.method === 'PUT').map((r) => r.body)).toEqual([
      { ticket: { comment: { body: 'Acknowledged by Ann', public: false } } },
      { ticket: { status: 'solved' } },
      { ticket: { comment: { body: 'Backup ran fine tonight', public: true } } },
    ])
    expect(await ops.getTicket(zd.credentials, t.id, env)).toMatchObject({ status: 'solved' })
  })

  it('refuses updates to a closed ticket in Zendesk’s words', async () => {
    const t = await ops.createTicket(zd.credentials, newTicket(), env)
    zd.setStatus(t.id, 'closed')
    await expect(ops.addNote(zd.credentials, t.id, { text: 'late', internal: true }, env)).rejects.toThrow(
      'Zendesk answered 422: Record validation errors: Status: closed prevents ticket update',
    )
  })

  it('answers 404 RecordNotFound for an unknown ticket', async () => {
    await expect(ops.getTicket(zd.credentials, '999999', env)).rejects.toMatchObject({
      status: 404,
      message: 'Zendesk answered 404: Not found',
    })
  })
})

describe('organizations and groups', () => {
  it('pages through organizations with cursor pagination', async () => {
    zd.addOrganizations(150)
    const first = await ops.listCompanies(zd.credentials, {}, env)
    expect(first.items).toHaveLength(100)
    const second = await ops.listCompanies(zd.credentials, { cursor: first.next }, env)
    expect(second.next).toBeUndefined()
    expect([...first.items, ...second.items]).toHaveLength(152)
    expect(first.items[0]).toEqual({ id: '360001', name: 'Contoso' })
    expect(zd.requests[1]?.query.get('page[after]')).toBeTruthy()
    expect(zd.requests[0]?.query.get('page[size]')).toBe('100')
  })

  it('lists groups that are not deleted as queues', async () => {
    expect(await ops.listQueues?.(zd.credentials, env)).toEqual([
      { id: '3601', name: 'Support' },
      { id: '3602', name: 'Network Operations' },
    ])
  })
})

describe('changed tickets', () => {
  it('exports tickets changed since a time, oldest first, following after_cursor to end_of_stream', async () => {
    clock.set('2026-02-20T08:00:00.000Z')
    const since = clock.now()
    const made = Array.from({ length: 70 }, (_, i) => {
      clock.advance(1000)
      return zd.addTicket({ subject: `Changed ${i}` })
    })
    clock.advance(1000)
    zd.setStatus(String(made[0]?.id), 'solved')
    clock.advance(120_000)

    const first = await ops.listChangedTickets(zd.credentials, { since }, env)
    expect(first.items).toHaveLength(50)
    expect(first.items[0]?.title).toBe('Changed 1')
    const second = await ops.listChangedTickets(zd.credentials, { cursor: first.next }, env)
    expect(second.next).toBeUndefined()
    const all = [...first.items, ...second.items]
    expect(all).toHaveLength(70)
    expect(all.at(-1)).toMatchObject({ title: 'Changed 0', status: 'solved' })
    expect(zd.requests[0]?.query.get('start_time')).toBe(String(Date.parse('2026-02-20T08:00:00Z') / 1000))
  })

  it('never asks for the last minute, which the export refuses', async () => {
    const page = await ops.listChangedTickets(zd.credentials, { since: clock.now() }, env)
    expect(page.next).toBeUndefined()
    expect(Number(zd.requests[0]?.query.get('start_time'))).toBe(clock.now().getTime() / 1000 - 60)
  })
})

describe('failures', () => {
  it('surfaces 429 Retry-After and 5xx without waiting', async () => {
    zd.failNext(429, { retryAfter: 60 })
    const limited = await ops.getTicket(zd.credentials, '1', env).catch((e: unknown) => e)
    expect(limited).toMatchObject({
      status: 429,
      retryAfterMs: 60_000,
      message: 'Zendesk answered 429: Number of allowed API requests per minute exceeded',
    })
    zd.failNext(503, { path: '/api/v2/groups' })
    const down = await ops.listQueues?.(zd.credentials, env).catch((e: unknown) => e)
    expect(down).toBeInstanceOf(VendorError)
    expect((down as VendorError).retryable).toBe(true)
  })

  it('answers 401 on ticket calls with wrong credentials', async () => {
    await expect(ops.getTicket({ ...zd.credentials, apiToken: 'nope-nope' }, '1', env)).rejects.toMatchObject(
      {
        status: 401,
        message: "Zendesk answered 401: Couldn't authenticate you",
      },
    )
  })
})
