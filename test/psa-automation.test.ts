import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { connector } from '../src/connectors/registry.ts'
import type { TicketOperations } from '../src/connectors/types.ts'
import { JobService } from '../src/jobs/service.ts'
import { WIRED_JOBS } from '../src/wiring.ts'
import { alertData, automationSettings, newOrg, secretsOf } from './fixtures/psa.ts'
import { createHarness, type Harness, seedTenants } from './harness.ts'
import { connectorTestEnv } from './standins/env.ts'
import { PSA_STANDINS, type PsaStandIn } from './standins/index.ts'

/**
 * The alert → ticket automation end to end for every PSA vendor, through the API only: a connection pointing at
 * the vendor's stand-in, events in through POST /api/v1/events, the delivery engine drained, syncs run by the job
 * system, all on the manual clock.
 */
const SYNC_INTERVAL_MS = 15 * 60_000
let h: Harness
let t: Awaited<ReturnType<typeof seedTenants>>
let jobs: JobService
/** Every response body of this file, to look for credentials in. */
const responses: string[] = []
const secrets: string[] = []
const closers: (() => Promise<void>)[] = []

beforeAll(async () => {
  h = await createHarness({
    env: {
      PATCHBAY_PROBE_INTERVAL_MS: '0',
      PATCHBAY_PSA_SYNC_INTERVAL_MS: String(SYNC_INTERVAL_MS),
      PATCHBAY_CONSOLE_URL: 'https://console.patchbay.example',
    },
  })
  t = await seedTenants(h)
  jobs = new JobService(h.ctx, WIRED_JOBS)
})
afterAll(async () => {
  for (const close of closers) await close()
  await h.close()
})

// biome-ignore lint/suspicious/noExplicitAny: response bodies are read loosely and asserted on
async function api(method: string, path: string, token: string, body?: unknown): Promise<any> {
  const r = await h.json(method, path, { token, ...(body !== undefined ? { body } : {}) })
  responses.push(JSON.stringify(r.body ?? null))
  return r
}

describe.each(Object.keys(PSA_STANDINS))('%s', (provider) => {
  let s: PsaStandIn
  let org: { id: string; token: string }
  let connectionId: string
  const alertId = `alert-${provider}-0001`
  const env = connectorTestEnv()

  beforeAll(async () => {
    s = await (PSA_STANDINS[provider] as (o: { clock: Harness['clock'] }) => PsaStandIn)({
      clock: h.clock,
    }).start()
    closers.push(
      () => s.close(),
      () => env.close(),
    )
    secrets.push(...secretsOf(provider, s))
    org = await newOrg(h, t.partner.id, `${provider} customer`)
  })

  it('configures and tests a connection through the API', async () => {
    const created = await api('POST', '/api/v1/psa/connections', org.token, {
      provider,
      name: `${provider} — Contoso`,
      credentials: s.credentials,
      settings: automationSettings(provider, s),
    })
    expect(created.status, JSON.stringify(created.body)).toBe(201)
    expect(created.body).toMatchObject({
      orgId: org.id,
      provider,
      name: `${provider} — Contoso`,
      settings: automationSettings(provider, s),
      hasCredentials: true,
      status: 'pending_verify',
      lastTestedAt: null,
      lastSyncedAt: null,
    })
    expect(created.body).not.toHaveProperty('credentials')
    connectionId = created.body.id

    const tested = await api('POST', `/api/v1/psa/connections/${connectionId}/test`, org.token)
    expect(tested).toMatchObject({ status: 200, body: { success: true, message: 'Credentials verified' } })
    const got = await api('GET', `/api/v1/psa/connections/${connectionId}`, org.token)
    expect(got.body).toMatchObject({
      status: 'active',
      lastTestedAt: h.clock.now().toISOString(),
      syncSettings: { lastTestedAt: h.clock.now().toISOString(), status: 'verified' },
    })
    const audit = await api(
      'GET',
      `/api/v1/audit-logs?action=psa.connection.test&targetId=${connectionId}`,
      h.systemToken,
    )
    expect(audit.body.data).toHaveLength(1)
  })

  it('creates exactly one ticket for two alert.triggered events, notes and resolves it on alert.resolved', async () => {
    s.resetRequests()
    const data = alertData(alertId)
    for (const id of [`${provider}-evt-1`, `${provider}-evt-2`]) {
      const r = await api('POST', '/api/v1/events', org.token, { id, type: 'alert.triggered', data })
      expect(r).toMatchObject({ status: 202, body: { duplicate: false, deliveriesQueued: 1 } })
    }
    // Both deliveries are usually attempted at once: one claims the alert and creates, the other waits for it. On
    // a loaded machine the second may start only after the first has finished: it finds the ticket made.
    expect(await h.worker.drain()).toBe(2)
    const first = await api('GET', `/api/v1/deliveries?targetType=psa&targetId=${connectionId}`, org.token)
    const statuses = first.body.data.map((d: { status: string }) => d.status).sort()
    if (statuses[1] === 'retrying') {
      expect(statuses).toEqual(['delivered', 'retrying'])
      expect(first.body.data.find((d: { status: string }) => d.status === 'retrying').errorMessage).toMatch(
        /Another attempt is creating the ticket/,
      )
    } else {
      expect(statuses).toEqual(['delivered', 'delivered'])
      expect(
        first.body.data.map((d: { responseBody: string }) => JSON.parse(d.responseBody).alreadyExisted),
      ).toContain(true)
    }
    expect(s.tickets()).toHaveLength(1)
    h.clock.advance(60_000)
    await h.worker.drain()
    expect(s.tickets()).toHaveLength(1)
    const [ticket] = s.tickets()
    if (!ticket) throw new Error('no ticket')
    expect(ticket.title).toContain('Disk almost full')
    expect(ticket.title).toContain('SRV-01')
    expect(ticket.status).toBe(s.statuses.initial)
    expect(ticket.queue).toBe(s.defaults.queue)
    if (s.referenceField) expect(ticket.externalRef).toBe(alertId)

    h.clock.advance(60_000)
    const resolved = await api('POST', '/api/v1/events', org.token, {
      id: `${provider}-evt-3`,
      type: 'alert.resolved',
      data: { alertId, resolvedBy: 'Ann' },
    })
    expect(resolved.body.deliveriesQueued).toBe(1)
    expect(await h.worker.drain()).toBe(1)
    expect(s.tickets()).toHaveLength(1)
    expect(s.ticket(ticket.id)).toMatchObject({
      status: s.statuses.resolved,
      notes: [{ text: expect.stringContaining('Alert resolved by Ann'), internal: true }],
    })
    expect(s.ticket(ticket.id)?.notes[0]?.text).toContain(
      `https://console.patchbay.example/alerts/${alertId}`,
    )

    const deliveries = await api(
      'GET',
      `/api/v1/deliveries?targetType=psa&targetId=${connectionId}`,
      org.token,
    )
    expect(deliveries.body.data).toHaveLength(3)
    expect(deliveries.body.data.map((d: { status: string }) => d.status)).toEqual([
      'delivered',
      'delivered',
      'delivered',
    ])
  })

  it('lists the mapping with the ticket’s URL through both ticket routes', async () => {
    const [ticket] = s.tickets()
    if (!ticket) throw new Error('no ticket')
    const ops = connector(provider)?.tickets as TicketOperations
    const expected = await ops.getTicket(s.credentials, ticket.id, env)
    expect(expected.url).toMatch(/^https:\/\//)
    const item = {
      psaId: connectionId,
      orgId: org.id,
      status: s.statuses.resolved,
      raw: {
        externalTicketId: ticket.id,
        externalTicketUrl: expected.url,
        alertId,
        deviceId: 'dev-0001',
        alertStatus: 'resolved',
      },
    }
    const one = await api('GET', `/api/v1/psa/connections/${connectionId}/tickets`, org.token)
    expect(one.body).toMatchObject({ data: [item], pagination: { page: 1, limit: 50, total: 1 } })
    expect(one.body.data[0].title).toContain('Disk almost full')
    const all = await api('GET', '/api/v1/psa/tickets', org.token)
    expect(all.body).toMatchObject({ data: [item], pagination: { total: 1 } })
  })

  it('brings a status changed at the vendor into the mapping, by a manual and by a scheduled sync', async () => {
    const [ticket] = s.tickets()
    if (!ticket) throw new Error('no ticket')
    h.clock.advance(2 * 60_000)
    s.setStatus(ticket.id, s.statuses.inProgress)
    h.clock.advance(60_000)
    const queued = await api('POST', `/api/v1/psa/connections/${connectionId}/sync`, org.token)
    expect(queued).toMatchObject({
      status: 202,
      body: { id: connectionId, provider, syncedAt: h.clock.now().toISOString(), status: 'queued' },
    })
    expect((await api('GET', `/api/v1/psa/connections/${connectionId}`, org.token)).body.lastSyncStatus).toBe(
      'queued',
    )
    await jobs.runDue()
    const synced = await api('GET', `/api/v1/psa/connections/${connectionId}`, org.token)
    expect(synced.body).toMatchObject({
      lastSyncStatus: 'completed',
      lastSyncError: null,
      lastSyncAt: h.clock.now().toISOString(),
      lastSyncedAt: h.clock.now().toISOString(),
      lastSync: { trigger: 'manual', status: 'completed', counts: { mappingsUpdated: 1 } },
    })
    let tickets = await api('GET', `/api/v1/psa/connections/${connectionId}/tickets`, org.token)
    expect(tickets.body.data[0]).toMatchObject({
      status: s.statuses.inProgress,
      syncedAt: h.clock.now().toISOString(),
    })

    h.clock.advance(2 * 60_000)
    s.setStatus(ticket.id, s.statuses.resolved)
    h.clock.advance(SYNC_INTERVAL_MS)
    const ran = await jobs.runDue()
    expect(ran.kinds).toContain('psa.sync-sweep')
    tickets = await api('GET', `/api/v1/psa/connections/${connectionId}/tickets`, org.token)
    expect(tickets.body.data[0].status).toBe(s.statuses.resolved)
    const after = await api('GET', `/api/v1/psa/connections/${connectionId}`, org.token)
    expect(after.body).toMatchObject({
      lastSyncStatus: 'completed',
      lastSync: { trigger: 'scheduled', status: 'completed', counts: { mappingsUpdated: 1 } },
    })
  })

  it('removes the mappings with the connection', async () => {
    const del = await api('DELETE', `/api/v1/psa/connections/${connectionId}`, org.token)
    expect(del).toMatchObject({ status: 200, body: { success: true, ticketMappingsRemoved: 1 } })
    expect((await api('GET', `/api/v1/psa/connections/${connectionId}`, org.token)).status).toBe(404)
    expect((await api('GET', `/api/v1/psa/connections/${connectionId}/tickets`, org.token)).status).toBe(404)
    expect((await api('GET', '/api/v1/psa/tickets', org.token)).body).toMatchObject({
      data: [],
      pagination: { total: 0 },
    })
    // A later event for the alert goes nowhere.
    const late = await api('POST', '/api/v1/events', org.token, {
      type: 'alert.resolved',
      data: { alertId },
    })
    expect(late.body.deliveriesQueued).toBe(0)
  })
})

describe('secrets', () => {
  it('never shows a credential in a response, a log line or an audit entry', async () => {
    expect(secrets.length).toBeGreaterThanOrEqual(6)
    const audit = await api('GET', '/api/v1/audit-logs?limit=100', h.systemToken)
    expect(audit.body.data.length).toBeGreaterThan(10)
    const everything = [...responses, h.logs.join('\n')].join('\n')
    for (const secret of secrets) expect(everything, secret).not.toContain(secret)
  })
})
