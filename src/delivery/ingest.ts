import type { Database, Querier } from '../store/db.ts'
import { type HandoffOffer, handoffTaker } from './handoff.ts'
import { handedOver } from './store.ts'
import { type ClaimedDelivery, DELIVERY_CHANNEL, type Fanout, type StoredEvent } from './types.ts'

export interface IncomingEvent {
  orgId: string
  id: string
  type: string
  occurredAt: Date
  data: unknown
}

export interface IngestResult {
  id: string
  orgId: string
  /** The event id was already known in this org: nothing was stored or queued again. */
  duplicate: boolean
  deliveriesQueued: number
}

const INSERT_EVENTS_SQL = `
INSERT INTO events (org_id, id, type, occurred_at, data, created_at)
SELECT e.org_id, e.id, e.type, e.occurred_at, e.data, $6
FROM unnest($1::uuid[], $2::text[], $3::text[], $4::timestamptz[], $5::jsonb[]) AS e(org_id, id, type, occurred_at, data)
ON CONFLICT (org_id, id) DO NOTHING
RETURNING org_id, id, type`

/**
 * The same, and the transaction-local settings by which the enqueue trigger hands fresh deliveries to this
 * process's worker (drizzle 0024): set in the statement that has to run anyway, before any fan-out inserts.
 */
const INSERT_EVENTS_HANDOFF_SQL = `
INSERT INTO events (org_id, id, type, occurred_at, data, created_at)
SELECT e.org_id, e.id, e.type, e.occurred_at, e.data, $6
FROM unnest($1::uuid[], $2::text[], $3::text[], $4::timestamptz[], $5::jsonb[]) AS e(org_id, id, type, occurred_at, data),
     (SELECT set_config('patchbay.handoff_worker', $7, true), set_config('patchbay.handoff_until', $8, true),
             set_config('patchbay.handoff_now', $9, true), set_config('patchbay.handoff_left', $10, true)) s
ON CONFLICT (org_id, id) DO NOTHING
RETURNING org_id, id, type`

/**
 * Stores events and every delivery they fan out to in one transaction, then wakes the workers (the NOTIFY is
 * sent at commit). An event id seen before in the same org is a duplicate: acknowledged, not queued again.
 */
export async function ingestEvents(
  db: Database,
  fanouts: readonly Fanout[],
  events: IncomingEvent[],
  now: Date,
): Promise<IngestResult[]> {
  const taker = handoffTaker(db)
  const offer = taker?.offer(now)
  if (!taker || !offer) return db.transaction((q) => ingestWithin(q, fanouts, events, now))
  // The worker of this process takes what it has room for, leased in this transaction: it needs no claim.
  let handed: ClaimedDelivery[] = []
  try {
    const results = await db.transaction(async (q) => {
      const r = await ingestInto(q, fanouts, events, now, offer)
      handed = r.handed
      return r.results
    })
    return results
  } catch (err) {
    handed = []
    throw err
  } finally {
    // Only after the commit: a rolled-back ingest hands nothing.
    taker.settle(offer, handed)
  }
}

/**
 * ingestEvents inside the caller's transaction, so a state change and the events announcing it are committed
 * together (an action approved and its `action.approved` event).
 */
export async function ingestWithin(
  q: Querier,
  fanouts: readonly Fanout[],
  events: IncomingEvent[],
  now: Date,
): Promise<IngestResult[]> {
  return (await ingestInto(q, fanouts, events, now, undefined)).results
}

async function ingestInto(
  q: Querier,
  fanouts: readonly Fanout[],
  events: IncomingEvent[],
  now: Date,
  offer: HandoffOffer | undefined,
): Promise<{ results: IngestResult[]; handed: ClaimedDelivery[] }> {
  const params: unknown[] = [
    events.map((e) => e.orgId),
    events.map((e) => e.id),
    events.map((e) => e.type),
    events.map((e) => e.occurredAt),
    events.map((e) => JSON.stringify(e.data ?? {})),
    now,
  ]
  const inserted = await q.query<{ org_id: string; id: string; type: string }>(
    offer ? INSERT_EVENTS_HANDOFF_SQL : INSERT_EVENTS_SQL,
    offer ? [...params, offer.worker, offer.leaseUntil, now.toISOString(), String(offer.max)] : params,
    offer ? 'pb_insert_events_handoff' : 'pb_insert_events',
  )
  const key = (orgId: string, id: string) => `${orgId}\u0000${id}`
  // A repeated id in one batch: the first occurrence is the one stored.
  const firstOf = new Map<string, IncomingEvent>()
  for (const e of events) if (!firstOf.has(key(e.orgId, e.id))) firstOf.set(key(e.orgId, e.id), e)
  const stored: StoredEvent[] = inserted.map((r) => {
    const e = firstOf.get(key(r.org_id, r.id))
    return {
      orgId: r.org_id,
      id: r.id,
      type: r.type,
      data: e?.data ?? {},
      occurredAt: e?.occurredAt ?? now,
    }
  })
  const counts = new Map<string, number>()
  for (const e of stored) counts.set(key(e.orgId, e.id), 0)
  let total = 0
  if (stored.length > 0) {
    let present: Set<string> | undefined
    if (fanouts.some((f) => f.providers)) {
      const rows = await q.query<{ provider: string }>(
        `SELECT DISTINCT provider FROM integrations WHERE org_id = ANY($1::uuid[]) AND deleted_at IS NULL`,
        [[...new Set(stored.map((e) => e.orgId))]],
        'pb_ingest_providers',
      )
      present = new Set(rows.map((r) => r.provider))
    }
    for (const fanout of fanouts) {
      const has = present
      if (fanout.providers && has && !fanout.providers().some((p) => has.has(p))) continue
      for (const d of await fanout.fanOut(q, stored, now)) {
        const k = key(d.orgId, d.eventId)
        counts.set(k, (counts.get(k) ?? 0) + 1)
        total++
      }
    }
  }
  let handed: ClaimedDelivery[] = []
  if (total > 0 && offer) handed = await handedOver(q, offer.leaseUntil, offer.worker)
  // Workers are woken only for what nobody holds yet.
  if (total > handed.length) await q.query(`SELECT pg_notify('${DELIVERY_CHANNEL}', '')`)
  const seen = new Set<string>()
  const results = events.map((e) => {
    const k = key(e.orgId, e.id)
    const queued = counts.get(k)
    // The first occurrence of an id in this batch is the stored one; repeats are duplicates.
    const fresh = queued !== undefined && !seen.has(k)
    seen.add(k)
    return { id: e.id, orgId: e.orgId, duplicate: !fresh, deliveriesQueued: fresh ? (queued as number) : 0 }
  })
  return { results, handed }
}
