/**
 * Chat notifications on the delivery engine: every event a channel's `notifyOn` asks for becomes a delivery
 * (`target_type` `notification`, `target_id` the integration), rendered for its platform at attempt time and
 * posted through the provider's connector. Retries, Retry-After, the dead-letter state, history and manual
 * recovery are the engine's.
 */

import { VendorError } from '../connectors/vendor-error.ts'
import type { AppContext } from '../context.ts'
import { DEFAULT_RETRY_POLICY } from '../delivery/policy.ts'
import type { AttemptOutcome, ClaimedDelivery, Transport } from '../delivery/types.ts'
import { connectorEnv } from '../integrations/verification.ts'
import { scrubSecrets } from '../lib/redact.ts'
import { channelSettings } from './channels.ts'
import { NOTIFICATION_TARGET } from './fanout.ts'
import { notificationFromEvent } from './from-event.ts'
import { TargetLoader, unusable, vendorFailure } from './targets.ts'

/**
 * Posts one chat message per delivery. Slack and Discord rate limits come back as 429 with Retry-After (Discord's
 * precise `retry_after` from its body), which the engine waits out before the next attempt; a refused message
 * (unknown webhook, archived channel, invalid payload) is failed at once; outages and timeouts are retried.
 */
export function notificationTransport(ctx: AppContext): Transport {
  const targets = new TargetLoader(ctx)
  return {
    type: NOTIFICATION_TARGET,

    prepare: (batch) => targets.prepare(batch),

    async attempt(d: ClaimedDelivery): Promise<AttemptOutcome> {
      const target = targets.get(d.targetId)
      const refused = unusable(target, d)
      if (refused || !target?.credentials) return refused ?? { kind: 'failed' }
      const connector = ctx.connectors.get(target.provider)
      const send = connector?.notifications?.send
      if (!connector || !send)
        return { kind: 'failed', errorMessage: `Provider "${target.provider}" cannot post messages` }
      const settings = channelSettings(target.settings)
      const message = notificationFromEvent(
        {
          id: d.eventId,
          type: d.eventType,
          orgId: d.orgId,
          timestamp: d.event.occurredAt.toISOString(),
          data: (d.event.data ?? {}) as Record<string, unknown>,
        },
        {
          consoleUrl: ctx.config.PATCHBAY_CONSOLE_URL,
          orgName: target.orgName ?? undefined,
          channel: settings.channel,
          username: settings.username,
        },
      )
      try {
        const res = await send.call(
          connector.notifications,
          target.credentials,
          message,
          connectorEnv(ctx, target.provider),
        )
        return {
          kind: 'delivered',
          responseStatus: res.status,
          responseBody: scrubSecrets(res.body, target.secrets),
          responseTimeMs: res.timeMs,
        }
      } catch (err) {
        if (err instanceof VendorError) return vendorFailure(err, target.secrets)
        throw err
      }
    },

    retryPolicy: () => DEFAULT_RETRY_POLICY,
  }
}
