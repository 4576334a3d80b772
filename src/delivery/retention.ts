import { z } from 'zod'
import type { AppContext } from '../context.ts'
import { defineJob, defineSchedule } from '../jobs/define.ts'
import type { Logger } from '../lib/logger.ts'
import type { Database, Querier } from '../store/db.ts'
import { listPartitions, PARTITION_LOCK_KEY, utcDay } from './partitions.ts'

const DAY = 24 * 60 * 60_000

export interface PruneResult {
  /** Deliveries removed, in dropped partitions and row by row. */
  deliveries: number
  /** Daily history partitions dropped whole. */
  partitions: number
  /** Kept attempts removed with their deliveries. */
  attempts: number
  events: number
}

/** Deletes finished deliveries created before `cutoff` from one table (a partition), in batches. */
async function deleteFinished(q: Querier, table: string, cutoff: Date, batchSize: number): Promise<number> {
  let n = 0
  for (;;) {
    const rows = await q.query(
      `DELETE FROM ${table} WHERE id IN (
         SELECT id FROM ${table} WHERE created_at < $1 AND status IN ('delivered', 'failed') LIMIT $2)
       RETURNING 1`,
      [cutoff, batchSize],
    )
    n += rows.length
    if (rows.length < batchSize) return n
  }
}

/**
 * Removes finished (delivered or failed) deliveries created before `cutoff`, then events no delivery refers to
 * any more. Pending and retrying deliveries are kept whatever their age. An event id is an idempotency key only
 * while its event is kept.
 *
 * History is partitioned by day (drizzle/0018): a day that ended by `cutoff` and holds only finished deliveries
 * is detached and dropped whole, which costs no row deletes, no dead tuples and no vacuum. A day still holding
 * work (a delivery retrying for weeks) has its finished rows deleted one by one instead; so has the default
 * partition. The day `cutoff` falls in is kept until it has ended: retention is by whole days, so a delivery
 * stays up to a day longer than the retention period.
 */
export async function pruneDeliveries(
  db: Database,
  cutoff: Date,
  batchSize = 5000,
  log?: Pick<Logger, 'warn'>,
): Promise<PruneResult> {
  const cutoffDay = utcDay(cutoff.getTime())
  let deliveries = 0
  let partitions = 0
  const rowByRow = ['deliveries_default']
  for (const p of await listPartitions(db)) {
    if (p.day >= cutoffDay) break
    const dropped = await db
      .transaction(async (tx) => {
        // Waits at most a few seconds behind long queries on the history, rather than stopping the engine
        // behind it; the next run tries again.
        await tx.query(`SET LOCAL lock_timeout = '5s'`)
        // One change to the set of partitions at a time (see PARTITION_LOCK_KEY).
        await tx.query('SELECT pg_advisory_xact_lock($1)', [PARTITION_LOCK_KEY])
        // Nothing is written into the day while it is checked and detached.
        await tx.query(`LOCK TABLE ${p.name} IN SHARE MODE`)
        const [c] = await tx.query<{ n: number; keep: number }>(
          `SELECT count(*)::int AS n,
                count(*) FILTER (WHERE status NOT IN ('delivered', 'failed') OR created_at >= $1)::int AS keep
         FROM ${p.name}`,
          [cutoff],
        )
        if (!c || c.keep > 0) return null
        await tx.query(`ALTER TABLE deliveries DETACH PARTITION ${p.name}`)
        await tx.query(`DROP TABLE ${p.name}`)
        // Its per-day counts (delivery_day_counts, drizzle/0021) go with it: dropping a table fires no trigger.
        await tx.query('DELETE FROM delivery_day_counts WHERE day = $1::date', [p.day])
        return c.n
      })
      .catch((err: unknown) => {
        // A day that could not be locked in time is left for the next run; the rest of the history is still
        // pruned now rather than the whole run failing on one busy day.
        if (isLockTimeout(err)) {
          log?.warn({ partition: p.name }, 'history partition busy; left for the next retention run')
          return undefined
        }
        throw err
      })
    if (dropped === undefined) continue
    if (dropped === null) rowByRow.push(p.name)
    else {
      deliveries += dropped
      partitions++
    }
  }
  for (const table of rowByRow) deliveries += await deleteFinished(db, table, cutoff, batchSize)
  // The kept attempts (drizzle/0023) go with their deliveries, whether a day was dropped whole or row by row (or
  // a webhook's deletion removed them): those of deliveries made before the cutoff (a UUIDv7 id is its creation
  // time) whose delivery is gone. A delivery kept past the cutoff (still retrying) keeps its attempts.
  let attempts = 0
  for (;;) {
    const rows = await db.query(
      `DELETE FROM delivery_attempts WHERE (delivery_id, attempt) IN (
         SELECT a.delivery_id, a.attempt FROM delivery_attempts a
         WHERE a.delivery_id < patchbay_uuid_v7_floor($1)
           AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.id = a.delivery_id)
         LIMIT $2)
       RETURNING 1`,
      [cutoff, batchSize],
    )
    attempts += rows.length
    if (rows.length < batchSize) break
  }
  let events = 0
  for (;;) {
    const rows = await db.query(
      `DELETE FROM events WHERE (org_id, id) IN (
         SELECT e.org_id, e.id FROM events e
         WHERE e.created_at < $1
           AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.org_id = e.org_id AND d.event_id = e.id)
         LIMIT $2)
       RETURNING 1`,
      [cutoff, batchSize],
    )
    events += rows.length
    if (rows.length < batchSize) break
  }
  return { deliveries, partitions, attempts, events }
}

/** PostgreSQL's lock_not_available (55P03), raised when lock_timeout runs out. */
function isLockTimeout(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === '55P03'
}

export const deliveryRetentionJob = defineJob({
  kind: 'delivery.retention',
  payload: z.object({}),
  maxAttempts: 1,
  run: async (ctx: AppContext) => {
    const days = ctx.config.PATCHBAY_DELIVERY_RETENTION_DAYS
    const result = await pruneDeliveries(
      ctx.db,
      new Date(ctx.clock.now().getTime() - days * DAY),
      5000,
      ctx.log,
    )
    if (result.deliveries + result.events > 0) ctx.log.info({ ...result, days }, 'pruned delivery history')
  },
})

export const deliveryRetentionSchedule = defineSchedule({
  name: 'delivery.retention',
  job: deliveryRetentionJob,
  payload: {},
  intervalMs: () => 60 * 60_000,
})
