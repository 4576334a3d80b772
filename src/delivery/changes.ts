import {
  CHANGE_RETRY_POLICY,
  CHANGE_TARGET,
  changeFanout,
  changeTicketUpdater,
} from '../changes/ticket-updates.ts'
import type { AppContext } from '../context.ts'
import type { Fanout, Transport } from './types.ts'

/**
 * Change controls' ticket updates as deliveries (`target_type` `change_ticket`, `target_id` the change): the fan-out
 * and the attempt live in src/changes/ticket-updates.ts; this only plugs them into the engine.
 */
export const changeTicketFanout: Fanout = changeFanout

export function changeTicketTransport(ctx: AppContext): Transport {
  const updater = changeTicketUpdater(ctx)
  return {
    type: CHANGE_TARGET,
    attempt: (d) => updater.attempt(d),
    retryPolicy: () => CHANGE_RETRY_POLICY,
  }
}
