import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { connectorTestEnv } from '../../../test/standins/env.ts'
import { JiraStandIn } from '../../../test/standins/jira.ts'
import { ManualClock } from '../../lib/clock.ts'
import { connector } from '../registry.ts'
import type { TicketOperations } from '../types.ts'
import { VendorError } from '../vendor-error.ts'
import { jira, jqlDate, referenceLabel } from './index.ts'

const clock = new ManualClock('2026-02-18T12:00:00.000Z')
const env = connectorTestEnv(clock)
const ops = jira.tickets as TicketOperations
let j: JiraStandIn

beforeAll(async () => {
  j = await new JiraStandIn({ clock, timeZone: 'Europe/Berlin' }).start()
})
afterAll(async () => {
  await j.close()
  await env.close()
})
beforeEach(() => j.resetRequests())

const newTicket = (over: Record<string, string> = {}) => ({
  title: 'CPU at 98% on WEB-02',
  description: 'CPU above 95% for 10 minutes.\nDevice: WEB-02\n\nSeverity: critical',
  ...over,
})

describe('descriptor', () => {
  it('is registered with its credential schema; it has no companies to list', () => {
    expect(connector('jira')).toBe(jira)
    expect(Object.keys(jira.descriptor.credentialSchema)).toEqual([
      'siteUrl',
      'email',
      'apiToken',
      'projectKey',
      'issueType',
      'baseUrl',
    ])
    expect(jira.descriptor.credentialSchema.apiToken).toMatchObject({ sensitive: true, required: true })
    expect(jira.descriptor.capabilities).not.toContain('list_companies')
  })

  it('writes JQL dates in the user time zone, to the minute', () => {
    const d = new Date('2026-07-01T08:30:45Z')
    expect(jqlDate(d, 'Europe/Berlin')).toBe('2026/07/01 10:30')
    expect(jqlDate(d, 'America/New_York')).toBe('2026/07/01 04:30')
    expect(jqlDate(d, 'Not/AZone')).toBe('2026/07/01 08:30')
  })
})

describe('verify', () => {
  it('accepts good credentials, sending Basic email:token to /myself', async () => {
    expect(await jira.verify(j.credentials, env)).toEqual({
      ok: true,
      account: 'Patchbay Bot <ops@acme.example>',
    })
    const req = j.requests.at(-1)
    expect(req?.path).toBe('/rest/api/3/myself')
    expect(req?.headers.authorization).toBe(
      `Basic ${Buffer.from('ops@acme.example:ATATT3xFfGF0-standin-token-7d2c9e').toString('base64')}`,
    )
  })

  it("rejects a bad token with Jira's message, and never repeats the token", async () => {
    expect(await jira.verify({ ...j.credentials, apiToken: 'ATATT-wrong-token' }, env)).toEqual({
      ok: false,
      status: 401,
      error: 'Jira answered 401: Client must be authenticated to access this resource.',
    })
    const token = j.credentials.apiToken as string
    j.failNext(401, { body: { errorMessages: [`token ${token} revoked`], errors: {} } })
    const r = await jira.verify(j.credentials, env)
    expect(r).toEqual({ ok: false, status: 401, error: 'Jira answered 401: token [redacted] revoked' })
  })
})

describe('issues', () => {
  it('creates an issue in the project with an ADF description and the reference label, linking /browse/KEY', async () => {
    const t = await ops.createTicket(
      j.credentials,
      newTicket({ externalRef: 'alert-77', priority: 'High' }),
      env,
    )
    expect(t).toEqual({
      id: expect.any(String),
      number: 'OPS-1',
      title: 'CPU at 98% on WEB-02',
      status: 'To Do',
      url: 'https://acme.atlassian.net/browse/OPS-1',
      updatedAt: '2026-02-18T12:00:00.000Z',
    })
    const post = j.requests.find((r) => r.method === 'POST' && r.path === '/rest/api/3/issue')
    expect(post?.body).toEqual({
      fields: {
        project: { key: 'OPS' },
        issuetype: { name: 'Task' },
        summary: 'CPU at 98% on WEB-02',
        description: {
          type: 'doc',
          version: 1,
          content: [
            {
              type: 'paragraph',
              content: [
                { type: 'text', text: 'CPU above 95% for 10 minutes.' },
                { type: 'hardBreak' },
                { type: 'text', text: 'Device: WEB-02' },
              ],
            },
            { type: 'paragraph', content: [{ type: 'text', text: 'Severity: critical' }] },
          ],
        },
        labels: ['patchbay-alert-77'],
        priority: { name: 'High' },
      },
    })
    expect(j.ticket(t.id)).toMatchObject({ externalRef: 'alert-77', priority: 'High', queue: 'OPS' })
  })

  it('finds the issue made for the same reference instead of creating a second one', async () => {
    const before = j.raw.issues.length
    const first = await ops.createTicket(j.credentials, newTicket({ externalRef: 'alert-78' }), env)
    const again = await ops.createTicket(j.credentials, newTicket({ externalRef: 'alert-78' }), env)
    expect(again).toEqual(first)
    expect(j.raw.issues.length).toBe(before + 1)
    const searches = j.requests.filter((r) => r.path === '/rest/api/3/search/jql')
    expect(searches.at(-1)?.query.get('jql')).toBe('project = "OPS" AND labels = "patchbay-alert-78"')
    expect(referenceLabel('a b')).toBe('patchbay-a_b')
  })

  it('creates in another project when a queue is given, folding the summary onto one line', async () => {
    const t = await ops.createTicket(
      j.credentials,
      newTicket({ queue: 'HD', title: 'Line one\nline two' }),
      env,
    )
    expect(t).toMatchObject({ number: 'HD-1', title: 'Line one line two' })
  })

  it("passes Jira's field errors through", async () => {
    await expect(ops.createTicket(j.credentials, newTicket({ queue: 'NOPE' }), env)).rejects.toThrow(
      'Jira answered 400: project: Specify a valid project ID or key',
    )
    const { projectKey: _, ...noProject } = j.credentials
    await expect(ops.createTicket(noProject, newTicket(), env)).rejects.toMatchObject({
      status: 400,
      message: 'Jira: no project to create the issue in (set a project key on the connection)',
    })
  })

  it('moves an issue by the transition that leads to the wanted status', async () => {
    const t = await ops.createTicket(j.credentials, newTicket(), env)
    clock.advance(120_000)
    const done = await ops.updateStatus(j.credentials, t.id, 'Done', env)
    expect(done).toMatchObject({ id: t.id, status: 'Done', updatedAt: '2026-02-18T12:02:00.000Z' })
    expect(j.requests.filter((r) => r.path.endsWith('/transitions')).map((r) => [r.method, r.body])).toEqual([
      ['GET', undefined],
      ['POST', { transition: { id: '31' } }],
    ])
    // Already there: nothing to do.
    j.resetRequests()
    expect((await ops.updateStatus(j.credentials, t.id, 'done', env)).status).toBe('Done')
    expect(j.requests.some((r) => r.method === 'POST')).toBe(false)
  })

  it('says which statuses the workflow offers when none matches', async () => {
    const t = await ops.createTicket(j.credentials, newTicket(), env)
    const err = await ops.updateStatus(j.credentials, t.id, 'Resolved', env).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(VendorError)
    expect(err).toMatchObject({
      status: 409,
      message: `Jira: issue ${t.number} cannot move from "To Do" to "Resolved"; its workflow offers "In Progress", "Done"`,
    })
  })

  it('adds internal comments (JSM internal property) and public ones, in ADF', async () => {
    const t = await ops.createTicket(j.credentials, newTicket(), env)
    await ops.addNote(j.credentials, t.id, { text: 'Acknowledged by Ann', internal: true }, env)
    await ops.addNote(j.credentials, t.id, { text: 'Resolved: CPU back to 20%', internal: false }, env)
    expect(j.ticket(t.id)?.notes).toEqual([
      { text: 'Acknowledged by Ann', internal: true },
      { text: 'Resolved: CPU back to 20%', internal: false },
    ])
    expect(j.requests.filter((r) => r.path.endsWith('/comment'))[0]?.body).toEqual({
      body: {
        type: 'doc',
        version: 1,
        content: [{ type: 'paragraph', content: [{ type: 'text', text: 'Acknowledged by Ann' }] }],
      },
      properties: [{ key: 'sd.public.comment', value: { internal: true } }],
    })
  })

  it('answers 404 with Jira’s message for an unknown issue', async () => {
    await expect(ops.getTicket(j.credentials, 'OPS-999', env)).rejects.toMatchObject({
      status: 404,
      message: 'Jira answered 404: Issue does not exist or you do not have permission to see it.',
    })
  })
})

describe('projects', () => {
  it('lists every project as a queue, across pages', async () => {
    j.addProjects(70)
    const queues = (await ops.listQueues?.(j.credentials, env)) ?? []
    expect(queues).toHaveLength(72)
    expect(queues).toContainEqual({ id: 'OPS', name: 'Operations' })
    expect(j.requests.map((r) => r.query.get('startAt'))).toEqual(['0', '50'])
    expect(await ops.listCompanies(j.credentials, {}, env)).toEqual({ items: [] })
  })
})

describe('changed issues', () => {
  it('searches updated >= since (in the user time zone), oldest first, following nextPageToken', async () => {
    clock.set('2026-03-01T08:00:30.000Z')
    const since = clock.now()
    const made = Array.from({ length: 120 }, (_, i) => {
      clock.advance(1000)
      return j.addIssue({ summary: `Changed ${i}` })
    })
    clock.advance(1000)
    j.setStatus(made[0]?.key ?? '', 'Done')

    const first = await ops.listChangedTickets(j.credentials, { since }, env)
    expect(first.items).toHaveLength(100)
    const second = await ops.listChangedTickets(j.credentials, { cursor: first.next }, env)
    expect(second.next).toBeUndefined()
    const all = [...first.items, ...second.items]
    expect(all).toHaveLength(120)
    expect(all[0]?.title).toBe('Changed 1')
    expect(all.at(-1)).toMatchObject({ title: 'Changed 0', status: 'Done' })
    const search = j.requests.find((r) => r.path === '/rest/api/3/search/jql')
    // 08:00:30 UTC is 09:00 in Berlin; minute precision, so >= includes the whole minute.
    expect(search?.query.get('jql')).toBe('updated >= "2026/03/01 09:00" ORDER BY updated ASC')
  })
})

describe('failures', () => {
  it('surfaces 429 Retry-After and 5xx as retryable VendorErrors', async () => {
    j.failNext(429, { retryAfter: 10 })
    const limited = await ops.getTicket(j.credentials, 'OPS-1', env).catch((e: unknown) => e)
    expect(limited).toMatchObject({
      status: 429,
      retryAfterMs: 10_000,
      message: 'Jira answered 429: Rate limit exceeded.',
    })
    j.failNext(500)
    const broken = await ops.getTicket(j.credentials, 'OPS-1', env).catch((e: unknown) => e)
    expect(broken).toMatchObject({ status: 500 })
    expect((broken as VendorError).retryable).toBe(true)
  })

  it('treats an expired token mid-operation as a permanent 401', async () => {
    const err = await ops
      .addNote({ ...j.credentials, apiToken: 'expired' }, 'OPS-1', { text: 'x', internal: true }, env)
      .catch((e: unknown) => e)
    expect(err).toMatchObject({ status: 401 })
    expect((err as VendorError).retryable).toBe(false)
  })
})
