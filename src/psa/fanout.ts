import { z } from 'zod'
import type { AppContext } from '../context.ts'
import type { Fanout, StoredEvent } from '../delivery/types.ts'
import type { Querier } from '../store/db.ts'
import { automationEnabled, readSettings, severityOf, severityWanted } from './settings.ts'
import {
  type CandidateIntegration,
  candidateOf,
  chooseConnection,
  INTEGRATION_COLUMNS,
  type IntegrationRowSql,
  loadRules,
  TICKET_CAPABILITY,
} from './targets.ts'
import { alertIdOf, deviceIdOf } from './ticket-text.ts'

export const PSA_TARGET = 'psa'

/** What a PSA delivery does, in its `operation` column (other keys are ignored). */
export const psaOperation = z.object({
  action: z.enum(['create_ticket', 'acknowledge', 'escalate', 'resolve']),
  alertId: z.string(),
})
export type PsaOperation = z.output<typeof psaOperation>
export type PsaAction = PsaOperation['action']

const ACTIONS: Readonly<Record<string, PsaAction>> = {
  'alert.triggered': 'create_ticket',
  'alert.acknowledged': 'acknowledge',
  'alert.escalated': 'escalate',
  'alert.resolved': 'resolve',
}

const MAPPINGS_SQL = `
INSERT INTO psa_ticket_mappings (id, org_id, connection_id, alert_id, device_id, state, alert_status, created_at,
                                 updated_at)
SELECT patchbay_uuid_v7($1), v.org_id, v.connection_id, v.alert_id, v.device_id, 'pending', 'triggered', $1, $1
FROM unnest($2::uuid[], $3::uuid[], $4::text[], $5::text[]) AS v(org_id, connection_id, alert_id, device_id)
ON CONFLICT (connection_id, alert_id) DO NOTHING`

/** How long an alert event that came before its alert's ticket waits for it (see psa_early_alert_events). */
export const EARLY_EVENT_WINDOW_MS = 60 * 60_000

const EARLY_INSERT_SQL = `
WITH expired AS (
  DELETE FROM psa_early_alert_events WHERE created_at < $7
)
INSERT INTO psa_early_alert_events (org_id, event_id, alert_id, event_type, occurred_at, created_at)
SELECT v.org_id, v.event_id, v.alert_id, v.event_type, v.occurred_at, $1
FROM unnest($2::uuid[], $3::text[], $4::text[], $5::text[], $6::timestamptz[])
  AS v(org_id, event_id, alert_id, event_type, occurred_at)
ON CONFLICT (org_id, event_id) DO NOTHING`

const EARLY_TAKE_SQL = `
DELETE FROM psa_early_alert_events
WHERE (org_id, alert_id) IN (SELECT * FROM unnest($1::uuid[], $2::text[])) AND created_at >= $3
RETURNING org_id, event_id, alert_id, event_type, occurred_at`

const DELIVERIES_SQL = `
INSERT INTO deliveries (id, org_id, target_type, target_id, event_id, event_type, operation, status, attempts,
                        next_attempt_at, created_at, updated_at)
SELECT patchbay_uuid_v7($1), v.org_id, '${PSA_TARGET}', v.target_id, v.event_id, v.event_type, v.operation, 'pending',
       0, $1, $1, $1
FROM unnest($2::uuid[], $3::uuid[], $4::text[], $5::text[], $6::jsonb[])
  AS v(org_id, target_id, event_id, event_type, operation)
RETURNING org_id, event_id`

/**
 * Alert events become PSA ticket operations (deliveries with target type `psa`, target the connection).
 * `alert.triggered` goes to the connection routing chooses (see targets.ts) when its `autoCreateTickets` is on,
 * and claims the alert's mapping row there at once (`pending`), so later events of the alert follow it to the
 * same connection whatever routing says by then. A repeated `alert.triggered` (another event id) is delivered
 * to that connection too, where it finds the ticket and does nothing. `alert.acknowledged`, `alert.escalated` and
 * `alert.resolved` go where the alert's mapping is (the ticket may still be on its way: they wait for it), and
 * nowhere for an alert that has none, except that an escalation of an alert without a ticket (one whose severity
 * was left out when it triggered, say) is routed as a new alert: escalated into a wanted severity, it gets one.
 * Senders retry and batch, so an acknowledgement or resolution may come before its trigger: in an organization
 * with ticket automation it is kept for an hour (psa_early_alert_events) and delivered once the alert's ticket
 * is routed, if it happened at or after the trigger.
 * Events without an alert id, and organizations without PSA connections, cost one query at most.
 */
export function psaFanout(ctx: AppContext): Fanout {
  const psaProviders = () =>
    ctx.connectors
      .all()
      .filter((c) => c.descriptor.category === 'psa')
      .map((c) => c.descriptor.id)
  const candidate = candidateOf((provider) => ctx.connectors.get(provider)?.descriptor.category ?? 'unknown')

  return {
    name: 'psa',
    providers: psaProviders,
    async fanOut(q, events, now) {
      const alerts = events.filter((e) => ACTIONS[e.type] !== undefined)
      if (alerts.length === 0) return []
      const providers = psaProviders()
      const orgIds = [...new Set(alerts.map((e) => e.orgId))]
      const psaRows = await q.query<IntegrationRowSql>(
        `SELECT ${INTEGRATION_COLUMNS} FROM integrations
         WHERE org_id = ANY($1::uuid[]) AND provider = ANY($2::text[]) AND deleted_at IS NULL`,
        [orgIds, providers],
        'pb_psa_fanout_connections',
      )
      if (psaRows.length === 0) return []
      const withPsa = new Set(psaRows.map((r) => r.org_id))
      const relevant = alerts.filter((e) => withPsa.has(e.orgId))
      return routeEvents(q, relevant, now, psaRows.map(candidate), candidate)
    },
  }
}

const alertKey = (orgId: string, alertId: string) => `${orgId}\u0000${alertId}`

async function routeEvents(
  q: Querier,
  events: StoredEvent[],
  now: Date,
  psa: CandidateIntegration[],
  candidate: (r: IntegrationRowSql) => CandidateIntegration,
): Promise<{ orgId: string; eventId: string }[]> {
  const orgIds = [...new Set(events.map((e) => e.orgId))]
  const alertIds = new Set<string>()
  for (const e of events) {
    const id = alertIdOf(e.data)
    if (id) alertIds.add(id)
  }
  if (alertIds.size === 0) return []

  const byId = new Map(psa.map((c) => [c.id, c]))
  const [rulesOf, mappingRows] = await Promise.all([
    loadRules(q, orgIds, TICKET_CAPABILITY, byId, candidate),
    // The oldest live mapping of each alert wins, should routing have sent one alert to two connections.
    q.query<{ org_id: string; alert_id: string; connection_id: string }>(
      `SELECT DISTINCT ON (m.org_id, m.alert_id) m.org_id, m.alert_id, m.connection_id
       FROM psa_ticket_mappings m JOIN integrations i ON i.id = m.connection_id AND i.deleted_at IS NULL
       WHERE m.org_id = ANY($1::uuid[]) AND m.alert_id = ANY($2::text[])
       ORDER BY m.org_id, m.alert_id, m.created_at, m.id`,
      [orgIds, [...alertIds]],
      'pb_psa_fanout_mappings',
    ),
  ])
  const psaOf = new Map<string, CandidateIntegration[]>()
  for (const c of psa) psaOf.set(c.orgId, [...(psaOf.get(c.orgId) ?? []), c])
  const mapped = new Map(mappingRows.map((m) => [alertKey(m.org_id, m.alert_id), m.connection_id]))

  const newMappings: (RoutedAlert & { deviceId: string | null })[] = []
  const early: EarlyEvent[] = []
  const automatedOrgs = new Map<string, boolean>()
  const automated = (orgId: string) => {
    let yes = automatedOrgs.get(orgId)
    if (yes === undefined) {
      yes = (psaOf.get(orgId) ?? []).some((c) => automationEnabled(readSettings(c.settings)))
      automatedOrgs.set(orgId, yes)
    }
    return yes
  }
  const out: Routed[] = []
  for (const e of events) {
    const raw = e.data
    const alertId = alertIdOf(raw)
    const action = ACTIONS[e.type]
    if (!alertId || !action) continue
    const key = alertKey(e.orgId, alertId)
    let target = mapped.get(key)
    let act = action
    if (!target) {
      // An alert Patchbay made no ticket for (triggered before the connection existed, or filtered out by
      // severity) gets no notes either; escalated, it is weighed again as a new alert.
      if (action === 'escalate') act = 'create_ticket'
      if (act !== 'create_ticket') {
        if (automated(e.orgId)) {
          early.push({ orgId: e.orgId, eventId: e.id, alertId, type: e.type, occurredAt: e.occurredAt })
        }
        continue
      }
      const context = { ...(raw && typeof raw === 'object' ? (raw as Record<string, unknown>) : {}) }
      context.eventType = e.type
      const chosen = chooseConnection(rulesOf.get(e.orgId) ?? [], byId, psaOf.get(e.orgId) ?? [], context)
      if (!chosen || !severityWanted(readSettings(chosen.settings), severityOf(context))) continue
      newMappings.push({
        orgId: e.orgId,
        connectionId: chosen.id,
        alertId,
        deviceId: deviceIdOf(raw) ?? null,
        occurredAt: e.occurredAt,
      })
      // Later events of this alert in the same batch follow it.
      mapped.set(key, chosen.id)
      target = chosen.id
    }
    const operation: PsaOperation = { action: act, alertId }
    out.push({
      orgId: e.orgId,
      targetId: target,
      eventId: e.id,
      eventType: e.type,
      operation: JSON.stringify(operation),
    })
  }
  const { routed, left } = await takeEarly(q, newMappings, early, now)
  out.push(...routed)
  if (left.length > 0) {
    await q.query(
      EARLY_INSERT_SQL,
      [
        now,
        left.map((e) => e.orgId),
        left.map((e) => e.eventId),
        left.map((e) => e.alertId),
        left.map((e) => e.type),
        left.map((e) => e.occurredAt),
        new Date(now.getTime() - EARLY_EVENT_WINDOW_MS),
      ],
      'pb_psa_fanout_early_insert',
    )
  }
  if (newMappings.length > 0) {
    await q.query(
      MAPPINGS_SQL,
      [
        now,
        newMappings.map((m) => m.orgId),
        newMappings.map((m) => m.connectionId),
        newMappings.map((m) => m.alertId),
        newMappings.map((m) => m.deviceId),
      ],
      'pb_psa_fanout_insert_mappings',
    )
  }
  if (out.length === 0) return []
  const rows = await q.query<{ org_id: string; event_id: string }>(
    DELIVERIES_SQL,
    [
      now,
      out.map((o) => o.orgId),
      out.map((o) => o.targetId),
      out.map((o) => o.eventId),
      out.map((o) => o.eventType),
      out.map((o) => o.operation),
    ],
    'pb_psa_fanout_deliveries',
  )
  return rows.map((r) => ({ orgId: r.org_id, eventId: r.event_id }))
}

interface Routed {
  orgId: string
  targetId: string
  eventId: string
  eventType: string
  operation: string
}

/** An alert given its ticket mapping in this batch, and when the event that did so happened. */
interface RoutedAlert {
  orgId: string
  connectionId: string
  alertId: string
  occurredAt: Date
}

/** An alert event that came before its alert's ticket (a row of psa_early_alert_events). */
interface EarlyEvent {
  orgId: string
  eventId: string
  alertId: string
  type: string
  occurredAt: Date
}

/**
 * The alert events that came before the alerts routed now, kept from earlier batches or earlier in this one:
 * `routed` are their operations for the new tickets' connections, `left` those of this batch still waiting.
 * Those kept are taken out of keeping (older than the window, they are left to expire). Events older than the
 * trigger belong to an earlier life of the alert and are dropped.
 */
async function takeEarly(
  q: Querier,
  alerts: RoutedAlert[],
  early: EarlyEvent[],
  now: Date,
): Promise<{ routed: Routed[]; left: EarlyEvent[] }> {
  if (alerts.length === 0) return { routed: [], left: early }
  const triggers = new Map(alerts.map((r) => [alertKey(r.orgId, r.alertId), r]))
  const kept = await q.query<{
    org_id: string
    event_id: string
    alert_id: string
    event_type: string
    occurred_at: Date
  }>(
    EARLY_TAKE_SQL,
    [
      alerts.map((r) => r.orgId),
      alerts.map((r) => r.alertId),
      new Date(now.getTime() - EARLY_EVENT_WINDOW_MS),
    ],
    'pb_psa_fanout_early_take',
  )
  const candidates: EarlyEvent[] = [
    ...kept.map((k) => ({
      orgId: k.org_id,
      eventId: k.event_id,
      alertId: k.alert_id,
      type: k.event_type,
      occurredAt: new Date(k.occurred_at),
    })),
    ...early,
  ]
  const routed: Routed[] = []
  for (const c of candidates.sort((a, b) => a.occurredAt.getTime() - b.occurredAt.getTime())) {
    const trigger = triggers.get(alertKey(c.orgId, c.alertId))
    const action = ACTIONS[c.type]
    if (!trigger || !action || c.occurredAt < trigger.occurredAt) continue
    routed.push({
      orgId: c.orgId,
      targetId: trigger.connectionId,
      eventId: c.eventId,
      eventType: c.type,
      operation: JSON.stringify({ action, alertId: c.alertId } satisfies PsaOperation),
    })
  }
  return { routed, left: early.filter((e) => !triggers.has(alertKey(e.orgId, e.alertId))) }
}
