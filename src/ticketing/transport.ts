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
import { type AttemptOutcome, type ClaimedDelivery, operationOf, type Transport } from '../delivery/types.ts'
import { connectorEnv } from '../integrations/verification.ts'
import { notificationFromEvent } from '../notifications/from-event.ts'
import { TargetLoader, unusable, vendorFailure } from '../notifications/targets.ts'
import { TICKETING_TARGET, type TicketingOperation, ticketingOperation } from './fanout.ts'
import { autoCreateEnabled } from './settings.ts'

/** The ticket for an alert event: the chat notification's title and facts, and the alert's identity. */
export function ticketFor(
  n: Notification,
  op: TicketingOperation,
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
      const op = operationOf(ticketingOperation, d)
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
