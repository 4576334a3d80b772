import { z } from 'zod'
import type { AppContext } from '../context.ts'
import { defineJob, defineSchedule } from '../jobs/define.ts'
import type { Querier } from '../store/db.ts'

const DAY = 24 * 60 * 60_000

/** The smallest UUIDv7 of a millisecond: delivery ids are time-ordered, so old rows are a primary-key range. */
function uuidV7Floor(ms: number): string {
  const hex = ms.toString(16).padStart(12, '0')
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-7000-8000-000000000000`
}

/**
 * Deletes finished (delivered or failed) deliveries created before `cutoff`, then events no delivery refers to
 * any more, in batches so no statement holds locks for long. Pending and retrying deliveries are kept
 * whatever their age. An event id is an idempotency key only while its event is kept.
 */
export async function pruneDeliveries(
  q: Querier,
  cutoff: Date,
  batchSize = 5000,
): Promise<{ deliveries: number; events: number }> {
  const bound = uuidV7Floor(cutoff.getTime())
  let deliveries = 0
  for (;;) {
    const rows = await q.query(
      `DELETE FROM deliveries WHERE id IN (
         SELECT id FROM deliveries
         WHERE id < $1 AND created_at < $2 AND status IN ('delivered', 'failed')
         LIMIT $3)
       RETURNING 1`,
      [bound, cutoff, batchSize],
    )
    deliveries += rows.length
    if (rows.length < batchSize) break
  }
  let events = 0
  for (;;) {
    const rows = await q.query(
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
  return { deliveries, events }
}

export const deliveryRetentionJob = defineJob({
  kind: 'delivery.retention',
  payload: z.object({}),
  maxAttempts: 1,
  run: async (ctx: AppContext) => {
    const days = ctx.config.PATCHBAY_DELIVERY_RETENTION_DAYS
    const result = await pruneDeliveries(ctx.db, new Date(ctx.clock.now().getTime() - days * DAY))
    if (result.deliveries + result.events > 0) ctx.log.info({ ...result, days }, 'pruned delivery history')
  },
})

export const deliveryRetentionSchedule = defineSchedule({
  name: 'delivery.retention',
  job: deliveryRetentionJob,
  payload: {},
  intervalMs: () => 60 * 60_000,
})
