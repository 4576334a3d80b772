import { beforeAll, describe, expect, it } from 'vitest'
import { actionsFixture } from './actions-fixture.ts'
import type { Harness } from './harness.ts'
import { AutotaskStandIn } from './standins/autotask.ts'

/**
 * Autotask actions (no approval) against the stand-in: a time entry, a note and a status change sent as Autotask
 * documents them; a business-rule refusal (500 with `errors`) fails at once with Autotask's words, and is sent
 * again by hand once fixed; a retry after an attempt that may have reached Autotask finds the entry instead of
 * adding another.
 */
const fx = actionsFixture('autotask', {
  standIn: () => new AutotaskStandIn().start(),
  credentials: (at) => at.credentials,
  capabilities: ['create_ticket'],
})
let h: Harness
let at: AutotaskStandIn
let integrationId: string
let ticketId: number
beforeAll(() => {
  h = fx.h
  at = fx.standIn
  integrationId = fx.integrationId
  ticketId = at.addTicket({ title: 'Printer offline' }).id
})
const { act, get } = fx
const entry = (over: Record<string, unknown> = {}) => ({
  ticketId,
  resourceId: 29682885,
  roleId: 29683464,
  dateWorked: '2026-02-18',
  hoursWorked: 1.5,
  summaryNotes: 'Replaced the toner and cleared the queue',
  ...over,
})

describe('Autotask actions', () => {
  it('adds a time entry at once (no approval), as Autotask documents it', async () => {
    const r = await act('add_time_entry', entry({ internalNotes: 'Onsite' }))
    expect(r.status).toBe(202)
    expect(r.body.status).toBe('queued')
    await h.worker.drain()
    const sent = at.requests.filter((q) => q.method === 'POST' && /\/TimeEntries$/i.test(q.path))
    expect(sent).toHaveLength(1)
    expect(sent[0]?.headers.apiintegrationcode).toBe(at.credentials.integrationCode)
    expect(sent[0]?.body).toEqual({
      ticketID: ticketId,
      resourceID: 29682885,
      roleID: 29683464,
      dateWorked: '2026-02-18T00:00:00Z',
      hoursWorked: 1.5,
      summaryNotes: 'Replaced the toner and cleared the queue',
      internalNotes: `Onsite\n[patchbay:${r.body.id}]`,
    })
    const done = await get(r.body.id)
    expect(done.status).toBe('completed')
    expect(done.result.vendorRef).toBe(String(at.raw.timeEntries[0]?.id))
  })

  it('fails a refusal at once with Autotask’s words, and sends it again by hand once fixed', async () => {
    const r = await act('add_time_entry', entry({ resourceId: 555 }))
    await h.worker.drain()
    const failed = await get(r.body.id)
    expect(failed.status).toBe('failed')
    expect(failed.error).toContain('Resource 555 is not an active resource.')
    expect(failed.attempts).toHaveLength(1)
    expect(failed.attempts[0]).toMatchObject({ outcome: 'failed', vendorStatus: 500 })

    at.raw.resources.push({
      id: 555,
      firstName: 'Cy',
      lastName: 'New',
      userName: 'cy',
      email: 'cy@acme.example',
      isActive: true,
      resourceType: 'Employee',
    })
    const before = at.raw.timeEntries.length
    const retry = await h.json('POST', '/api/v1/deliveries/retry', {
      body: { targetType: 'action', targetId: integrationId },
    })
    expect(retry.status).toBe(202)
    expect(retry.body.queued).toBe(1)
    await h.worker.drain()
    const done = await get(r.body.id)
    expect(done.status).toBe('completed')
    expect(done.attempts.map((a: { outcome: string }) => a.outcome)).toEqual(['failed', 'completed'])
    expect(at.raw.timeEntries.length).toBe(before + 1)
  })

  it('finds a time entry an earlier attempt made instead of adding another', async () => {
    // Autotask took the entry but its answer was lost (a 503 from the gateway in front of it).
    at.failNext(503, { path: /TimeEntries$/ })
    const r = await act('add_time_entry', entry({ hoursWorked: 0.25 }))
    await h.worker.drain()
    expect((await get(r.body.id)).status).toBe('running')
    at.raw.timeEntries.push({
      ...entry(),
      ticketID: ticketId,
      internalNotes: `[patchbay:${r.body.id}]`,
      id: 49999,
    })
    const before = at.raw.timeEntries.length
    h.clock.advance(2_000)
    await h.worker.drain()
    const done = await get(r.body.id)
    expect(done.status).toBe('completed')
    expect(done.result.vendorRef).toBe('49999')
    expect(at.raw.timeEntries.length).toBe(before)
  })

  it('adds an internal note and sets a status by its label', async () => {
    const note = await act('add_note', { ticketId, description: 'Called the customer\nNo answer' })
    const status = await act('update_ticket_status', { ticketId, status: 'Complete' })
    await h.worker.drain()
    expect((await get(note.body.id)).status).toBe('completed')
    expect((await get(status.body.id)).status).toBe('completed')
    const ticket = at.tickets().find((x) => x.id === String(ticketId))
    expect(ticket?.notes.at(-1)).toMatchObject({ text: 'Called the customer\nNo answer', internal: true })
    expect(ticket?.status).toBe('Complete')
    const patch = at.requests.find((q) => q.method === 'PATCH' && /\/Tickets$/i.test(q.path))
    expect(patch?.body).toEqual({ id: ticketId, status: 5 })
  })

  it('adds a note once when Autotask’s answer is lost: the retry finds it by ticket, title and text', async () => {
    const notes = () => at.tickets().find((x) => x.id === String(ticketId))?.notes ?? []
    const posts = () => at.requests.filter((q) => q.method === 'POST' && /\/Notes$/i.test(q.path))
    const r = await act('add_note', { ticketId, title: 'Lost answer', description: 'Rebooted the printer' })
    at.dropNextAnswer({ method: 'POST', path: /\/Notes$/i })
    const before = { notes: notes().length, posts: posts().length }
    await h.worker.drain()
    expect(notes()).toHaveLength(before.notes + 1)
    expect((await get(r.body.id)).status).toBe('running')
    h.clock.advance(2_000)
    await h.worker.drain()
    expect(posts()).toHaveLength(before.posts + 1)
    expect(notes()).toHaveLength(before.notes + 1)
    const done = await get(r.body.id)
    expect(done.status).toBe('completed')
    expect(done.attempts.map((a: { vendorStatus: number }) => a.vendorStatus)).toEqual([504, 200])
    const lookup = at.requests.filter((q) => /TicketNotes\/query$/i.test(q.path)).at(-1)
    expect(lookup).toBeDefined()
  })

  it('names bad fields', async () => {
    const r = await act('add_time_entry', { ticketId: 'x', hoursWorked: 30 })
    expect(r.status).toBe(422)
    const paths = r.body.details.map((d: { path: string }) => d.path)
    expect(paths).toEqual(
      expect.arrayContaining([
        'input.ticketId',
        'input.hoursWorked',
        'input.resourceId',
        'input.summaryNotes',
      ]),
    )
  })
})
