/** Telemetry forwarding's fan-out: which `device.telemetry` events become `monitoring` deliveries (transport.ts sends them). */
import type { Fanout } from '../delivery/types.ts'
import { METRIC_FAMILIES, MONITORING_PROVIDER } from './settings.ts'
import { MONITORING_TARGET, TELEMETRY_EVENT } from './transport.ts'

const FANOUT_SQL = `
INSERT INTO deliveries (id, org_id, target_type, target_id, event_id, event_type, status, attempts, next_attempt_at,
                        created_at, updated_at)
SELECT patchbay_uuid_v7($4), e.org_id, '${MONITORING_TARGET}', i.id, e.id, e.type, 'pending', 0, $4, $4, $4
FROM unnest($1::uuid[], $2::text[], $3::text[]) AS e(org_id, id, type)
JOIN events ev ON ev.org_id = e.org_id AND ev.id = e.id
JOIN integrations i ON i.org_id = e.org_id
WHERE e.type = '${TELEMETRY_EVENT}' AND i.provider = $5 AND i.deleted_at IS NULL AND i.status <> 'inactive'
  AND i.enabled_capabilities @> '["forward_events"]'::jsonb
  AND (i.settings -> 'metricsEnabled') IS DISTINCT FROM 'false'::jsonb
  AND EXISTS (
    SELECT 1 FROM jsonb_array_elements_text(
      CASE WHEN jsonb_typeof(i.settings -> 'forwardEvents') = 'array' THEN i.settings -> 'forwardEvents'
           ELSE $6::jsonb END) AS f(family)
    WHERE f.family = ANY($7::text[]) AND jsonb_typeof(ev.data -> f.family) IS NOT NULL
      AND jsonb_typeof(ev.data -> f.family) <> 'null')
RETURNING org_id, event_id`

/** Telemetry events go to the organization's monitoring integration when they carry a selected family. */
export const monitoringFanout: Fanout = {
  name: 'monitoring',
  providers: () => [MONITORING_PROVIDER],
  async fanOut(q, events, now) {
    const telemetry = events.filter((e) => e.type === TELEMETRY_EVENT)
    if (telemetry.length === 0) return []
    const rows = await q.query<{ org_id: string; event_id: string }>(
      FANOUT_SQL,
      [
        telemetry.map((e) => e.orgId),
        telemetry.map((e) => e.id),
        telemetry.map((e) => e.type),
        now,
        MONITORING_PROVIDER,
        JSON.stringify(METRIC_FAMILIES),
        [...METRIC_FAMILIES],
      ],
      'pb_fanout_monitoring',
    )
    return rows.map((r) => ({ orgId: r.org_id, eventId: r.event_id }))
  },
}
