import { z } from 'zod'
import { defineJob, defineSchedule } from '../jobs/define.ts'
import { expireActions, reconcileActions } from './service.ts'

/** Actions left pending past their approval time become `expired` (approve also refuses them at once). */
export const expireActionsJob = defineJob({
  kind: 'actions.expire',
  payload: z.object({}),
  maxAttempts: 1,
  run: async (ctx) => {
    const n = await expireActions(ctx)
    if (n > 0) ctx.log.info({ expired: n }, 'actions past their approval time expired')
  },
})

/**
 * Actions a worker left `running` (it died after its delivery's final outcome, before updating the action) are
 * settled from that outcome, with the events and audit entries the worker would have written.
 */
export const reconcileActionsJob = defineJob({
  kind: 'actions.reconcile',
  payload: z.object({}),
  maxAttempts: 1,
  run: async (ctx) => {
    const n = await reconcileActions(ctx, ctx.fanouts)
    if (n > 0) ctx.log.warn({ settled: n }, 'settled actions left running after their delivery had finished')
  },
})

export const reconcileActionsSchedule = defineSchedule({
  name: 'actions.reconcile',
  job: reconcileActionsJob,
  payload: {},
  intervalMs: () => 60_000,
})

export const ACTION_JOBS = [expireActionsJob, reconcileActionsJob]

export const ACTION_SCHEDULES = [
  defineSchedule({ name: 'actions.expire', job: expireActionsJob, payload: {}, intervalMs: () => 60_000 }),
  reconcileActionsSchedule,
]
