import { and, eq, inArray } from 'drizzle-orm'
import { z } from 'zod'
import type { NamedRef, PsaMember } from '../connectors/types.ts'
import { VendorError } from '../connectors/vendor-error.ts'
import type { AppContext } from '../context.ts'
import { scrubSecrets } from '../lib/redact.ts'
import type { Querier } from '../store/db.ts'
import { changeSteps } from '../store/schema/changes.ts'
import { type ChangeStatus, type ChangeView, resourcesOf, type UnscheduledResource } from './model.ts'
import { addUnscheduled, type ChangePsa, getChange, psaForTicket } from './service.ts'
import type { StatusEvent } from './settings.ts'
import { noteFor } from './text.ts'

export const CHANGE_TARGET = 'change_ticket'

/** A `change_ticket` delivery's `operation`, as FANOUT_SQL writes it: the change, and the event's place in its order. */
export const changeTicketOperation = z.object({ changeId: z.string(), seq: z.number() })

/** The change events that update a linked ticket. `change.created` does not: linking does what creation would. */
const TICKET_EVENTS = [
  'change.ticket_linked',
  'change.approved',
  'change.fully_approved',
  'change.scheduled',
  'change.started',
  'change.completed',
  'change.failed',
  'change.cancelled',
]

/**
 * The status events the transitions raise on the way to each state, in order: the ticket of a change linked late is
 * moved to the last one configured, where those transitions would have left it (starting and failing move none; a
 * cancelled change may have been cancelled from any open state, but only its last status matters).
 */
const STATUS_PATH: Record<ChangeStatus, StatusEvent[]> = {
  created: ['created'],
  fully_approved: ['created', 'fullyApproved'],
  scheduled: ['created', 'fullyApproved', 'scheduled'],
  in_progress: ['created', 'fullyApproved', 'scheduled'],
  completed: ['created', 'fullyApproved', 'scheduled', 'completed'],
  failed: ['created', 'fullyApproved', 'scheduled'],
  cancelled: ['created', 'cancelled'],
}

/** States past `change.scheduled`: the implementation plan and window are on the ticket. */
const SCHEDULED: readonly ChangeStatus[] = ['scheduled', 'in_progress', 'completed', 'failed']

/**
 * Ticket updates wait out rate limits, outages and the updates before them (kept in order per change, so per
 * ticket): 20 retries from 5 s doubling to 15 minutes, about four hours in all. Retry-After wins when longer.
 */
export const CHANGE_RETRY_POLICY = {
  maxRetries: 20,
  initialDelayMs: 5_000,
  backoffMultiplier: 2,
  maxDelayMs: 15 * 60_000,
}

const FANOUT_SQL = `
INSERT INTO deliveries (id, org_id, target_type, target_id, event_id, event_type, operation, status, attempts,
                        next_attempt_at, created_at, updated_at)
SELECT patchbay_uuid_v7($1), v.org_id, '${CHANGE_TARGET}', v.change_id, v.event_id, v.event_type,
       jsonb_build_object('changeId', v.change_id, 'seq', v.seq), 'pending', 0, $1, $1, $1
FROM unnest($2::uuid[], $3::uuid[], $4::text[], $5::text[], $6::int[])
  AS v(org_id, change_id, event_id, event_type, seq)
WHERE EXISTS (SELECT 1 FROM change_settings s WHERE s.org_id = v.org_id AND s.settings->>'enabled' = 'true')
RETURNING org_id, event_id`

/**
 * A linked change's events become ticket updates: one delivery per event (`target_type` `change_ticket`,
 * `target_id` the change), in organizations whose change management is on.
 */
export const changeFanout = {
  name: 'changes',
  async fanOut(q: Querier, events: ChangeEvent[], now: Date): Promise<{ orgId: string; eventId: string }[]> {
    const wanted = events.flatMap((e) => {
      if (!TICKET_EVENTS.includes(e.type)) return []
      const d = e.data as { changeId?: unknown; seq?: unknown; change?: { ticket?: unknown } } | null
      if (typeof d?.changeId !== 'string' || typeof d.seq !== 'number' || !d.change?.ticket) return []
      return [{ e, changeId: d.changeId, seq: d.seq }]
    })
    if (!wanted.length) return []
    const rows = await q.query<{ org_id: string; event_id: string }>(FANOUT_SQL, [
      now,
      wanted.map((w) => w.e.orgId),
      wanted.map((w) => w.changeId),
      wanted.map((w) => w.e.id),
      wanted.map((w) => w.e.type),
      wanted.map((w) => w.seq),
    ])
    return rows.map((r) => ({ orgId: r.org_id, eventId: r.event_id }))
  },
}

/** A stored event, as the delivery engine's fan-outs see it. */
export interface ChangeEvent {
  orgId: string
  id: string
  type: string
  data: unknown
}

/** A delivery of a change event, as the delivery engine hands it over (changes/transport.ts adapts). */
export interface ChangeUpdateDelivery {
  id: string
  orgId: string
  eventId: string
  eventType: string
  operation: unknown
  event: { occurredAt: Date; readonly data: unknown }
}

/** What an attempt came to, in the delivery engine's terms. */
export interface ChangeUpdateOutcome {
  kind: 'delivered' | 'retry' | 'failed'
  responseStatus?: number | undefined
  responseBody?: string | undefined
  responseTimeMs?: number | undefined
  errorMessage?: string | undefined
  retryAfterMs?: number | undefined
}

/** A step that cannot succeed by trying again (a status the board lacks). */
class StepRefused extends Error {}

/** Earlier updates of the same change not yet delivered, oldest first, with their events. */
const EARLIER_SQL = `
SELECT d.event_id, d.event_type, e.occurred_at, e.data
FROM deliveries d JOIN events e ON e.org_id = d.org_id AND e.id = d.event_id
WHERE d.target_type = '${CHANGE_TARGET}' AND d.target_id = $1 AND d.id <> $2
  AND (d.operation->>'seq')::int < $3 AND d.status IN ('pending', 'retrying')
ORDER BY (d.operation->>'seq')::int`

const CLAIM_SQL = `
UPDATE changes SET sync_claimed_by = $3, sync_claim_until = $5
WHERE id = $1 AND org_id = $2 AND (sync_claimed_by IS NULL OR sync_claimed_by = $3 OR sync_claim_until <= $4)
RETURNING id`

const RELEASE_SQL = `
UPDATE changes SET sync_claimed_by = NULL, sync_claim_until = NULL WHERE id = $1 AND sync_claimed_by = $2`

/** One change event to apply to the ticket. */
interface TicketEvent {
  eventId: string
  eventType: string
  occurredAt: Date
  data: unknown
}

const CACHE_MS = 15 * 60_000

/** The mark of a step sent to ConnectWise (`<event id>:<step>` + this) before it is known to be done. */
const SENT = '#sent'
/** How far ConnectWise's clock may be behind ours when a note is looked for. */
const CLOCK_SKEW_MS = 5 * 60_000

/**
 * Applies one change event to its linked ticket, as the seed lists: notes, status moves (by name, resolved per
 * board), schedule entries per resource, the detailed description, members by email. Steps already done (a
 * retried attempt) are skipped. One delivery at a time works on a change (a claim on its row); it first applies
 * the change's earlier updates still due, so the ticket sees them in order even when an outage delayed them.
 */
export function changeTicketUpdater(ctx: AppContext) {
  // As long as the engine's own lease on a delivery (delivery/worker.ts's deliveryLeaseMs): a claim outlives its
  // attempt only when the attempt was cut short.
  const leaseMs =
    ctx.config.PATCHBAY_DELIVERY_LEASE_MS ?? 2 * ctx.config.PATCHBAY_DELIVERY_TIMEOUT_MS + 30_000
  const members = new Map<string, { member: PsaMember | undefined; at: number }>()
  const statuses = new Map<string, NamedRef[]>()

  async function member(psa: ChangePsa, email: string): Promise<PsaMember | undefined> {
    const key = `${psa.integration.id}\u0000${email.toLowerCase()}`
    const now = ctx.clock.now().getTime()
    const hit = members.get(key)
    if (hit && now - hit.at < CACHE_MS) return hit.member
    const found = await psa.ops.findMember(psa.credentials, email, psa.env)
    members.set(key, { member: found, at: now })
    return found
  }

  async function statusId(
    psa: ChangePsa,
    boardId: string,
    boardName: string,
    name: string,
    fresh = false,
  ): Promise<{ id: string; cached: boolean }> {
    const key = `${psa.integration.id}\u0000${boardId}`
    const find = (list: NamedRef[] | undefined) =>
      list?.find((s) => s.name.trim().toLowerCase() === name.trim().toLowerCase())
    let found = fresh ? undefined : find(statuses.get(key))
    if (found) return { id: found.id, cached: true }
    {
      // A miss refreshes: the board's statuses may have been edited since they were cached.
      const list = await psa.ops.boardStatuses(psa.credentials, boardId, psa.env)
      statuses.set(key, list)
      found = find(list)
      if (!found) {
        throw new StepRefused(
          `Board "${boardName}" has no status "${name}"; its statuses are: ${list.map((s) => s.name).join(', ')}`,
        )
      }
    }
    return { id: found.id, cached: false }
  }

  async function apply(d: TicketEvent, change: ChangeView, psa: ChangePsa): Promise<string[]> {
    const ticket = change.ticket
    if (!ticket) return ['not linked']
    const snapshot = (d.data as { change?: ChangeView }).change ?? change
    const details = d.data as Record<string, unknown>
    const done: string[] = []
    const { ops, credentials: creds, env } = psa
    /**
     * One step, done once: recorded when done, so a retried attempt skips it. A post ConnectWise would take twice
     * (a note, a schedule entry) gives `seen`, and is also marked as sent before it goes: a mark without the record
     * means an earlier attempt may have been carried out with its answer lost, so ConnectWise is asked first.
     */
    const step = async (
      name: string,
      fn: () => Promise<unknown>,
      seen?: (since: Date) => Promise<boolean>,
    ) => {
      const key = `${d.eventId}:${name}`
      const rows = await ctx.db.orm
        .select()
        .from(changeSteps)
        .where(and(eq(changeSteps.changeId, change.id), inArray(changeSteps.step, [key, `${key}${SENT}`])))
      if (rows.some((r) => r.step === key)) return
      const sent = rows[0]
      // From a little before the mark: ConnectWise's clock may be behind ours.
      if (sent && seen && (await seen(new Date(sent.doneAt.getTime() - CLOCK_SKEW_MS)))) {
        done.push(`${name} (found)`)
      } else {
        if (seen && !sent)
          await ctx.db.orm
            .insert(changeSteps)
            .values({ changeId: change.id, step: `${key}${SENT}`, doneAt: ctx.clock.now() })
            .onConflictDoNothing()
        await fn()
        done.push(name)
      }
      await ctx.db.orm
        .insert(changeSteps)
        .values({ changeId: change.id, step: key, doneAt: ctx.clock.now() })
        .onConflictDoNothing()
    }
    const note = (name: string, text: string) =>
      step(
        name,
        () => ops.addInternalNote(creds, ticket.ticketId, text, env),
        (since) => ops.hasNote(creds, ticket.ticketId, text, since, env),
      )
    const status = async (event: StatusEvent) => {
      const name = psa.settings.statuses[event]
      if (!psa.settings.autoUpdateStatus || !name) return
      await step(`status:${event}`, async () => {
        const found = await statusId(psa, ticket.boardId, ticket.boardName, name)
        try {
          await ops.setStatus(creds, ticket.ticketId, found.id, env)
        } catch (err) {
          // A cached id the board no longer has: look the name up afresh (which names what the board has now).
          if (!(err instanceof VendorError) || err.status !== 400 || !found.cached) throw err
          const again = await statusId(psa, ticket.boardId, ticket.boardName, name, true)
          await ops.setStatus(creds, ticket.ticketId, again.id, env)
        }
      })
    }
    const window = () => {
      const start = snapshot.window.start ? new Date(snapshot.window.start) : d.occurredAt
      const end = snapshot.window.end ? new Date(snapshot.window.end) : new Date(start.getTime() + 3_600_000)
      return { start, end }
    }
    /** Schedule entries for every resource found at the PSA; the rest recorded and named in a note. */
    const schedule = async (prefix: string, title: string) => {
      const missing: UnscheduledResource[] = []
      for (const p of resourcesOf(snapshot)) {
        const m = await member(psa, p.email)
        if (!m) {
          missing.push(p)
          continue
        }
        const entry = {
          ticketId: ticket.ticketId,
          memberId: m.id,
          ...window(),
          name: `${title}: ${snapshot.title}`,
        }
        await step(
          `${prefix}:schedule:${p.email.toLowerCase()}`,
          () => ops.addScheduleEntry(creds, entry, env),
          () => ops.hasScheduleEntry(creds, entry, env),
        )
        if (prefix === 'link')
          await note(`link:resource:${p.email.toLowerCase()}`, noteFor.resourceAdded(p, m.identifier))
      }
      if (missing.length) {
        await addUnscheduled(ctx.db.orm, change.orgId, change.id, missing, ctx.clock.now())
        await note(`${prefix}:unscheduled`, noteFor.unscheduled(missing))
      }
    }

    // What a transition does on the ticket besides its status, shared by its own update and by a late link.
    const scheduled = async () => {
      const plan = noteFor.plan(snapshot)
      await step(
        'description',
        () => ops.setDetailedDescription(creds, ticket.ticketId, plan, env),
        (since) => ops.hasNote(creds, ticket.ticketId, plan, since, env),
      )
      await schedule('scheduled', 'Change implementation')
    }
    const started = () => note('started', noteFor.started(snapshot))

    switch (d.eventType) {
      case 'change.ticket_linked': {
        await note('link:note', noteFor.linked(snapshot, ctx.config.PATCHBAY_CONSOLE_URL))
        await schedule('link', 'Change resource')
        const configs = snapshot.devices.filter((x) => x.integrationId === psa.integration.id)
        if (configs.length)
          await step('link:configurations', () =>
            ops.attachConfigurations(
              creds,
              ticket.ticketId,
              configs.map((x) => x.externalId),
              env,
            ),
          )
        // A change linked after it moved on: the ticket gets what the transitions so far would have posted, in
        // their order (these steps are keyed under this event, so a retried attempt skips what it did), and only
        // the status they would have left it in, not each one on the way.
        // Linking is refused once a change is closed, so an open state's record says it all: its approvals, whether
        // it was scheduled, whether it started.
        for (const a of snapshot.approvals) await note(`approval:${a.role}`, noteFor.approved(a))
        if (SCHEDULED.includes(snapshot.status)) await scheduled()
        if (snapshot.outcome.startedAt) await started()
        const last = [...STATUS_PATH[snapshot.status]].reverse().find((e) => psa.settings.statuses[e])
        if (last) await status(last)
        break
      }
      case 'change.approved':
        await note('approval', noteFor.approved(details.approval as never))
        break
      case 'change.fully_approved':
        await status('fullyApproved')
        break
      case 'change.scheduled':
        await scheduled()
        await status('scheduled')
        break
      case 'change.started':
        await started()
        break
      case 'change.completed':
        await note('completed', noteFor.completed(snapshot))
        await status('completed')
        break
      case 'change.failed':
        await note('failed', noteFor.failed(snapshot))
        break
      case 'change.cancelled':
        await note('cancelled', noteFor.cancelled(snapshot))
        await status('cancelled')
        break
    }
    return done
  }

  return {
    async attempt(d: ChangeUpdateDelivery): Promise<ChangeUpdateOutcome> {
      const parsed = changeTicketOperation.safeParse(d.operation)
      if (!parsed.success) return { kind: 'failed', errorMessage: 'Not a change ticket update' }
      const op = parsed.data
      let change: ChangeView
      let psa: ChangePsa
      try {
        change = await getChange(ctx, d.orgId, op.changeId)
        psa = await psaForTicket(ctx, d.orgId, change)
      } catch (err) {
        return { kind: 'failed', errorMessage: err instanceof Error ? err.message : String(err) }
      }
      if (!psa.settings.enabled)
        return { kind: 'failed', errorMessage: 'Change management is turned off; not sent' }
      if (psa.integration.status === 'inactive')
        return { kind: 'failed', errorMessage: 'The PSA connection is paused; not sent' }
      const now = ctx.clock.now()
      const until = new Date(now.getTime() + leaseMs)
      const [claimed] = await ctx.db.query(CLAIM_SQL, [change.id, d.orgId, d.id, now, until])
      if (!claimed) {
        return {
          kind: 'retry',
          errorMessage: "Another update of this change's ticket is being applied; waiting for it",
          retryAfterMs: 5_000,
        }
      }
      const started = performance.now()
      const elapsed = () => Math.round(performance.now() - started)
      try {
        // Order per ticket: updates of this change still due from before are applied first, in their order (their
        // own deliveries then find them done). One refused for good (a status the board lacks, a vendor 4xx other
        // than a rate limit) is left for its own delivery to report: failing this one with its error would lose
        // an update ConnectWise would take. One that may succeed later (an outage) holds this one back instead.
        const earlier = await ctx.db.query<{
          event_id: string
          event_type: string
          occurred_at: Date
          data: unknown
        }>(EARLIER_SQL, [change.id, d.id, op.seq])
        for (const e of earlier) {
          try {
            await apply(
              { eventId: e.event_id, eventType: e.event_type, occurredAt: e.occurred_at, data: e.data },
              change,
              psa,
            )
          } catch (err) {
            if (err instanceof StepRefused) continue
            if (err instanceof VendorError && !err.retryable) continue
            throw err
          }
        }
        const done = await apply(
          { eventId: d.eventId, eventType: d.eventType, occurredAt: d.event.occurredAt, data: d.event.data },
          change,
          psa,
        )
        return {
          kind: 'delivered',
          responseTimeMs: elapsed(),
          responseBody: JSON.stringify({ ticketId: change.ticket?.ticketId ?? null, done }),
        }
      } catch (err) {
        if (err instanceof StepRefused)
          return { kind: 'failed', errorMessage: err.message, responseTimeMs: elapsed() }
        if (!(err instanceof VendorError)) throw err
        const message = scrubSecrets(err.message, psa.secrets)
        const base = {
          responseStatus: err.status,
          responseBody: message,
          responseTimeMs: elapsed(),
          errorMessage: message,
        }
        if (!err.retryable) return { kind: 'failed', ...base }
        return { kind: 'retry', ...base, retryAfterMs: err.retryAfterMs }
      } finally {
        await ctx.db.query(RELEASE_SQL, [change.id, d.id])
      }
    },
  }
}
