import { and, count, desc, eq, gte, lt, type SQL, sql } from 'drizzle-orm'
import { newId } from '../lib/ids.ts'
import { redact } from '../lib/redact.ts'
import type { Executor } from './db.ts'
import { auditLogs } from './schema/audit.ts'
import { orgs } from './schema/tenancy.ts'
import { offsetOf, type Page, type TenantScope } from './scope.ts'

export type AuditLog = typeof auditLogs.$inferSelect

/**
 * Who made a change: an API key (with the tenant it belongs to, so an entry that names no organization is still
 * filed where its author can read it), or Patchbay itself (a job, the CLI).
 */
export type Actor =
  | { type: 'api_key'; keyId: string; partnerId?: string | undefined; orgId?: string | undefined }
  | { type: 'system'; name: string }

export interface AuditEntry {
  actor: Actor
  orgId?: string | null
  partnerId?: string | null
  action: string
  targetType: string
  targetId?: string | null
  summary?: Record<string, unknown>
  requestId?: string | null
}

/**
 * Writes an audit entry. Call it with the same executor (transaction) as the change it records, so the change
 * and its entry are committed together or not at all. The summary is redacted here, whatever the caller passed.
 */
export async function recordAudit(db: Executor, entry: AuditEntry, now: Date): Promise<void> {
  await db.insert(auditLogs).values(auditRow(entry, now))
}

/** The row recordAudit writes, for a caller that writes it in a transaction of its own (raw SQL via toSQL). */
export function auditRow(entry: AuditEntry, now: Date): typeof auditLogs.$inferInsert {
  let orgId = entry.orgId ?? null
  let partnerId = entry.partnerId ?? null
  // A change spanning a tenant's organizations (a partner-wide retry) names none; without this it would be
  // visible to system keys only, never to the partner that made it.
  if (orgId === null && partnerId === null && entry.actor.type === 'api_key') {
    orgId = entry.actor.orgId ?? null
    partnerId = orgId === null ? (entry.actor.partnerId ?? null) : null
  }
  return {
    id: newId(now.getTime()),
    orgId,
    partnerId,
    actorKeyId: entry.actor.type === 'api_key' ? entry.actor.keyId : null,
    actorType: entry.actor.type === 'api_key' ? 'api_key' : `system:${entry.actor.name}`,
    action: entry.action,
    targetType: entry.targetType,
    targetId: entry.targetId ?? null,
    summary: redact(entry.summary ?? {}) as Record<string, unknown>,
    requestId: entry.requestId ?? null,
    createdAt: now,
  }
}

export interface AuditFilter {
  orgId?: string | undefined
  action?: string | undefined
  targetType?: string | undefined
  targetId?: string | undefined
  from?: Date | undefined
  to?: Date | undefined
}

function auditScope(scope: TenantScope): SQL | undefined {
  switch (scope.kind) {
    case 'system':
      return undefined
    case 'partner':
      return sql`(${auditLogs.partnerId} = ${scope.partnerId} OR ${auditLogs.orgId} IN (SELECT ${orgs.id} FROM ${orgs} WHERE ${orgs.partnerId} = ${scope.partnerId}))`
    case 'org':
      return eq(auditLogs.orgId, scope.orgId)
  }
}

export async function listAuditLogs(db: Executor, scope: TenantScope, filter: AuditFilter, page: Page) {
  const action = filter.action
  const where = and(
    auditScope(scope),
    filter.orgId ? eq(auditLogs.orgId, filter.orgId) : undefined,
    // "psa.connection.*" lists every PSA connection action.
    action
      ? action.endsWith('.*')
        ? sql`${auditLogs.action} LIKE ${`${action.slice(0, -1).replace(/[\\%_]/g, '\\$&')}%`}`
        : eq(auditLogs.action, action)
      : undefined,
    filter.targetType ? eq(auditLogs.targetType, filter.targetType) : undefined,
    filter.targetId ? eq(auditLogs.targetId, filter.targetId) : undefined,
    filter.from ? gte(auditLogs.createdAt, filter.from) : undefined,
    filter.to ? lt(auditLogs.createdAt, filter.to) : undefined,
  )
  const [items, [total]] = await Promise.all([
    db
      .select()
      .from(auditLogs)
      .where(where)
      .orderBy(desc(auditLogs.createdAt), desc(auditLogs.id))
      .limit(page.limit)
      .offset(offsetOf(page)),
    db.select({ n: count() }).from(auditLogs).where(where),
  ])
  return { items, total: total?.n ?? 0 }
}
