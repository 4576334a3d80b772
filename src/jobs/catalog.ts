import { z } from 'zod'
import { ACTION_JOBS, ACTION_SCHEDULES } from '../actions/jobs.ts'
import { deliveryPartitionsJob, deliveryPartitionsSchedule } from '../delivery/partitions.ts'
import { deliveryRetentionJob, deliveryRetentionSchedule } from '../delivery/retention.ts'
import { INBOUND_JOBS, INBOUND_SCHEDULES } from '../inbound/jobs.ts'
import { INTEGRATION_JOBS, INTEGRATION_SCHEDULES } from '../integrations/jobs.ts'
import { PSA_JOBS, PSA_SCHEDULES } from '../psa/jobs.ts'
import { pruneIdempotencyKeys } from '../store/idempotency.ts'
import { type AnyJobDefinition, defineJob, defineSchedule, type ScheduleDefinition } from './define.ts'
import { CHANGE_JOBS, CHANGE_SCHEDULES } from './device-sync.ts'
import { pruneJobs } from './store.ts'

const DAY = 24 * 60 * 60_000

/**
 * Forgets finished jobs (completed after a day, failed after two weeks, kept for investigation) and Idempotency-Keys
 * past their 24 hours.
 */
export const pruneJobsJob = defineJob({
  kind: 'jobs.prune',
  payload: z.object({}),
  maxAttempts: 1,
  run: async (ctx) => {
    await pruneJobs(ctx.db.orm, ctx.clock.now(), DAY, 14 * DAY)
    await pruneIdempotencyKeys(ctx.db.orm, ctx.clock.now())
  },
})

/**
 * Every job kind a worker runs. To add one: `defineJob({ kind, payload: z.object(…), run })` beside the feature,
 * then one line here. Workers only claim kinds they know, so a rolling upgrade never strands a job.
 */
// biome-ignore format: one entry per line, so adding a job kind is a one-line change
export const JOBS: readonly AnyJobDefinition[] = [
  ...INTEGRATION_JOBS,
  pruneJobsJob,
  deliveryRetentionJob,
  deliveryPartitionsJob,
  ...PSA_JOBS,
  ...INBOUND_JOBS,
  ...CHANGE_JOBS,
  ...ACTION_JOBS,
]

/** Periodic tasks: each enqueues its job once per interval across all processes. */
// biome-ignore format: one entry per line, so adding a schedule is a one-line change
export const SCHEDULES: readonly ScheduleDefinition[] = [
  ...INTEGRATION_SCHEDULES,
  defineSchedule({ name: 'jobs.prune', job: pruneJobsJob, payload: {}, intervalMs: () => 60 * 60_000 }),
  deliveryRetentionSchedule,
  deliveryPartitionsSchedule,
  ...PSA_SCHEDULES,
  ...INBOUND_SCHEDULES,
  ...CHANGE_SCHEDULES,
  ...ACTION_SCHEDULES,
]
