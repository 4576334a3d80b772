import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { connector } from '../../src/connectors/registry.ts'
import type { TicketOperations } from '../../src/connectors/types.ts'
import { ManualClock } from '../../src/lib/clock.ts'
import { connectorTestEnv } from './env.ts'
import { PSA_STANDINS, type PsaStandIn } from './index.ts'

/**
 * The alert → ticket lifecycle against every PSA stand-in through the registered connector, using only the
 * vendor-neutral PsaStandIn view: what the end-to-end tests of the automation will rely on.
 */
describe.each(Object.keys(PSA_STANDINS))('%s stand-in and connector', (provider) => {
  const clock = new ManualClock('2026-02-18T12:00:00.000Z')
  const env = connectorTestEnv(clock)
  let s: PsaStandIn
  let ops: TicketOperations

  beforeAll(async () => {
    s = await (PSA_STANDINS[provider] as (o: { clock: ManualClock }) => PsaStandIn)({ clock }).start()
    ops = connector(provider)?.tickets as TicketOperations
  })
  afterAll(async () => {
    await s.close()
    await env.close()
  })

  it('creates one ticket per reference, notes it, resolves it, and the stand-in shows all of it', async () => {
    const c = connector(provider)
    expect(c?.descriptor.category).toBe('psa')
    expect(await c?.verify(s.credentials, env)).toMatchObject({ ok: true })

    const ticket = {
      title: 'Disk almost full on SRV-01',
      description: 'Free space 3%.',
      queue: s.defaults.queue,
      companyId: s.defaults.company,
      priority: s.defaults.priority,
      externalRef: 'a1b2c3d4-0000-4000-8000-000000000001',
    }
    const created = await ops.createTicket(s.credentials, ticket, env)
    expect(created.url).toMatch(/^https:\/\//)
    if (s.referenceField) {
      expect(await ops.createTicket(s.credentials, ticket, env)).toEqual(created)
      expect(s.tickets()).toHaveLength(1)
      expect(s.ticket(created.id)?.externalRef).toBe(ticket.externalRef)
    }
    expect(s.ticket(created.id)).toMatchObject({
      title: ticket.title,
      status: s.statuses.initial,
      queue: s.defaults.queue,
    })

    clock.advance(60_000)
    await ops.addNote(s.credentials, created.id, { text: 'Acknowledged by Ann', internal: true }, env)
    clock.advance(60_000)
    await ops.addNote(s.credentials, created.id, { text: 'Alert resolved', internal: true }, env)
    const resolved = await ops.updateStatus(s.credentials, created.id, s.statuses.resolved, env)
    expect(resolved.status).toBe(s.statuses.resolved)
    expect(s.ticket(created.id)).toMatchObject({
      status: s.statuses.resolved,
      notes: [
        { text: 'Acknowledged by Ann', internal: true },
        { text: 'Alert resolved', internal: true },
      ],
    })
  })

  it('reports a status changed at the vendor to a sync since the last one', async () => {
    const [t] = s.tickets()
    if (!t) throw new Error('no ticket')
    clock.advance(5 * 60_000)
    const lastSync = clock.now()
    clock.advance(60_000)
    s.setStatus(t.id, s.statuses.inProgress)
    clock.advance(2 * 60_000)
    const seen = []
    let cursor: string | undefined
    do {
      const page = await ops.listChangedTickets(s.credentials, { since: lastSync, cursor }, env)
      seen.push(...page.items)
      cursor = page.next
    } while (cursor)
    expect(seen.find((x) => x.id === t.id)).toMatchObject({ status: s.statuses.inProgress })
    expect(await ops.getTicket(s.credentials, t.id, env)).toMatchObject({ status: s.statuses.inProgress })
  })

  it('fails the next call as told, in the vendor format, with Retry-After', async () => {
    const [t] = s.tickets()
    s.failNext(429, { retryAfter: 7 })
    await expect(ops.getTicket(s.credentials, t?.id ?? '1', env)).rejects.toMatchObject({
      status: 429,
      retryAfterMs: 7000,
    })
    s.failNext(503)
    await expect(ops.getTicket(s.credentials, t?.id ?? '1', env)).rejects.toMatchObject({ status: 503 })
  })
})
