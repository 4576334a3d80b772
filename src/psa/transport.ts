import type { Connector, Credentials, TicketOperations } from '../connectors/types.ts'
import { VendorError } from '../connectors/vendor-error.ts'
import type { AppContext } from '../context.ts'
import { classifyStatus, type RetryPolicy } from '../delivery/policy.ts'
import { type AttemptOutcome, type ClaimedDelivery, operationOf, type Transport } from '../delivery/types.ts'
import { deliveryLeaseMs } from '../delivery/worker.ts'
import { secretValues } from '../integrations/credentials.ts'
import { IntegrationError, type IntegrationView, loadCredentials } from '../integrations/service.ts'
import { connectorEnv } from '../integrations/verification.ts'
import { newId } from '../lib/ids.ts'
import { scrubSecrets } from '../lib/redact.ts'
import type { PatchbayEvent } from '../notifications/from-event.ts'
import { PSA_TARGET, type PsaAction, type PsaOperation, psaOperation } from './fanout.ts'
import { type PsaSettings, priorityFor, queueOf, readSettings, severityOf } from './settings.ts'
import {
  claimMapping,
  claimTicket,
  getMapping,
  type MappingRow,
  recordCreatedTicket,
  releaseClaim,
  updateMapping,
} from './store.ts'
import { noteText, ticketText } from './ticket-text.ts'

/**
 * Ticket operations ride out vendor rate limits and outages, and a note waits for its ticket while the creation
 * is retried: 10 retries from 5 s doubling to 15 minutes, about 50 minutes in all. Retry-After wins when longer.
 */
export const PSA_RETRY_POLICY: RetryPolicy = {
  maxRetries: 10,
  initialDelayMs: 5_000,
  backoffMultiplier: 2,
  maxDelayMs: 15 * 60_000,
}

/** Longest a delivery waits for another attempt's claim on the same alert before looking again. */
const BUSY_WAIT_MS = 30_000

interface Target {
  integration: IntegrationView
  connector: Connector
  tickets: TicketOperations
  credentials: Credentials
  settings: PsaSettings
  secrets: string[]
}

/** 4xx other than 408, 409, 425 and 429: the request itself is wrong, and trying again cannot help. */
function refusedForGood(err: VendorError): boolean {
  if (err.status === undefined) return false
  const verdict = classifyStatus(err.status)
  return verdict === 'permanent' || verdict === 'gone'
}

function sameStatus(a: string | null | undefined, b: string): boolean {
  return !!a && a.trim().toLowerCase() === b.trim().toLowerCase()
}

function summary(action: PsaAction, m: Pick<MappingRow, 'alertId'>, t: Record<string, unknown>): string {
  return JSON.stringify({ action, alertId: m.alertId, ...t })
}

/**
 * PSA ticket operations as deliveries (`target_type` `psa`, `target_id` the connection, `operation`
 * `{action, alertId}`): create the alert's ticket, add the acknowledgement or escalation note, add the resolution
 * note and move the ticket to the connection's resolved status. The vendor's answer decides the outcome: rate limits,
 * timeouts, conflicts and outages are retried (Retry-After honoured), other refusals fail at once with the
 * vendor's message, which the delivery history shows.
 */
export function psaTransport(ctx: AppContext): Transport {
  const leaseMs = deliveryLeaseMs(ctx.config)

  async function load(d: ClaimedDelivery): Promise<Target | AttemptOutcome> {
    let loaded: Awaited<ReturnType<typeof loadCredentials>>
    try {
      loaded = await loadCredentials(ctx, { kind: 'org', orgId: d.orgId }, d.targetId)
    } catch (err) {
      if (err instanceof IntegrationError) {
        return {
          kind: 'failed',
          errorMessage:
            err.code === 'not_found' ? 'The PSA connection no longer exists; not sent' : err.message,
        }
      }
      throw err
    }
    const { integration, connector, credentials } = loaded
    if (integration.status === 'inactive')
      return { kind: 'failed', errorMessage: 'The PSA connection is paused; not sent' }
    if (!connector.tickets)
      return { kind: 'failed', errorMessage: `${connector.descriptor.displayName} has no ticket operations` }
    return {
      integration,
      connector,
      tickets: connector.tickets,
      credentials,
      settings: readSettings(integration.settings),
      secrets: secretValues(connector.descriptor.credentialSchema, credentials),
    }
  }

  async function create(d: ClaimedDelivery, op: PsaOperation, t: Target, event: PatchbayEvent) {
    const now = ctx.clock.now()
    const data = event.data
    const claim = await claimMapping(ctx.db.orm, {
      orgId: d.orgId,
      connectionId: d.targetId,
      alertId: op.alertId,
      deviceId: null,
      deliveryId: d.id,
      now,
      until: new Date(now.getTime() + leaseMs),
      newId: newId(now.getTime()),
    })
    switch (claim.kind) {
      case 'gone':
        return { kind: 'failed', errorMessage: 'The PSA connection no longer exists; not sent' } as const
      case 'exists':
        return {
          kind: 'delivered',
          responseBody: summary(op.action, claim.mapping, {
            ticketId: claim.mapping.externalTicketId,
            url: claim.mapping.externalTicketUrl,
            alreadyExisted: true,
          }),
        } as const
      case 'busy':
        return {
          kind: 'retry',
          errorMessage: `Another attempt is creating the ticket for alert ${op.alertId}; waiting for it`,
          retryAfterMs: Math.max(1000, Math.min(BUSY_WAIT_MS, claim.until.getTime() - now.getTime())),
        } as const
      case 'claimed':
        break
    }
    const text = ticketText(event, ctx.config.PATCHBAY_CONSOLE_URL)
    let ticket: Awaited<ReturnType<TicketOperations['createTicket']>>
    try {
      ticket = await t.tickets.createTicket(
        t.credentials,
        {
          title: text.title,
          description: text.description,
          queue: queueOf(t.settings),
          priority: priorityFor(t.settings, severityOf(data)),
          status: t.settings.defaultStatus,
          companyId: t.settings.companyId,
          externalRef: op.alertId,
        },
        connectorEnv(ctx, t.integration.provider),
      )
    } catch (err) {
      if (err instanceof VendorError) {
        await releaseClaim(
          ctx.db.orm,
          claim.mapping.id,
          d.id,
          scrubSecrets(err.message, t.secrets),
          refusedForGood(err),
          ctx.clock.now(),
        )
      }
      throw err
    }
    const { mapping, recorded } = await recordCreatedTicket(
      ctx.db.orm,
      claim.mapping.id,
      ticket,
      text.title,
      ctx.clock.now(),
    )
    if (!recorded) {
      // Only possible when this attempt outlived its claim and another one recorded a ticket first.
      ctx.log.warn(
        { deliveryId: d.id, connectionId: d.targetId, alertId: op.alertId, ticketId: ticket.id },
        'another attempt recorded a ticket for this alert first; this one was not recorded',
      )
    }
    ctx.log.info(
      {
        deliveryId: d.id,
        connectionId: d.targetId,
        alertId: op.alertId,
        ticketId: mapping?.externalTicketId,
      },
      'PSA ticket created',
    )
    return {
      kind: 'delivered',
      responseBody: summary(op.action, claim.mapping, {
        ticketId: ticket.id,
        number: ticket.number ?? null,
        url: ticket.url,
        status: ticket.status,
        ...(recorded ? {} : { duplicateOf: mapping?.externalTicketId ?? null }),
      }),
    } as const
  }

  async function follow(d: ClaimedDelivery, op: PsaOperation, t: Target, event: PatchbayEvent) {
    const now = ctx.clock.now()
    const mapping = await claimTicket(ctx.db.orm, {
      orgId: d.orgId,
      connectionId: d.targetId,
      alertId: op.alertId,
      deliveryId: d.id,
      now,
      until: new Date(now.getTime() + leaseMs),
    })
    if (!mapping) return notTaken(op, await getMapping(ctx.db.orm, d.orgId, d.targetId, op.alertId), now)
    try {
      return await followTaken(d, op, t, event, mapping)
    } catch (err) {
      await updateMapping(ctx.db.orm, mapping.id, { claimedBy: null, claimUntil: null }, ctx.clock.now())
      throw err
    }
  }

  /** Why a follow-up operation could not take the alert's ticket: none, none yet, or another holds it. */
  function notTaken(op: PsaOperation, found: MappingRow | undefined, now: Date): AttemptOutcome {
    if (!found) return { kind: 'failed', errorMessage: `No ticket mapping for alert ${op.alertId}; not sent` }
    if (!found.externalTicketId) {
      // Even after a creation was refused for good, its delivery may be retried once the cause is fixed: the
      // note waits as long as its own retries last.
      return {
        kind: 'retry',
        errorMessage:
          found.state === 'failed'
            ? `The ticket for alert ${op.alertId} could not be created (${found.lastError ?? 'unknown error'}); waiting in case its creation is retried`
            : `The ticket for alert ${op.alertId} does not exist yet; waiting for it to be created`,
      }
    }
    return {
      kind: 'retry',
      errorMessage: `Another operation on the ticket for alert ${op.alertId} is in progress; waiting for it`,
      retryAfterMs: Math.max(
        1000,
        Math.min(BUSY_WAIT_MS, (found.claimUntil ?? now).getTime() - now.getTime()),
      ),
    }
  }

  async function followTaken(
    d: ClaimedDelivery,
    op: PsaOperation,
    t: Target,
    event: PatchbayEvent,
    mapping: MappingRow,
  ) {
    // claimTicket takes only a mapping whose ticket exists.
    const ticketId = mapping.externalTicketId as string
    const env = connectorEnv(ctx, t.integration.provider)
    // A retried attempt does not add its note twice.
    if (mapping.lastNoteEventId !== d.eventId) {
      await t.tickets.addNote(
        t.credentials,
        ticketId,
        { text: noteText(event, ctx.config.PATCHBAY_CONSOLE_URL), internal: true },
        env,
      )
      await updateMapping(ctx.db.orm, mapping.id, { lastNoteEventId: d.eventId }, ctx.clock.now())
    }
    const resolving = op.action === 'resolve'
    const alreadyResolved = mapping.alertStatus === 'resolved'
    // An acknowledgement or escalation arriving after the resolution must not reopen the ticket.
    const wanted = resolving
      ? t.settings.statusMap?.resolved
      : alreadyResolved
        ? undefined
        : op.action === 'escalate'
          ? t.settings.statusMap?.escalated
          : t.settings.statusMap?.acknowledged
    let status = mapping.status
    let synced = false
    if (wanted && !sameStatus(mapping.status, wanted)) {
      status = (await t.tickets.updateStatus(t.credentials, ticketId, wanted, env)).status
      synced = true
    }
    const now = ctx.clock.now()
    await updateMapping(
      ctx.db.orm,
      mapping.id,
      {
        status,
        // An escalation changes the alert's tier, not whether anyone has acknowledged it.
        alertStatus:
          resolving || alreadyResolved
            ? 'resolved'
            : op.action === 'escalate'
              ? mapping.alertStatus
              : 'acknowledged',
        ...(synced ? { lastSyncAt: now } : {}),
        claimedBy: null,
        claimUntil: null,
      },
      now,
    )
    return {
      kind: 'delivered',
      responseBody: summary(op.action, mapping, { ticketId, noted: true, status }),
    } as const
  }

  return {
    type: PSA_TARGET,

    async attempt(d: ClaimedDelivery): Promise<AttemptOutcome> {
      const op = operationOf(psaOperation, d)
      if (!op) return { kind: 'failed', errorMessage: 'Not a PSA ticket operation' }
      const target = await load(d)
      if ('kind' in target) return target
      const event: PatchbayEvent = {
        id: d.eventId,
        type: d.eventType,
        orgId: d.orgId,
        timestamp: d.event.occurredAt.toISOString(),
        data: (d.event.data && typeof d.event.data === 'object' ? d.event.data : {}) as Record<
          string,
          unknown
        >,
      }
      const started = performance.now()
      const elapsed = () => Math.round(performance.now() - started)
      try {
        const outcome =
          op.action === 'create_ticket'
            ? await create(d, op, target, event)
            : await follow(d, op, target, event)
        return { ...outcome, responseTimeMs: elapsed() }
      } catch (err) {
        if (!(err instanceof VendorError)) throw err
        const message = scrubSecrets(err.message, target.secrets)
        const base = {
          responseStatus: err.status,
          responseBody: message,
          responseTimeMs: elapsed(),
          errorMessage: message,
        }
        if (refusedForGood(err)) return { kind: 'failed', ...base }
        return { kind: 'retry', ...base, retryAfterMs: err.retryAfterMs }
      }
    },

    retryPolicy() {
      return PSA_RETRY_POLICY
    },
  }
}
