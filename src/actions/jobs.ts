import { z } from 'zod'
import { defineJob, defineSchedule } from '../jobs/define.ts'
import { expireActions } from './service.ts'

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

export const ACTION_JOBS = [expireActionsJob]

export const ACTION_SCHEDULES = [
  defineSchedule({ name: 'actions.expire', job: expireActionsJob, payload: {}, intervalMs: () => 60_000 }),
]
