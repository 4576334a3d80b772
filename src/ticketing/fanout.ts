/**
 * autoCreate's fan-out: claims each new alert for the organization's ticketing integration and queues one
 * `ticketing` delivery per new claim (transport.ts says why exactly one).
 */
import { z } from 'zod'
import type { AppContext } from '../context.ts'
import type { Fanout } from '../delivery/types.ts'
import {
  type CandidateIntegration,
  candidateOf,
  INTEGRATION_COLUMNS,
  type IntegrationRowSql,
  loadRules,
  routeByRules,
  TICKET_CAPABILITY,
} from '../psa/targets.ts'
import { alertIdOf } from '../psa/ticket-text.ts'
import { TICKETING_PROVIDER } from './settings.ts'

export const TICKETING_TARGET = 'ticketing'

/** A `ticketing` delivery's `operation`, as CLAIM_SQL writes it (`op` is always `create_ticket`, not read). */
export const ticketingOperation = z.object({ alertKey: z.string(), requestId: z.string() })
export type TicketingOperation = z.output<typeof ticketingOperation>
const ALERT_EVENT = 'alert.triggered'

const CLAIM_SQL = `
WITH wanted AS (
  SELECT * FROM unnest($2::uuid[], $3::text[], $4::uuid[], $5::text[]) AS w(org_id, event_id, integration_id, alert_key)
), claimed AS (
  INSERT INTO ticketing_alert_tickets (id, org_id, integration_id, alert_key, event_id, created_at)
  SELECT patchbay_uuid_v7($1), org_id, integration_id, alert_key, event_id, $1 FROM wanted
  ON CONFLICT (integration_id, alert_key) DO NOTHING
  RETURNING id, org_id, integration_id, alert_key, event_id
)
INSERT INTO deliveries (id, org_id, target_type, target_id, event_id, event_type, operation, status, attempts,
                        next_attempt_at, created_at, updated_at)
SELECT patchbay_uuid_v7($1), c.org_id, '${TICKETING_TARGET}', c.integration_id, c.event_id, '${ALERT_EVENT}',
       jsonb_build_object('op', 'create_ticket', 'alertKey', c.alert_key, 'requestId', c.id),
       'pending', 0, $1, $1, $1
FROM claimed c
RETURNING org_id, event_id`

/** The alert an event is about (`data.alertId`, else `data.alert.id`), else the event itself. */
export function alertKeyOf(eventId: string, data: unknown): string {
  return alertIdOf(data) ?? `event:${eventId}`
}

/**
 * New alerts of organizations whose ticketing integration has `autoCreate` on. The `create_ticket` routing rules
 * are honoured the way the PSA automation honours them (src/psa/targets.ts): a rule that picks another
 * integration for the alert (a PSA connection) takes it away from this one; with no rule deciding, or one that
 * picks this integration, the ticket is created here. Organizations without such an integration cost one query.
 */
export function ticketingFanout(ctx: AppContext): Fanout {
  const candidate = candidateOf((provider) => ctx.connectors.get(provider)?.descriptor.category ?? 'unknown')
  return {
    name: 'ticketing',
    providers: () => [TICKETING_PROVIDER],
    async fanOut(q, events, now) {
      const alerts = events.filter((e) => e.type === ALERT_EVENT)
      if (alerts.length === 0) return []
      const ticketing = await q.query<IntegrationRowSql>(
        `SELECT ${INTEGRATION_COLUMNS} FROM integrations
         WHERE org_id = ANY($1::uuid[]) AND provider = $2 AND deleted_at IS NULL AND status <> 'inactive'
           AND enabled_capabilities @> '["${TICKET_CAPABILITY}"]'::jsonb AND (settings -> 'autoCreate') = 'true'::jsonb`,
        [[...new Set(alerts.map((e) => e.orgId))], TICKETING_PROVIDER],
        'pb_ticketing_fanout_integrations',
      )
      if (ticketing.length === 0) return []
      const byOrg = new Map<string, CandidateIntegration[]>()
      const byId = new Map<string, CandidateIntegration>()
      for (const r of ticketing) {
        const c = candidate(r)
        byOrg.set(c.orgId, [...(byOrg.get(c.orgId) ?? []), c])
        byId.set(c.id, c)
      }
      const relevant = alerts.filter((e) => byOrg.has(e.orgId))
      const rulesOf = await loadRules(q, [...byOrg.keys()], TICKET_CAPABILITY, byId, candidate)
      const wanted: { orgId: string; eventId: string; integrationId: string; alertKey: string }[] = []
      for (const e of relevant) {
        const raw = e.data
        const context: Record<string, unknown> = {
          ...(raw && typeof raw === 'object' && !Array.isArray(raw) ? (raw as Record<string, unknown>) : {}),
          eventType: e.type,
        }
        const routed = routeByRules(rulesOf.get(e.orgId) ?? [], byId, TICKET_CAPABILITY, context)
        for (const c of byOrg.get(e.orgId) ?? []) {
          if (routed && routed.id !== c.id) continue
          wanted.push({ orgId: e.orgId, eventId: e.id, integrationId: c.id, alertKey: alertKeyOf(e.id, raw) })
        }
      }
      if (wanted.length === 0) return []
      const rows = await q.query<{ org_id: string; event_id: string }>(
        CLAIM_SQL,
        [
          now,
          wanted.map((w) => w.orgId),
          wanted.map((w) => w.eventId),
          wanted.map((w) => w.integrationId),
          wanted.map((w) => w.alertKey),
        ],
        'pb_ticketing_fanout_claim',
      )
      return rows.map((r) => ({ orgId: r.org_id, eventId: r.event_id }))
    },
  }
}
