import type { Querier } from '../store/db.ts'
import type { ClaimedDelivery } from './types.ts'

export interface ClaimOptions {
  now: Date
  limit: number
  /** Default cap of deliveries per target in one claim. */
  perTarget: number
  /** Targets with less room than the default (0 = none): this worker already has attempts in flight there. */
  busy: Map<string, number>
  leaseUntil: Date
  worker: string
}

/**
 * Claims due deliveries under a lease. Looks at the oldest due rows (skipping targets with no room left), keeps
 * at most each target's remaining room, and locks with SKIP LOCKED so workers never wait on each other or take
 * the same row. The attempt counter goes up here, so an attempt cut short by a crash still counts.
 */
const CLAIM_SQL = `
WITH cand AS (
  SELECT d.id, d.target_id, d.next_attempt_at
  FROM deliveries d
  WHERE d.status IN ('pending', 'retrying') AND d.next_attempt_at <= $1
    AND NOT (d.target_id = ANY($4::uuid[]))
  ORDER BY d.next_attempt_at
  LIMIT $2::int * 4
), ranked AS (
  SELECT c.id, row_number() OVER (PARTITION BY c.target_id ORDER BY c.next_attempt_at) AS rn,
         COALESCE(b.room, $3::int) AS room
  FROM cand c LEFT JOIN unnest($5::uuid[], $6::int[]) AS b(target_id, room) ON b.target_id = c.target_id
), picked AS (
  SELECT d.id FROM deliveries d JOIN ranked r ON r.id = d.id
  WHERE r.rn <= r.room AND d.status IN ('pending', 'retrying') AND d.next_attempt_at <= $1
  ORDER BY d.next_attempt_at
  LIMIT $2::int
  FOR UPDATE OF d SKIP LOCKED
)
UPDATE deliveries d
SET status = 'in_progress', attempts = d.attempts + 1, lease_until = $7, leased_by = $8, updated_at = $1
FROM picked, events e
WHERE d.id = picked.id AND e.org_id = d.org_id AND e.id = d.event_id
RETURNING d.id, d.org_id, d.target_type, d.target_id, d.event_id, d.event_type, d.operation, d.attempts,
          d.created_at, e.occurred_at, e.data`

interface ClaimRow {
  id: string
  org_id: string
  target_type: string
  target_id: string
  event_id: string
  event_type: string
  operation: unknown
  attempts: number
  created_at: Date
  occurred_at: Date
  data: unknown
}

export async function claimDue(q: Querier, o: ClaimOptions): Promise<ClaimedDelivery[]> {
  const saturated: string[] = []
  const partialIds: string[] = []
  const partialRoom: number[] = []
  for (const [target, room] of o.busy) {
    if (room <= 0) saturated.push(target)
    else {
      partialIds.push(target)
      partialRoom.push(room)
    }
  }
  const rows = await q.query<ClaimRow>(
    CLAIM_SQL,
    [o.now, o.limit, o.perTarget, saturated, partialIds, partialRoom, o.leaseUntil, o.worker],
    'pb_claim',
  )
  return rows.map((r) => ({
    id: r.id,
    orgId: r.org_id,
    targetType: r.target_type,
    targetId: r.target_id,
    eventId: r.event_id,
    eventType: r.event_type,
    operation: r.operation,
    attempt: r.attempts,
    createdAt: r.created_at,
    event: { occurredAt: r.occurred_at, data: r.data },
  }))
}

export interface Completion {
  id: string
  /** The attempt number the worker claimed; a row re-claimed by another worker since is left alone. */
  attempt: number
  status: 'delivered' | 'retrying' | 'failed'
  nextAttemptAt: Date | null
  responseStatus: number | null
  responseBody: string | null
  responseTimeMs: number | null
  errorMessage: string | null
}

const COMPLETE_SQL = `
UPDATE deliveries d
SET status = v.status::delivery_status, next_attempt_at = v.next_attempt_at, lease_until = NULL, leased_by = NULL,
    response_status = v.response_status, response_body = v.response_body, response_time_ms = v.response_time_ms,
    error_message = v.error_message, updated_at = $9,
    delivered_at = CASE WHEN v.status = 'delivered' THEN $9 ELSE d.delivered_at END
FROM unnest($1::uuid[], $2::int[], $3::text[], $4::timestamptz[], $5::int[], $6::text[], $7::int[], $8::text[])
  AS v(id, attempt, status, next_attempt_at, response_status, response_body, response_time_ms, error_message)
WHERE d.id = v.id AND d.attempts = v.attempt AND d.status = 'in_progress'
RETURNING d.id`

/** Records a batch of attempt results in one statement; returns the ids actually updated. */
export async function completeMany(q: Querier, items: Completion[], now: Date): Promise<Set<string>> {
  if (items.length === 0) return new Set()
  const rows = await q.query<{ id: string }>(
    COMPLETE_SQL,
    [
      items.map((i) => i.id),
      items.map((i) => i.attempt),
      items.map((i) => i.status),
      items.map((i) => i.nextAttemptAt),
      items.map((i) => i.responseStatus),
      items.map((i) => i.responseBody),
      items.map((i) => i.responseTimeMs),
      items.map((i) => i.errorMessage),
      now,
    ],
    'pb_complete',
  )
  return new Set(rows.map((r) => r.id))
}

/** Deliveries whose worker died mid-attempt: their lease ran out, so they are due again now. */
export async function reapExpiredLeases(q: Querier, now: Date): Promise<number> {
  const rows = await q.query(
    `UPDATE deliveries SET status = 'retrying', next_attempt_at = $1, lease_until = NULL, leased_by = NULL,
       error_message = COALESCE(error_message, 'Attempt interrupted (worker stopped); retrying'), updated_at = $1
     WHERE status = 'in_progress' AND lease_until <= $1 RETURNING id`,
    [now],
  )
  return rows.length
}

/** When the next delivery falls due (null when nothing is waiting), to sleep exactly until then. */
export async function nextDueAt(q: Querier): Promise<Date | null> {
  const [row] = await q.query<{ at: Date | null }>(
    `SELECT min(next_attempt_at) AS at FROM deliveries WHERE status IN ('pending', 'retrying')`,
    [],
    'pb_next_due',
  )
  return row?.at ?? null
}
