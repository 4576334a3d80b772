import { lt } from 'drizzle-orm'
import { z } from 'zod'
import { defineJob, defineSchedule } from '../jobs/define.ts'
import { webhookEvents } from '../store/schema/inbound.ts'
import { processEvent } from './pipeline.ts'

/** One inbound event through `verify → parse → normalize → apply`: the first attempt and 3 retries, 30 s doubling. */
export const inboundProcessJob = defineJob({
  kind: 'inbound.process',
  payload: z.object({ orgId: z.uuid(), eventId: z.uuid() }),
  maxAttempts: 4,
  leaseMs: 30_000,
  backoffMs: (attempt) => 30_000 * 2 ** Math.max(0, attempt - 1),
  run: (ctx, p, job) => processEvent(ctx, p.orgId, p.eventId, job),
})

/** Forgets inbound events (bodies included) older than PATCHBAY_INBOUND_RETENTION_DAYS. */
export const inboundRetentionJob = defineJob({
  kind: 'inbound.retention',
  payload: z.object({}),
  maxAttempts: 1,
  run: async (ctx) => {
    const before = new Date(
      ctx.clock.now().getTime() - ctx.config.PATCHBAY_INBOUND_RETENTION_DAYS * 86_400_000,
    )
    await ctx.db.orm.delete(webhookEvents).where(lt(webhookEvents.receivedAt, before))
  },
})

export const INBOUND_JOBS = [inboundProcessJob, inboundRetentionJob]
export const INBOUND_SCHEDULES = [
  defineSchedule({
    name: 'inbound.retention',
    job: inboundRetentionJob,
    payload: {},
    intervalMs: () => 60 * 60_000,
  }),
]
