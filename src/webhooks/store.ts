import { and, count, desc, eq, getTableColumns, type SQL, sql } from 'drizzle-orm'
import { type Executor, rows } from '../store/db.ts'
import { deliveries, deliveryDayCounts, deliveryQueue, events, webhooks } from '../store/schema/delivery.ts'
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

/**
 * Whether the queue row waits behind its target's open circuit (not the trial): due at the hold's time, which is
 * only how long it waits at most — the trial succeeding brings it back sooner (see src/delivery/circuit.ts).
 */
const heldBack = sql`(${deliveryQueue.leaseUntil} IS NULL AND EXISTS (SELECT 1 FROM delivery_holds h
  WHERE h.target_id = ${deliveryQueue.targetId} AND h.until = ${deliveryQueue.nextAttemptAt}))`

/**
 * When it is next due: the queue knows (claims, circuit breakers and reaping move it without a history write).
 * Null while it is held back by an open circuit: that time is not when it will be attempted (issue 19, item 4);
 * `heldUntil` says how long it waits at most.
 */
const liveNext =
  sql<Date | null>`CASE WHEN ${heldBack} THEN NULL ELSE COALESCE(${deliveryQueue.nextAttemptAt}, ${deliveries.nextAttemptAt}) END`.mapWith(
    deliveries.nextAttemptAt,
  )
const liveHeldUntil = sql<Date | null>`CASE WHEN ${heldBack} THEN ${deliveryQueue.nextAttemptAt} END`.mapWith(
  deliveries.nextAttemptAt,
)

/**
 * A delivery's status as the API shows it: the history row's, except `in_progress` while a worker holds it (the
 * lease lives in the queue, so taking it does not rewrite the history row).
 */
const liveStatus = sql<
  DeliveryRow['status']
>`CASE WHEN ${deliveryQueue.leaseUntil} IS NOT NULL THEN 'in_progress'::delivery_status ELSE ${deliveries.status} END`

/**
 * A webhook's deliveries by status. The days before the counted-through day (countedThrough) are summed from
 * their per-day counts (delivery_day_counts, kept exact by triggers on those days' partitions: drizzle/0021), the
 * later days and the default partition counted from the history (today's rows: every day that ended is counted
 * since drizzle/0026; the other partitions pruned by id when planning). Then the few deliveries the queue holds
 * under a lease move to in-progress.
 */
export async function deliveryStats(db: Executor, orgId: string, webhookId: string): Promise<DeliveryStats> {
  const day = await countedThrough(db)
  const through = sql`${idFloor(Date.parse(day))}::uuid`
  const [byStatus, leased] = await Promise.all([
    rows<{ status: DeliveryRow['status']; n: number; last: string | Date | null }>(
      db,
      sql`SELECT status, sum(n)::int AS n, max(last) AS last FROM (
            SELECT c.status, c.n, c.last_delivered_at AS last FROM delivery_day_counts c
            WHERE c.target_id = ${webhookId} AND c.org_id = ${orgId} AND c.day < ${day}::date
            UNION ALL
            SELECT d.status, count(*), max(d.delivered_at) FROM ${deliveries} d
            WHERE d.org_id = ${orgId} AND d.target_id = ${webhookId} AND d.id >= ${through}
            GROUP BY d.status
            UNION ALL
            SELECT d.status, count(*), max(d.delivered_at) FROM deliveries_default d
            WHERE d.org_id = ${orgId} AND d.target_id = ${webhookId} AND d.id < ${through}
            GROUP BY d.status
          ) s GROUP BY status`,
    ),
    leasedByStatus(db, orgId, webhookId),
  ])
  const stats: DeliveryStats = {
    total: 0,
    pending: 0,
    inProgress: 0,
    delivered: 0,
    failed: 0,
    retrying: 0,
    lastDeliveredAt: null,
  }
  for (const r of byStatus) {
    stats.total += r.n
    if (r.status === 'in_progress') stats.inProgress += r.n
    else stats[r.status] += r.n
    const last = r.last ? new Date(r.last) : null
    if (last && (!stats.lastDeliveredAt || last > stats.lastDeliveredAt)) stats.lastDeliveredAt = last
  }
  for (const r of leased) {
    if (r.status !== 'in_progress') stats[r.status] -= r.n
    stats.inProgress += r.n
  }
  return stats
}

/**
 * The history statuses of a webhook's deliveries a worker holds under a lease (usually none or a few). The queue
 * is read first and the history by those ids, bounded by the smallest and largest as constants: joined in one
 * statement, the history's every partition was planned (60 ms on a new connection, 2 ms after) to look up none.
 */
async function leasedByStatus(
  db: Executor,
  orgId: string,
  webhookId: string,
): Promise<{ status: DeliveryRow['status']; n: number }[]> {
  const leased = await db
    .select({ id: deliveryQueue.id })
    .from(deliveryQueue)
    .where(and(eq(deliveryQueue.targetId, webhookId), sql`${deliveryQueue.leaseUntil} IS NOT NULL`))
  if (leased.length === 0) return []
  return db
    .select({ status: deliveries.status, n: count() })
    .from(deliveries)
    .where(and(idsIn(leased.map((r) => r.id)), eq(deliveries.orgId, orgId)))
    .groupBy(deliveries.status)
}

/**
 * History rows by id: the ids, and the range they span as constants, so that planning prunes the partitions
 * outside it (an id list alone is pruned only when running, after every partition was planned).
 */
function idsIn(ids: string[]): SQL {
  // Lowercase hex compares as the uuid bytes do.
  const sorted = [...ids].sort()
  const first = sorted[0]
  const last = sorted.at(-1)
  return first === undefined
    ? sql`false`
    : sql`${deliveries.id} = ANY(${sql.param(ids)}::uuid[]) AND ${deliveries.id} >= ${first}::uuid AND ${deliveries.id} <= ${last}::uuid`
}

export type DeliveryRow = typeof deliveries.$inferSelect & {
  payload: unknown
  /** Held back by the target's open circuit until at most then (see `liveNext`); absent or null otherwise. */
  heldUntil?: Date | null
}

export interface DeliveryFilter {
  orgId?: string | undefined
  targetType?: string | undefined
  targetId?: string | undefined
  status?: DeliveryRow['status'] | undefined
  eventType?: string | undefined
  from?: Date | undefined
  to?: Date | undefined
  /** Only deliveries listed after this one (most recent first): the id is the cursor of keyset paging. */
  after?: string | undefined
}

/**
 * Totals are counted up to this many: counting every match of a broad filter costs as much as reading it, which
 * at millions of history rows is seconds. Beyond it the list says so (`totalCapped`), and pages on by cursor.
 */
export const DELIVERY_TOTAL_CAP = 10_000

/**
 * The filter on the history alone (no join). Pending, retrying and in-progress deliveries all have a queue row
 * (the enqueue trigger adds it, completion removes it), so for those statuses the caller passes what the queue
 * holds (`queued`): a few rows however large the history, looked up by id within the range of days they span,
 * rather than reading the org's whole history for them.
 */
const DAY_MS = 86_400_000

/** The smallest UUIDv7 made at millisecond `ms` (as patchbay_uuid_v7_floor). */
function idFloor(ms: number): string {
  const h = Math.min(2 ** 48 - 1, Math.max(0, Math.floor(ms)))
    .toString(16)
    .padStart(12, '0')
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-0000-0000-000000000000`
}

function deliveryWhere(scope: TenantScope, f: DeliveryFilter, queued?: Queued): SQL | undefined {
  return and(
    inScope(scope, deliveries.orgId),
    f.orgId ? eq(deliveries.orgId, f.orgId) : undefined,
    f.targetType ? eq(deliveries.targetType, f.targetType) : undefined,
    f.targetId ? eq(deliveries.targetId, f.targetId) : undefined,
    queued ? queuedIn(queued) : undefined,
    f.status === 'pending' || f.status === 'retrying' || f.status === 'delivered' || f.status === 'failed'
      ? eq(deliveries.status, f.status)
      : undefined,
    f.eventType ? eq(deliveries.eventType, f.eventType) : undefined,
    // The id (UUIDv7) is the creation time to the millisecond (floor of created_at's): for bounds in whole
    // milliseconds, created_at >= from and created_at < to are id >= floor(from) and id < floor(to). Bounding the
    // id alone reads only the days asked for, from the (org_id, id) index alone when counting.
    f.from ? sql`${deliveries.id} >= ${idFloor(f.from.getTime())}::uuid` : undefined,
    f.to ? sql`${deliveries.id} < ${idFloor(Math.ceil(f.to.getTime()))}::uuid` : undefined,
  )
}

/** The queue rows of a queued status (with a lease for in progress, without for pending and retrying). */
interface Queued {
  leased: boolean
  /** The smallest and largest of their ids; null when there are none. */
  first: string | null
  last: string | null
}

/** For the statuses only queued deliveries have: the range of ids the queue holds for them. */
async function queuedRange(db: Executor, status: DeliveryFilter['status']): Promise<Queued | undefined> {
  if (status !== 'pending' && status !== 'retrying' && status !== 'in_progress') return undefined
  const leased = status === 'in_progress'
  // uuid has no min/max in PostgreSQL 15; its text in the C collation orders as its bytes.
  const [range] = await rows<{ first: string | null; last: string | null }>(
    db,
    sql`SELECT min(id::text COLLATE "C") AS first, max(id::text COLLATE "C") AS last FROM ${deliveryQueue}
        WHERE ${deliveryQueue.leaseUntil} ${leased ? sql`IS NOT NULL` : sql`IS NULL`}`,
  )
  return { leased, first: range?.first ?? null, last: range?.last ?? null }
}

/**
 * History rows the queue holds: looked up by id, the ids read from the queue when the statement runs, within the
 * range of them as constants (the partitions outside it are pruned when planning). Given as a list of constants
 * before, planning estimated each of the thousands of ids against every index: 8-9 ms a statement at 2,000
 * queued rows. A join with the queue instead plans a merge join that can read every history row of the range.
 */
function queuedIn(q: Queued): SQL {
  if (q.first === null || q.last === null) return sql`false`
  return sql`${deliveries.id} = ANY(ARRAY(SELECT queued.id FROM delivery_queue queued
      WHERE queued.lease_until ${q.leased ? sql`IS NOT NULL` : sql`IS NULL`}))
    AND ${deliveries.id} >= ${q.first}::uuid AND ${deliveries.id} <= ${q.last}::uuid`
}

type Listed = DeliveryRow

/**
 * A page from the start (or from a cursor): the rows come whole from the history's scan in id order, window by
 * window of days (idWindows), and only they are joined with the queue and their events.
 */
async function firstPage(
  db: Executor,
  where: SQL | undefined,
  limit: number,
  windows: IdWindow[],
): Promise<Listed[]> {
  const out: Listed[] = []
  for (const w of windows) {
    if (out.length >= limit) break
    out.push(...(await windowRows(db, and(where, windowWhere(w)), limit - out.length)))
  }
  return out
}

/**
 * Id ranges of the history, newest first, that together cover it: the day before `anchorMs` and everything after,
 * the week before that, and all older. A list reads them in turn until its page is full, so a page of a busy
 * history plans and reads only the newest days' partitions (a statement plans every partition its bounds do not
 * prune, and the default partition, never pruned by an open range, would otherwise turn the ordered scan of the
 * days into a merge of all of them).
 */
interface IdWindow {
  lo?: string
  hi?: string
}

function idWindows(anchorMs: number): IdWindow[] {
  const day = Math.floor(anchorMs / DAY_MS) * DAY_MS - DAY_MS
  const recent = idFloor(day)
  const week = idFloor(day - 7 * DAY_MS)
  return [{ lo: recent }, { lo: week, hi: recent }, { hi: week }]
}

function windowWhere(w: IdWindow): SQL | undefined {
  return and(
    w.lo ? sql`${deliveries.id} >= ${w.lo}::uuid` : undefined,
    w.hi ? sql`${deliveries.id} < ${w.hi}::uuid` : undefined,
  )
}

/** The creation time (ms) of a UUIDv7 id: its first 48 bits. */
function idTime(id: string): number {
  return Number.parseInt(id.replaceAll('-', '').slice(0, 12), 16)
}

async function windowRows(db: Executor, where: SQL | undefined, limit: number): Promise<Listed[]> {
  const p = db
    .select()
    .from(deliveries)
    .where(where)
    .orderBy(desc(deliveries.id))
    .limit(limit)
    .as('page_rows')
  const cols = Object.fromEntries(
    Object.keys(getTableColumns(deliveries)).map((k) => [k, p[k as keyof typeof p]]),
  )
  const found = await db
    .select({
      d: cols as unknown as typeof deliveries._.columns,
      payload: events.data,
      status: sql<
        DeliveryRow['status']
      >`CASE WHEN ${deliveryQueue.leaseUntil} IS NOT NULL THEN 'in_progress'::delivery_status ELSE ${p.status} END`,
      next: sql<Date | null>`CASE WHEN ${heldBack} THEN NULL ELSE COALESCE(${deliveryQueue.nextAttemptAt}, ${p.nextAttemptAt}) END`.mapWith(
        p.nextAttemptAt,
      ),
      heldUntil: liveHeldUntil,
    })
    .from(p)
    .leftJoin(deliveryQueue, eq(deliveryQueue.id, p.id))
    .leftJoin(events, and(eq(events.orgId, p.orgId), eq(events.id, p.eventId)))
    .orderBy(desc(p.id))
  return found.map((r) => ({
    ...(r.d as unknown as typeof deliveries.$inferSelect),
    status: r.status,
    nextAttemptAt: r.next,
    heldUntil: r.heldUntil,
    payload: r.payload,
  }))
}

/**
 * A later page by number: the rows to skip are read from the (org_id, id) index alone, then the page's own rows
 * whole by their ids (idsIn: the range they span prunes the other partitions when planning). Joined in one
 * statement, the lookup by id planned every partition of the history a second time.
 */
async function skippingPage(db: Executor, where: SQL | undefined, page: Page): Promise<Listed[]> {
  const found = await db
    .select({ id: deliveries.id })
    .from(deliveries)
    .where(where)
    .orderBy(desc(deliveries.id))
    .limit(page.limit)
    .offset(offsetOf(page))
  if (found.length === 0) return []
  return windowRows(db, idsIn(found.map((r) => r.id)), found.length)
}

/**
 * The first day not counted in delivery_day_counts (drizzle/0021), `YYYY-MM-DD`: every day before it is counted.
 * Read on its own so the statements that count take it as a constant: the planner then prunes the history's
 * partitions by it when planning (given as a subquery, it planned every partition, tens of milliseconds, then
 * pruned them when running). The day only moves on, and a day stays counted while its partition exists, so the
 * counts before it and the history from it add up exactly even if a day is counted meanwhile. For the same reason
 * a day read a minute ago is as exact as today's (it only counts a day more from the history), so it is kept that
 * long per database handle: a list's count then waits for one statement, not two.
 */
async function countedThrough(db: Executor): Promise<string> {
  const now = Date.now()
  const known = countedThroughSeen.get(db)
  if (known && now - known.at < COUNTED_THROUGH_TTL_MS) return known.day
  const [row] = await rows<{ day: string | null }>(
    db,
    sql`SELECT (SELECT to_char(t.day, 'YYYY-MM-DD') FROM delivery_counted_through t) AS day`,
  )
  const day = row?.day ?? '1970-01-01'
  countedThroughSeen.set(db, { day, at: now })
  return day
}

const COUNTED_THROUGH_TTL_MS = 60_000
const countedThroughSeen = new WeakMap<Executor, { day: string; at: number }>()

/**
 * A filter by organization, target (and its type) and finished status only is counted from the per-day counts for the days that
 * ended (a few rows per day) and from the history for the rest (the days not counted yet, and the default
 * partition's older ids), in one statement. Reading up to DELIVERY_TOTAL_CAP index entries instead costs tens of
 * milliseconds at millions of rows, and a status filter on days still being written reads their rows too.
 * Returns undefined for the filters it cannot count (event type, time bounds, queued statuses).
 */
async function countFromDays(
  db: Executor,
  scope: TenantScope,
  f: DeliveryFilter,
  where: SQL | undefined,
): Promise<number | undefined> {
  if (f.eventType || f.from || f.to) return undefined
  if (f.status && f.status !== 'delivered' && f.status !== 'failed') return undefined
  const day = await countedThrough(db)
  const through = sql`${idFloor(Date.parse(day))}::uuid`
  const days = db
    .select({ n: sql`COALESCE(sum(${deliveryDayCounts.n}), 0)::bigint`.as('n') })
    .from(deliveryDayCounts)
    .where(
      and(
        inScope(scope, deliveryDayCounts.orgId),
        f.orgId ? eq(deliveryDayCounts.orgId, f.orgId) : undefined,
        f.targetId ? eq(deliveryDayCounts.targetId, f.targetId) : undefined,
        // The counts keep the type (drizzle/0022): a type that is not the target's counts nothing, as its list
        // shows nothing.
        f.targetType ? eq(deliveryDayCounts.targetType, f.targetType) : undefined,
        f.status ? eq(deliveryDayCounts.status, f.status) : undefined,
        sql`${deliveryDayCounts.day} < ${day}::date`,
      ),
    )
  const cap = DELIVERY_TOTAL_CAP + 1
  // The default partition is aliased as the parent, so `where` (written on "deliveries") applies to it as is.
  const [row] = await rows<{ n: number }>(
    db,
    // The history is read only when the counted days hold fewer than the cap (PostgreSQL runs an uncorrelated
    // subquery when first needed): a status filter reads the rows of the days not counted yet, which have no
    // status index.
    sql`SELECT (CASE WHEN d.n >= ${cap}::bigint THEN ${cap}::bigint ELSE LEAST(d.n
          + (SELECT count(*) FROM (SELECT 1 FROM ${deliveries} WHERE ${and(where, sql`${deliveries.id} >= ${through}`)} LIMIT ${cap}) l)
          + (SELECT count(*) FROM (SELECT 1 FROM deliveries_default "deliveries" WHERE ${and(where, sql`${deliveries.id} < ${through}`)} LIMIT ${cap}) o),
          ${cap}::bigint) END)::int AS n FROM (${days}) d`,
  )
  return row?.n ?? 0
}

/** Matches of `where`, counted newest window first up to DELIVERY_TOTAL_CAP + 1. */
async function countCapped(db: Executor, where: SQL | undefined, windows: IdWindow[]): Promise<number> {
  let n = 0
  for (const w of windows) {
    if (n > DELIVERY_TOTAL_CAP) break
    const matches = db
      .select({ one: sql`1` })
      .from(deliveries)
      .where(and(where, windowWhere(w)))
      .limit(DELIVERY_TOTAL_CAP + 1 - n)
    const [counted] = await rows<{ n: number }>(db, sql`SELECT count(*)::int AS n FROM (${matches}) m`)
    n += counted?.n ?? 0
  }
  return n
}

/**
 * Delivery history, most recent first, each with its event's data as the payload. The page's ids are found on
 * the history alone (its (org_id, id) index gives them in order), and only those rows are joined
 * with the queue and their events, so skipping rows for a later page costs no joins. `after` continues from a
 * delivery of an earlier page (keyset paging: as fast at the millionth row as at the first); `page` skips pages
 * from there. `total` counts at most DELIVERY_TOTAL_CAP (`totalCapped` says there are more).
 */
export async function listDeliveries(db: Executor, scope: TenantScope, filter: DeliveryFilter, page: Page) {
  const queued = await queuedRange(db, filter.status)
  const where = deliveryWhere(scope, filter, queued)
  // The cursor is a delivery id; the list is in id order, so the rest of it is every smaller id (a constant:
  // the newer days' partitions are pruned when planning).
  const after = filter.after ? sql`${deliveries.id} < ${filter.after}::uuid` : undefined
  const now = Date.now()
  const anchor = Math.min(
    now,
    filter.after ? idTime(filter.after) : now,
    filter.to ? filter.to.getTime() : now,
  )
  // A queued status's range bounds the ids by constants already (deliveryWhere), which prunes the partitions
  // outside it when planning: one window reads it in one statement. Split into the day windows, the windows
  // beyond that range each cost a round trip and a plan that prunes everything (a count read all three).
  const whole: IdWindow[] = [{}]
  const [items, n] = await Promise.all([
    offsetOf(page) === 0
      ? firstPage(db, and(where, after), page.limit, queued ? whole : idWindows(anchor))
      : skippingPage(db, and(where, after), page),
    countFromDays(db, scope, filter, where).then(
      (n) =>
        n ??
        countCapped(
          db,
          where,
          queued ? whole : idWindows(Math.min(now, filter.to ? filter.to.getTime() : now)),
        ),
    ),
  ])
  return {
    items,
    total: Math.min(n, DELIVERY_TOTAL_CAP),
    totalCapped: n > DELIVERY_TOTAL_CAP,
  }
}

export async function getDelivery(
  db: Executor,
  scope: TenantScope,
  id: string,
): Promise<DeliveryRow | undefined> {
  const [row] = await db
    .select({
      d: deliveries,
      payload: events.data,
      status: liveStatus,
      next: liveNext,
      heldUntil: liveHeldUntil,
    })
    .from(deliveries)
    .leftJoin(deliveryQueue, eq(deliveryQueue.id, deliveries.id))
    .leftJoin(events, and(eq(events.orgId, deliveries.orgId), eq(events.id, deliveries.eventId)))
    .where(and(eq(deliveries.id, id), inScope(scope, deliveries.orgId)))
  return row
    ? {
        ...row.d,
        status: row.status,
        nextAttemptAt: row.next,
        heldUntil: row.heldUntil,
        payload: row.payload,
      }
    : undefined
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
