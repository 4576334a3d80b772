import type { AppContext } from '../context.ts'
import type { Transport } from '../delivery/types.ts'
import { CHANGE_RETRY_POLICY, CHANGE_TARGET, changeTicketUpdater } from './ticket-updates.ts'

/**
 * Change controls' ticket updates as deliveries (`target_type` `change_ticket`, `target_id` the change): the attempt
 * lives in ticket-updates.ts; this only plugs it into the engine.
 */
export function changeTicketTransport(ctx: AppContext): Transport {
  const updater = changeTicketUpdater(ctx)
  return {
    type: CHANGE_TARGET,
    attempt: (d) => updater.attempt(d),
    retryPolicy: () => CHANGE_RETRY_POLICY,
  }
}
