import { z } from 'zod'
import { defineJob, defineSchedule } from '../jobs/define.ts'
import { enqueueJob } from '../jobs/store.ts'
import { pruneProbes, runProbe, sweepIntervalMs, sweepProbes } from './health.ts'
import { runVerification } from './lifecycle.ts'

const target = z.object({
  integrationId: z.uuid(),
  orgId: z.uuid(),
  provider: z.string(),
  /** The integration's verification sequence when the job was made; a newer one makes this job moot. */
  seq: z.number().int(),
})

/** Checks new or changed credentials with the vendor; ~3.5 minutes of retries for transient failures. */
export const verifyIntegrationJob = defineJob({
  kind: 'integration.verify',
  payload: target,
  maxAttempts: 4,
  backoffMs: (attempt) => 30_000 * 2 ** (attempt - 1),
  group: (p) => `provider:${p.provider}`,
  run: (ctx, p, job) => runVerification(ctx, p, job),
})

/** One health probe. Not retried: the next interval's probe is the retry. */
export const probeIntegrationJob = defineJob({
  kind: 'integration.probe',
  payload: target,
  maxAttempts: 1,
  leaseMs: 2 * 60_000,
  group: (p) => `provider:${p.provider}`,
  run: (ctx, p) => runProbe(ctx, p),
})

export const probeSweepJob = defineJob({
  kind: 'integration.probe-sweep',
  payload: z.object({}),
  maxAttempts: 1,
  run: async (ctx) => {
    await sweepProbes(ctx, async (tx, t) => {
      await enqueueJob(
        tx,
        probeIntegrationJob,
        { integrationId: t.integrationId, orgId: t.orgId, provider: t.provider, seq: t.seq },
        ctx.clock.now(),
        { runAt: t.runAt, dedupeKey: `integration.probe:${t.integrationId}` },
      )
    })
  },
})

export const probeRetentionJob = defineJob({
  kind: 'integration.probe-retention',
  payload: z.object({}),
  maxAttempts: 1,
  run: async (ctx) => {
    await pruneProbes(ctx)
  },
})

export const INTEGRATION_JOBS = [verifyIntegrationJob, probeIntegrationJob, probeSweepJob, probeRetentionJob]

export const INTEGRATION_SCHEDULES = [
  defineSchedule({
    name: 'integration.probe-sweep',
    job: probeSweepJob,
    payload: {},
    intervalMs: (config) => sweepIntervalMs(config.PATCHBAY_PROBE_INTERVAL_MS),
  }),
  defineSchedule({
    name: 'integration.probe-retention',
    job: probeRetentionJob,
    payload: {},
    intervalMs: () => 60 * 60_000,
  }),
]
