import { and, desc, eq, gte, isNotNull, lt, lte, or, type SQL, sql } from 'drizzle-orm'
import type { AppContext } from '../context.ts'
import { ApiError } from '../lib/errors.ts'
import { newId } from '../lib/ids.ts'
import { recordAudit } from '../store/audit.ts'
import type { Executor } from '../store/db.ts'
import { webhookEvents } from '../store/schema/inbound.ts'
import { inScope, type TenantScope } from '../store/scope.ts'
import type { WebhookEventRow } from './pipeline.ts'
import { storeAndQueue } from './receive.ts'
import { type Change, sourceOf } from './sources.ts'

export interface EventFilter {
  orgId?: string | undefined
  sourceId?: string | undefined
  provider?: string | undefined
  status?: string | undefined
  stage?: string | undefined
  from?: Date | undefined
  to?: Date | undefined
  /** Text anywhere in the stored body. */
  q?: string | undefined
}

function conditions(scope: TenantScope, f: EventFilter): SQL | undefined {
  return and(
    inScope(scope, webhookEvents.orgId),
    f.orgId ? eq(webhookEvents.orgId, f.orgId) : undefined,
    f.sourceId ? eq(webhookEvents.sourceId, f.sourceId) : undefined,
    f.provider ? eq(webhookEvents.provider, f.provider) : undefined,
    f.status ? eq(webhookEvents.status, f.status) : undefined,
    f.stage ? eq(webhookEvents.stage, f.stage) : undefined,
    f.from ? gte(webhookEvents.receivedAt, f.from) : undefined,
    f.to ? lte(webhookEvents.receivedAt, f.to) : undefined,
    f.q ? sql`strpos(${webhookEvents.body}, ${f.q}) > 0` : undefined,
  )
}

/** Cursor: the last row's (received_at, id), most recent first. */
export function encodeCursor(e: WebhookEventRow): string {
  return Buffer.from(`${e.receivedAt.toISOString()}|${e.id}`, 'utf8').toString('base64url')
}

export function decodeCursor(c: string): { at: Date; id: string } {
  const [at, id] = Buffer.from(c, 'base64url').toString('utf8').split('|')
  const d = new Date(at ?? '')
  if (!id || Number.isNaN(d.getTime()) || !/^[0-9a-f-]{36}$/.test(id))
    throw ApiError.invalid('cursor', 'not a cursor from this list')
  return { at: d, id }
}

export async function listEvents(
  db: Executor,
  scope: TenantScope,
  f: EventFilter,
  page: { limit: number; cursor?: string | undefined },
): Promise<{ items: WebhookEventRow[]; next: string | undefined }> {
  const after = page.cursor ? decodeCursor(page.cursor) : undefined
  const rows = await db
    .select()
    .from(webhookEvents)
    .where(
      and(
        conditions(scope, f),
        after
          ? or(
              lt(webhookEvents.receivedAt, after.at),
              and(eq(webhookEvents.receivedAt, after.at), lt(webhookEvents.id, after.id)),
            )
          : undefined,
      ),
    )
    .orderBy(desc(webhookEvents.receivedAt), desc(webhookEvents.id))
    .limit(page.limit + 1)
  const items = rows.slice(0, page.limit)
  const last = items.at(-1)
  return { items, next: rows.length > page.limit && last ? encodeCursor(last) : undefined }
}

export async function getEvent(
  db: Executor,
  scope: TenantScope,
  id: string,
): Promise<WebhookEventRow | undefined> {
  const [row] = await db
    .select()
    .from(webhookEvents)
    .where(and(eq(webhookEvents.id, id), inScope(scope, webhookEvents.orgId)))
  return row
}

/**
 * Sends a stored request through the whole pipeline again as a new event (`replayOf` the original). A request that
 * was verified keeps that verification (the stored bytes are what was verified; its secret may since have been
 * rotated); one whose verification never concluded is verified again.
 */
async function replayOne(ctx: AppContext, e: WebhookEventRow): Promise<string> {
  if (e.body === null) {
    throw new ApiError(
      409,
      'not_replayable',
      `Event ${e.id} was ${e.status} and has no stored body to replay`,
    )
  }
  const source = await sourceOf(ctx, e.orgId, e.sourceId)
  if (!source) throw ApiError.notFound('Webhook source')
  const now = ctx.clock.now()
  const id = newId(now.getTime())
  await storeAndQueue(ctx, source, {
    id,
    headers: e.headers,
    body: e.body,
    bodyBytes: e.bodyBytes,
    verified: e.verified ? `replay of ${e.id}: ${e.verified}` : null,
    replayOf: e.id,
    now,
  })
  return id
}

export async function replayEvent(ctx: AppContext, e: WebhookEventRow, change: Change): Promise<string> {
  const id = await replayOne(ctx, e)
  await recordAudit(
    ctx.db.orm,
    {
      actor: change.actor,
      orgId: e.orgId,
      action: 'webhook_event.replay',
      targetType: 'webhook_event',
      targetId: e.id,
      summary: { newEventId: id },
      requestId: change.requestId ?? null,
    },
    ctx.clock.now(),
  )
  return id
}

export const MAX_BULK_REPLAY = 1000

/** Replays every matching event that has a body (oldest first), up to MAX_BULK_REPLAY. */
export async function replayMatching(
  ctx: AppContext,
  scope: TenantScope,
  f: EventFilter,
  change: Change,
): Promise<{ count: number; ids: string[] }> {
  const matching = await ctx.db.orm
    .select()
    .from(webhookEvents)
    .where(and(conditions(scope, f), isNotNull(webhookEvents.body)))
    .orderBy(webhookEvents.receivedAt, webhookEvents.id)
    .limit(MAX_BULK_REPLAY)
  const ids: string[] = []
  for (const e of matching) ids.push(await replayOne(ctx, e))
  const orgs = new Set(matching.map((e) => e.orgId))
  for (const orgId of orgs) {
    await recordAudit(
      ctx.db.orm,
      {
        actor: change.actor,
        orgId,
        action: 'webhook_event.bulk_replay',
        targetType: 'webhook_event',
        summary: {
          filter: { ...f, from: f.from?.toISOString(), to: f.to?.toISOString() },
          count: matching.filter((e) => e.orgId === orgId).length,
        },
        requestId: change.requestId ?? null,
      },
      ctx.clock.now(),
    )
  }
  return { count: ids.length, ids }
}
