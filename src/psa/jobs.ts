import { z } from 'zod'
import { defineJob, defineSchedule } from '../jobs/define.ts'
import { enqueueJob } from '../jobs/store.ts'
import { runSync, type SyncTarget, sweepSyncs } from './sync.ts'

/**
 * One sync of a PSA connection. Rate limits and outages reschedule it (Retry-After honoured when longer than the
 * backoff of 5 s doubling to 15 minutes); it resumes from the page it stopped at.
 */
export const psaSyncJob = defineJob({
  kind: 'psa.sync',
  payload: z.object({ runId: z.uuid(), orgId: z.uuid(), connectionId: z.uuid(), provider: z.string() }),
  maxAttempts: 8,
  leaseMs: 10 * 60_000,
  backoffMs: (attempt) => Math.min(5_000 * 2 ** (attempt - 1), 15 * 60_000),
  group: (p) => `provider:${p.provider}`,
  run: (ctx, p, job) => runSync(ctx, p, job),
})

export function enqueueSync(now: Date) {
  return async (tx: Parameters<typeof enqueueJob>[0], t: SyncTarget) => {
    await enqueueJob(tx, psaSyncJob, t, now)
  }
}

export const psaSyncSweepJob = defineJob({
  kind: 'psa.sync-sweep',
  payload: z.object({}),
  maxAttempts: 1,
  run: async (ctx) => {
    await sweepSyncs(ctx, enqueueSync(ctx.clock.now()))
  },
})

export const PSA_JOBS = [psaSyncJob, psaSyncSweepJob]

/** Scheduled syncs every PATCHBAY_PSA_SYNC_INTERVAL_MS (0 turns them off). */
export const PSA_SCHEDULES = [
  defineSchedule({
    name: 'psa.sync-sweep',
    job: psaSyncSweepJob,
    payload: {},
    intervalMs: (config) => config.PATCHBAY_PSA_SYNC_INTERVAL_MS,
  }),
]
