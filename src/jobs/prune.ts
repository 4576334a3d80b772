import { z } from 'zod'
import { pruneIdempotencyKeys } from '../store/idempotency.ts'
import { defineJob, defineSchedule } from './define.ts'
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

export const pruneJobsSchedule = defineSchedule({
  name: 'jobs.prune',
  job: pruneJobsJob,
  payload: {},
  intervalMs: () => 60 * 60_000,
})
