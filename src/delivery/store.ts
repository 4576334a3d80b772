import type { Querier } from '../store/db.ts'
import { type ClaimedDelivery, claimedEvent } from './types.ts'

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
 * Claims due deliveries under a lease. Reads the oldest due queue rows (skipping targets with no room left), keeps
 * at most each target's remaining room, then locks those with SKIP LOCKED, so workers never wait on each other or
 * take the same row (a row another worker leased meanwhile no longer passes `lease_until IS NULL` when locked).
 * The candidates are read without locking them: with a few busy targets most candidates are left out (the bench's
 * 4 webhooks with room for 16 each: 64 of 1,000), and locking every candidate wrote a lock to each of their heap
 * tuples, which made the claim the largest share of PostgreSQL's time. The attempt counter goes up here, so an
 * attempt cut short by a crash still counts. Rows are
 * reached through `id = ANY(ARRAY(…))` and LATERAL lookups, so the plan stays primary-key lookups however large
 * the history grows. `OFFSET 0` keeps each lookup a subquery run per claimed row: flattened into a join, the
 * planner may scan all of `deliveries` when its statistics are stale (the embedded database has no autoanalyze).
 */
export const CLAIM_SQL = `
WITH cand AS (
  SELECT q.id, q.target_id, q.next_attempt_at
  FROM delivery_queue q
  WHERE q.lease_until IS NULL AND q.next_attempt_at <= $1 AND NOT (q.target_id = ANY($4::uuid[]))
  ORDER BY q.next_attempt_at
  LIMIT $2::int * 2
), ranked AS (
  SELECT c.id, row_number() OVER (PARTITION BY c.target_id ORDER BY c.next_attempt_at) AS rn,
         COALESCE(b.room, $3::int) AS room
  FROM cand c LEFT JOIN unnest($5::uuid[], $6::int[]) AS b(target_id, room) ON b.target_id = c.target_id
), picked AS (
  SELECT q.id FROM delivery_queue q
  WHERE q.id = ANY(ARRAY(SELECT r.id FROM ranked r WHERE r.rn <= r.room))
    AND q.lease_until IS NULL AND q.next_attempt_at <= $1
  ORDER BY q.next_attempt_at
  LIMIT $2::int
  FOR UPDATE OF q SKIP LOCKED
), leased AS (
  UPDATE delivery_queue q SET lease_until = $7, leased_by = $8, attempts = q.attempts + 1
  WHERE q.id = ANY(ARRAY(SELECT id FROM picked))
  RETURNING q.id, q.attempts
)
SELECT d.id, d.org_id, d.target_type, d.target_id, d.event_id, d.event_type, d.operation, l.attempts,
       d.created_at, e.occurred_at, e.data::text AS data
FROM leased l
CROSS JOIN LATERAL (SELECT * FROM deliveries d WHERE d.id = l.id OFFSET 0) d
LEFT JOIN LATERAL (SELECT * FROM events e WHERE e.org_id = d.org_id AND e.id = d.event_id OFFSET 0) e ON true`

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
  occurred_at: Date | null
  data: string | null
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
  return rows.map(claimedOf)
}

function claimedOf(r: ClaimRow): ClaimedDelivery {
  return {
    id: r.id,
    orgId: r.org_id,
    targetType: r.target_type,
    targetId: r.target_id,
    eventId: r.event_id,
    eventType: r.event_type,
    operation: r.operation,
    attempt: r.attempts,
    createdAt: r.created_at,
    event: claimedEvent(r.occurred_at ?? r.created_at, r.data),
  }
}

/**
 * The deliveries the enqueue trigger leased to `worker` in this ingest transaction (see drizzle 0023), read as a
 * claim reads them: through the lease index and primary keys. Only rows this transaction wrote (`xmin`): a claim
 * by the same worker, committed meanwhile with the same lease end, must not be handed over a second time (the
 * bench caught exactly that, whole batches sent twice, before this check).
 */
export const HANDED_SQL = `
SELECT d.id, d.org_id, d.target_type, d.target_id, d.event_id, d.event_type, d.operation, q.attempts,
       d.created_at, e.occurred_at, e.data::text AS data
FROM delivery_queue q
CROSS JOIN LATERAL (SELECT * FROM deliveries d WHERE d.id = q.id OFFSET 0) d
LEFT JOIN LATERAL (SELECT * FROM events e WHERE e.org_id = d.org_id AND e.id = d.event_id OFFSET 0) e ON true
WHERE q.lease_until = $1::timestamptz AND q.leased_by = $2 AND q.xmin = pg_current_xact_id()::xid
ORDER BY q.next_attempt_at, q.id`

/** Reads what this ingest transaction handed to `worker` (its rows already leased and counted). */
export async function handedOver(q: Querier, leaseUntil: string, worker: string): Promise<ClaimedDelivery[]> {
  const rows = await q.query<ClaimRow>(HANDED_SQL, [leaseUntil, worker], 'pb_handed')
  return rows.map(claimedOf)
}

export interface Completion {
  id: string
  /** The attempt number the worker claimed; a row re-claimed since (by this or another worker) is left alone. */
  attempt: number
  status: 'delivered' | 'retrying' | 'failed'
  nextAttemptAt: Date | null
  responseStatus: number | null
  responseBody: string | null
  responseTimeMs: number | null
  errorMessage: string | null
  /** The request's headers with secret values masked, when the transport reports them; kept for failed attempts. */
  requestHeaders: Record<string, string> | null
}

/**
 * Records attempt results: finished deliveries leave the queue, retries go back to it with their next time, and
 * the history row takes the outcome. Only rows this worker still holds under the same attempt are touched.
 * Each outcome finds its queue row through the primary key (a LATERAL lookup per outcome, kept apart by OFFSET 0):
 * joined as sets, the planner scanned the whole queue, or compared every outcome with every row, whenever its
 * statistics said the queue held few rows leased by this worker, which they always do. The lookup locks the row,
 * so a row re-leased meanwhile (its lease ran out) fails the check instead of being deleted by id alone.
 * An attempt that did not deliver (a retry or the final failure) is also kept in `delivery_attempts` for the
 * delivery's timeline, in the same statement; a success writes nothing more than the history row, whose outcome is
 * that last attempt's. (ON CONFLICT: an attempt recorded twice must not fail the whole batch.)
 */
export const COMPLETE_SQL = `
WITH v AS (
  SELECT * FROM unnest($1::uuid[], $2::int[], $3::text[], $4::timestamptz[], $5::int[], $6::text[], $7::int[],
                       $8::text[], $11::jsonb[])
    AS v(id, attempt, status, next_attempt_at, response_status, response_body, response_time_ms, error_message,
         request_headers)
), gone AS (
  DELETE FROM delivery_queue q
  WHERE q.id = ANY(ARRAY(
    SELECT h.id FROM v CROSS JOIN LATERAL (
      SELECT k.id FROM delivery_queue k
      WHERE k.id = v.id AND k.attempts = v.attempt AND k.leased_by = $10 OFFSET 0 FOR UPDATE) h
    WHERE v.status <> 'retrying'))
  RETURNING q.id
), again AS (
  UPDATE delivery_queue q SET next_attempt_at = r.next_attempt_at, lease_until = NULL, leased_by = NULL
  FROM (SELECT h.id, v.next_attempt_at FROM v CROSS JOIN LATERAL (
      SELECT k.id FROM delivery_queue k
      WHERE k.id = v.id AND k.attempts = v.attempt AND k.leased_by = $10 OFFSET 0 FOR UPDATE) h
    WHERE v.status = 'retrying') r
  WHERE q.id = r.id
  RETURNING q.id
), done AS (
  UPDATE deliveries d
  SET status = v.status::delivery_status, attempts = v.attempt, next_attempt_at = v.next_attempt_at,
      response_status = v.response_status, response_body = v.response_body, response_time_ms = v.response_time_ms,
      error_message = v.error_message, updated_at = $9,
      delivered_at = CASE WHEN v.status = 'delivered' THEN $9 ELSE d.delivered_at END
  FROM v
  WHERE d.id = v.id AND d.id IN (SELECT id FROM gone UNION ALL SELECT id FROM again)
  RETURNING d.id, d.org_id
), kept AS (
  INSERT INTO delivery_attempts (delivery_id, org_id, attempt, at, response_status, response_body,
                                 response_time_ms, error_message, request_headers)
  SELECT done.id, done.org_id, v.attempt, $9, v.response_status, v.response_body, v.response_time_ms,
         v.error_message, v.request_headers
  FROM done JOIN v ON v.id = done.id
  WHERE v.status <> 'delivered'
  ON CONFLICT DO NOTHING
)
SELECT id FROM done`

/** Records a batch of attempt results in one statement; returns the ids actually updated. */
export async function completeMany(
  q: Querier,
  items: Completion[],
  now: Date,
  worker: string,
): Promise<Set<string>> {
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
      worker,
      items.map((i) => (i.requestHeaders ? JSON.stringify(i.requestHeaders) : null)),
    ],
    'pb_complete',
  )
  return new Set(rows.map((r) => r.id))
}

/** What the timeline says of an attempt whose worker stopped before recording its outcome. */
export const INTERRUPTED = 'Attempt interrupted: the worker holding it stopped before recording an outcome'

/**
 * Deliveries whose worker died mid-attempt: their lease ran out, so they are due again now. The attempt the claim
 * counted is kept on the delivery's timeline (`delivery_attempts`, at the time its lease was found expired), so
 * the retry that delivers does not hide it; a lease expiring before any attempt was counted records none.
 */
export async function reapExpiredLeases(q: Querier, now: Date): Promise<number> {
  const rows = await q.query(
    `WITH r AS (
       UPDATE delivery_queue SET lease_until = NULL, leased_by = NULL, next_attempt_at = $1
       WHERE lease_until <= $1 RETURNING id, attempts
     ), d AS (
       UPDATE deliveries d SET status = CASE WHEN r.attempts > 0 THEN 'retrying'::delivery_status ELSE 'pending' END,
         attempts = r.attempts, next_attempt_at = $1,
         error_message = COALESCE(d.error_message, 'Attempt interrupted (worker stopped); retrying'), updated_at = $1
       FROM r WHERE d.id = r.id RETURNING d.id, d.org_id, r.attempts
     ), kept AS (
       INSERT INTO delivery_attempts (delivery_id, org_id, attempt, at, error_message)
       SELECT d.id, d.org_id, d.attempts, $1, $2 FROM d WHERE d.attempts > 0
       ON CONFLICT DO NOTHING
     )
     SELECT id FROM d`,
    [now, INTERRUPTED],
  )
  return rows.length
}

/**
 * When the queue next needs a worker: its earliest due time (of deliveries nobody holds) and its earliest lease
 * expiry (a held delivery whose worker may have died). Both from the queue's partial indexes, one row each.
 */
export async function nextWakeAt(q: Querier): Promise<{ due: Date | null; leaseUntil: Date | null }> {
  const [row] = await q.query<{ due: Date | null; lease: Date | null }>(
    `SELECT (SELECT min(next_attempt_at) FROM delivery_queue WHERE lease_until IS NULL) AS due,
            (SELECT min(lease_until) FROM delivery_queue WHERE lease_until IS NOT NULL) AS lease`,
    [],
    'pb_next_wake',
  )
  return { due: row?.due ?? null, leaseUntil: row?.lease ?? null }
}

/**
 * Gives back deliveries this worker claimed but did not attempt (a target's circuit opened, or the worker is
 * stopping): due again at `at`, and the attempt the claim counted is uncounted.
 */
export async function releaseClaimed(q: Querier, ids: string[], worker: string, at: Date): Promise<number> {
  const rows = await q.query(
    `UPDATE delivery_queue SET attempts = attempts - 1, next_attempt_at = $3, lease_until = NULL, leased_by = NULL
     WHERE id = ANY($1::uuid[]) AND leased_by = $2 RETURNING id`,
    [ids, worker, at],
  )
  return rows.length
}

/**
 * A target's circuit opened (or a trial failed and it opened again). Its oldest waiting delivery becomes due at
 * `trialAt` (the half-open trial); every other one waits until `holdUntil` (the circuit closing brings them back
 * sooner, see resumeTarget). So a claim never walks past a failing target's backlog, and the API shows when each
 * delivery will be tried. Deliveries this worker claimed but did not start (`claimed`) are handed back with their
 * attempt uncounted. A delivery due later than asked (a retry) keeps its time, unless it is one this circuit held
 * back before (due at `heldUntil`). Deliveries queued from now on are held back as they are queued (the queue
 * trigger reads `delivery_holds`). Returns the trial's id.
 */
export async function deferTarget(
  q: Querier,
  o: {
    target: string
    claimed: string[]
    worker: string
    trialAt: Date
    holdUntil: Date
    heldUntil: Date | null
  },
): Promise<string | undefined> {
  const rows = await q.query<{ id: string; trial: boolean }>(
    `WITH hold AS (
       INSERT INTO delivery_holds (target_id, until) VALUES ($1, $5)
       ON CONFLICT (target_id) DO UPDATE SET until = EXCLUDED.until
     ), w AS (
       SELECT id, row_number() OVER (ORDER BY next_attempt_at, id) = 1 AS trial
       FROM delivery_queue
       WHERE target_id = $1 AND (lease_until IS NULL OR (leased_by = $3 AND id = ANY($2::uuid[])))
     )
     UPDATE delivery_queue q
     SET next_attempt_at = CASE WHEN q.next_attempt_at = $6 THEN CASE WHEN w.trial THEN $4 ELSE $5 END
                                ELSE GREATEST(q.next_attempt_at, CASE WHEN w.trial THEN $4 ELSE $5 END) END,
         attempts = CASE WHEN q.lease_until IS NOT NULL THEN q.attempts - 1 ELSE q.attempts END,
         lease_until = NULL, leased_by = NULL
     FROM w
     WHERE q.id = w.id
       AND (w.trial OR q.lease_until IS NOT NULL OR q.next_attempt_at < $5)
     RETURNING q.id, w.trial`,
    [o.target, o.claimed, o.worker, o.trialAt, o.holdUntil, o.heldUntil],
  )
  return rows.find((r) => r.trial)?.id
}

/**
 * Deliveries that reached the queue due at once although the target's circuit is open (queued by a transaction
 * that began before the hold was written): hold them back as well (all but the trial).
 */
export async function holdArrivals(
  q: Querier,
  o: { target: string; trial: string | undefined; holdUntil: Date; now: Date },
): Promise<number> {
  const rows = await q.query(
    `UPDATE delivery_queue SET next_attempt_at = $3
     WHERE target_id = $1 AND lease_until IS NULL AND next_attempt_at <= $4 AND id IS DISTINCT FROM $2::uuid
     RETURNING id`,
    [o.target, o.trial ?? null, o.holdUntil, o.now],
  )
  return rows.length
}

/** A target's circuit closed: its hold is lifted, and what it held back until `holdUntil` is due now. */
export async function resumeTarget(q: Querier, target: string, holdUntil: Date, now: Date): Promise<number> {
  const rows = await q.query(
    `WITH lifted AS (DELETE FROM delivery_holds WHERE target_id = $1)
     UPDATE delivery_queue SET next_attempt_at = $3
     WHERE target_id = $1 AND lease_until IS NULL AND next_attempt_at > $3 AND next_attempt_at <= $2
     RETURNING id`,
    [target, holdUntil, now],
  )
  return rows.length
}
