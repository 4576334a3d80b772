import { ACTION_JOBS, ACTION_SCHEDULES } from './actions/jobs.ts'
import { actionTransport } from './actions/transport.ts'
import { changeTicketFanout } from './changes/fanout.ts'
import { CHANGE_JOBS, CHANGE_SCHEDULES } from './changes/jobs.ts'
import { changeTicketTransport } from './changes/transport.ts'
import type { AppContext } from './context.ts'
import { deliveryPartitionsJob, deliveryPartitionsSchedule } from './delivery/partitions.ts'
import { deliveryRetentionJob, deliveryRetentionSchedule } from './delivery/retention.ts'
import type { Fanout, Transport } from './delivery/types.ts'
import { INBOUND_JOBS, INBOUND_SCHEDULES } from './inbound/jobs.ts'
import { INTEGRATION_JOBS, INTEGRATION_SCHEDULES } from './integrations/jobs.ts'
import type { AnyJobDefinition, ScheduleDefinition } from './jobs/define.ts'
import { pruneJobsJob, pruneJobsSchedule } from './jobs/prune.ts'
import { monitoringFanout } from './monitoring/fanout.ts'
import { monitoringTransport } from './monitoring/transport.ts'
import { notificationFanout } from './notifications/fanout.ts'
import { notificationTransport } from './notifications/transport.ts'
import { psaFanout } from './psa/fanout.ts'
import { PSA_JOBS, PSA_SCHEDULES } from './psa/jobs.ts'
import { psaTransport } from './psa/transport.ts'
import { ticketingFanout } from './ticketing/fanout.ts'
import { ticketingTransport } from './ticketing/transport.ts'
import { webhookFanout } from './webhooks/fanout.ts'
import { webhookTransport } from './webhooks/transport.ts'

/*
 * The one place that names every feature: the delivery targets' fan-outs and transports, and every job kind and
 * schedule. The engine (delivery/, jobs/) and the features receive these lists (through the context or a
 * constructor) instead of importing each other, so no folder below this one needs to know every other.
 */

/**
 * Who gets a delivery when an event arrives. A new kind of target (chat, PSA, monitoring) adds its fan-out here
 * and its transport in `transports`.
 */
export function fanouts(ctx: AppContext): Fanout[] {
  // biome-ignore format: one per line keeps additions (and merges) to one line each
  return [
    webhookFanout,
    psaFanout(ctx),
    notificationFanout(ctx),
    monitoringFanout,
    ticketingFanout(ctx),
    changeTicketFanout,
  ]
}

/** How each kind of delivery is attempted, for the delivery worker. */
export function transports(ctx: AppContext): Transport[] {
  // biome-ignore format: one per line keeps additions (and merges) to one line each
  return [
    webhookTransport(ctx),
    psaTransport(ctx),
    notificationTransport(ctx),
    monitoringTransport(ctx),
    ticketingTransport(ctx),
    changeTicketTransport(ctx),
    actionTransport(ctx, () => ctx.fanouts),
  ]
}

/** Completes a context with what is wired here (its fan-outs); runtime.ts and test harnesses call it once. */
export function wire<C extends Omit<AppContext, 'fanouts'>>(base: C): C & Pick<AppContext, 'fanouts'> {
  // The fan-outs read the context they are built for (its connectors), so it exists before they do.
  const ctx = Object.assign(base, { fanouts: [] as readonly Fanout[] })
  ctx.fanouts = fanouts(ctx)
  return ctx
}

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
  pruneJobsSchedule,
  deliveryRetentionSchedule,
  deliveryPartitionsSchedule,
  ...PSA_SCHEDULES,
  ...INBOUND_SCHEDULES,
  ...CHANGE_SCHEDULES,
  ...ACTION_SCHEDULES,
]

/** The job catalog and schedules as `JobService` takes them: `new JobService(ctx, WIRED_JOBS)`. */
export const WIRED_JOBS = { catalog: JOBS, schedules: SCHEDULES } as const
