import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { evaluateRouting } from '../src/integrations/routing.ts'
import { alertData, automationSettings, newOrg } from './fixtures/psa.ts'
import { createHarness, type Harness, seedTenants } from './harness.ts'
import { ConnectWiseStandIn, FreshserviceStandIn, JiraStandIn } from './standins/index.ts'

/**
 * How ticket operations behave as deliveries: rate limits, refusals, waiting for a ticket, recovery, which
 * connection an alert goes to. ConnectWise, Jira and Freshservice stand-ins; the manual clock throughout.
 */
let h: Harness
let t: Awaited<ReturnType<typeof seedTenants>>
let cw: ConnectWiseStandIn
let jira: JiraStandIn
let fs: FreshserviceStandIn
let org: { id: string; token: string }
const API = '/api/v1/psa/connections'

beforeAll(async () => {
  h = await createHarness({ env: { PATCHBAY_PROBE_INTERVAL_MS: '0', PATCHBAY_PSA_SYNC_INTERVAL_MS: '0' } })
  t = await seedTenants(h)
  cw = await new ConnectWiseStandIn({ clock: h.clock }).start()
  jira = await new JiraStandIn({ clock: h.clock }).start()
  fs = await new FreshserviceStandIn({ clock: h.clock }).start()
})
afterAll(async () => {
  await cw.close()
  await jira.close()
  await fs.close()
  await h.close()
})

let n = 0
beforeEach(async () => {
  org = await newOrg(h, t.partner.id, `Delivery ${++n}`)
  cw.resetRequests()
})

// biome-ignore lint/suspicious/noExplicitAny: response bodies are read loosely and asserted on
async function api(method: string, path: string, body?: unknown, token = org.token): Promise<any> {
  return h.json(method, path, { token, ...(body !== undefined ? { body } : {}) })
}

async function connect(
  provider: 'connectwise' | 'jira' | 'freshservice',
  settings?: Record<string, unknown>,
  name = provider,
) {
  const s = provider === 'connectwise' ? cw : provider === 'jira' ? jira : fs
  const r = await api('POST', API, {
    provider,
    name,
    credentials: s.credentials,
    settings: settings ?? automationSettings(provider, s),
  })
  expect(r.status, JSON.stringify(r.body)).toBe(201)
  expect((await api('POST', `${API}/${r.body.id}/test`)).body.success).toBe(true)
  return r.body.id as string
}

async function emit(type: string, data: Record<string, unknown>, id?: string) {
  const r = await api('POST', '/api/v1/events', { type, data, ...(id ? { id } : {}) })
  expect([200, 202]).toContain(r.status)
  return r.body as { deliveriesQueued: number; duplicate: boolean }
}

async function deliveries(connectionId: string) {
  const r = await api('GET', `/api/v1/deliveries?targetType=psa&targetId=${connectionId}`)
  return r.body.data as {
    id: string
    status: string
    event: string
    attempt: number
    errorMessage: string | null
    responseStatus: number | null
    responseBody: string | null
    nextAttemptAt: string | null
  }[]
}

/** Attempts what is due, a minute apart, until every delivery to the connection is delivered (six rounds at most). */
async function settle(connectionId: string) {
  for (let i = 0; i < 6; i++) {
    await h.worker.drain()
    if ((await deliveries(connectionId)).every((d) => d.status === 'delivered')) return
    h.clock.advance(60_000)
  }
}

const ticketsOf = <T extends { externalRef?: string | undefined }>(s: { tickets(): T[] }, alertId: string) =>
  s.tickets().filter((x) => x.externalRef === alertId)

describe('vendor answers', () => {
  it('a 429 reschedules the attempt by its Retry-After', async () => {
    const id = await connect('connectwise')
    cw.failNext(429, { retryAfter: 120, path: '/service/tickets' })
    await emit('alert.triggered', alertData('rl-1'))
    expect(await h.worker.drain()).toBe(1)
    const [d] = await deliveries(id)
    expect(d).toMatchObject({
      status: 'retrying',
      attempt: 1,
      responseStatus: 429,
      errorMessage: expect.stringContaining('Too many requests'),
      nextAttemptAt: new Date(h.clock.now().getTime() + 120_000).toISOString(),
    })
    h.clock.advance(119_999)
    expect(await h.worker.drain()).toBe(0)
    h.clock.advance(1)
    expect(await h.worker.drain()).toBe(1)
    expect((await deliveries(id))[0]).toMatchObject({ status: 'delivered', attempt: 2 })
    expect(ticketsOf(cw, 'rl-1')).toHaveLength(1)
  })

  it("a 401 fails the delivery at once with the vendor's message; a retry after the fix creates the ticket", async () => {
    const id = await connect('connectwise')
    cw.failNext(401)
    await emit('alert.triggered', alertData('auth-1'))
    await h.worker.drain()
    const [failed] = await deliveries(id)
    expect(failed).toMatchObject({
      status: 'failed',
      attempt: 1,
      responseStatus: 401,
      errorMessage: expect.stringContaining('The public/private key pair or the company is not valid'),
      nextAttemptAt: null,
    })
    // The resolution of an alert whose ticket could not be made waits, saying why.
    await emit('alert.resolved', { alertId: 'auth-1' })
    await h.worker.drain()
    const resolve = (await deliveries(id)).find((d) => d.event === 'alert.resolved')
    expect(resolve).toMatchObject({
      status: 'retrying',
      errorMessage: expect.stringMatching(/could not be created \(.*public\/private key pair.*\); waiting/),
    })
    expect(ticketsOf(cw, 'auth-1')).toHaveLength(0)

    // The dead-lettered creation is recovered through the API; the waiting resolution then goes through.
    const retried = await api('POST', '/api/v1/deliveries/retry', { targetType: 'psa', targetId: id })
    expect(retried).toMatchObject({ status: 202, body: { queued: 1 } })
    await h.worker.drain()
    expect(ticketsOf(cw, 'auth-1')).toHaveLength(1)
    h.clock.advance(60_000)
    await h.worker.drain()
    const [ticket] = ticketsOf(cw, 'auth-1')
    expect(ticket).toMatchObject({ status: cw.statuses.resolved, notes: [{ internal: true }] })
    expect((await deliveries(id)).filter((d) => d.status === 'delivered')).toHaveLength(2)
  })

  it('a note that arrives before its ticket waits for it; acknowledgement moves the status when mapped', async () => {
    const id = await connect('connectwise', {
      ...automationSettings('connectwise', cw),
      statusMap: { acknowledged: 'In Progress', resolved: 'Resolved' },
    })
    cw.failNext(503, { path: '/service/tickets', times: 2 })
    await emit('alert.triggered', alertData('wait-1'))
    await emit('alert.acknowledged', { alertId: 'wait-1', acknowledgedBy: 'Bob' })
    await h.worker.drain()
    const waiting = await deliveries(id)
    expect(waiting.map((d) => d.status)).toEqual(['retrying', 'retrying'])
    expect(waiting.find((d) => d.event === 'alert.acknowledged')?.errorMessage).toMatch(
      /does not exist yet; waiting/,
    )
    for (let i = 0; i < 6 && ticketsOf(cw, 'wait-1')[0]?.notes.length !== 1; i++) {
      h.clock.advance(60_000)
      await h.worker.drain()
    }
    const [ticket] = ticketsOf(cw, 'wait-1')
    expect(ticket).toMatchObject({
      status: 'In Progress',
      notes: [{ text: expect.stringContaining('Alert acknowledged by Bob'), internal: true }],
    })
    expect((await deliveries(id)).map((d) => d.status)).toEqual(['delivered', 'delivered'])
    const [mapping] = (await api('GET', `${API}/${id}/tickets`)).body.data
    expect(mapping).toMatchObject({ status: 'In Progress', raw: { alertStatus: 'acknowledged' } })
  })

  it('an escalation adds a note and moves the ticket to statusMap.escalated, but never reopens it', async () => {
    const id = await connect('connectwise', {
      ...automationSettings('connectwise', cw),
      statusMap: { escalated: 'In Progress', resolved: 'Resolved' },
    })
    await emit('alert.triggered', alertData('esc-1'))
    await h.worker.drain()
    expect(
      (await emit('alert.escalated', { alertId: 'esc-1', escalatedTo: 'Tier 2' })).deliveriesQueued,
    ).toBe(1)
    await h.worker.drain()
    const [ticket] = ticketsOf(cw, 'esc-1')
    expect(ticket).toMatchObject({
      status: 'In Progress',
      notes: [{ text: expect.stringContaining('Alert escalated to Tier 2'), internal: true }],
    })
    const [mapping] = (await api('GET', `${API}/${id}/tickets`)).body.data
    expect(mapping).toMatchObject({ status: 'In Progress', raw: { alertStatus: 'triggered' } })

    await emit('alert.resolved', { alertId: 'esc-1' })
    await emit('alert.escalated', { alertId: 'esc-1', escalatedTo: 'Tier 3' })
    // Both are due at once: one takes the ticket, the other waits its turn.
    await settle(id)
    expect(ticketsOf(cw, 'esc-1')[0]).toMatchObject({ status: 'Resolved' })
    expect(ticketsOf(cw, 'esc-1')[0]?.notes).toHaveLength(3)
    expect((await deliveries(id)).map((d) => d.status)).toEqual([
      'delivered',
      'delivered',
      'delivered',
      'delivered',
    ])
  })

  it('a paused connection fails what is queued for it; a deleted one too', async () => {
    const id = await connect('connectwise')
    await emit('alert.triggered', alertData('p-1'))
    await api('POST', `${API}/${id}/status`, { status: 'paused' })
    await h.worker.drain()
    expect((await deliveries(id))[0]).toMatchObject({
      status: 'failed',
      errorMessage: 'The PSA connection is paused; not sent',
    })
    await api('POST', `${API}/${id}/status`, { status: 'active' })
    await emit('alert.triggered', alertData('p-2'))
    await api('DELETE', `${API}/${id}`)
    await h.worker.drain()
    const gone = (await deliveries(id)).find(
      (d) => d.status !== 'failed' || !d.errorMessage?.includes('paused'),
    )
    expect(gone).toMatchObject({
      status: 'failed',
      errorMessage: 'The PSA connection no longer exists; not sent',
    })
  })
})

describe('one ticket per alert', () => {
  it('holds for Freshservice, which has no external reference, with duplicates attempted at once', async () => {
    const id = await connect('freshservice')
    for (const eventId of ['fs-a', 'fs-b', 'fs-c']) {
      expect((await emit('alert.triggered', alertData('fs-alert'), eventId)).deliveriesQueued).toBe(1)
    }
    // The same event id again is a duplicate of the event: nothing is queued.
    expect(await emit('alert.triggered', alertData('fs-alert'), 'fs-a')).toMatchObject({
      duplicate: true,
      deliveriesQueued: 0,
    })
    const before = fs.tickets().length
    expect(await h.worker.drain()).toBe(3)
    h.clock.advance(60_000)
    await h.worker.drain()
    expect(fs.tickets().length - before).toBe(1)
    const statuses = (await deliveries(id)).map((d) => d.status)
    expect(statuses).toEqual(['delivered', 'delivered', 'delivered'])
    const bodies = (await deliveries(id)).map((d) => JSON.parse(d.responseBody ?? '{}'))
    expect(bodies.filter((b) => b.alreadyExisted)).toHaveLength(2)
  })

  it('holds when the first attempt died after the vendor created the ticket (vendor reference)', async () => {
    const id = await connect('connectwise')
    await emit('alert.triggered', alertData('crash-1'))
    // A worker that created the ticket and died before recording it: the ticket exists at the vendor
    // with Patchbay's reference, the mapping is still claimed, the lease runs out.
    const [d] = await deliveries(id)
    if (!d) throw new Error('no delivery')
    await h.ctx.db.query(
      `UPDATE delivery_queue SET attempts = 1, lease_until = $2, leased_by = 'a worker that died' WHERE id = $1`,
      [d.id, new Date(h.clock.now().getTime() + 60_000)],
    )
    await h.ctx.db.query(
      `UPDATE psa_ticket_mappings SET state = 'creating', claimed_by = $1, claim_until = $2 WHERE alert_id = 'crash-1'`,
      [d.id, new Date(h.clock.now().getTime() + 60_000)],
    )
    cw.addTicket({ summary: 'Made before the crash', externalXRef: 'crash-1' })
    h.clock.advance(61_000)
    await h.worker.drain()
    expect((await deliveries(id))[0]).toMatchObject({ status: 'delivered', attempt: 2 })
    expect(ticketsOf(cw, 'crash-1')).toHaveLength(1)
  })
})

describe('events of an alert out of order', () => {
  const at = (offsetMs: number) => new Date(h.clock.now().getTime() + offsetMs).toISOString()
  async function send(type: string, data: Record<string, unknown>, timestamp: string) {
    const r = await api('POST', '/api/v1/events', { type, data, timestamp })
    expect([200, 202]).toContain(r.status)
    return r.body as { deliveriesQueued: number }
  }
  const kept = async () =>
    (
      await h.ctx.db.query<{ event_type: string }>(
        'SELECT event_type FROM psa_early_alert_events WHERE org_id = $1',
        [org.id],
      )
    ).map((r) => r.event_type)

  let connection: string

  it('an acknowledgement and a resolution sent before their trigger end the ticket as in order', async () => {
    connection = await connect('connectwise', {
      ...automationSettings('connectwise', cw),
      statusMap: { acknowledged: 'In Progress', resolved: 'Resolved' },
    })
    expect((await send('alert.resolved', { alertId: 'ooo-1' }, at(2000))).deliveriesQueued).toBe(0)
    expect(
      (await send('alert.acknowledged', { alertId: 'ooo-1', acknowledgedBy: 'Ann' }, at(1000)))
        .deliveriesQueued,
    ).toBe(0)
    expect(await kept()).toHaveLength(2)
    expect((await send('alert.triggered', alertData('ooo-1'), at(0))).deliveriesQueued).toBe(1)
    expect(await kept()).toEqual([])
    await settle(connection)
    const [ticket] = ticketsOf(cw, 'ooo-1')
    expect(ticket?.status).toBe('Resolved')
    expect(ticket?.notes.map((n) => n.text.split(' at ')[0])).toEqual(
      expect.arrayContaining(['Alert acknowledged by Ann', 'Alert resolved']),
    )
    expect((await deliveries(connection)).map((d) => [d.event, d.status]).sort()).toEqual([
      ['alert.acknowledged', 'delivered'],
      ['alert.resolved', 'delivered'],
      ['alert.triggered', 'delivered'],
    ])
    const [mapping] = (await api('GET', `${API}/${connection}/tickets`)).body.data
    expect(mapping).toMatchObject({ status: 'Resolved', raw: { alertStatus: 'resolved' } })
  })

  it('within one batch too, and not for a resolution older than the trigger (an earlier life of the alert)', async () => {
    connection = await connect('connectwise')
    const r = await api('POST', '/api/v1/events/batch', {
      events: [
        { orgId: org.id, type: 'alert.resolved', data: { alertId: 'ooo-2' }, timestamp: at(1000) },
        { orgId: org.id, type: 'alert.triggered', data: alertData('ooo-2'), timestamp: at(0) },
        { orgId: org.id, type: 'alert.resolved', data: { alertId: 'ooo-3' }, timestamp: at(-60_000) },
        { orgId: org.id, type: 'alert.triggered', data: alertData('ooo-3'), timestamp: at(0) },
      ],
    })
    expect(r.status, JSON.stringify(r.body)).toBe(202)
    await settle(connection)
    expect(ticketsOf(cw, 'ooo-2')[0]?.status).toBe('Resolved')
    expect(ticketsOf(cw, 'ooo-3')[0]).toMatchObject({ status: 'New', notes: [] })
    expect(await kept()).toEqual([])
  })

  it('waits an hour at most, and only where tickets are made automatically', async () => {
    connection = await connect('connectwise')
    await send('alert.resolved', { alertId: 'ooo-4' }, at(0))
    h.clock.advance(61 * 60_000)
    await send('alert.triggered', alertData('ooo-4'), at(-61 * 60_000 + 1))
    await settle(connection)
    expect(ticketsOf(cw, 'ooo-4')[0]).toMatchObject({ status: 'New', notes: [] })
    // The next early event clears what has expired.
    await send('alert.acknowledged', { alertId: 'ooo-5' }, at(0))
    expect(await kept()).toEqual(['alert.acknowledged'])

    await api('PATCH', `${API}/${connection}`, { settings: { autoCreateTickets: false } })
    await send('alert.resolved', { alertId: 'ooo-6' }, at(0))
    expect(await kept()).toEqual(['alert.acknowledged'])
  })
})

describe('which connection', () => {
  it('follows routing rules, else the default PSA connection, and leaves alerts routed elsewhere alone', async () => {
    const cwId = await connect('connectwise')
    const jiraId = await connect('jira')
    const rule = await api('POST', '/api/v1/routing-rules', {
      capability: 'create_ticket',
      integration_id: jiraId,
      priority: 10,
      conditions: [{ field: 'hostname', operator: 'eq', value: 'DB-01' }],
    })
    expect(rule.status, JSON.stringify(rule.body)).toBe(201)
    await emit('alert.triggered', alertData('r-db', { hostname: 'DB-01' }))
    await emit('alert.triggered', alertData('r-web', { hostname: 'WEB-01' }))
    await h.worker.drain()
    expect(ticketsOf(jira, 'r-db')).toHaveLength(1)
    expect(ticketsOf(jira, 'r-web')).toHaveLength(0)
    expect(ticketsOf(cw, 'r-web')).toHaveLength(1)
    expect(ticketsOf(cw, 'r-db')).toHaveLength(0)
    // The fan-out's choice is the one the routing service makes.
    for (const [hostname, expected] of [
      ['DB-01', jiraId],
      ['WEB-01', null],
    ] as const) {
      const evaluated = await evaluateRouting(h.ctx, org.id, 'create_ticket', {
        ...alertData('x', { hostname }),
        eventType: 'alert.triggered',
      })
      expect(evaluated.integration?.id ?? null).toBe(expected)
    }
    // Events of an alert follow its ticket, wherever routing would send a new alert now.
    await api('DELETE', `/api/v1/routing-rules/${rule.body.data.id}`)
    await emit('alert.resolved', { alertId: 'r-db' })
    await h.worker.drain()
    expect(ticketsOf(jira, 'r-db')[0]).toMatchObject({ status: jira.statuses.resolved })
    expect((await deliveries(cwId)).map((d) => d.event)).toEqual(['alert.triggered'])

    // A rule sending tickets to a generic ticketing endpoint: that door's automation, not this one.
    const generic = await api('POST', '/api/v1/integrations', {
      provider: 'generic-ticketing',
      credentials: { apiUrl: 'https://tickets.example.test/api', apiKey: 'tk_generic_123456' },
      enabled_capabilities: ['create_ticket'],
    })
    await h.ctx.db.query(`UPDATE integrations SET status = 'active' WHERE id = $1`, [generic.body.data.id])
    await api('POST', '/api/v1/routing-rules', {
      capability: 'create_ticket',
      integration_id: generic.body.data.id,
      is_default: true,
    })
    expect((await emit('alert.triggered', alertData('r-generic'))).deliveriesQueued).toBe(0)
  })

  it('creates nothing without autoCreateTickets, or for severities left out', async () => {
    const id = await connect('connectwise', {
      ...automationSettings('connectwise', cw),
      severities: ['critical'],
    })
    expect(
      (await emit('alert.triggered', alertData('s-warn', { severity: 'warning' }))).deliveriesQueued,
    ).toBe(0)
    expect((await emit('alert.resolved', { alertId: 's-warn' })).deliveriesQueued).toBe(0)
    expect((await emit('alert.triggered', alertData('s-crit'))).deliveriesQueued).toBe(1)
    await api('PATCH', `${API}/${id}`, { settings: { defaultBoard: 'Service Board' } })
    expect((await emit('alert.triggered', alertData('s-off'))).deliveriesQueued).toBe(0)
    // The ticket already made still hears about its alert.
    expect((await emit('alert.resolved', { alertId: 's-crit' })).deliveriesQueued).toBe(1)
    expect((await emit('device.offline', { deviceId: 'dev-1' })).deliveriesQueued).toBe(0)
    expect((await emit('alert.triggered', { severity: 'critical' })).deliveriesQueued).toBe(0)
  })

  it('an alert left out at its severity gets a ticket once escalated into a wanted one', async () => {
    await connect('connectwise', { ...automationSettings('connectwise', cw), severities: ['critical'] })
    expect((await emit('alert.triggered', alertData('e-up', { severity: 'warning' }))).deliveriesQueued).toBe(
      0,
    )
    expect((await emit('alert.escalated', alertData('e-up', { severity: 'warning' }))).deliveriesQueued).toBe(
      0,
    )
    expect(
      (await emit('alert.escalated', alertData('e-up', { escalatedTo: 'Tier 2' }))).deliveriesQueued,
    ).toBe(1)
    await h.worker.drain()
    const tickets = ticketsOf(cw, 'e-up')
    expect(tickets).toHaveLength(1)
    expect(tickets[0]?.notes ?? []).toHaveLength(0)
    // From then on the alert has its ticket: a further escalation is a note on it, not a second ticket.
    expect(
      (await emit('alert.escalated', alertData('e-up', { escalatedTo: 'Tier 3' }))).deliveriesQueued,
    ).toBe(1)
    await h.worker.drain()
    expect(ticketsOf(cw, 'e-up')).toHaveLength(1)
    expect(ticketsOf(cw, 'e-up')[0]?.notes).toMatchObject([{ text: expect.stringContaining('Tier 3') }])
  })
})
