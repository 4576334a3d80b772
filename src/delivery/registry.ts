import type { AppContext } from '../context.ts'
import { MONITORING_TARGET, monitoringFanout, monitoringTransport } from '../monitoring/forward.ts'
import { NOTIFICATION_TARGET, notificationFanout, notificationTransport } from '../notifications/delivery.ts'
import { PSA_TARGET, psaFanout } from '../psa/fanout.ts'
import { psaTransport } from '../psa/transport.ts'
import { TICKETING_TARGET, ticketingFanout, ticketingTransport } from '../ticketing/autocreate.ts'
import { webhookFanout } from '../webhooks/fanout.ts'
import { webhookTransport } from '../webhooks/transport.ts'
import type { Fanout, Transport } from './types.ts'

/**
 * Who gets a delivery when an event arrives, and how each kind of delivery is attempted. A new kind of target
 * (chat, PSA, monitoring) adds its fan-out and transport here.
 */
/** Every kind of delivery target, as deliveries store it in `target_type`: what filters by kind accept. */
export const TARGET_TYPES = [
  'webhook',
  PSA_TARGET,
  NOTIFICATION_TARGET,
  MONITORING_TARGET,
  TICKETING_TARGET,
] as const

export function fanouts(ctx: AppContext): Fanout[] {
  // biome-ignore format: one per line keeps additions (and merges) to one line each
  return [
    webhookFanout,
    psaFanout(ctx),
    notificationFanout(ctx),
    monitoringFanout,
    ticketingFanout(ctx),
  ]
}

export function transports(ctx: AppContext): Transport[] {
  // biome-ignore format: one per line keeps additions (and merges) to one line each
  return [
    webhookTransport(ctx),
    psaTransport(ctx),
    notificationTransport(ctx),
    monitoringTransport(ctx),
    ticketingTransport(ctx),
  ]
}
