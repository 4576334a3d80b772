import { z } from 'zod'
import { defineJob, defineSchedule } from '../jobs/define.ts'
import { enqueueJob } from '../jobs/store.ts'
import { changeSettings } from '../store/schema/changes.ts'
import { runDeviceSync } from './devices.ts'

/** One organization's device sync, as a job: a stopped sync is retried (and resumes) after the backoff. */
export const deviceSyncJob = defineJob({
  kind: 'changes.device-sync',
  payload: z.object({ orgId: z.uuid() }),
  maxAttempts: 8,
  leaseMs: 10 * 60_000,
  backoffMs: (attempt) => Math.min(5_000 * 2 ** (attempt - 1), 15 * 60_000),
  run: async (ctx, p) => {
    const r = await runDeviceSync(ctx, p.orgId, { actor: { type: 'system', name: 'device-sync' } })
    if (!r.complete) throw new Error(`Device sync stopped: ${r.error ?? 'unknown error'}`)
  },
})

/** Enqueues a device sync for every organization with change management on and configuration types mapped. */
export const deviceSyncSweepJob = defineJob({
  kind: 'changes.device-sync-sweep',
  payload: z.object({}),
  maxAttempts: 1,
  run: async (ctx) => {
    const rows = await ctx.db.orm.select().from(changeSettings)
    const now = ctx.clock.now()
    for (const r of rows) {
      const s = r.settings as { enabled?: boolean; configurationTypes?: unknown[]; company?: unknown }
      if (s.enabled && s.company && s.configurationTypes?.length)
        await enqueueJob(ctx.db.orm, deviceSyncJob, { orgId: r.orgId }, now)
    }
  },
})

export const CHANGE_JOBS = [deviceSyncJob, deviceSyncSweepJob]

/** Scheduled device syncs on the PSA sync's interval (PATCHBAY_PSA_SYNC_INTERVAL_MS; 0 turns them off). */
export const CHANGE_SCHEDULES = [
  defineSchedule({
    name: 'changes.device-sync-sweep',
    job: deviceSyncSweepJob,
    payload: {},
    intervalMs: (config) => config.PATCHBAY_PSA_SYNC_INTERVAL_MS,
  }),
]
