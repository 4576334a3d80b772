import type { AppContext } from '../context.ts'
import { monitoringFanout, monitoringTransport } from '../monitoring/forward.ts'
import { notificationFanout, notificationTransport } from '../notifications/delivery.ts'
import { psaFanout } from '../psa/fanout.ts'
import { psaTransport } from '../psa/transport.ts'
import { ticketingFanout, ticketingTransport } from '../ticketing/autocreate.ts'
import { webhookFanout } from '../webhooks/fanout.ts'
import { webhookTransport } from '../webhooks/transport.ts'
import type { Fanout, Transport } from './types.ts'

/**
 * Who gets a delivery when an event arrives, and how each kind of delivery is attempted. A new kind of target
 * (chat, PSA, monitoring) adds its fan-out and transport here.
 */
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
