import { and, asc, count, desc, eq, gte, inArray, isNull, lt, or, type SQL, sql } from 'drizzle-orm'
import type { Executor } from './db.ts'
import { integrationProbes, integrations, routingRules } from './schema/integrations.ts'
import { inScope, offsetOf, type Page, type TenantScope } from './scope.ts'

export type IntegrationRow = typeof integrations.$inferSelect
export type NewIntegrationRow = typeof integrations.$inferInsert
export type IntegrationStatus = IntegrationRow['status']
export type ProbeRow = typeof integrationProbes.$inferSelect
export type RoutingRuleRow = typeof routingRules.$inferSelect

// ---- integrations ----

export async function insertIntegration(db: Executor, row: NewIntegrationRow): Promise<IntegrationRow> {
  const [created] = await db.insert(integrations).values(row).returning()
  return created as IntegrationRow
}

/** A live (not deleted) integration the scope can reach; `forUpdate` locks it for the transaction. */
export async function getIntegrationRow(
  db: Executor,
  scope: TenantScope,
  id: string,
  opts: { forUpdate?: boolean } = {},
): Promise<IntegrationRow | undefined> {
  const q = db
    .select()
    .from(integrations)
    .where(and(eq(integrations.id, id), inScope(scope, integrations.orgId), isNull(integrations.deletedAt)))
  const [row] = opts.forUpdate ? await q.for('update') : await q
  return row
}

export interface IntegrationFilter {
  orgId?: string | undefined
  status?: IntegrationStatus | undefined
  provider?: string | undefined
  /** Only these providers (a category, resolved through the registry). */
  providers?: string[] | undefined
  name?: string | undefined
}

function filterWhere(scope: TenantScope, f: IntegrationFilter): SQL | undefined {
  return and(
    inScope(scope, integrations.orgId),
    isNull(integrations.deletedAt),
    f.orgId ? eq(integrations.orgId, f.orgId) : undefined,
    f.status ? eq(integrations.status, f.status) : undefined,
    f.provider ? eq(integrations.provider, f.provider) : undefined,
    f.providers ? (f.providers.length ? inArray(integrations.provider, f.providers) : sql`false`) : undefined,
    f.name !== undefined ? sql`lower(${integrations.name}) = lower(${f.name})` : undefined,
  )
}

export async function listIntegrationRows(
  db: Executor,
  scope: TenantScope,
  filter: IntegrationFilter,
  page: Page,
): Promise<{ items: IntegrationRow[]; total: number }> {
  const where = filterWhere(scope, filter)
  const [items, [total]] = await Promise.all([
    db
      .select()
      .from(integrations)
      .where(where)
      .orderBy(desc(integrations.createdAt), desc(integrations.id))
      .limit(page.limit)
      .offset(offsetOf(page)),
    db.select({ n: count() }).from(integrations).where(where),
  ])
  return { items, total: total?.n ?? 0 }
}

/** Every live integration matching the filter, oldest first (no paging; for status pages and doors). */
export async function allIntegrationRows(
  db: Executor,
  scope: TenantScope,
  filter: IntegrationFilter,
): Promise<IntegrationRow[]> {
  return db
    .select()
    .from(integrations)
    .where(filterWhere(scope, filter))
    .orderBy(asc(integrations.createdAt), asc(integrations.id))
}

export async function updateIntegrationRow(
  db: Executor,
  id: string,
  set: Partial<NewIntegrationRow>,
): Promise<IntegrationRow> {
  const [row] = await db.update(integrations).set(set).where(eq(integrations.id, id)).returning()
  return row as IntegrationRow
}

/** Providers the organization has a live integration for. */
export async function configuredProviders(db: Executor, orgId: string): Promise<Set<string>> {
  const found = await db
    .selectDistinct({ provider: integrations.provider })
    .from(integrations)
    .where(and(eq(integrations.orgId, orgId), isNull(integrations.deletedAt)))
  return new Set(found.map((r) => r.provider))
}

/** Serialises instance creation per organization and provider (names, the default) across processes. */
export async function lockProvider(db: Executor, orgId: string, provider: string): Promise<void> {
  await db.execute(sql`SELECT pg_advisory_xact_lock(hashtext(${`integrations:${orgId}:${provider}`}))`)
}

// ---- probes ----

export async function insertProbe(db: Executor, row: typeof integrationProbes.$inferInsert): Promise<void> {
  await db.insert(integrationProbes).values(row)
}

export async function probesSince(db: Executor, integrationIds: string[], since: Date): Promise<ProbeRow[]> {
  if (integrationIds.length === 0) return []
  return db
    .select()
    .from(integrationProbes)
    .where(
      and(inArray(integrationProbes.integrationId, integrationIds), gte(integrationProbes.probedAt, since)),
    )
    .orderBy(asc(integrationProbes.probedAt), asc(integrationProbes.id))
}

export async function deleteProbesBefore(db: Executor, before: Date): Promise<number> {
  const gone = await db
    .delete(integrationProbes)
    .where(lt(integrationProbes.probedAt, before))
    .returning({ id: integrationProbes.id })
  return gone.length
}

// ---- routing rules ----

export async function insertRoutingRule(
  db: Executor,
  row: typeof routingRules.$inferInsert,
): Promise<RoutingRuleRow> {
  const [created] = await db.insert(routingRules).values(row).returning()
  return created as RoutingRuleRow
}

export async function getRoutingRule(
  db: Executor,
  scope: TenantScope,
  id: string,
  opts: { forUpdate?: boolean } = {},
): Promise<RoutingRuleRow | undefined> {
  const q = db
    .select()
    .from(routingRules)
    .where(and(eq(routingRules.id, id), inScope(scope, routingRules.orgId)))
  const [row] = opts.forUpdate ? await q.for('update') : await q
  return row
}

export async function listRoutingRules(
  db: Executor,
  scope: TenantScope,
  filter: { orgId?: string | undefined; capability?: string | undefined; integrationId?: string | undefined },
  page: Page,
): Promise<{ items: RoutingRuleRow[]; total: number }> {
  const where = and(
    inScope(scope, routingRules.orgId),
    filter.orgId ? eq(routingRules.orgId, filter.orgId) : undefined,
    filter.capability ? eq(routingRules.capability, filter.capability) : undefined,
    filter.integrationId
      ? or(
          eq(routingRules.integrationId, filter.integrationId),
          eq(routingRules.fallbackIntegrationId, filter.integrationId),
        )
      : undefined,
  )
  const [items, [total]] = await Promise.all([
    db
      .select()
      .from(routingRules)
      .where(where)
      .orderBy(asc(routingRules.capability), desc(routingRules.priority), asc(routingRules.createdAt))
      .limit(page.limit)
      .offset(offsetOf(page)),
    db.select({ n: count() }).from(routingRules).where(where),
  ])
  return { items, total: total?.n ?? 0 }
}

/** An organization's rules for one capability, in evaluation order: priority high to low, then oldest. */
export async function rulesForCapability(
  db: Executor,
  orgId: string,
  capability: string,
): Promise<RoutingRuleRow[]> {
  return db
    .select()
    .from(routingRules)
    .where(and(eq(routingRules.orgId, orgId), eq(routingRules.capability, capability)))
    .orderBy(desc(routingRules.priority), asc(routingRules.createdAt), asc(routingRules.id))
}

export async function rulesReferencing(
  db: Executor,
  orgId: string,
  integrationId: string,
): Promise<RoutingRuleRow[]> {
  return db
    .select()
    .from(routingRules)
    .where(
      and(
        eq(routingRules.orgId, orgId),
        or(
          eq(routingRules.integrationId, integrationId),
          eq(routingRules.fallbackIntegrationId, integrationId),
        ),
      ),
    )
    .orderBy(asc(routingRules.createdAt), asc(routingRules.id))
}

export async function updateRoutingRule(
  db: Executor,
  id: string,
  set: Partial<typeof routingRules.$inferInsert>,
): Promise<RoutingRuleRow> {
  const [row] = await db.update(routingRules).set(set).where(eq(routingRules.id, id)).returning()
  return row as RoutingRuleRow
}

/** Clears `is_default` on the organization's rules for the capability; returns the rules it was cleared on. */
export async function clearDefaultRule(db: Executor, orgId: string, capability: string): Promise<string[]> {
  const cleared = await db
    .update(routingRules)
    .set({ isDefault: false })
    .where(
      and(
        eq(routingRules.orgId, orgId),
        eq(routingRules.capability, capability),
        eq(routingRules.isDefault, true),
      ),
    )
    .returning({ id: routingRules.id })
  return cleared.map((r) => r.id)
}

export async function deleteRoutingRuleRow(db: Executor, id: string): Promise<void> {
  await db.delete(routingRules).where(eq(routingRules.id, id))
}
