/**
 * Chat notifications on the delivery engine: every event a channel's `notifyOn` asks for becomes a delivery
 * (`target_type` `notification`, `target_id` the integration), rendered for its platform at attempt time and
 * posted through the provider's connector. Retries, Retry-After, the dead-letter state, history and manual
 * recovery are the engine's.
 */

import { VendorError } from '../connectors/vendor-error.ts'
import type { AppContext } from '../context.ts'
import { DEFAULT_RETRY_POLICY } from '../delivery/policy.ts'
import type { AttemptOutcome, ClaimedDelivery, Fanout, Transport } from '../delivery/types.ts'
import { connectorEnv } from '../integrations/verification.ts'
import { scrubSecrets } from '../lib/redact.ts'
import { channelSettings } from './channels.ts'
import { notificationFromEvent } from './from-event.ts'
import { SEVERITY_SELECTORS } from './notify-on.ts'
import { TargetLoader, unusable, vendorFailure } from './targets.ts'

export const NOTIFICATION_TARGET = 'notification'

/** Providers that post chat messages: communication connectors with notification operations. */
export function chatProviders(ctx: AppContext): string[] {
  return ctx.connectors
    .all()
    .filter((c) => c.descriptor.category === 'communication' && c.notifications)
    .map((c) => c.descriptor.id)
}

/**
 * The same rule as `matchesNotifyOn`, in SQL (kept in step with it; test/notifications.test.ts checks both agree):
 * an entry is an event type, `*`, a prefix wildcard (`alert.*`), or a severity selector (`alert.critical`) that
 * takes `alert.triggered` / `alert.escalated` events whose `data.severity` is that level.
 */
const FANOUT_SQL = `
INSERT INTO deliveries (id, org_id, target_type, target_id, event_id, event_type, status, attempts, next_attempt_at,
                        created_at, updated_at)
SELECT patchbay_uuid_v7($4), e.org_id, '${NOTIFICATION_TARGET}', i.id, e.id, e.type, 'pending', 0, $4, $4, $4
FROM unnest($1::uuid[], $2::text[], $3::text[]) AS e(org_id, id, type)
JOIN events ev ON ev.org_id = e.org_id AND ev.id = e.id
JOIN integrations i ON i.org_id = e.org_id
WHERE i.provider = ANY($5::text[]) AND i.deleted_at IS NULL AND i.status <> 'inactive'
  AND i.enabled_capabilities @> '["send_notification"]'::jsonb
  AND jsonb_typeof(i.settings -> 'notifyOn') = 'array'
  AND EXISTS (
    SELECT 1 FROM jsonb_array_elements_text(i.settings -> 'notifyOn') AS n(raw)
    CROSS JOIN LATERAL (SELECT btrim(n.raw) AS p) s
    WHERE CASE WHEN s.p = ANY($6::text[])
      THEN e.type IN ('alert.triggered', 'alert.escalated')
           AND jsonb_typeof(ev.data -> 'severity') = 'string'
           AND lower(btrim(ev.data ->> 'severity')) = substr(s.p, length('alert.') + 1)
      ELSE s.p <> '' AND (s.p = e.type OR s.p = '*' OR (right(s.p, 2) = '.*' AND starts_with(e.type, left(s.p, -1))))
    END)
RETURNING org_id, event_id`

/** Every channel (not disabled) of the event's organization whose `notifyOn` wants the event gets a delivery. */
export function notificationFanout(ctx: AppContext): Fanout {
  const providers = chatProviders(ctx)
  return {
    name: 'notifications',
    providers: () => providers,
    async fanOut(q, events, now) {
      const rows = await q.query<{ org_id: string; event_id: string }>(
        FANOUT_SQL,
        [
          events.map((e) => e.orgId),
          events.map((e) => e.id),
          events.map((e) => e.type),
          now,
          providers,
          [...SEVERITY_SELECTORS],
        ],
        'pb_fanout_notifications',
      )
      return rows.map((r) => ({ orgId: r.org_id, eventId: r.event_id }))
    },
  }
}

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
