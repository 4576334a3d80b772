/**
 * Chat notifications' fan-out: every event a channel's `notifyOn` asks for becomes a delivery (`target_type`
 * `notification`, `target_id` the integration); transport.ts posts it.
 */
import type { AppContext } from '../context.ts'
import type { Fanout } from '../delivery/types.ts'
import { SEVERITY_SELECTORS } from './notify-on.ts'

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
