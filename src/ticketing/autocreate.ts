/**
 * `autoCreate`: each new alert (`alert.triggered`) opens exactly one ticket in the organization's generic
 * ticketing system, as a delivery (`target_type` `ticketing`) on the engine. Exactly one, because the fan-out
 * claims the alert in `ticketing_alert_tickets` (unique per integration and alert) in the ingest transaction and
 * queues a delivery only when the claim is new; repeats of the event, re-triggers of the alert and a second
 * event id for it queue nothing. The claim's id is the request's Idempotency-Key, the same on every attempt.
 */

import type { Notification } from '../connectors/shared/notification.ts'
import { notificationFacts } from '../connectors/shared/notification-text.ts'
import type { GenericTicket } from '../connectors/types.ts'
import { VendorError } from '../connectors/vendor-error.ts'
import type { AppContext } from '../context.ts'
import { DEFAULT_RETRY_POLICY } from '../delivery/policy.ts'
import type { AttemptOutcome, ClaimedDelivery, Fanout, Transport } from '../delivery/types.ts'
import { connectorEnv } from '../integrations/verification.ts'
import { notificationFromEvent } from '../notifications/from-event.ts'
import { TargetLoader, unusable, vendorFailure } from '../notifications/targets.ts'
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
import { autoCreateEnabled, TICKETING_PROVIDER } from './settings.ts'

export const TICKETING_TARGET = 'ticketing'
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

interface Operation {
  alertKey: string
  requestId: string
}

function operationOf(d: ClaimedDelivery): Operation | undefined {
  const op = d.operation as Record<string, unknown> | null
  if (!op || typeof op.alertKey !== 'string' || typeof op.requestId !== 'string') return undefined
  return { alertKey: op.alertKey, requestId: op.requestId }
}

/** The ticket for an alert event: the chat notification's title and facts, and the alert's identity. */
export function ticketFor(
  n: Notification,
  op: Operation,
  projectKey: string | null,
  occurredAt: string,
): GenericTicket {
  const facts = notificationFacts(n).map((f) => `${f.name}: ${f.value}`)
  return {
    title: n.title,
    description: [n.text, '', ...facts, ...(n.link ? ['', n.link] : [])].join('\n'),
    projectKey,
    severity: n.severity,
    source: 'patchbay',
    externalRef: op.alertKey,
    alert: {
      id: n.alert?.id ?? null,
      name: n.alert?.name ?? null,
      status: n.alert?.status ?? null,
      severity: n.severity,
    },
    device: n.device ? { id: n.device.id ?? null, hostname: n.device.hostname ?? null } : null,
    org: { id: n.org.id, name: n.org.name ?? null },
    event: { id: n.eventId ?? '', type: n.eventType, timestamp: occurredAt },
    link: n.link ?? null,
  }
}

export function ticketingTransport(ctx: AppContext): Transport {
  const targets = new TargetLoader(ctx)

  return {
    type: TICKETING_TARGET,

    prepare: (batch) => targets.prepare(batch),

    async attempt(d: ClaimedDelivery): Promise<AttemptOutcome> {
      const target = targets.get(d.targetId)
      const refused = unusable(target, d)
      if (refused || !target?.credentials) return refused ?? { kind: 'failed' }
      const op = operationOf(d)
      if (!op) return { kind: 'failed', errorMessage: 'Delivery has no ticket operation' }
      if (!autoCreateEnabled(target.settings))
        return { kind: 'failed', errorMessage: 'Not created: autoCreate is off for this integration' }
      const tickets = ctx.connectors.get(target.provider)?.genericTickets
      if (!tickets)
        return { kind: 'failed', errorMessage: `Provider ${target.provider} cannot create tickets; not sent` }
      const [claim] = await ctx.db.query<{ external_id: string | null; ticket_created_at: Date | null }>(
        `SELECT external_id, ticket_created_at FROM ticketing_alert_tickets WHERE id = $1 AND org_id = $2`,
        [op.requestId, d.orgId],
      )
      if (!claim) return { kind: 'failed', errorMessage: 'The alert’s ticket claim no longer exists' }
      if (claim.ticket_created_at) {
        // An earlier attempt created it but its outcome was not recorded (the worker stopped): done already.
        return {
          kind: 'delivered',
          responseBody: `Ticket ${claim.external_id ?? '(no id)'} was already created for this alert`,
        }
      }
      const event = {
        id: d.eventId,
        type: d.eventType,
        orgId: d.orgId,
        timestamp: d.event.occurredAt.toISOString(),
        data: (d.event.data ?? {}) as Record<string, unknown>,
      }
      const n = notificationFromEvent(event, {
        consoleUrl: ctx.config.PATCHBAY_CONSOLE_URL,
        orgName: target.orgName ?? undefined,
      })
      const projectKey =
        typeof target.credentials.projectKey === 'string' ? target.credentials.projectKey : null
      const started = performance.now()
      try {
        const res = await tickets.create(
          target.credentials,
          ticketFor(n, op, projectKey, event.timestamp),
          connectorEnv(ctx, target.provider),
          { idempotencyKey: op.requestId, timeoutMs: ctx.config.PATCHBAY_DELIVERY_TIMEOUT_MS },
        )
        // Recorded at once, before the outcome: a retry after a crash then finds the ticket instead of asking again.
        await ctx.db.query(
          `UPDATE ticketing_alert_tickets SET external_id = $2, external_url = $3, ticket_created_at = $4
           WHERE id = $1 AND ticket_created_at IS NULL`,
          [op.requestId, res.id ?? null, res.url ?? null, ctx.clock.now()],
        )
        return {
          kind: 'delivered',
          responseStatus: res.status,
          responseBody: res.body,
          responseTimeMs: Math.round(performance.now() - started),
        }
      } catch (err) {
        if (err instanceof VendorError)
          return {
            ...vendorFailure(err, target.secrets),
            responseTimeMs: Math.round(performance.now() - started),
          }
        throw err
      }
    },

    retryPolicy: () => DEFAULT_RETRY_POLICY,
  }
}
