import { createHash, randomBytes } from 'node:crypto'
import { and, count, desc, eq, isNull, or, type SQL, sql } from 'drizzle-orm'
import { newId } from '../lib/ids.ts'
import type { Executor } from './db.ts'
import { apiKeys, orgs, partners } from './schema/tenancy.ts'
import { offsetOf, type Page, type TenantScope } from './scope.ts'

export type Partner = typeof partners.$inferSelect
export type Org = typeof orgs.$inferSelect
export type ApiKey = typeof apiKeys.$inferSelect
export type ApiKeyScope = ApiKey['scope']

// ---- partners ----

export async function createPartner(db: Executor, name: string, now: Date): Promise<Partner> {
  const [row] = await db
    .insert(partners)
    .values({ id: newId(now.getTime()), name, createdAt: now, updatedAt: now })
    .returning()
  return row as Partner
}

function partnerScope(scope: TenantScope): SQL | undefined {
  switch (scope.kind) {
    case 'system':
      return undefined
    case 'partner':
      return eq(partners.id, scope.partnerId)
    case 'org':
      return sql`${partners.id} = (SELECT ${orgs.partnerId} FROM ${orgs} WHERE ${orgs.id} = ${scope.orgId})`
  }
}

export async function listPartners(db: Executor, scope: TenantScope, page: Page) {
  const where = partnerScope(scope)
  const [items, [total]] = await Promise.all([
    db
      .select()
      .from(partners)
      .where(where)
      .orderBy(desc(partners.createdAt), desc(partners.id))
      .limit(page.limit)
      .offset(offsetOf(page)),
    db.select({ n: count() }).from(partners).where(where),
  ])
  return { items, total: total?.n ?? 0 }
}

export async function getPartner(db: Executor, scope: TenantScope, id: string): Promise<Partner | undefined> {
  const [row] = await db
    .select()
    .from(partners)
    .where(and(eq(partners.id, id), partnerScope(scope)))
  return row
}

// ---- organizations ----

export async function createOrg(
  db: Executor,
  input: { name: string; partnerId: string | null },
  now: Date,
): Promise<Org> {
  const [row] = await db
    .insert(orgs)
    .values({
      id: newId(now.getTime()),
      name: input.name,
      partnerId: input.partnerId,
      createdAt: now,
      updatedAt: now,
    })
    .returning()
  return row as Org
}

function orgScope(scope: TenantScope): SQL | undefined {
  switch (scope.kind) {
    case 'system':
      return undefined
    case 'partner':
      return eq(orgs.partnerId, scope.partnerId)
    case 'org':
      return eq(orgs.id, scope.orgId)
  }
}

export async function listOrgs(
  db: Executor,
  scope: TenantScope,
  filter: { partnerId?: string | undefined },
  page: Page,
) {
  const where = and(orgScope(scope), filter.partnerId ? eq(orgs.partnerId, filter.partnerId) : undefined)
  const [items, [total]] = await Promise.all([
    db
      .select()
      .from(orgs)
      .where(where)
      .orderBy(desc(orgs.createdAt), desc(orgs.id))
      .limit(page.limit)
      .offset(offsetOf(page)),
    db.select({ n: count() }).from(orgs).where(where),
  ])
  return { items, total: total?.n ?? 0 }
}

export async function getOrg(db: Executor, scope: TenantScope, id: string): Promise<Org | undefined> {
  const [row] = await db
    .select()
    .from(orgs)
    .where(and(eq(orgs.id, id), orgScope(scope)))
  return row
}

// ---- API keys ----

const TOKEN_PREFIX = 'pbk_'

export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex')
}

/**
 * What a listing shows of a token to tell keys apart: the `pbk_` type prefix and at most four characters after it
 * (four in all for an operator-chosen bootstrap token without the type prefix). Never enough to narrow a guess:
 * twelve characters were half of a 24-character bootstrap token.
 */
export function tokenPrefixOf(token: string): string {
  return token.startsWith(TOKEN_PREFIX) ? token.slice(0, TOKEN_PREFIX.length + 4) : token.slice(0, 4)
}

export function generateToken(): string {
  return `${TOKEN_PREFIX}${randomBytes(32).toString('base64url')}`
}

export interface NewApiKey {
  name: string
  scope: ApiKeyScope
  partnerId?: string | null | undefined
  orgId?: string | null | undefined
  createdByKeyId?: string | null | undefined
  /** Own rate limits (requests per minute); null or absent: the configured defaults. */
  rateLimitIngest?: number | null | undefined
  rateLimitConfig?: number | null | undefined
  /** A caller-chosen token (PATCHBAY_BOOTSTRAP_TOKEN); otherwise one is generated. */
  token?: string
}

/** Creates a key and returns its token, which exists only in this return value from now on. */
export async function createApiKey(
  db: Executor,
  input: NewApiKey,
  now: Date,
): Promise<{ key: ApiKey; token: string }> {
  const token = input.token ?? generateToken()
  const [row] = await db
    .insert(apiKeys)
    .values({
      id: newId(now.getTime()),
      name: input.name,
      scope: input.scope,
      partnerId: input.partnerId ?? null,
      orgId: input.orgId ?? null,
      tokenPrefix: tokenPrefixOf(token),
      tokenHash: hashToken(token),
      createdByKeyId: input.createdByKeyId ?? null,
      rateLimitIngest: input.rateLimitIngest ?? null,
      rateLimitConfig: input.rateLimitConfig ?? null,
      createdAt: now,
    })
    .returning()
  return { key: row as ApiKey, token }
}

function apiKeyScope(scope: TenantScope): SQL | undefined {
  switch (scope.kind) {
    case 'system':
      return undefined
    case 'partner':
      return or(
        eq(apiKeys.partnerId, scope.partnerId),
        sql`${apiKeys.orgId} IN (SELECT ${orgs.id} FROM ${orgs} WHERE ${orgs.partnerId} = ${scope.partnerId})`,
      )
    case 'org':
      return eq(apiKeys.orgId, scope.orgId)
  }
}

export async function listApiKeys(
  db: Executor,
  scope: TenantScope,
  filter: { orgId?: string | undefined; includeRevoked?: boolean },
  page: Page,
) {
  const where = and(
    apiKeyScope(scope),
    filter.orgId ? eq(apiKeys.orgId, filter.orgId) : undefined,
    filter.includeRevoked ? undefined : isNull(apiKeys.revokedAt),
  )
  const [items, [total]] = await Promise.all([
    db
      .select()
      .from(apiKeys)
      .where(where)
      .orderBy(desc(apiKeys.createdAt), desc(apiKeys.id))
      .limit(page.limit)
      .offset(offsetOf(page)),
    db.select({ n: count() }).from(apiKeys).where(where),
  ])
  return { items, total: total?.n ?? 0 }
}

export async function getApiKey(db: Executor, scope: TenantScope, id: string): Promise<ApiKey | undefined> {
  const [row] = await db
    .select()
    .from(apiKeys)
    .where(and(eq(apiKeys.id, id), apiKeyScope(scope)))
  return row
}

export async function revokeApiKey(
  db: Executor,
  scope: TenantScope,
  id: string,
  now: Date,
): Promise<ApiKey | undefined> {
  const [row] = await db
    .update(apiKeys)
    .set({ revokedAt: now })
    .where(and(eq(apiKeys.id, id), apiKeyScope(scope), isNull(apiKeys.revokedAt)))
    .returning()
  return row
}

/** Sets a live key's own rate limits (null: back to the default); undefined fields are left as they are. */
export async function setApiKeyRateLimits(
  db: Executor,
  scope: TenantScope,
  id: string,
  limits: { rateLimitIngest?: number | null | undefined; rateLimitConfig?: number | null | undefined },
): Promise<ApiKey | undefined> {
  const set = Object.fromEntries(Object.entries(limits).filter(([, v]) => v !== undefined))
  if (Object.keys(set).length === 0) return getApiKey(db, scope, id)
  const [row] = await db
    .update(apiKeys)
    .set(set)
    .where(and(eq(apiKeys.id, id), apiKeyScope(scope), isNull(apiKeys.revokedAt)))
    .returning()
  return row
}

/** The live key a bearer token belongs to, with its organization's partner for org-scoped keys. */
export async function findKeyByToken(db: Executor, token: string) {
  const [row] = await db
    .select({ key: apiKeys, orgPartnerId: orgs.partnerId })
    .from(apiKeys)
    .leftJoin(orgs, eq(orgs.id, apiKeys.orgId))
    .where(and(eq(apiKeys.tokenHash, hashToken(token)), isNull(apiKeys.revokedAt)))
  return row
}

/** A live (not revoked) key by id, as findKeyByToken returns it: for callers already authenticated another way. */
export async function findKeyById(db: Executor, id: string) {
  const [row] = await db
    .select({ key: apiKeys, orgPartnerId: orgs.partnerId })
    .from(apiKeys)
    .leftJoin(orgs, eq(orgs.id, apiKeys.orgId))
    .where(and(eq(apiKeys.id, id), isNull(apiKeys.revokedAt)))
  return row
}

const TOUCH_EVERY_MS = 60_000

/**
 * Marks a key used, at most once a minute, so a busy key does not write on every request. The key as just read
 * says whether a write is due (no round trip when not); the condition in SQL keeps concurrent requests to one.
 */
export async function touchApiKey(
  db: Executor,
  key: Pick<ApiKey, 'id' | 'lastUsedAt'>,
  now: Date,
): Promise<void> {
  const since = new Date(now.getTime() - TOUCH_EVERY_MS)
  if (key.lastUsedAt && key.lastUsedAt >= since) return
  await db
    .update(apiKeys)
    .set({ lastUsedAt: now })
    .where(
      and(eq(apiKeys.id, key.id), sql`(${apiKeys.lastUsedAt} IS NULL OR ${apiKeys.lastUsedAt} < ${since})`),
    )
}

export async function activeSystemKeyCount(db: Executor): Promise<number> {
  const [row] = await db
    .select({ n: count() })
    .from(apiKeys)
    .where(and(eq(apiKeys.scope, 'system'), isNull(apiKeys.revokedAt)))
  return row?.n ?? 0
}

export async function tokenExists(db: Executor, token: string): Promise<boolean> {
  const [row] = await db
    .select({ id: apiKeys.id })
    .from(apiKeys)
    .where(eq(apiKeys.tokenHash, hashToken(token)))
  return row !== undefined
}
