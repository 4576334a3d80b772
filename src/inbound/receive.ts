import { eq, sql } from 'drizzle-orm'
import type { InboundRequest } from '../connectors/shared/inbound.ts'
import type { ConnectorInbound } from '../connectors/types.ts'
import type { AppContext } from '../context.ts'
import { enqueueJob } from '../jobs/store.ts'
import { newId } from '../lib/ids.ts'
import { metricsOf } from '../lib/metrics.ts'
import { isSecretKey } from '../lib/redact.ts'
import { rows } from '../store/db.ts'
import { webhookEvents, webhookSources } from '../store/schema/inbound.ts'
import { analyse } from './analysis.ts'
import { inboundProcessJob } from './jobs.ts'
import { integrationPublic, type SourceRow, sourceSecrets } from './sources.ts'

/** Headers never stored: credentials of any kind, and what the vendor uses to carry the source's secret. */
const ALWAYS_DROPPED = new Set(['authorization', 'cookie', 'proxy-authorization', 'x-patchbay-secret'])

export function storableHeaders(
  headers: Record<string, string>,
  inbound: ConnectorInbound,
): Record<string, string> {
  const drop = new Set([...ALWAYS_DROPPED, ...(inbound.secretHeaders ?? [])])
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries(headers)) {
    if (drop.has(k) || isSecretKey(k.replace(/^x-/, ''))) continue
    out[k] = v
  }
  return out
}

export type ReceiveOutcome =
  | { kind: 'not_found' }
  | { kind: 'handshake'; contentType: string; body: string }
  | { kind: 'accepted'; id: string }
  | { kind: 'rejected'; message: string }
  | { kind: 'rate_limited'; retryAfterS: number }

/**
 * One request to `/hooks/<hookId>`. What the vendor signs is checked here, against the raw bytes; a good request
 * is stored with its processing job in one transaction (so a crash after the answer loses nothing) and answered at
 * once. A bad one is counted on the source and logged without its body, at most REJECT_LIMIT a minute.
 */
export async function receive(ctx: AppContext, hookId: string, req: InboundRequest): Promise<ReceiveOutcome> {
  // The unguessable hook id is what names the tenant here (no API key comes with a vendor's request).
  const [source] = await ctx.db.orm.select().from(webhookSources).where(eq(webhookSources.hookId, hookId))
  if (!source) return { kind: 'not_found' }
  const inbound = ctx.connectors.inbound(source.provider)
  if (!inbound) return { kind: 'not_found' }
  const hs = inbound.handshake?.(req)
  if (hs) return { kind: 'handshake', contentType: hs.contentType, body: hs.body }
  const now = ctx.clock.now()
  const outcome = inbound.verify(req, {
    secrets: sourceSecrets(ctx, source, now),
    now,
    integration: await integrationPublic(ctx, source),
  })
  const headers = storableHeaders(req.headers, inbound)
  if (outcome.result === 'reject') {
    const [counted] = await rows<{ n: number; start: Date }>(
      ctx.db.orm,
      sql`UPDATE webhook_sources SET
            reject_window_count = CASE WHEN reject_window_start IS NULL OR reject_window_start <= ${new Date(now.getTime() - 60_000)}
                                       THEN 1 ELSE reject_window_count + 1 END,
            reject_window_start = CASE WHEN reject_window_start IS NULL OR reject_window_start <= ${new Date(now.getTime() - 60_000)}
                                       THEN ${now}::timestamptz ELSE reject_window_start END,
            rejected_count = rejected_count + 1, last_rejected_at = ${now}
          WHERE id = ${source.id} AND org_id = ${source.orgId}
          RETURNING reject_window_count AS n, reject_window_start AS start`,
    )
    if (counted && counted.n > ctx.config.PATCHBAY_INBOUND_REJECT_LIMIT) {
      const ends = new Date(counted.start).getTime() + 60_000
      return { kind: 'rate_limited', retryAfterS: Math.max(1, Math.ceil((ends - now.getTime()) / 1000)) }
    }
    await ctx.db.orm.insert(webhookEvents).values({
      id: newId(now.getTime()),
      orgId: source.orgId,
      sourceId: source.id,
      provider: source.provider,
      status: 'rejected',
      stage: 'verify',
      headers,
      body: null,
      bodyBytes: req.body.length,
      attempts: [
        {
          stage: 'verify',
          attempt: 1,
          ok: false,
          error: outcome.message,
          errorClass: outcome.errorClass,
          durationMs: 0,
          at: now.toISOString(),
        },
      ],
      failure: { ...analyse('verify', outcome.errorClass, outcome.message, inbound.displayName) },
      receivedAt: now,
      updatedAt: now,
    })
    metricsOf(ctx).inboundEvents.inc({ provider: source.provider, status: 'rejected' })
    return { kind: 'rejected', message: outcome.message }
  }
  const id = newId(now.getTime())
  await storeAndQueue(ctx, source, {
    id,
    headers,
    body: req.body.toString('utf8'),
    bodyBytes: req.body.length,
    verified: outcome.result === 'ok' ? outcome.how : null,
    replayOf: null,
    now,
  })
  return { kind: 'accepted', id }
}

export async function storeAndQueue(
  ctx: AppContext,
  source: SourceRow,
  e: {
    id: string
    headers: Record<string, string>
    body: string
    bodyBytes: number
    verified: string | null
    replayOf: string | null
    now: Date
  },
): Promise<void> {
  const attempts = e.verified
    ? [{ stage: 'verify', attempt: 1, ok: true, detail: e.verified, durationMs: 0, at: e.now.toISOString() }]
    : []
  await ctx.db.orm.transaction(async (tx) => {
    await tx.insert(webhookEvents).values({
      id: e.id,
      orgId: source.orgId,
      sourceId: source.id,
      provider: source.provider,
      status: 'received',
      stage: e.verified ? 'parse' : 'verify',
      headers: e.headers,
      body: e.body,
      bodyBytes: e.bodyBytes,
      verified: e.verified,
      replayOf: e.replayOf,
      attempts,
      receivedAt: e.now,
      updatedAt: e.now,
    })
    await enqueueJob(tx, inboundProcessJob, { orgId: source.orgId, eventId: e.id }, e.now)
  })
  metricsOf(ctx).inboundEvents.inc({ provider: source.provider, status: 'received' })
}
