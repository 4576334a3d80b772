import type { Database, Querier } from '../store/db.ts'
import { DELIVERY_CHANNEL, type Fanout, type StoredEvent } from './types.ts'

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
 * Stores events and every delivery they fan out to in one transaction, then wakes the workers (the NOTIFY is
 * sent at commit). An event id seen before in the same org is a duplicate: acknowledged, not queued again.
 */
export async function ingestEvents(
  db: Database,
  fanouts: readonly Fanout[],
  events: IncomingEvent[],
  now: Date,
): Promise<IngestResult[]> {
  return db.transaction((q) => ingestWithin(q, fanouts, events, now))
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
  const inserted = await q.query<{ org_id: string; id: string; type: string }>(
    INSERT_EVENTS_SQL,
    [
      events.map((e) => e.orgId),
      events.map((e) => e.id),
      events.map((e) => e.type),
      events.map((e) => e.occurredAt),
      events.map((e) => JSON.stringify(e.data ?? {})),
      now,
    ],
    'pb_insert_events',
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
  if (total > 0) await q.query(`SELECT pg_notify('${DELIVERY_CHANNEL}', '')`)
  const seen = new Set<string>()
  return events.map((e) => {
    const k = key(e.orgId, e.id)
    const queued = counts.get(k)
    // The first occurrence of an id in this batch is the stored one; repeats are duplicates.
    const fresh = queued !== undefined && !seen.has(k)
    seen.add(k)
    return { id: e.id, orgId: e.orgId, duplicate: !fresh, deliveriesQueued: fresh ? (queued as number) : 0 }
  })
}
