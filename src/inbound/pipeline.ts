import { createHash } from 'node:crypto'
import { and, eq, inArray, isNull, sql } from 'drizzle-orm'
import {
  InboundError,
  type InboundRequest,
  type Normalized,
  type TicketChange,
} from '../connectors/shared/inbound.ts'
import type { ConnectorInbound } from '../connectors/types.ts'
import type { AppContext } from '../context.ts'
import { ingestEvents } from '../delivery/ingest.ts'
import { isEventType, subscriptionMatches } from '../events/catalog.ts'
import { loadCredentials } from '../integrations/service.ts'
import { connectorEnv } from '../integrations/verification.ts'
import { type JobInfo, RetryJob } from '../jobs/define.ts'
import { metricsOf } from '../lib/metrics.ts'
import { scrubSecrets } from '../lib/redact.ts'
import { applyTickets } from '../psa/store.ts'
import { changes as changeControls } from '../store/schema/changes.ts'
import { webhookEvents } from '../store/schema/inbound.ts'
import { integrations } from '../store/schema/integrations.ts'
import { psaTicketMappings } from '../store/schema/psa.ts'
import { analyse } from './analysis.ts'
import { integrationPublic, type SourceRow, sourceOf, sourceSecrets } from './sources.ts'

export type WebhookEventRow = typeof webhookEvents.$inferSelect
export const STAGES = ['verify', 'parse', 'normalize', 'apply'] as const
export type Stage = (typeof STAGES)[number]

/** Signing keys fetched from vendors, per process (one cache per app context). */
const caches = new WeakMap<AppContext, Map<string, { value: string; expires: number }>>()
function cacheOf(ctx: AppContext) {
  const c = caches.get(ctx) ?? new Map<string, { value: string; expires: number }>()
  caches.set(ctx, c)
  return c
}

/** A signature that does not hold after the deferred check: not retried, the body is dropped like at receipt. */
class Rejected extends Error {
  constructor(
    readonly errorClass: string,
    message: string,
  ) {
    super(message)
  }
}

async function update(ctx: AppContext, e: WebhookEventRow, set: Partial<WebhookEventRow>, attempt?: object) {
  await ctx.db.orm
    .update(webhookEvents)
    .set({
      ...set,
      ...(attempt ? { attempts: sql`${webhookEvents.attempts} || ${JSON.stringify([attempt])}::jsonb` } : {}),
      updatedAt: ctx.clock.now(),
    })
    .where(and(eq(webhookEvents.id, e.id), eq(webhookEvents.orgId, e.orgId)))
  if (set.status && set.status !== 'processing')
    metricsOf(ctx).inboundEvents.inc({ provider: e.provider, status: set.status })
}

/** Platform event ids are stable per inbound event, so a retried apply is absorbed by ingest as a duplicate. */
function platformEventId(eventId: string, key: string): string {
  const k = key.length <= 60 ? key : createHash('sha256').update(key).digest('base64url').slice(0, 32)
  return `whe:${eventId}:${k}`
}

/**
 * Runs the stages an inbound event still needs, from the one it stopped at. Each stage's output is stored before
 * the next starts, so a retry (or a worker taking over a dead one's job) resumes where it stopped; the apply stage
 * is idempotent through stable platform event ids. A transient failure is retried by the job (3 times, backoff);
 * anything else, or the last retry, leaves the event `failed` with its analysis.
 */
export async function processEvent(
  ctx: AppContext,
  orgId: string,
  eventId: string,
  job: JobInfo,
): Promise<void> {
  const [found] = await ctx.db.orm
    .select()
    .from(webhookEvents)
    .where(and(eq(webhookEvents.id, eventId), eq(webhookEvents.orgId, orgId)))
  let e = found
  if (!e || e.status === 'processed' || e.status === 'failed' || e.status === 'rejected') return
  const source = await sourceOf(ctx, orgId, e.sourceId)
  const inbound = source ? ctx.connectors.inbound(source.provider) : undefined
  if (!source || !inbound) return
  await update(ctx, e, { status: 'processing' })
  const secrets = sourceSecrets(ctx, source, ctx.clock.now())
  for (const stage of STAGES) {
    if (!needs(e, stage)) continue
    const started = performance.now()
    const at = ctx.clock.now().toISOString()
    try {
      const set = await runStage(ctx, stage, e, source, inbound, secrets)
      const attempt = {
        stage,
        attempt: job.attempt,
        ok: true,
        durationMs: Math.round(performance.now() - started),
        at,
      }
      await update(ctx, e, { ...set, stage }, attempt)
      e = { ...e, ...set, stage }
    } catch (err) {
      const durationMs = Math.round(performance.now() - started)
      const raw = err instanceof Error ? err.message : String(err)
      const error = scrubSecrets(raw, secrets).slice(0, 2000)
      const errorClass =
        err instanceof InboundError || err instanceof Rejected ? err.errorClass : 'unexpected'
      const attempt = { stage, attempt: job.attempt, ok: false, error, errorClass, durationMs, at }
      const failure = analyse(stage, errorClass, error, inbound.displayName)
      if (err instanceof Rejected) {
        await update(ctx, e, { status: 'rejected', stage, body: null, failure: { ...failure } }, attempt)
        return
      }
      const transient = !(err instanceof InboundError) || err.transient
      if (transient && job.attempt < job.maxAttempts) {
        await update(ctx, e, { status: 'retrying', stage }, attempt)
        throw new RetryJob(error)
      }
      await update(ctx, e, { status: 'failed', stage, failure: { ...failure } }, attempt)
      ctx.log.warn({ webhookEvent: e.id, stage, errorClass }, 'inbound webhook event failed')
      return
    }
  }
  await update(ctx, e, { status: 'processed', processedAt: ctx.clock.now(), failure: null })
}

function needs(e: WebhookEventRow, stage: Stage): boolean {
  switch (stage) {
    case 'verify':
      return e.verified === null
    case 'parse':
      return e.parsed === null
    case 'normalize':
      return e.normalized === null
    case 'apply':
      return e.platformEvents === null
  }
}

async function runStage(
  ctx: AppContext,
  stage: Stage,
  e: WebhookEventRow,
  source: SourceRow,
  inbound: ConnectorInbound,
  secrets: string[],
): Promise<Partial<WebhookEventRow>> {
  const body = e.body ?? ''
  switch (stage) {
    case 'verify': {
      if (!inbound.verifyDeferred) throw new InboundError('unexpected', 'the request was never verified')
      const req: InboundRequest = { body: Buffer.from(body, 'utf8'), headers: e.headers, query: {} }
      const outcome = await inbound.verifyDeferred(req, {
        secrets,
        now: ctx.clock.now(),
        integration: await integrationPublic(ctx, source),
        env: connectorEnv(ctx, source.provider),
        cache: cacheOf(ctx),
      })
      if (outcome.result === 'reject') throw new Rejected(outcome.errorClass, outcome.message)
      if (outcome.result === 'defer') throw new InboundError('unexpected', 'verification did not conclude')
      return { verified: outcome.how }
    }
    case 'parse':
      return { parsed: (inbound.parse(body) ?? null) as unknown }
    case 'normalize': {
      const n = inbound.normalize(e.parsed, { receivedAt: e.receivedAt })
      for (const ev of n.events) {
        if (!isEventType(ev.type)) {
          throw new InboundError('unknown_event_type', `"${ev.type}" is not a platform event type`)
        }
      }
      return { normalized: n as unknown }
    }
    case 'apply':
      return { platformEvents: await apply(ctx, e, source, inbound, e.normalized as Normalized) }
  }
}

/**
 * Ticket changes first (their mappings must exist, or nothing is applied), then the platform events through the
 * same ingest as POST /events, then the mappings' statuses.
 */
async function apply(
  ctx: AppContext,
  e: WebhookEventRow,
  source: SourceRow,
  inbound: ConnectorInbound,
  n: Normalized,
): Promise<{ id: string; type: string }[]> {
  const { changes, changeTickets } = await matchTickets(ctx, source, inbound, n.ticketChanges)
  const now = ctx.clock.now()
  const wanted = n.events.filter(
    (ev) => !source.eventTypes || subscriptionMatches(source.eventTypes, ev.type),
  )
  const incoming = wanted.map((ev) => ({
    orgId: source.orgId,
    id: platformEventId(e.id, ev.key),
    type: ev.type,
    occurredAt:
      ev.occurredAt && !Number.isNaN(Date.parse(ev.occurredAt)) ? new Date(ev.occurredAt) : e.receivedAt,
    data: { ...ev.data, webhookEventId: e.id, webhookSourceId: source.id },
  }))
  if (incoming.length > 0) await ingestEvents(ctx.db, ctx.fanouts, incoming, now)
  for (const [connectionId, tickets] of changes) {
    await applyTickets(ctx.db.orm, source.orgId, connectionId, tickets, now)
  }
  for (const t of changeTickets) await noteChangeTicketStatus(ctx, source.orgId, t, e.receivedAt, now)
  return incoming.map((i) => ({ id: i.id, type: i.type }))
}

type Ticket = { id: string; status: string; url: string; title?: string | undefined }
/** A ticket linked to a change control rather than made by the PSA automation: its status is kept on the change. */
type ChangeTicket = {
  changeId: string
  ticketId: string
  status: string | undefined
  title: string | undefined
  changedAt: string | undefined
}

/**
 * Which ticket each change is about: one Patchbay made (a PSA ticket mapping, whose status is then applied) or one a
 * change control is linked to (its status is kept on the change, so the change's ticket widget shows the status the
 * PSA pushed without asking it again). A ticket neither knows is an error: nothing is applied.
 */
async function matchTickets(
  ctx: AppContext,
  source: SourceRow,
  inbound: ConnectorInbound,
  changes: TicketChange[],
): Promise<{ changes: Map<string, Ticket[]>; changeTickets: ChangeTicket[] }> {
  const out = new Map<string, Ticket[]>()
  const changeTickets: ChangeTicket[] = []
  if (changes.length === 0) return { changes: out, changeTickets }
  const connections = source.integrationId
    ? [source.integrationId]
    : (
        await ctx.db.orm
          .select({ id: integrations.id })
          .from(integrations)
          .where(
            and(
              eq(integrations.orgId, source.orgId),
              eq(integrations.provider, source.provider),
              isNull(integrations.deletedAt),
            ),
          )
      ).map((r) => r.id)
  for (const ch of changes) {
    const [m] =
      connections.length === 0
        ? []
        : await ctx.db.orm
            .select({ connectionId: psaTicketMappings.connectionId })
            .from(psaTicketMappings)
            .where(
              and(
                eq(psaTicketMappings.orgId, source.orgId),
                inArray(psaTicketMappings.connectionId, connections),
                eq(psaTicketMappings.externalTicketId, ch.ticketId),
              ),
            )
            .limit(1)
    const linked =
      m || connections.length === 0
        ? []
        : await ctx.db.orm
            .select({
              id: changeControls.id,
              integrationId: sql<string>`${changeControls.ticket}->>'integrationId'`,
            })
            .from(changeControls)
            .where(
              and(
                eq(changeControls.orgId, source.orgId),
                sql`${changeControls.ticket}->>'ticketId' = ${ch.ticketId}`,
                inArray(sql`${changeControls.ticket}->>'integrationId'`, connections),
              ),
            )
    const connectionId = m?.connectionId ?? linked[0]?.integrationId
    if (!connectionId) {
      throw new InboundError(
        'no_mapping',
        `no ticket mapping or change control for ${inbound.displayName} ticket ${ch.ticketId}`,
      )
    }
    const status =
      ch.status === undefined ? undefined : await statusName(ctx, source, inbound, connectionId, ch.status)
    for (const c of linked) {
      changeTickets.push({
        changeId: c.id,
        ticketId: ch.ticketId,
        status,
        title: ch.title,
        changedAt: ch.changedAt,
      })
    }
    if (!m || status === undefined) continue
    const list = out.get(m.connectionId) ?? []
    list.push({ id: ch.ticketId, status, url: '', ...(ch.title ? { title: ch.title } : {}) })
    out.set(m.connectionId, list)
  }
  return { changes: out, changeTickets }
}

/** The vendor's status as a name (ConnectWise callbacks may carry only the status id). */
async function statusName(
  ctx: AppContext,
  source: SourceRow,
  inbound: ConnectorInbound,
  connectionId: string,
  status: string,
): Promise<string> {
  if (!inbound.resolveTicketStatus) return status
  try {
    const { credentials, connector } = await loadCredentials(
      ctx,
      { kind: 'org', orgId: source.orgId },
      connectionId,
    )
    return await inbound.resolveTicketStatus(credentials, status, connectorEnv(ctx, connector.descriptor.id))
  } catch (err) {
    throw new InboundError(
      'status_lookup_failed',
      `naming status ${status}: ${err instanceof Error ? err.message : String(err)}`,
      true,
    )
  }
}

/**
 * Keeps what the PSA pushed about a change's ticket on the change (`ticket.status`, `ticket.summary`,
 * `ticket.statusUpdatedAt`: when the vendor says the ticket changed, else when the callback came); a late or replayed
 * older callback never overwrites a newer one.
 */
async function noteChangeTicketStatus(
  ctx: AppContext,
  orgId: string,
  t: ChangeTicket,
  receivedAt: Date,
  now: Date,
): Promise<void> {
  // Ordered by when the vendor says the ticket changed, or else by when the callback reached Patchbay, so a late
  // or replayed older callback cannot undo a newer status.
  const patch: Record<string, string> = { statusUpdatedAt: t.changedAt ?? receivedAt.toISOString() }
  if (t.status !== undefined) patch.status = t.status
  if (t.title !== undefined) patch.summary = t.title
  await ctx.db.orm
    .update(changeControls)
    .set({ ticket: sql`${changeControls.ticket} || ${JSON.stringify(patch)}::jsonb`, updatedAt: now })
    .where(
      and(
        eq(changeControls.orgId, orgId),
        eq(changeControls.id, t.changeId),
        sql`${changeControls.ticket}->>'ticketId' = ${t.ticketId}`,
        sql`coalesce(${changeControls.ticket}->>'statusUpdatedAt', '') <= ${patch.statusUpdatedAt}`,
      ),
    )
}
