import { and, asc, desc, eq, gte, lt, or, type SQL, sql } from 'drizzle-orm'
import { type Executor, rows } from '../store/db.ts'
import { actionAttempts, actionSettings, actions } from '../store/schema/actions.ts'
import { inScope, type TenantScope } from '../store/scope.ts'

export type ActionRow = typeof actions.$inferSelect
export type ActionAttemptRow = typeof actionAttempts.$inferSelect

export const ACTION_STATUSES = [
  'pending_approval',
  'queued',
  'running',
  'completed',
  'failed',
  'rejected',
  'expired',
] as const
export type ActionStatus = (typeof ACTION_STATUSES)[number]

export interface ActionFilter {
  orgId?: string | undefined
  status?: ActionStatus | undefined
  integrationId?: string | undefined
  action?: string | undefined
  requester?: string | undefined
  from?: Date | undefined
  to?: Date | undefined
}

function encodeCursor(r: ActionRow): string {
  return Buffer.from(JSON.stringify([r.createdAt.toISOString(), r.id]), 'utf8').toString('base64url')
}

function decodeCursor(cursor: string): { at: Date; id: string } | undefined {
  try {
    const [at, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as [unknown, unknown]
    const date = typeof at === 'string' ? new Date(at) : undefined
    if (!date || Number.isNaN(date.getTime()) || typeof id !== 'string' || !/^[0-9a-f-]{36}$/i.test(id))
      return undefined
    return { at: date, id }
  } catch {
    return undefined
  }
}

export class BadCursor extends Error {}

/** Most recent first; `next` is the cursor of the following page. */
export async function listActions(
  db: Executor,
  scope: TenantScope,
  f: ActionFilter,
  page: { limit: number; cursor?: string | undefined },
): Promise<{ items: ActionRow[]; next: string | undefined }> {
  const after = page.cursor ? decodeCursor(page.cursor) : undefined
  if (page.cursor && !after) throw new BadCursor('The cursor was not issued by this listing')
  const conds: (SQL | undefined)[] = [
    inScope(scope, actions.orgId),
    f.orgId ? eq(actions.orgId, f.orgId) : undefined,
    f.status ? eq(actions.status, f.status) : undefined,
    f.integrationId ? eq(actions.integrationId, f.integrationId) : undefined,
    f.action ? eq(actions.action, f.action) : undefined,
    f.requester ? eq(actions.requestedByKeyId, f.requester) : undefined,
    f.from ? gte(actions.createdAt, f.from) : undefined,
    f.to ? lt(actions.createdAt, f.to) : undefined,
    after
      ? or(lt(actions.createdAt, after.at), and(eq(actions.createdAt, after.at), lt(actions.id, after.id)))
      : undefined,
  ]
  const rows = await db
    .select()
    .from(actions)
    .where(and(...conds))
    .orderBy(desc(actions.createdAt), desc(actions.id))
    .limit(page.limit + 1)
  const items = rows.slice(0, page.limit)
  const last = items.at(-1)
  return { items, next: rows.length > page.limit && last ? encodeCursor(last) : undefined }
}

export async function getAction(
  db: Executor,
  scope: TenantScope,
  id: string,
  opts: { forUpdate?: boolean } = {},
): Promise<ActionRow | undefined> {
  const q = db
    .select()
    .from(actions)
    .where(and(eq(actions.id, id), inScope(scope, actions.orgId)))
  const [row] = opts.forUpdate ? await q.for('update') : await q
  return row
}

export async function listAttempts(db: Executor, actionId: string): Promise<ActionAttemptRow[]> {
  return db
    .select()
    .from(actionAttempts)
    .where(eq(actionAttempts.actionId, actionId))
    .orderBy(asc(actionAttempts.startedAt), asc(actionAttempts.id))
}

/**
 * Whether `keyId` was made by `makerId`, directly or through keys made from it (api_keys.created_by_key_id
 * followed up, at most 32 steps). A key can make keys of its own scope: one made by the requester is still the
 * requester.
 */
export async function keyMadeBy(db: Executor, keyId: string, makerId: string): Promise<boolean> {
  const [found] = await rows<{ hit: boolean }>(
    db,
    sql`WITH RECURSIVE chain (id, made_by, depth) AS (
          SELECT id, created_by_key_id, 0 FROM api_keys WHERE id = ${keyId}
          UNION ALL
          SELECT k.id, k.created_by_key_id, c.depth + 1 FROM api_keys k JOIN chain c ON k.id = c.made_by
          WHERE c.depth < 32
        )
        SELECT EXISTS (SELECT 1 FROM chain WHERE made_by = ${makerId}) AS hit`,
  )
  return found?.hit === true
}

export type ApproverScope = 'any' | 'partner'

export async function getApproverScope(db: Executor, orgId: string): Promise<ApproverScope> {
  const [row] = await db.select().from(actionSettings).where(eq(actionSettings.orgId, orgId))
  return row?.approverScope === 'partner' ? 'partner' : 'any'
}

export async function setApproverScope(
  db: Executor,
  orgId: string,
  approverScope: ApproverScope,
  now: Date,
): Promise<void> {
  await db
    .insert(actionSettings)
    .values({ orgId, approverScope, updatedAt: now })
    .onConflictDoUpdate({ target: actionSettings.orgId, set: { approverScope, updatedAt: now } })
}
