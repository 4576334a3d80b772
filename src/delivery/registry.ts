import type { AppContext } from '../context.ts'
import { psaFanout } from '../psa/fanout.ts'
import { psaTransport } from '../psa/transport.ts'
import { webhookFanout } from '../webhooks/fanout.ts'
import { webhookTransport } from '../webhooks/transport.ts'
import type { Fanout, Transport } from './types.ts'

/**
 * Who gets a delivery when an event arrives, and how each kind of delivery is attempted. A new kind of target
 * (chat, PSA, monitoring) adds its fan-out and transport here.
 */
export function fanouts(ctx: AppContext): Fanout[] {
  return [webhookFanout, psaFanout(ctx)]
}

export function transports(ctx: AppContext): Transport[] {
  return [webhookTransport(ctx), psaTransport(ctx)]
}
