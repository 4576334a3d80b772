import type { Fanout } from '../delivery/types.ts'
import { subscriptionMatchSql } from '../events/catalog.ts'

const FANOUT_SQL = `
INSERT INTO deliveries (id, org_id, target_type, target_id, event_id, event_type, status, attempts, next_attempt_at,
                        created_at, updated_at)
SELECT patchbay_uuid_v7($4), e.org_id, 'webhook', w.id, e.id, e.type, 'pending', 0, $4, $4, $4
FROM unnest($1::uuid[], $2::text[], $3::text[]) AS e(org_id, id, type)
JOIN webhooks w ON w.org_id = e.org_id AND w.status = 'active'
WHERE ${subscriptionMatchSql('w.events', 'e.type')}
RETURNING org_id, event_id`

/** Every active webhook of the event's organization subscribed to its type gets a delivery. */
export const webhookFanout: Fanout = {
  name: 'webhooks',
  async fanOut(q, events, now) {
    const rows = await q.query<{ org_id: string; event_id: string }>(
      FANOUT_SQL,
      [events.map((e) => e.orgId), events.map((e) => e.id), events.map((e) => e.type), now],
      'pb_fanout_webhooks',
    )
    return rows.map((r) => ({ orgId: r.org_id, eventId: r.event_id }))
  },
}
