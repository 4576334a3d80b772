import { lt } from 'drizzle-orm'
import { z } from 'zod'
import { defineJob, defineSchedule } from '../jobs/define.ts'
import { webhookEvents } from '../store/schema/inbound.ts'
import { processEvent } from './pipeline.ts'
import { renewRegistrations } from './sources.ts'

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

/** Renews vendor registrations that lapse (Graph subscriptions) within their vendor's renewal window. */
export const inboundRenewJob = defineJob({
  kind: 'inbound.renew_registrations',
  payload: z.object({}),
  maxAttempts: 1,
  run: async (ctx) => {
    const out = await renewRegistrations(ctx)
    if (out.renewed || out.failed) ctx.log.info(out, 'webhook source registrations renewed')
  },
})

export const INBOUND_JOBS = [inboundProcessJob, inboundRetentionJob, inboundRenewJob]
export const INBOUND_SCHEDULES = [
  defineSchedule({
    name: 'inbound.retention',
    job: inboundRetentionJob,
    payload: {},
    intervalMs: () => 60 * 60_000,
  }),
  defineSchedule({
    name: 'inbound.renew_registrations',
    job: inboundRenewJob,
    payload: {},
    intervalMs: () => 15 * 60_000,
  }),
]
