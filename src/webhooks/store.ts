import { and, count, desc, eq, type SQL, sql } from 'drizzle-orm'
import type { Executor } from '../store/db.ts'
import { deliveries, deliveryQueue, events, webhooks } from '../store/schema/delivery.ts'
import { inScope, offsetOf, type Page, type TenantScope } from '../store/scope.ts'

export type WebhookRow = typeof webhooks.$inferSelect
export type NewWebhookRow = typeof webhooks.$inferInsert

export async function insertWebhook(db: Executor, row: NewWebhookRow): Promise<WebhookRow> {
  const [created] = await db.insert(webhooks).values(row).returning()
  return created as WebhookRow
}

export async function getWebhook(
  db: Executor,
  scope: TenantScope,
  id: string,
): Promise<WebhookRow | undefined> {
  const [row] = await db
    .select()
    .from(webhooks)
    .where(and(eq(webhooks.id, id), inScope(scope, webhooks.orgId)))
  return row
}

export async function listWebhooks(
  db: Executor,
  scope: TenantScope,
  filter: { orgId?: string | undefined; status?: WebhookRow['status'] | undefined },
  page: Page,
) {
  const where = and(
    inScope(scope, webhooks.orgId),
    filter.orgId ? eq(webhooks.orgId, filter.orgId) : undefined,
    filter.status ? eq(webhooks.status, filter.status) : undefined,
  )
  const [items, [total]] = await Promise.all([
    db
      .select()
      .from(webhooks)
      .where(where)
      .orderBy(desc(webhooks.createdAt), desc(webhooks.id))
      .limit(page.limit)
      .offset(offsetOf(page)),
    db.select({ n: count() }).from(webhooks).where(where),
  ])
  return { items, total: total?.n ?? 0 }
}

export async function updateWebhook(
  db: Executor,
  orgId: string,
  id: string,
  patch: Partial<NewWebhookRow>,
): Promise<WebhookRow | undefined> {
  const [row] = await db
    .update(webhooks)
    .set(patch)
    .where(and(eq(webhooks.id, id), eq(webhooks.orgId, orgId)))
    .returning()
  return row
}

/** Deletes a webhook and all its delivery records, as the seed documents. */
export async function deleteWebhook(db: Executor, orgId: string, id: string): Promise<number> {
  await db
    .delete(deliveries)
    .where(
      and(eq(deliveries.orgId, orgId), eq(deliveries.targetType, 'webhook'), eq(deliveries.targetId, id)),
    )
  const gone = await db
    .delete(webhooks)
    .where(and(eq(webhooks.id, id), eq(webhooks.orgId, orgId)))
    .returning({ id: webhooks.id })
  return gone.length
}

export interface DeliveryStats {
  total: number
  pending: number
  inProgress: number
  delivered: number
  failed: number
  retrying: number
  lastDeliveredAt: Date | null
}

/** When it is next due: the queue knows (claims, circuit breakers and reaping move it without a history write). */
const liveNext =
  sql<Date | null>`COALESCE(${deliveryQueue.nextAttemptAt}, ${deliveries.nextAttemptAt})`.mapWith(
    deliveries.nextAttemptAt,
  )

/**
 * A delivery's status as the API shows it: the history row's, except `in_progress` while a worker holds it (the
 * lease lives in the queue, so taking it does not rewrite the history row).
 */
const liveStatus = sql<
  DeliveryRow['status']
>`CASE WHEN ${deliveryQueue.leaseUntil} IS NOT NULL THEN 'in_progress'::delivery_status ELSE ${deliveries.status} END`

export async function deliveryStats(db: Executor, orgId: string, webhookId: string): Promise<DeliveryStats> {
  const rows = await db
    .select({ status: liveStatus, n: count(), last: sql<Date | null>`max(${deliveries.deliveredAt})` })
    .from(deliveries)
    .leftJoin(deliveryQueue, eq(deliveryQueue.id, deliveries.id))
    .where(and(eq(deliveries.orgId, orgId), eq(deliveries.targetId, webhookId)))
    .groupBy(liveStatus)
  const stats: DeliveryStats = {
    total: 0,
    pending: 0,
    inProgress: 0,
    delivered: 0,
    failed: 0,
    retrying: 0,
    lastDeliveredAt: null,
  }
  for (const r of rows) {
    stats.total += r.n
    if (r.status === 'in_progress') stats.inProgress = r.n
    else stats[r.status] = r.n
    if (r.last) stats.lastDeliveredAt = new Date(r.last)
  }
  return stats
}

export type DeliveryRow = typeof deliveries.$inferSelect & { payload: unknown }

export interface DeliveryFilter {
  orgId?: string | undefined
  targetType?: string | undefined
  targetId?: string | undefined
  status?: DeliveryRow['status'] | undefined
  eventType?: string | undefined
  from?: Date | undefined
  to?: Date | undefined
}

function deliveryWhere(scope: TenantScope, f: DeliveryFilter): SQL | undefined {
  return and(
    inScope(scope, deliveries.orgId),
    f.orgId ? eq(deliveries.orgId, f.orgId) : undefined,
    f.targetType ? eq(deliveries.targetType, f.targetType) : undefined,
    f.targetId ? eq(deliveries.targetId, f.targetId) : undefined,
    f.status === 'in_progress'
      ? sql`${deliveryQueue.leaseUntil} IS NOT NULL`
      : f.status === 'pending' || f.status === 'retrying'
        ? and(eq(deliveries.status, f.status), sql`${deliveryQueue.leaseUntil} IS NULL`)
        : f.status
          ? eq(deliveries.status, f.status)
          : undefined,
    f.eventType ? eq(deliveries.eventType, f.eventType) : undefined,
    f.from ? sql`${deliveries.createdAt} >= ${f.from}` : undefined,
    f.to ? sql`${deliveries.createdAt} < ${f.to}` : undefined,
  )
}

/** Delivery history, most recent first, each with its event's data as the payload. */
export async function listDeliveries(db: Executor, scope: TenantScope, filter: DeliveryFilter, page: Page) {
  const where = deliveryWhere(scope, filter)
  const [items, [total]] = await Promise.all([
    db
      .select({ d: deliveries, payload: events.data, status: liveStatus, next: liveNext })
      .from(deliveries)
      .leftJoin(deliveryQueue, eq(deliveryQueue.id, deliveries.id))
      .leftJoin(events, and(eq(events.orgId, deliveries.orgId), eq(events.id, deliveries.eventId)))
      .where(where)
      .orderBy(desc(deliveries.createdAt), desc(deliveries.id))
      .limit(page.limit)
      .offset(offsetOf(page)),
    db
      .select({ n: count() })
      .from(deliveries)
      .leftJoin(deliveryQueue, eq(deliveryQueue.id, deliveries.id))
      .where(where),
  ])
  return {
    items: items.map((r) => ({ ...r.d, status: r.status, nextAttemptAt: r.next, payload: r.payload })),
    total: total?.n ?? 0,
  }
}

export async function getDelivery(
  db: Executor,
  scope: TenantScope,
  id: string,
): Promise<DeliveryRow | undefined> {
  const [row] = await db
    .select({ d: deliveries, payload: events.data, status: liveStatus, next: liveNext })
    .from(deliveries)
    .leftJoin(deliveryQueue, eq(deliveryQueue.id, deliveries.id))
    .leftJoin(events, and(eq(events.orgId, deliveries.orgId), eq(events.id, deliveries.eventId)))
    .where(and(eq(deliveries.id, id), inScope(scope, deliveries.orgId)))
  return row ? { ...row.d, status: row.status, nextAttemptAt: row.next, payload: row.payload } : undefined
}

/**
 * Queues a fresh delivery for every failed delivery matching the filter that has not been retried yet (so
 * running a recovery twice does not send twice). Returns the new deliveries' ids.
 */
export async function requeueFailed(
  db: Executor,
  scope: TenantScope,
  filter: DeliveryFilter & { ids?: string[] | undefined },
  now: Date,
  limit: number,
): Promise<string[]> {
  const where = and(
    deliveryWhere(scope, { ...filter, status: 'failed' }),
    filter.ids ? sql`${deliveries.id} = ANY(${sql.param(filter.ids)}::uuid[])` : undefined,
    sql`NOT EXISTS (SELECT 1 FROM ${deliveries} r WHERE r.retry_of = ${deliveries.id})`,
  )
  const rows = (await db.execute(sql`
    INSERT INTO ${deliveries} (id, org_id, target_type, target_id, event_id, event_type, operation, status, attempts,
                               next_attempt_at, retry_of, created_at, updated_at)
    SELECT patchbay_uuid_v7(${now}), org_id, target_type, target_id, event_id, event_type, operation, 'pending', 0, ${now}, id, ${now}, ${now}
    FROM ${deliveries} WHERE ${where}
    ORDER BY created_at LIMIT ${limit}
    RETURNING id`)) as unknown as { rows: { id: string }[] }
  if (rows.rows.length > 0) await db.execute(sql`SELECT pg_notify('patchbay_deliveries', '')`)
  return rows.rows.map((r) => r.id)
}
