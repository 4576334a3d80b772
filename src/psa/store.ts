import { and, asc, count, desc, eq, gt, inArray, isNotNull, isNull, lt, or, type SQL, sql } from 'drizzle-orm'
import type { ExternalTicket } from '../connectors/types.ts'
import { type Executor, rows } from '../store/db.ts'
import { integrations } from '../store/schema/integrations.ts'
import { psaSyncRuns, psaTicketMappings } from '../store/schema/psa.ts'
import { inScope, offsetOf, type Page, type TenantScope } from '../store/scope.ts'

export type MappingRow = typeof psaTicketMappings.$inferSelect
export type SyncRunRow = typeof psaSyncRuns.$inferSelect

// ---- ticket mappings ----

export interface MappingFilter {
  orgId?: string | undefined
  connectionId?: string | undefined
}

/** Mappings with a ticket, of live connections the scope reaches; newest first. */
export async function listMappings(
  db: Executor,
  scope: TenantScope,
  filter: MappingFilter,
  page: Page,
): Promise<{ items: MappingRow[]; total: number }> {
  const where = and(
    inScope(scope, psaTicketMappings.orgId),
    isNotNull(psaTicketMappings.externalTicketId),
    isNull(integrations.deletedAt),
    filter.orgId ? eq(psaTicketMappings.orgId, filter.orgId) : undefined,
    filter.connectionId ? eq(psaTicketMappings.connectionId, filter.connectionId) : undefined,
  )
  const join = eq(integrations.id, psaTicketMappings.connectionId)
  const [items, [total]] = await Promise.all([
    db
      .select({ m: psaTicketMappings })
      .from(psaTicketMappings)
      .innerJoin(integrations, join)
      .where(where)
      .orderBy(desc(psaTicketMappings.createdAt), desc(psaTicketMappings.id))
      .limit(page.limit)
      .offset(offsetOf(page)),
    db.select({ n: count() }).from(psaTicketMappings).innerJoin(integrations, join).where(where),
  ])
  return { items: items.map((r) => r.m), total: total?.n ?? 0 }
}

export async function getMapping(
  db: Executor,
  orgId: string,
  connectionId: string,
  alertId: string,
): Promise<MappingRow | undefined> {
  const [row] = await db
    .select()
    .from(psaTicketMappings)
    .where(
      and(
        eq(psaTicketMappings.orgId, orgId),
        eq(psaTicketMappings.connectionId, connectionId),
        eq(psaTicketMappings.alertId, alertId),
      ),
    )
  return row
}

export type Claim =
  | { kind: 'claimed'; mapping: MappingRow }
  /** The ticket exists already. */
  | { kind: 'exists'; mapping: MappingRow }
  /** Another attempt is creating it right now; its claim holds until `until`. */
  | { kind: 'busy'; mapping: MappingRow; until: Date }
  /** The connection is gone. */
  | { kind: 'gone' }

/**
 * Takes the right to create the alert's ticket on the connection, for this delivery: the mapping row (made at
 * ingest, or here for a delivery requeued after its row was removed) moves to `creating` under this delivery's
 * claim, unless the ticket exists or another attempt holds an unexpired claim. Row-level locking makes two
 * concurrent claims resolve to one winner. A delivery re-attempting keeps its own claim.
 */
export async function claimMapping(
  db: Executor,
  c: {
    orgId: string
    connectionId: string
    alertId: string
    deviceId: string | null
    deliveryId: string
    now: Date
    until: Date
    newId: string
  },
): Promise<Claim> {
  await db.execute(sql`
    INSERT INTO psa_ticket_mappings (id, org_id, connection_id, alert_id, device_id, state, alert_status,
                                     created_at, updated_at)
    SELECT ${c.newId}, ${c.orgId}, ${c.connectionId}, ${c.alertId}, ${c.deviceId}, 'pending', 'triggered',
           ${c.now}, ${c.now}
    WHERE EXISTS (SELECT 1 FROM integrations WHERE id = ${c.connectionId} AND org_id = ${c.orgId}
                  AND deleted_at IS NULL)
    ON CONFLICT (connection_id, alert_id) DO NOTHING`)
  const key = and(
    eq(psaTicketMappings.orgId, c.orgId),
    eq(psaTicketMappings.connectionId, c.connectionId),
    eq(psaTicketMappings.alertId, c.alertId),
  )
  const [claimed] = await db
    .update(psaTicketMappings)
    .set({ state: 'creating', claimedBy: c.deliveryId, claimUntil: c.until, updatedAt: c.now })
    .where(
      and(
        key,
        isNull(psaTicketMappings.externalTicketId),
        or(
          sql`${psaTicketMappings.state} <> 'creating'`,
          sql`${psaTicketMappings.claimUntil} <= ${c.now}`,
          eq(psaTicketMappings.claimedBy, c.deliveryId),
        ),
      ),
    )
    .returning()
  if (claimed) return { kind: 'claimed', mapping: claimed }
  const [row] = await db.select().from(psaTicketMappings).where(key)
  if (!row) return { kind: 'gone' }
  if (row.externalTicketId) return { kind: 'exists', mapping: row }
  return { kind: 'busy', mapping: row, until: row.claimUntil ?? c.now }
}

/**
 * Records the created ticket on the mapping, unless one was recorded meanwhile (the claim ran out and another
 * attempt finished first): returns the mapping as it stands, and whether this ticket is the recorded one.
 */
export async function recordCreatedTicket(
  db: Executor,
  mappingId: string,
  ticket: ExternalTicket,
  title: string,
  now: Date,
): Promise<{ mapping: MappingRow | undefined; recorded: boolean }> {
  const [updated] = await db
    .update(psaTicketMappings)
    .set({
      externalTicketId: ticket.id,
      externalTicketNumber: ticket.number ?? null,
      externalTicketUrl: ticket.url,
      status: ticket.status,
      title: ticket.title ?? title,
      state: 'created',
      claimedBy: null,
      claimUntil: null,
      lastError: null,
      lastSyncAt: now,
      updatedAt: now,
    })
    .where(and(eq(psaTicketMappings.id, mappingId), isNull(psaTicketMappings.externalTicketId)))
    .returning()
  if (updated) return { mapping: updated, recorded: true }
  const [current] = await db.select().from(psaTicketMappings).where(eq(psaTicketMappings.id, mappingId))
  return { mapping: current, recorded: current?.externalTicketId === ticket.id }
}

/** Gives the claim up after a failed creation: `failed` when the vendor refused for good, else `pending`. */
export async function releaseClaim(
  db: Executor,
  mappingId: string,
  deliveryId: string,
  error: string,
  permanent: boolean,
  now: Date,
): Promise<void> {
  await db
    .update(psaTicketMappings)
    .set({
      state: permanent ? 'failed' : 'pending',
      claimedBy: null,
      claimUntil: null,
      lastError: error,
      updatedAt: now,
    })
    .where(
      and(
        eq(psaTicketMappings.id, mappingId),
        eq(psaTicketMappings.claimedBy, deliveryId),
        isNull(psaTicketMappings.externalTicketId),
      ),
    )
}

/**
 * Takes the alert's ticket for one follow-up operation (a note, a status change) by this delivery, so two
 * operations on one ticket never interleave: without it, an acknowledgement read before a resolution was
 * recorded could move the ticket back from resolved. Returns the mapping as it stands once taken, or undefined
 * when there is no ticket yet or another delivery holds it (until its `claimUntil`; `getMapping` tells which).
 * The creation claim uses the same columns; this one applies only once the ticket exists. `updateMapping` with
 * `claimedBy: null` gives it back.
 */
export async function claimTicket(
  db: Executor,
  c: { orgId: string; connectionId: string; alertId: string; deliveryId: string; now: Date; until: Date },
): Promise<MappingRow | undefined> {
  const [row] = await db
    .update(psaTicketMappings)
    .set({ claimedBy: c.deliveryId, claimUntil: c.until })
    .where(
      and(
        eq(psaTicketMappings.orgId, c.orgId),
        eq(psaTicketMappings.connectionId, c.connectionId),
        eq(psaTicketMappings.alertId, c.alertId),
        sql`${psaTicketMappings.externalTicketId} IS NOT NULL`,
        or(
          isNull(psaTicketMappings.claimUntil),
          sql`${psaTicketMappings.claimUntil} <= ${c.now}`,
          eq(psaTicketMappings.claimedBy, c.deliveryId),
        ),
      ),
    )
    .returning()
  return row
}

export async function updateMapping(
  db: Executor,
  id: string,
  set: Partial<
    Pick<
      MappingRow,
      'status' | 'alertStatus' | 'lastNoteEventId' | 'lastSyncAt' | 'title' | 'claimedBy' | 'claimUntil'
    >
  >,
  now: Date,
): Promise<void> {
  await db
    .update(psaTicketMappings)
    .set({ ...set, updatedAt: now })
    .where(eq(psaTicketMappings.id, id))
}

export async function deleteMappings(db: Executor, orgId: string, connectionId: string): Promise<number> {
  const gone = await db
    .delete(psaTicketMappings)
    .where(and(eq(psaTicketMappings.orgId, orgId), eq(psaTicketMappings.connectionId, connectionId)))
    .returning({ id: psaTicketMappings.id })
  return gone.length
}

export async function countMappedTickets(db: Executor, orgId: string, connectionId: string): Promise<number> {
  const [n] = await db
    .select({ n: count() })
    .from(psaTicketMappings)
    .where(
      and(
        eq(psaTicketMappings.orgId, orgId),
        eq(psaTicketMappings.connectionId, connectionId),
        isNotNull(psaTicketMappings.externalTicketId),
      ),
    )
  return n?.n ?? 0
}

/**
 * Applies tickets the vendor reported to the mappings that hold them: status and title, and the sync time.
 * Returns how many mappings matched and how many of those changed status.
 */
export async function applyTickets(
  db: Executor,
  orgId: string,
  connectionId: string,
  tickets: ExternalTicket[],
  now: Date,
): Promise<{ matched: number; changed: number }> {
  if (tickets.length === 0) return { matched: 0, changed: 0 }
  // A ticket listed twice in one page keeps its last report.
  const last = new Map(tickets.map((t) => [t.id, t]))
  const ids = [...last.keys()]
  const result = await rows<{ changed: boolean }>(
    db,
    sql`WITH v AS (
          SELECT * FROM unnest(${sql.param(ids)}::text[],
                               ${sql.param(ids.map((id) => last.get(id)?.status ?? null))}::text[],
                               ${sql.param(ids.map((id) => last.get(id)?.title ?? null))}::text[])
            AS t(ticket_id, status, title)
        ), old AS (
          SELECT m.id, m.status AS old_status, v.status, v.title
          FROM psa_ticket_mappings m JOIN v ON m.external_ticket_id = v.ticket_id
          WHERE m.org_id = ${orgId} AND m.connection_id = ${connectionId}
          FOR UPDATE OF m
        )
        UPDATE psa_ticket_mappings m
        SET status = old.status, title = COALESCE(old.title, m.title), last_sync_at = ${now},
            updated_at = CASE WHEN old.old_status IS DISTINCT FROM old.status THEN ${now} ELSE m.updated_at END
        FROM old WHERE m.id = old.id
        RETURNING old.old_status IS DISTINCT FROM old.status AS changed`,
  )
  return { matched: result.length, changed: result.filter((r) => r.changed).length }
}

/**
 * The next mapped tickets the change listing of a sync begun at `startedAt` did not report: walked in id order
 * after `after`, open alerts only (a resolved alert's ticket is followed through the change listing), plus any
 * never synced.
 */
export async function mappingsToCheck(
  db: Executor,
  orgId: string,
  connectionId: string,
  startedAt: Date,
  after: string | null,
  limit: number,
): Promise<MappingRow[]> {
  return db
    .select()
    .from(psaTicketMappings)
    .where(
      and(
        eq(psaTicketMappings.orgId, orgId),
        eq(psaTicketMappings.connectionId, connectionId),
        isNotNull(psaTicketMappings.externalTicketId),
        after ? gt(psaTicketMappings.id, after) : undefined,
        or(isNull(psaTicketMappings.lastSyncAt), lt(psaTicketMappings.lastSyncAt, startedAt)),
        or(isNull(psaTicketMappings.lastSyncAt), sql`${psaTicketMappings.alertStatus} <> 'resolved'`) as SQL,
      ),
    )
    .orderBy(asc(psaTicketMappings.id))
    .limit(limit)
}

// ---- sync runs ----

/**
 * Queues a sync of the connection, or returns the one already queued or running (at most one at a time; the
 * partial unique index settles concurrent requests).
 */
export async function queueSyncRun(
  db: Executor,
  r: { id: string; orgId: string; connectionId: string; trigger: 'manual' | 'scheduled'; now: Date },
): Promise<{ run: SyncRunRow; created: boolean }> {
  const inserted = await rows<{ id: string }>(
    db,
    sql`INSERT INTO psa_sync_runs (id, org_id, connection_id, trigger, status, phase, queued_at, updated_at)
        VALUES (${r.id}, ${r.orgId}, ${r.connectionId}, ${r.trigger}, 'queued', 'changes', ${r.now}, ${r.now})
        ON CONFLICT (connection_id) WHERE status IN ('queued', 'running') DO NOTHING
        RETURNING id`,
  )
  const [run] = await db
    .select()
    .from(psaSyncRuns)
    .where(
      and(
        eq(psaSyncRuns.connectionId, r.connectionId),
        eq(psaSyncRuns.orgId, r.orgId),
        inArray(psaSyncRuns.status, ['queued', 'running']),
      ),
    )
  if (!run) throw new Error('sync run vanished after it was queued')
  return { run, created: inserted.length > 0 }
}

export async function getSyncRun(db: Executor, orgId: string, id: string): Promise<SyncRunRow | undefined> {
  const [row] = await db
    .select()
    .from(psaSyncRuns)
    .where(and(eq(psaSyncRuns.id, id), eq(psaSyncRuns.orgId, orgId)))
  return row
}

export async function updateSyncRun(
  db: Executor,
  id: string,
  set: Partial<typeof psaSyncRuns.$inferInsert>,
): Promise<SyncRunRow | undefined> {
  const [row] = await db.update(psaSyncRuns).set(set).where(eq(psaSyncRuns.id, id)).returning()
  return row
}

/** The latest sync of each connection. */
export async function latestSyncRuns(
  db: Executor,
  connectionIds: string[],
): Promise<Map<string, SyncRunRow>> {
  if (connectionIds.length === 0) return new Map()
  const found = await db
    .selectDistinctOn([psaSyncRuns.connectionId])
    .from(psaSyncRuns)
    .where(inArray(psaSyncRuns.connectionId, connectionIds))
    .orderBy(psaSyncRuns.connectionId, desc(psaSyncRuns.queuedAt), desc(psaSyncRuns.id))
  return new Map(found.map((r) => [r.connectionId, r]))
}

/**
 * Where a new sync's change listing starts: when the last completed sync started (changes made while it ran are
 * seen again, harmlessly), or for a first sync when the connection's first ticket was mapped.
 */
export async function changesSince(db: Executor, orgId: string, connectionId: string): Promise<Date | null> {
  const [previous] = await db
    .select({ startedAt: psaSyncRuns.startedAt })
    .from(psaSyncRuns)
    .where(
      and(
        eq(psaSyncRuns.orgId, orgId),
        eq(psaSyncRuns.connectionId, connectionId),
        eq(psaSyncRuns.status, 'completed'),
      ),
    )
    .orderBy(desc(psaSyncRuns.startedAt))
    .limit(1)
  if (previous?.startedAt) return previous.startedAt
  const [first] = await db
    .select({ at: sql<Date | string | null>`min(${psaTicketMappings.createdAt})` })
    .from(psaTicketMappings)
    .where(and(eq(psaTicketMappings.orgId, orgId), eq(psaTicketMappings.connectionId, connectionId)))
  return first?.at ? new Date(first.at) : null
}

export async function deleteSyncRuns(db: Executor, orgId: string, connectionId: string): Promise<void> {
  await db
    .delete(psaSyncRuns)
    .where(and(eq(psaSyncRuns.orgId, orgId), eq(psaSyncRuns.connectionId, connectionId)))
}
