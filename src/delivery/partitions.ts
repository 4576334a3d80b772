import { z } from 'zod'
import type { AppContext } from '../context.ts'
import { defineJob, defineSchedule } from '../jobs/define.ts'
import type { Querier } from '../store/db.ts'

const DAY = 24 * 60 * 60_000

/**
 * The transaction-level advisory lock every change to the set of history partitions takes: making and sealing
 * days (`patchbay_ensure_delivery_partitions`, `patchbay_seal_delivery_partitions`, drizzle/0018) and dropping
 * them (retention). Without it the hourly partitions job and the retention job, which the scheduler may run at
 * the same moment (on one process or two), can deadlock on the parent table and a partition.
 */
export const PARTITION_LOCK_KEY = 7206311022

/** Days ahead of today (UTC) whose history partitions exist at all times: a week of slack if the job stops. */
export const PARTITION_DAYS_AHEAD = 7

/** `YYYY-MM-DD` of the UTC day `ms` falls in. */
export function utcDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10)
}

/** The partition holding the deliveries made on the UTC day `day` (`YYYY-MM-DD`). */
export function partitionName(day: string): string {
  return `deliveries_p${day.replaceAll('-', '')}`
}

/**
 * Creates the daily history partitions from yesterday to PARTITION_DAYS_AHEAD days ahead that do not exist yet
 * (`patchbay_ensure_delivery_partitions`, drizzle/0018). A delivery whose day has no partition lands in the
 * default partition, which works but is pruned row by row; making the days ahead keeps it empty.
 */
export async function ensurePartitions(
  q: Querier,
  now: Date,
  daysAhead = PARTITION_DAYS_AHEAD,
): Promise<number> {
  const [row] = await q.query<{ made: number }>(
    'SELECT patchbay_ensure_delivery_partitions($1::date, $2::date) AS made',
    [utcDay(now.getTime() - DAY), utcDay(now.getTime() + daysAhead * DAY)],
  )
  return row?.made ?? 0
}

/**
 * Adds the status indexes to the partitions of days that ended before yesterday (UTC)
 * (`patchbay_seal_delivery_partitions`, drizzle/0018). A day still written to by first attempts has none, so
 * each attempt's update stays HOT; a day past its retries' usual reach gets them for the status filters and
 * deliveryStats. Every day that ended, yesterday included, is counted into `delivery_day_counts` (drizzle/0026;
 * counting yesterday holds writes to its partition for the moment the count takes, once a day), so stats and
 * totals read only today's rows. Returns how many days it sealed.
 */
export async function sealPartitions(q: Querier, now: Date): Promise<number> {
  const [row] = await q.query<{ sealed: number }>(
    'SELECT patchbay_seal_delivery_partitions($1::date) AS sealed',
    [utcDay(now.getTime() - DAY)],
  )
  return row?.sealed ?? 0
}

export interface HistoryPartition {
  name: string
  /** UTC day, `YYYY-MM-DD`. */
  day: string
}

/** The daily partitions of the delivery history, oldest first (the default partition is not one of them). */
export async function listPartitions(q: Querier): Promise<HistoryPartition[]> {
  const rows = await q.query<{ name: string }>(
    `SELECT c.relname AS name FROM pg_inherits i
     JOIN pg_class c ON c.oid = i.inhrelid
     WHERE i.inhparent = 'deliveries'::regclass AND c.relname ~ '^deliveries_p[0-9]{8}$'
     ORDER BY c.relname`,
  )
  return rows.map((r) => ({
    name: r.name,
    day: `${r.name.slice(12, 16)}-${r.name.slice(16, 18)}-${r.name.slice(18, 20)}`,
  }))
}

export const deliveryPartitionsJob = defineJob({
  kind: 'delivery.partitions',
  payload: z.object({}),
  maxAttempts: 1,
  run: async (ctx: AppContext) => {
    const now = ctx.clock.now()
    const made = await ensurePartitions(ctx.db, now)
    const sealed = await sealPartitions(ctx.db, now)
    if (made + sealed > 0) ctx.log.info({ made, sealed }, 'delivery history partitions made and sealed')
  },
})

/** Hourly: a missed run or two still leaves days of partitions ahead. */
export const deliveryPartitionsSchedule = defineSchedule({
  name: 'delivery.partitions',
  job: deliveryPartitionsJob,
  payload: {},
  intervalMs: () => 60 * 60_000,
})
