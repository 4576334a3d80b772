import { createHash, createHmac } from 'node:crypto'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { CHANGE_JOBS, CHANGE_SCHEDULES } from '../src/changes/jobs.ts'
import { JobService } from '../src/jobs/service.ts'
import { WIRED_JOBS } from '../src/wiring.ts'
import { newOrg } from './fixtures/psa.ts'
import { createHarness, type Harness, seedTenants } from './harness.ts'
import { ConnectWiseStandIn } from './standins/index.ts'
import { Receiver } from './standins/receiver.ts'

/**
 * Change management with ConnectWise (issue 17), driven through the API against the stateful ConnectWise stand-in:
 * settings, device sync, ticket search and link, every lifecycle transition and what each does on the ticket
 * (notes, status moves, schedule entries, resources, configurations), delivered by the delivery engine.
 */
let h: Harness
let t: Awaited<ReturnType<typeof seedTenants>>
let cw: ConnectWiseStandIn
let org: { id: string; token: string }
let integrationId: string

const people = {
  alice: { name: 'Alice Admin', email: 'alice@msp.example' },
  bob: { name: 'Bob Tech', email: 'bob@msp.example' },
  carol: { name: 'Carol Ops', email: 'Carol@MSP.example' },
  dave: { name: 'Dave Vcab', email: 'dave@msp.example' },
  erin: { name: 'Erin Outside', email: 'erin@customer.example' },
}
const STATUSES = {
  created: 'Change Linked',
  fullyApproved: 'Approved',
  scheduled: 'Scheduled',
  completed: 'Resolved',
  cancelled: 'Cancelled',
}

beforeAll(async () => {
  h = await createHarness({ env: { PATCHBAY_PROBE_INTERVAL_MS: '0', PATCHBAY_PSA_SYNC_INTERVAL_MS: '0' } })
  t = await seedTenants(h)
  cw = await new ConnectWiseStandIn({ clock: h.clock }).start()
  const board = cw.raw.boards[0]
  if (!board) throw new Error('no board')
  for (const name of ['Change Linked', 'Approved', 'Scheduled', 'Cancelled'])
    board.statuses.push({ id: 100 + board.statuses.length, name })
  cw.addMember({ firstName: 'Alice', lastName: 'Admin', email: people.alice.email })
  cw.addMember({ firstName: 'Bob', lastName: 'Tech', email: people.bob.email })
  cw.addMember({ firstName: 'Carol', lastName: 'Ops', email: 'carol@msp.example' })
  cw.addMember({ firstName: 'Dave', lastName: 'Vcab', email: people.dave.email })
  cw.addConfiguration({ name: 'srv01', type: 'Server' })
  cw.addConfiguration({ name: 'sw-core', type: 'Network Switch' })
  cw.addConfiguration({ name: 'ws-22', type: 'Workstation' })
  cw.addConfiguration({ name: 'prn-1', type: 'Printer' })
  cw.addConfiguration({ name: 'fab-srv', type: 'Server', company: 'Fabrikam' })
})
afterAll(async () => {
  await cw.close()
  await h.close()
})

// biome-ignore lint/suspicious/noExplicitAny: response bodies are read loosely and asserted on
async function api(method: string, path: string, body?: unknown): Promise<any> {
  return h.json(method, path, { token: org.token, ...(body !== undefined ? { body } : {}) })
}

const settings = (extra: Record<string, unknown> = {}) => ({
  integrationId,
  enabled: true,
  autoUpdateStatus: true,
  statuses: STATUSES,
  company: { id: '250', name: 'Contoso Ltd', boardIds: ['1'] },
  configurationTypes: [
    { typeId: '1', typeName: 'Server', deviceType: 'Server' },
    { typeId: '2', typeName: 'Network Switch', deviceType: 'Network Switch' },
  ],
  ...extra,
})

async function setUp() {
  org = await newOrg(h, t.partner.id, `Changes ${Math.random().toString(36).slice(2, 8)}`)
  const conn = await api('POST', '/api/v1/psa/connections', {
    provider: 'connectwise',
    name: 'CW',
    credentials: cw.credentials,
  })
  expect(conn.status, JSON.stringify(conn.body)).toBe(201)
  integrationId = conn.body.id
  const saved = await api('PUT', '/api/v1/changes/settings', settings())
  expect(saved.status, JSON.stringify(saved.body)).toBe(200)
}

const newChange = (extra: Record<string, unknown> = {}) => ({
  title: 'Core switch firmware upgrade',
  description: 'Upgrade @sw-core to 17.9 and reboot @srv01; also check @ghost01.',
  implementationPlan: '1. Backup config\n2. Upload image\n3. Reload',
  window: { start: '2026-02-20T22:00:00.000Z', end: '2026-02-21T01:00:00.000Z' },
  risk: 'medium',
  creator: people.alice,
  technicalApprover: people.bob,
  operationalApprover: people.carol,
  committee: true,
  vcabMembers: [people.dave, people.erin],
  ...extra,
})

async function changeDeliveries(changeId: string) {
  const r = await api('GET', `/api/v1/deliveries?targetType=change_ticket&targetId=${changeId}&limit=100`)
  return r.body.data as {
    status: string
    event: string
    errorMessage: string | null
    nextAttemptAt: string | null
  }[]
}

/** Runs the delivery worker, moving the clock on, until nothing of this change is left to attempt. */
async function settle(changeId: string) {
  for (let i = 0; i < 40; i++) {
    await h.worker.drain()
    const open = (await changeDeliveries(changeId)).filter((d) => !['delivered', 'failed'].includes(d.status))
    if (!open.length) return
    h.clock.advance(60_000)
  }
  throw new Error('deliveries did not settle')
}

/** The statuses a ticket was moved to, by name, in order (JSON Patch `status/id` requests to the stand-in). */
function statusMoves(id: number): (string | undefined)[] {
  return cw.requests
    .filter((r) => r.method === 'PATCH' && r.path.endsWith(`/service/tickets/${id}`))
    .map((r) => {
      const value = (r.body as { value: number }[])[0]?.value
      return cw.raw.boards.flatMap((b) => b.statuses).find((x) => x.id === value)?.name
    })
}

async function auditActions(changeId: string): Promise<string[]> {
  const audit = await api('GET', `/api/v1/audit-logs?targetId=${changeId}`)
  return audit.body.data.map((a: { action: string }) => a.action).reverse()
}

function ticketOf(id: number) {
  const ticket = cw.raw.tickets.find((x) => x.id === id)
  if (!ticket) throw new Error(`no ticket ${id}`)
  return ticket
}

describe('change management with ConnectWise', () => {
  beforeEach(async () => {
    await setUp()
  })

  it('drives a whole change: link, approvals, schedule, start, complete, every ticket update asserted', async () => {
    // Step 5: device sync imports only mapped types of the mapped company.
    const sync = await api('POST', '/api/v1/changes/device-sync')
    expect(sync.status, JSON.stringify(sync.body)).toBe(200)
    expect(sync.body).toMatchObject({ created: 2, updated: 0, skipped: 2, complete: true, error: null })
    const devices = await api('GET', '/api/v1/devices')
    expect(
      devices.body.data.map((d: { hostname: string; deviceType: string }) => [d.hostname, d.deviceType]),
    ).toEqual([
      ['srv01', 'Server'],
      ['sw-core', 'Network Switch'],
    ])
    expect((await api('POST', '/api/v1/changes/device-sync')).body).toMatchObject({ created: 0, skipped: 4 })

    const ticket = cw.addTicket({ summary: 'Core switch firmware', board: 'Service Board' })
    cw.addTicket({ summary: 'Core router on the help desk', board: 'Help Desk' })
    cw.addTicket({ summary: 'Core issue at Fabrikam', company: 'Fabrikam' })
    const search = await api('GET', '/api/v1/changes/ticket-search?q=core')
    expect(search.status, JSON.stringify(search.body)).toBe(200)
    expect(search.body.data.map((x: { id: string }) => x.id)).toEqual([String(ticket.id)])
    const byNumber = await api('GET', `/api/v1/changes/ticket-search?q=${ticket.id}`)
    expect(byNumber.body.data.map((x: { id: string }) => x.id)).toEqual([String(ticket.id)])
    const searched = cw.requests.find((r) => r.path.endsWith('/service/tickets') && r.method === 'GET')
    expect(searched?.query.get('conditions')).toBe(
      'company/id=250 and closedFlag=false and board/id in (1) and summary like "%core%"',
    )

    const fromLink = cw.requests.length
    const created = await api('POST', '/api/v1/changes', newChange({ ticketId: String(ticket.id) }))
    expect(created.status, JSON.stringify(created.body)).toBe(201)
    const c = created.body
    expect(c.status).toBe('created')
    expect(c.devices.map((d: { hostname: string }) => d.hostname).sort()).toEqual(['srv01', 'sw-core'])
    expect(c.unknownHostnames).toEqual(['ghost01'])
    expect(c.ticket).toMatchObject({
      ticketId: String(ticket.id),
      boardName: 'Service Board',
      companyId: '250',
    })

    await settle(c.id)
    const notes = () => ticketOf(ticket.id).notes
    expect(notes().every((n) => n.internalAnalysisFlag || n.detailDescriptionFlag)).toBe(true)
    expect(notes()[0]?.text).toMatch(/^Change control linked: Core switch firmware upgrade\nRisk: medium/)
    expect(notes().map((n) => n.text.split('\n')[0])).toEqual([
      'Change control linked: Core switch firmware upgrade',
      'Resource added: Alice Admin (aadmin) as Change creator',
      'Resource added: Bob Tech (btech) as Technical approver',
      'Resource added: Carol Ops (cops) as Operational approver',
      'Resource added: Dave Vcab (dvcab) as vCAB member',
      'Unscheduled resources (no ConnectWise member with their email): Erin Outside <erin@customer.example> (vCAB member)',
    ])
    expect(ticketOf(ticket.id).status.name).toBe('Change Linked')
    expect(ticketOf(ticket.id).configurations?.sort()).toEqual(
      cw.raw.configurations
        .filter((x) => ['srv01', 'sw-core'].includes(x.name))
        .map((x) => x.id)
        .sort(),
    )
    const linkEntries = cw.raw.scheduleEntries.filter((e) => e.objectId === ticket.id)
    expect(linkEntries.map((e) => [e.member.identifier, e.type.identifier, e.dateStart, e.dateEnd])).toEqual(
      ['aadmin', 'btech', 'cops', 'dvcab'].map((m) => [
        m,
        'S',
        '2026-02-20T22:00:00Z',
        '2026-02-21T01:00:00Z',
      ]),
    )
    expect((await api('GET', `/api/v1/changes/${c.id}`)).body.unscheduledResources).toEqual([
      { ...people.erin, role: 'vCAB member' },
    ])

    // Approvals: a note each; the "fully approved" status once both are in.
    expect((await api('POST', `/api/v1/changes/${c.id}/schedule`, {})).status).toBe(409)
    const tech = await api('POST', `/api/v1/changes/${c.id}/approve`, {
      role: 'technical',
      comment: 'Tested in lab',
    })
    expect(tech.body.status).toBe('created')
    expect(
      (await api('POST', `/api/v1/changes/${c.id}/approve`, { role: 'technical', comment: 'again' })).status,
    ).toBe(409)
    const ops = await api('POST', `/api/v1/changes/${c.id}/approve`, {
      role: 'operational',
      comment: 'Window OK',
    })
    expect(ops.body.status).toBe('fully_approved')
    await settle(c.id)
    expect(
      notes()
        .slice(6)
        .map((n) => n.text),
    ).toEqual([
      'Technical approval by Bob Tech <bob@msp.example>\nComment: Tested in lab',
      'Operational approval by Carol Ops <Carol@MSP.example>\nComment: Window OK',
    ])
    expect(ticketOf(ticket.id).status.name).toBe('Approved')

    // Scheduled: detailed description with the plan, a schedule entry per resource, the status.
    const scheduled = await api('POST', `/api/v1/changes/${c.id}/schedule`, {
      window: { start: '2026-02-21T22:00:00.000Z', end: '2026-02-22T00:30:00.000Z' },
    })
    expect(scheduled.status, JSON.stringify(scheduled.body)).toBe(200)
    await settle(c.id)
    const detail = notes().filter((n) => n.detailDescriptionFlag)
    expect(detail.map((n) => n.text)).toEqual([
      'Change: Core switch firmware upgrade\nImplementation window: 2026-02-21 22:00 UTC – 2026-02-22 00:30 UTC\n\n' +
        'Implementation plan:\n1. Backup config\n2. Upload image\n3. Reload',
    ])
    const windowEntries = cw.raw.scheduleEntries.filter((e) => e.dateStart === '2026-02-21T22:00:00Z')
    expect(windowEntries.map((e) => [e.member.identifier, e.dateEnd, e.name])).toEqual(
      ['aadmin', 'btech', 'cops', 'dvcab'].map((m) => [
        m,
        '2026-02-22T00:30:00Z',
        'Change implementation: Core switch firmware upgrade',
      ]),
    )
    expect(ticketOf(ticket.id).status.name).toBe('Scheduled')

    h.clock.set(new Date('2026-02-21T22:01:00.000Z'))
    expect(
      (await api('POST', `/api/v1/changes/${c.id}/start`, { implementer: people.bob })).body.status,
    ).toBe('in_progress')
    await settle(c.id)
    expect(notes().at(-1)?.text).toBe(
      'Implementation Started\nStarted: 2026-02-21 22:01 UTC\nImplementer: Bob Tech <bob@msp.example>',
    )

    const done = await api('POST', `/api/v1/changes/${c.id}/complete`, {
      completionNotes: 'Firmware 17.9.4 running',
      testResults: 'All uplinks up, ping OK',
    })
    expect(done.body.status).toBe('completed')
    await settle(c.id)
    expect(notes().at(-1)?.text).toMatch(
      /^Implementation Completed Successfully\nCompleted: .*\nCompletion notes: Firmware 17.9.4 running\nTest results: All uplinks up, ping OK$/,
    )
    expect(ticketOf(ticket.id).status.name).toBe('Resolved')
    expect((await api('POST', `/api/v1/changes/${c.id}/cancel`, { reason: 'too late' })).status).toBe(409)

    // Every status move, in order: JSON Patch by the id the configured name has on the ticket's board.
    const board = cw.raw.boards[0]
    const sent = cw.requests.slice(fromLink)
    expect(
      sent
        .filter((r) => r.method === 'PATCH' && r.path.endsWith(`/service/tickets/${ticket.id}`))
        .map((r) =>
          (r.body as { op: string; path: string; value: number }[]).map((o) => [
            o.op,
            o.path,
            board?.statuses.find((x) => x.id === o.value)?.name,
          ]),
        ),
    ).toEqual(
      ['Change Linked', 'Approved', 'Scheduled', 'Resolved'].map((name) => [['replace', 'status/id', name]]),
    )
    // Notes never email the customer; all but the detailed description are internal analysis (technicians only).
    const noteBodies = sent
      .filter((r) => r.method === 'POST' && r.path.endsWith(`/service/tickets/${ticket.id}/notes`))
      .map((r) => r.body as Record<string, unknown>)
    expect(noteBodies).toHaveLength(notes().length)
    expect(noteBodies.every((b) => b.processNotifications === false)).toBe(true)
    expect(noteBodies.filter((b) => b.internalAnalysisFlag === true)).toHaveLength(notes().length - 1)
    expect(noteBodies[0]).toMatchObject({ internalAnalysisFlag: true, detailDescriptionFlag: false })
    // Board statuses and members are looked up once and then served from the cache: the board's statuses on the
    // first status move, each person's email once (the one ConnectWise lacks included) for link and schedule.
    const gets = (suffix: string) => sent.filter((r) => r.method === 'GET' && r.path.endsWith(suffix))
    expect(gets('/service/boards/1/statuses')).toHaveLength(1)
    expect(gets('/system/members')).toHaveLength(5)

    // Every ticket update is a delivery, each delivered (the notes above show their order).
    const history = await changeDeliveries(c.id)
    expect(history.map((d) => [d.event, d.status]).sort()).toEqual(
      [
        'change.approved',
        'change.approved',
        'change.completed',
        'change.fully_approved',
        'change.scheduled',
        'change.started',
        'change.ticket_linked',
      ].map((e) => [e, 'delivered']),
    )
    // Vendor requests pinned the model version and used JSON Patch for status moves.
    expect(new Set(cw.acceptHeaders)).toEqual(
      new Set(['application/vnd.connectwise.com+json; version=2026.4']),
    )
    const patches = cw.requests.filter((r) => r.method === 'PATCH')
    expect(patches.every((r) => Array.isArray(r.body))).toBe(true)
    expect(await auditActions(c.id)).toEqual([
      'change.created',
      'change.ticket_linked',
      'change.approved',
      'change.approved',
      'change.scheduled',
      'change.started',
      'change.completed',
    ])

    // The widget, fetched fresh, and a time entry for a member.
    cw.setStatus(String(ticket.id), 'Closed')
    const widget = await api('GET', `/api/v1/changes/${c.id}/ticket?email=bob@msp.example`)
    expect(widget.status, JSON.stringify(widget.body)).toBe(200)
    expect(widget.body.ticket).toMatchObject({
      number: String(ticket.id),
      status: 'Closed',
      summary: 'Core switch firmware',
    })
    expect(widget.body.ticket.url).toContain(`service_recid=${ticket.id}`)
    expect(widget.body.timeEntry).toMatchObject({ memberIdentifier: 'btech' })
    expect(
      (await api('GET', `/api/v1/changes/${c.id}/ticket?email=erin@customer.example`)).body.timeEntry,
    ).toBeNull()
    const time = await api('POST', `/api/v1/changes/${c.id}/time-entries`, {
      email: 'bob@msp.example',
      start: '2026-02-21T22:00:00Z',
      end: '2026-02-22T00:15:00Z',
      notes: 'Firmware upgrade',
    })
    expect(time.status, JSON.stringify(time.body)).toBe(201)
    expect(cw.raw.timeEntries.at(-1)).toMatchObject({
      chargeToId: ticket.id,
      chargeToType: 'ServiceTicket',
      member: { identifier: 'btech' },
      timeStart: '2026-02-21T22:00:00Z',
      timeEnd: '2026-02-22T00:15:00Z',
      notes: 'Firmware upgrade',
    })
    const noMember = await api('POST', `/api/v1/changes/${c.id}/time-entries`, {
      email: 'erin@customer.example',
      start: '2026-02-21T22:00:00Z',
      notes: 'x',
    })
    expect(noMember.status).toBe(422)
    expect(noMember.body.details[0].path).toBe('email')
  })

  it('a failed change posts "Failed - Rollback Required" with reason and rollback notes', async () => {
    const ticket = cw.addTicket({ summary: 'Patch the firewall' })
    const c = (await api('POST', '/api/v1/changes', newChange({ committee: false, vcabMembers: [] }))).body
    expect((await api('PUT', `/api/v1/changes/${c.id}/ticket`, { ticketId: String(ticket.id) })).status).toBe(
      200,
    )
    await api('POST', `/api/v1/changes/${c.id}/approve`, { role: 'technical', comment: '' })
    await api('POST', `/api/v1/changes/${c.id}/approve`, { role: 'operational', comment: '' })
    await api('POST', `/api/v1/changes/${c.id}/schedule`, {})
    await api('POST', `/api/v1/changes/${c.id}/start`, { implementer: people.alice })
    expect((await api('POST', `/api/v1/changes/${c.id}/complete`, {})).status).toBe(422)
    const failed = await api('POST', `/api/v1/changes/${c.id}/fail`, {
      failureReason: 'Image checksum mismatch',
      rollbackNotes: 'Booted previous image',
    })
    expect(failed.body.status).toBe('failed')
    await settle(c.id)
    const texts = ticketOf(ticket.id).notes.map((n) => n.text)
    expect(texts.at(-1)).toBe(
      'Failed - Rollback Required\nReason: Image checksum mismatch\nRollback notes: Booted previous image',
    )
    expect(texts.map((x) => x.split('\n')[0])).toEqual([
      'Change control linked: Core switch firmware upgrade',
      'Resource added: Alice Admin (aadmin) as Change creator',
      'Resource added: Bob Tech (btech) as Technical approver',
      'Resource added: Carol Ops (cops) as Operational approver',
      'Technical approval by Bob Tech <bob@msp.example>',
      'Operational approval by Carol Ops <Carol@MSP.example>',
      'Change: Core switch firmware upgrade',
      'Implementation Started',
      'Failed - Rollback Required',
    ])
    // No status is configured for a failure: the ticket keeps the scheduled one.
    expect(statusMoves(ticket.id)).toEqual(['Change Linked', 'Approved', 'Scheduled'])
    expect(ticketOf(ticket.id).status.name).toBe('Scheduled')
    // Each of the three people on the ticket's schedule at link and again for the implementation window.
    expect(
      cw.raw.scheduleEntries
        .filter((e) => e.objectId === ticket.id)
        .map((e) => [e.member.identifier, e.name?.split(':')[0]]),
    ).toEqual([
      ['aadmin', 'Change resource'],
      ['btech', 'Change resource'],
      ['cops', 'Change resource'],
      ['aadmin', 'Change implementation'],
      ['btech', 'Change implementation'],
      ['cops', 'Change implementation'],
    ])
    expect(await auditActions(c.id)).toEqual([
      'change.created',
      'change.ticket_linked',
      'change.approved',
      'change.approved',
      'change.scheduled',
      'change.started',
      'change.failed',
    ])
    expect(
      (await api('POST', `/api/v1/changes/${c.id}/complete`, { completionNotes: '', testResults: '' }))
        .status,
    ).toBe(409)
  })

  it('a cancelled change moves the ticket to the cancelled status with the reason', async () => {
    const ticket = cw.addTicket({ summary: 'Migrate file shares' })
    const c = (await api('POST', '/api/v1/changes', newChange({ ticketId: String(ticket.id) }))).body
    await api('POST', `/api/v1/changes/${c.id}/approve`, { role: 'technical', comment: 'fine' })
    const cancelled = await api('POST', `/api/v1/changes/${c.id}/cancel`, { reason: 'Customer postponed' })
    expect(cancelled.body.status).toBe('cancelled')
    await settle(c.id)
    expect(ticketOf(ticket.id).notes.at(-1)?.text).toBe('Change Cancelled\nReason: Customer postponed')
    expect(ticketOf(ticket.id).notes.map((n) => n.text.split('\n')[0])).toEqual([
      'Change control linked: Core switch firmware upgrade',
      'Resource added: Alice Admin (aadmin) as Change creator',
      'Resource added: Bob Tech (btech) as Technical approver',
      'Resource added: Carol Ops (cops) as Operational approver',
      'Resource added: Dave Vcab (dvcab) as vCAB member',
      'Unscheduled resources (no ConnectWise member with their email): Erin Outside <erin@customer.example> (vCAB member)',
      'Technical approval by Bob Tech <bob@msp.example>',
      'Change Cancelled',
    ])
    expect(statusMoves(ticket.id)).toEqual(['Change Linked', 'Cancelled'])
    expect(ticketOf(ticket.id).status.name).toBe('Cancelled')
    expect(
      cw.raw.scheduleEntries.filter((e) => e.objectId === ticket.id).map((e) => e.member.identifier),
    ).toEqual(['aadmin', 'btech', 'cops', 'dvcab'])
    expect(await auditActions(c.id)).toEqual([
      'change.created',
      'change.ticket_linked',
      'change.approved',
      'change.cancelled',
    ])
    expect((await api('POST', `/api/v1/changes/${c.id}/cancel`, { reason: 'again' })).status).toBe(409)
  })

  it('reads the ticket from ConnectWise once when a change is created with ticketId', async () => {
    const ticket = cw.addTicket({ summary: 'Renew the backup appliance' })
    const from = cw.requests.length
    const created = await api('POST', '/api/v1/changes', newChange({ ticketId: String(ticket.id) }))
    expect(created.status, JSON.stringify(created.body)).toBe(201)
    expect(created.body.ticket).toMatchObject({ ticketId: String(ticket.id), boardName: 'Service Board' })
    // Before any delivery runs: only the check that also gives the link read the ticket.
    const reads = cw.requests
      .slice(from)
      .filter((r) => r.method === 'GET' && r.path.endsWith(`/service/tickets/${ticket.id}`))
    expect(reads).toHaveLength(1)
  })

  it('brings a ticket linked to an approved change up to it: its approvals, the approved status, once', async () => {
    const ticket = cw.addTicket({ summary: 'Rebuild the print server' })
    const c = (await api('POST', '/api/v1/changes', newChange({ committee: false }))).body
    await api('POST', `/api/v1/changes/${c.id}/approve`, { role: 'technical', comment: 'Looks fine' })
    const approved = await api('POST', `/api/v1/changes/${c.id}/approve`, {
      role: 'operational',
      comment: '',
    })
    expect(approved.body.status).toBe('fully_approved')
    // The first note and then the status move reach ConnectWise but their answers are lost: each retried attempt
    // skips what is recorded done and looks at the ticket before posting a note again.
    cw.dropNextAnswer({ method: 'POST', path: `/service/tickets/${ticket.id}/notes` })
    cw.dropNextAnswer({ method: 'PATCH', path: `/service/tickets/${ticket.id}` })
    const linked = await api('PUT', `/api/v1/changes/${c.id}/ticket`, { ticketId: String(ticket.id) })
    expect(linked.status, JSON.stringify(linked.body)).toBe(200)
    for (let i = 0; i < 2; i++) {
      await h.worker.drain()
      expect((await changeDeliveries(c.id)).map((d) => [d.event, d.status])).toEqual([
        ['change.ticket_linked', 'retrying'],
      ])
      h.clock.advance(60_000)
    }
    await settle(c.id)
    expect((await changeDeliveries(c.id)).map((d) => [d.event, d.status])).toEqual([
      ['change.ticket_linked', 'delivered'],
    ])
    expect(ticketOf(ticket.id).notes.map((n) => n.text)).toEqual([
      expect.stringMatching(/^Change control linked: Core switch firmware upgrade\n/),
      'Resource added: Alice Admin (aadmin) as Change creator',
      'Resource added: Bob Tech (btech) as Technical approver',
      'Resource added: Carol Ops (cops) as Operational approver',
      'Technical approval by Bob Tech <bob@msp.example>\nComment: Looks fine',
      'Operational approval by Carol Ops <Carol@MSP.example>',
    ])
    // The ticket's notes were read once: after the lost answer, not before every note.
    expect(
      cw.requests.filter((r) => r.method === 'GET' && r.path.endsWith(`/service/tickets/${ticket.id}/notes`)),
    ).toHaveLength(1)
    // Straight to the status the state maps to, not through "Change Linked" (the second move is the retry).
    expect(statusMoves(ticket.id)).toEqual(['Approved', 'Approved'])
    expect(ticketOf(ticket.id).status.name).toBe('Approved')
    expect(
      cw.raw.scheduleEntries.filter((e) => e.objectId === ticket.id).map((e) => e.member.identifier),
    ).toEqual(['aadmin', 'btech', 'cops'])
  })

  it('brings a ticket linked to a scheduled change up to it: approvals, plan, schedule, the scheduled status', async () => {
    const ticket = cw.addTicket({ summary: 'Move the file server' })
    const c = (await api('POST', '/api/v1/changes', newChange({ committee: false }))).body
    await api('POST', `/api/v1/changes/${c.id}/approve`, { role: 'operational', comment: 'Window OK' })
    await api('POST', `/api/v1/changes/${c.id}/approve`, { role: 'technical', comment: '' })
    const scheduled = await api('POST', `/api/v1/changes/${c.id}/schedule`, {
      window: { start: '2026-03-05T21:00:00.000Z', end: '2026-03-05T23:00:00.000Z' },
    })
    expect(scheduled.body.status).toBe('scheduled')
    const linked = await api('PUT', `/api/v1/changes/${c.id}/ticket`, { ticketId: String(ticket.id) })
    expect(linked.status, JSON.stringify(linked.body)).toBe(200)
    // The first schedule entry is made but its answer lost: the retry finds it rather than making it again.
    cw.dropNextAnswer({ method: 'POST', path: '/schedule/entries' })
    await settle(c.id)
    const notes = ticketOf(ticket.id).notes
    expect(notes.map((n) => [n.text.split('\n')[0], n.detailDescriptionFlag])).toEqual([
      ['Change control linked: Core switch firmware upgrade', false],
      ['Resource added: Alice Admin (aadmin) as Change creator', false],
      ['Resource added: Bob Tech (btech) as Technical approver', false],
      ['Resource added: Carol Ops (cops) as Operational approver', false],
      ['Operational approval by Carol Ops <Carol@MSP.example>', false],
      ['Technical approval by Bob Tech <bob@msp.example>', false],
      ['Change: Core switch firmware upgrade', true],
    ])
    expect(notes.at(-1)?.text).toBe(
      'Change: Core switch firmware upgrade\nImplementation window: 2026-03-05 21:00 UTC – 2026-03-05 23:00 UTC\n\n' +
        'Implementation plan:\n1. Backup config\n2. Upload image\n3. Reload',
    )
    expect(statusMoves(ticket.id)).toEqual(['Scheduled'])
    expect(ticketOf(ticket.id).status.name).toBe('Scheduled')
    expect(
      cw.raw.scheduleEntries
        .filter((e) => e.objectId === ticket.id)
        .map((e) => [e.member.identifier, e.name?.split(':')[0], e.dateStart, e.dateEnd]),
    ).toEqual(
      ['Change resource', 'Change implementation'].flatMap((name) =>
        ['aadmin', 'btech', 'cops'].map((m) => [m, name, '2026-03-05T21:00:00Z', '2026-03-05T23:00:00Z']),
      ),
    )
    // What comes after the link is its own update, as for a change linked from the start.
    h.clock.set(new Date('2026-03-05T21:02:00.000Z'))
    await api('POST', `/api/v1/changes/${c.id}/start`, { implementer: people.bob })
    await settle(c.id)
    expect(
      ticketOf(ticket.id)
        .notes.map((n) => n.text.split('\n')[0])
        .slice(7),
    ).toEqual(['Implementation Started'])
  })

  it('brings a ticket linked to a change in progress up to it: "Implementation Started", the scheduled status', async () => {
    const ticket = cw.addTicket({ summary: 'Replace the core stack' })
    const c = (await api('POST', '/api/v1/changes', newChange({ committee: false }))).body
    await api('POST', `/api/v1/changes/${c.id}/approve`, { role: 'technical', comment: '' })
    await api('POST', `/api/v1/changes/${c.id}/approve`, { role: 'operational', comment: '' })
    await api('POST', `/api/v1/changes/${c.id}/schedule`, {})
    h.clock.set(new Date('2026-03-10T09:05:00.000Z'))
    expect(
      (await api('POST', `/api/v1/changes/${c.id}/start`, { implementer: people.bob })).body.status,
    ).toBe('in_progress')
    expect((await api('PUT', `/api/v1/changes/${c.id}/ticket`, { ticketId: String(ticket.id) })).status).toBe(
      200,
    )
    await settle(c.id)
    expect(ticketOf(ticket.id).notes.map((n) => n.text.split('\n')[0])).toEqual([
      'Change control linked: Core switch firmware upgrade',
      'Resource added: Alice Admin (aadmin) as Change creator',
      'Resource added: Bob Tech (btech) as Technical approver',
      'Resource added: Carol Ops (cops) as Operational approver',
      'Technical approval by Bob Tech <bob@msp.example>',
      'Operational approval by Carol Ops <Carol@MSP.example>',
      'Change: Core switch firmware upgrade',
      'Implementation Started',
    ])
    expect(ticketOf(ticket.id).notes.at(-1)?.text).toBe(
      'Implementation Started\nStarted: 2026-03-10 09:05 UTC\nImplementer: Bob Tech <bob@msp.example>',
    )
    // Starting moves no status: the ticket is left where scheduling would have left it.
    expect(statusMoves(ticket.id)).toEqual(['Scheduled'])
  })

  it('refuses tickets of another company or an unfiltered board with 422', async () => {
    const other = cw.addTicket({ summary: 'Fabrikam thing', company: 'Fabrikam' })
    const helpDesk = cw.addTicket({ summary: 'Help desk thing', board: 'Help Desk' })
    const c = (await api('POST', '/api/v1/changes', newChange())).body
    const a = await api('PUT', `/api/v1/changes/${c.id}/ticket`, { ticketId: String(other.id) })
    expect(a.status).toBe(422)
    expect(a.body.details[0]).toMatchObject({ path: 'ticketId' })
    expect(a.body.details[0].message).toMatch(/another company/)
    const b = await api('PUT', `/api/v1/changes/${c.id}/ticket`, { ticketId: String(helpDesk.id) })
    expect(b.status).toBe(422)
    expect(b.body.details[0].message).toMatch(/board "Help Desk"/)
    expect((await api('GET', `/api/v1/changes/${c.id}`)).body.ticket).toBeNull()
    // Refused at creation, nothing is created.
    const count = (await api('GET', '/api/v1/changes')).body.pagination.total
    const refused = await api('POST', '/api/v1/changes', newChange({ ticketId: String(other.id) }))
    expect(refused.status).toBe(422)
    expect((await api('GET', '/api/v1/changes')).body.pagination.total).toBe(count)
  })

  it('checks status names against the board when saved, and fails the delivery when the board lost one', async () => {
    const bad = await api(
      'PUT',
      '/api/v1/changes/settings',
      settings({ statuses: { ...STATUSES, scheduled: 'Booked' } }),
    )
    expect(bad.status).toBe(422)
    expect(bad.body.details).toEqual([
      {
        path: 'statuses.scheduled',
        message: expect.stringMatching(
          /^"Booked" is not a status of board "Service Board" \(statuses: New, In Progress, .*Cancelled\)$/,
        ),
      },
    ])
    const board = cw.raw.boards[0]
    if (!board) throw new Error('no board')
    const ticket = cw.addTicket({ summary: 'Swap UPS batteries' })
    const c = (await api('POST', '/api/v1/changes', newChange({ ticketId: String(ticket.id) }))).body
    await settle(c.id)
    // Someone removes the status at ConnectWise after settings were saved (and after it was cached).
    const index = board.statuses.findIndex((s) => s.name === 'Approved')
    const [approved] = board.statuses.splice(index, 1)
    if (!approved) throw new Error('no status')
    try {
      await api('POST', `/api/v1/changes/${c.id}/approve`, { role: 'technical', comment: 'ok' })
      await api('POST', `/api/v1/changes/${c.id}/approve`, { role: 'operational', comment: 'ok' })
      await api('POST', `/api/v1/changes/${c.id}/schedule`, {})
      await settle(c.id)
      const history = await changeDeliveries(c.id)
      const failed = history.find((d) => d.event === 'change.fully_approved')
      expect(failed?.status).toBe('failed')
      expect(failed?.errorMessage).toBe(
        'Board "Service Board" has no status "Approved"; its statuses are: New, In Progress, Waiting Customer, Resolved, Closed, Change Linked, Scheduled, Cancelled',
      )
      // The rest goes on: the schedule still moved the ticket.
      expect(history.find((d) => d.event === 'change.scheduled')?.status).toBe('delivered')
      expect(ticketOf(ticket.id).status.name).toBe('Scheduled')
    } finally {
      board.statuses.splice(index, 0, approved)
    }
  })

  it('keeps every update and their order while ConnectWise is down, and honours a 429 Retry-After', async () => {
    const ticket = cw.addTicket({ summary: 'Replace core router' })
    const c = (
      await api('POST', '/api/v1/changes', newChange({ ticketId: String(ticket.id), committee: false }))
    ).body
    await settle(c.id)
    const before = ticketOf(ticket.id).notes.length
    cw.failNext(503, { times: 6 })
    await api('POST', `/api/v1/changes/${c.id}/approve`, { role: 'technical', comment: 'first' })
    await api('POST', `/api/v1/changes/${c.id}/approve`, { role: 'operational', comment: 'second' })
    await api('POST', `/api/v1/changes/${c.id}/schedule`, {})
    await api('POST', `/api/v1/changes/${c.id}/start`, { implementer: people.bob })
    await h.worker.drain()
    const during = await changeDeliveries(c.id)
    expect(during.filter((d) => d.status === 'retrying').length).toBeGreaterThan(0)
    expect(during.some((d) => d.status === 'failed')).toBe(false)
    await settle(c.id)
    const after = ticketOf(ticket.id)
      .notes.slice(before)
      .map((n) => n.text.split('\n')[0])
    expect(after).toEqual([
      'Technical approval by Bob Tech <bob@msp.example>',
      'Operational approval by Carol Ops <Carol@MSP.example>',
      'Change: Core switch firmware upgrade',
      'Implementation Started',
    ])
    expect((await changeDeliveries(c.id)).every((d) => d.status === 'delivered')).toBe(true)

    // 429 with Retry-After: 120 → the next attempt is not before two minutes.
    cw.failNext(429, { retryAfter: 120 })
    await api('POST', `/api/v1/changes/${c.id}/complete`, { completionNotes: 'ok', testResults: 'ok' })
    const at = h.clock.now().getTime()
    await h.worker.drain()
    const limited = (await changeDeliveries(c.id)).find((d) => d.event === 'change.completed')
    expect(limited?.status).toBe('retrying')
    expect(limited?.errorMessage).toMatch(/Too many requests/)
    expect(Date.parse(limited?.nextAttemptAt ?? '')).toBe(at + 120_000)
    h.clock.advance(119_000)
    await h.worker.drain()
    expect(ticketOf(ticket.id).status.name).toBe('Scheduled')
    h.clock.advance(1_000)
    await h.worker.drain()
    expect(ticketOf(ticket.id).status.name).toBe('Resolved')
  })

  it('caches board statuses, and looks a name up again on a miss or when ConnectWise refuses a cached id', async () => {
    const board = cw.raw.boards[0]
    if (!board) throw new Error('no board')
    const saved = board.statuses.map((x) => ({ ...x }))
    try {
      const ticket = cw.addTicket({ summary: 'Rotate certificates' })
      const c = (await api('POST', '/api/v1/changes', newChange({ ticketId: String(ticket.id) }))).body
      await settle(c.id)
      expect(ticketOf(ticket.id).status.name).toBe('Change Linked')
      const reads = (from: number) =>
        cw.requests.slice(from).filter((r) => r.method === 'GET' && r.path.endsWith('/boards/1/statuses'))
      // At ConnectWise, "Approved" is deleted and made again (a new id): the cached id is refused (400), the
      // board is read again and the new id taken.
      const old = board.statuses.find((x) => x.name === 'Approved')
      board.statuses = board.statuses.filter((x) => x.name !== 'Approved')
      board.statuses.push({ id: 200, name: 'Approved' })
      const from = cw.requests.length
      await api('POST', `/api/v1/changes/${c.id}/approve`, { role: 'technical', comment: '' })
      await api('POST', `/api/v1/changes/${c.id}/approve`, { role: 'operational', comment: '' })
      await settle(c.id)
      expect(ticketOf(ticket.id).status.name).toBe('Approved')
      expect(reads(from)).toHaveLength(1)
      // A status added since and configured: not in the cache, so the board is read again.
      board.statuses.push({ id: 201, name: 'Deployment Booked' })
      const resaved = await api(
        'PUT',
        '/api/v1/changes/settings',
        settings({ statuses: { ...STATUSES, scheduled: 'Deployment Booked' } }),
      )
      expect(resaved.status, JSON.stringify(resaved.body)).toBe(200)
      const beforeSchedule = cw.requests.length
      await api('POST', `/api/v1/changes/${c.id}/schedule`, {})
      await settle(c.id)
      expect(ticketOf(ticket.id).status.name).toBe('Deployment Booked')
      expect(reads(beforeSchedule)).toHaveLength(1)
      expect(
        cw.requests
          .slice(from)
          .filter((r) => r.method === 'PATCH')
          .map((r) => (r.body as { value: number }[])[0]?.value),
      ).toEqual([old?.id, 200, 201])
      expect((await changeDeliveries(c.id)).every((d) => d.status === 'delivered')).toBe(true)
    } finally {
      board.statuses = saved
    }
  })

  it('leaves an earlier update ConnectWise refused for good to its own delivery; the later ones go on', async () => {
    const ticket = cw.addTicket({ summary: 'Replace edge firewall' })
    const c = (
      await api('POST', '/api/v1/changes', newChange({ ticketId: String(ticket.id), committee: false }))
    ).body
    await settle(c.id)
    const notesPath = `/service/tickets/${ticket.id}/notes`
    cw.failNext(503, { path: notesPath })
    await api('POST', `/api/v1/changes/${c.id}/approve`, { role: 'technical', comment: 'first' })
    await h.worker.drain()
    expect((await changeDeliveries(c.id)).find((d) => d.event === 'change.approved')?.status).toBe('retrying')
    // The later updates meet a refusal of the earlier note (403): they are not failed with its error.
    cw.failNext(403, { path: notesPath })
    await api('POST', `/api/v1/changes/${c.id}/approve`, { role: 'operational', comment: 'second' })
    await settle(c.id)
    const history = await changeDeliveries(c.id)
    expect(history.map((d) => [d.event, d.status, d.errorMessage]).sort()).toEqual([
      ['change.approved', 'delivered', null],
      ['change.approved', 'delivered', null],
      ['change.fully_approved', 'delivered', null],
      ['change.ticket_linked', 'delivered', null],
    ])
    const approvals = ticketOf(ticket.id).notes.filter((n) => n.text.includes(' approval by '))
    expect(approvals.map((n) => n.text.split('\n')[1]).sort()).toEqual(['Comment: first', 'Comment: second'])
    expect(ticketOf(ticket.id).status.name).toBe('Approved')
  })

  it('searches companies, boards, configuration types and tickets a page at a time', async () => {
    const companies = await api('GET', '/api/v1/changes/companies?q=fabri')
    expect(companies.status, JSON.stringify(companies.body)).toBe(200)
    expect(companies.body).toEqual({ data: [{ id: '251', name: 'Fabrikam Inc' }], next: null })
    const asked = cw.requests.filter((r) => r.path.endsWith('/company/companies')).at(-1)
    expect(asked?.query.get('conditions')).toBe(
      'deletedFlag=false and (name like "%fabri%" or identifier like "%fabri%")',
    )
    expect((await api('GET', '/api/v1/changes/boards')).body.data).toEqual([
      { id: '2', name: 'Help Desk' },
      { id: '1', name: 'Service Board' },
    ])
    expect(
      (await api('GET', '/api/v1/changes/configuration-types')).body.data.map(
        (x: { name: string }) => x.name,
      ),
    ).toEqual(['Network Switch', 'Printer', 'Server', 'Workstation'])

    const made = Array.from({ length: 30 }, (_, i) =>
      cw.addTicket({ summary: `Quarterly patch batch ${String(i + 1).padStart(2, '0')}` }),
    )
    cw.addTicket({ summary: 'Quarterly patch batch on the help desk', board: 'Help Desk' })
    const first = await api('GET', '/api/v1/changes/ticket-search?q=quarterly%20patch')
    expect(first.status, JSON.stringify(first.body)).toBe(200)
    expect(first.body.data).toHaveLength(25)
    expect(typeof first.body.next).toBe('string')
    const second = await api(
      'GET',
      `/api/v1/changes/ticket-search?q=quarterly%20patch&cursor=${encodeURIComponent(first.body.next)}`,
    )
    expect(second.body.next).toBeNull()
    // Newest first, every one of the 30 once, none from the unfiltered board.
    expect([...first.body.data, ...second.body.data].map((x: { id: string }) => x.id)).toEqual(
      made.map((x) => String(x.id)).reverse(),
    )
    expect(
      cw.requests
        .filter((r) => r.path.endsWith('/service/tickets'))
        .at(-1)
        ?.query.get('page'),
    ).toBe('2')
  })

  it('imports configurations resumably, by hand and on the schedule', async () => {
    const added = Array.from({ length: 26 }, (_, i) =>
      cw.addConfiguration({ name: `bulk-srv${String(i + 1).padStart(2, '0')}`, type: 'Server' }),
    )
    try {
      // ConnectWise fails the second page: the result says so, and what the first page brought is kept.
      cw.failWhen(503, (r) => r.path.endsWith('/company/configurations') && r.query.get('page') === '2')
      const stopped = await api('POST', '/api/v1/changes/device-sync')
      expect(stopped.status, JSON.stringify(stopped.body)).toBe(200)
      expect(stopped.body).toMatchObject({ created: 23, updated: 0, skipped: 2, pages: 1, complete: false })
      expect(stopped.body.error).toMatch(/temporarily unavailable/)
      expect((await api('GET', '/api/v1/devices')).body.pagination.total).toBe(23)
      // The next sync starts at the page it stopped at, and counts the whole sync.
      const from = cw.requests.length
      const resumed = await api('POST', '/api/v1/changes/device-sync')
      expect(resumed.body).toMatchObject({ created: 28, updated: 0, skipped: 2, pages: 2, complete: true })
      expect(
        cw.requests
          .slice(from)
          .filter((r) => r.path.endsWith('/company/configurations'))
          .map((r) => r.query.get('page')),
      ).toEqual(['2'])
      expect((await api('GET', '/api/v1/devices?limit=100')).body.pagination.total).toBe(28)

      // The schedule (PATCHBAY_PSA_SYNC_INTERVAL_MS) imports what changed since: a renamed server, a new switch.
      const renamed = added[0]
      if (!renamed) throw new Error('no configuration')
      renamed.name = 'bulk-srv01-renamed'
      const late = cw.addConfiguration({ name: 'late-sw', type: 'Network Switch' })
      added.push(late)
      const jobs = new JobService(
        { ...h.ctx, config: { ...h.ctx.config, PATCHBAY_PSA_SYNC_INTERVAL_MS: 3_600_000 } },
        { catalog: CHANGE_JOBS, schedules: CHANGE_SCHEDULES },
      )
      const ran = await jobs.runDue()
      expect(ran.kinds).toContain('changes.device-sync-sweep')
      expect(ran.kinds).toContain('changes.device-sync')
      const listed = (await api('GET', '/api/v1/devices?limit=100')).body
      expect(listed.pagination.total).toBe(29)
      const names = listed.data.map((d: { hostname: string }) => d.hostname)
      expect(names).toContain('late-sw')
      expect(names).toContain('bulk-srv01-renamed')
      expect(names).not.toContain('bulk-srv01')
    } finally {
      const gone = new Set(added.map((x) => x.id))
      cw.raw.configurations = cw.raw.configurations.filter((x) => !gone.has(x.id))
    }
  })

  it('raises change.* platform events a webhook can subscribe to', async () => {
    const rx = await new Receiver().start()
    try {
      const hook = await api('POST', '/api/v1/webhooks', {
        name: 'Changes',
        url: rx.url('/changes'),
        events: ['change.*'],
      })
      expect(hook.status, JSON.stringify(hook.body)).toBe(201)
      const c = (await api('POST', '/api/v1/changes', newChange({ committee: false }))).body
      await api('POST', `/api/v1/changes/${c.id}/approve`, { role: 'technical', comment: 'ok' })
      await api('POST', `/api/v1/changes/${c.id}/approve`, { role: 'operational', comment: 'ok' })
      await api('POST', `/api/v1/changes/${c.id}/cancel`, { reason: 'Superseded' })
      await h.worker.drain()
      const got = rx.received
        .map((r) => JSON.parse(r.body) as { type: string; data: { changeId: string; seq: number } })
        .sort((a, b) => a.data.seq - b.data.seq)
      expect(got.map((e) => [e.type, e.data.changeId])).toEqual(
        [
          'change.created',
          'change.approved',
          'change.approved',
          'change.fully_approved',
          'change.cancelled',
        ].map((type) => [type, c.id]),
      )
    } finally {
      await rx.stop()
    }
  })

  it('moves no ticket status with auto-update off, and sends nothing once change management is off', async () => {
    const off = await api('PUT', '/api/v1/changes/settings', settings({ autoUpdateStatus: false }))
    expect(off.status, JSON.stringify(off.body)).toBe(200)
    const ticket = cw.addTicket({ summary: 'Renew wildcard certificate' })
    const from = cw.requests.length
    const c = (
      await api('POST', '/api/v1/changes', newChange({ ticketId: String(ticket.id), committee: false }))
    ).body
    await api('POST', `/api/v1/changes/${c.id}/approve`, { role: 'technical', comment: '' })
    await api('POST', `/api/v1/changes/${c.id}/approve`, { role: 'operational', comment: '' })
    await settle(c.id)
    expect(cw.requests.slice(from).filter((r) => r.method === 'PATCH')).toEqual([])
    expect(ticketOf(ticket.id).status.name).toBe('New')
    expect(ticketOf(ticket.id).notes.map((n) => n.text.split('\n')[0])).toContain(
      'Operational approval by Carol Ops <Carol@MSP.example>',
    )

    expect((await api('PUT', '/api/v1/changes/settings', settings({ enabled: false }))).status).toBe(200)
    const notes = ticketOf(ticket.id).notes.length
    await api('POST', `/api/v1/changes/${c.id}/schedule`, {})
    await h.worker.drain()
    expect((await changeDeliveries(c.id)).filter((d) => d.event === 'change.scheduled')).toEqual([])
    expect(ticketOf(ticket.id).notes).toHaveLength(notes)
    const other = (await api('POST', '/api/v1/changes', newChange())).body
    const refused = await api('PUT', `/api/v1/changes/${other.id}/ticket`, { ticketId: String(ticket.id) })
    expect(refused.status).toBe(409)
    expect(refused.body.error).toMatch(/turned off/)
  })

  it('refuses a board filter naming a board ConnectWise lacks, with or without status names', async () => {
    for (const statuses of [STATUSES, {}]) {
      const r = await api(
        'PUT',
        '/api/v1/changes/settings',
        settings({ statuses, company: { id: '250', boardIds: ['1', '99'] } }),
      )
      expect(r.status, JSON.stringify(r.body)).toBe(422)
      expect(r.body.details).toEqual([
        { path: 'company.boardIds', message: 'board 99 does not exist (or is inactive)' },
      ])
    }
  })

  it('reads the widget and adds time through the integration the ticket was linked through', async () => {
    const ticket = cw.addTicket({ summary: 'Move DHCP scope' })
    const c = (
      await api('POST', '/api/v1/changes', newChange({ ticketId: String(ticket.id), committee: false }))
    ).body
    await settle(c.id)
    // The organization's change management moves to another ConnectWise; the linked ticket stays where it is.
    const other = await new ConnectWiseStandIn({ clock: h.clock }).start()
    try {
      const conn = await api('POST', '/api/v1/psa/connections', {
        provider: 'connectwise',
        name: 'CW 2',
        credentials: other.credentials,
      })
      expect(conn.status, JSON.stringify(conn.body)).toBe(201)
      const moved = await api(
        'PUT',
        '/api/v1/changes/settings',
        settings({ integrationId: conn.body.id, autoUpdateStatus: false, statuses: {} }),
      )
      expect(moved.status, JSON.stringify(moved.body)).toBe(200)
      const widget = await api('GET', `/api/v1/changes/${c.id}/ticket?email=bob@msp.example`)
      expect(widget.status, JSON.stringify(widget.body)).toBe(200)
      expect(widget.body.ticket).toMatchObject({ number: String(ticket.id), summary: 'Move DHCP scope' })
      expect(widget.body.timeEntry).toMatchObject({ memberIdentifier: 'btech' })
      const time = await api('POST', `/api/v1/changes/${c.id}/time-entries`, {
        email: 'bob@msp.example',
        start: '2026-03-01T09:00:00Z',
        notes: 'Scope moved',
      })
      expect(time.status, JSON.stringify(time.body)).toBe(201)
      expect(cw.raw.timeEntries.at(-1)).toMatchObject({ chargeToId: ticket.id, notes: 'Scope moved' })
      expect(
        other.requests.filter((r) => /\/service\/tickets|\/time\/|\/system\/members/.test(r.path)),
      ).toEqual([])
    } finally {
      await other.close()
    }
  })

  it("keeps the status a ConnectWise callback pushes for a change's ticket, and raises psa.ticket.updated", async () => {
    const ticket = cw.addTicket({ summary: 'Replace UPS batteries' })
    const c = (
      await api('POST', '/api/v1/changes', newChange({ ticketId: String(ticket.id), committee: false }))
    ).body
    await settle(c.id)
    const rx = await new Receiver().start()
    rx.respond('/tickets', { status: 200 })
    const hook = await api('POST', '/api/v1/webhooks', {
      name: 'tickets',
      url: rx.url('/tickets'),
      secret: 'tickets-secret',
      events: ['psa.ticket.updated'],
    })
    expect(hook.status, JSON.stringify(hook.body)).toBe(201)
    const src = await api('POST', '/api/v1/webhook-sources', {
      name: 'cw',
      provider: 'connectwise',
      integrationId,
    })
    expect(src.status, JSON.stringify(src.body)).toBe(201)
    const callback = (status: string, messageId: string, lastUpdated: string) =>
      JSON.stringify({
        Action: 'updated',
        CompanyId: 'Contoso',
        Entity: JSON.stringify({
          id: ticket.id,
          summary: 'Replace UPS batteries (parts ordered)',
          status: { id: 7, name: status },
          _info: { lastUpdated },
        }),
        ID: ticket.id,
        MemberId: 'btech',
        MessageId: messageId,
        Metadata: { key_url: cw.callbackKeyUrl },
        Type: 'ticket',
      })
    const sign = (body: string) =>
      createHmac('sha256', createHash('sha256').update(cw.callbackSigningKey).digest())
        .update(body)
        .digest('base64')
    const send = async (body: string) => {
      const res = await h.app.request(new URL(src.body.url).pathname, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-content-signature': sign(body) },
        body,
      })
      expect(res.status).toBe(202)
      return ((await res.json()) as { id: string }).id
    }
    const jobs = new JobService(h.ctx, WIRED_JOBS)
    const first = await send(callback('Waiting Parts', 'msg-1', '2026-03-02T10:00:00Z'))
    h.clock.advance(1_000)
    const second = await send(callback('In Progress', 'msg-2', '2026-03-02T10:05:00Z'))
    await jobs.runDue()
    for (const id of [first, second]) {
      const e = await api('GET', `/api/v1/webhook-events/${id}`)
      expect(e.body.status, JSON.stringify(e.body.failure)).toBe('processed')
    }
    const change = await api('GET', `/api/v1/changes/${c.id}`)
    expect(change.body.ticket).toMatchObject({
      ticketId: String(ticket.id),
      status: 'In Progress',
      summary: 'Replace UPS batteries (parts ordered)',
      statusUpdatedAt: '2026-03-02T10:05:00.000Z',
    })
    // A replay of the older callback does not undo the newer status.
    expect((await api('POST', `/api/v1/webhook-events/${first}/replay`)).status).toBe(202)
    await jobs.runDue()
    expect((await api('GET', `/api/v1/changes/${c.id}`)).body.ticket.status).toBe('In Progress')
    await h.worker.drain()
    const seen = rx.at('/tickets').map((r) => JSON.parse(r.body).data as { ticketId: string; status: string })
    expect(seen.map((d) => d.status)).toEqual(expect.arrayContaining(['Waiting Parts', 'In Progress']))
    expect(seen.every((d) => d.ticketId === String(ticket.id))).toBe(true)
    await rx.stop()
  })

  it('lets only one of two simultaneous identical transitions through; the other is a 409', async () => {
    const c = (await api('POST', '/api/v1/changes', newChange({ committee: false }))).body
    const both = await Promise.all([
      api('POST', `/api/v1/changes/${c.id}/approve`, { role: 'technical', comment: 'a' }),
      api('POST', `/api/v1/changes/${c.id}/approve`, { role: 'technical', comment: 'b' }),
    ])
    expect(both.map((r) => r.status).sort()).toEqual([200, 409])
    const now = (await api('GET', `/api/v1/changes/${c.id}`)).body
    expect(now.approvals).toHaveLength(1)
    expect(await auditActions(c.id)).toEqual(['change.created', 'change.approved'])
  })

  it('refuses a ConnectWise connection that creates tickets without a company (422 naming companyId)', async () => {
    const r = await api('POST', '/api/v1/psa/connections', {
      provider: 'connectwise',
      name: 'No company',
      credentials: cw.credentials,
      settings: { autoCreateTickets: true, defaultBoard: 'Service Board' },
    })
    expect(r.status).toBe(422)
    expect(r.body.details[0].path).toBe('settings.companyId')
    const ok = await api('PATCH', `/api/v1/psa/connections/${integrationId}`, {
      settings: { autoCreateTickets: true },
    })
    expect(ok.status).toBe(422)
    expect(ok.body.details[0].path).toBe('settings.companyId')
  })
})
