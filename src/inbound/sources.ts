import { randomBytes } from 'node:crypto'
import { and, desc, eq, sql } from 'drizzle-orm'
import type { ConnectorInbound } from '../connectors/types.ts'
import type { AppContext } from '../context.ts'
import { isValidSubscription } from '../events/catalog.ts'
import { ApiError } from '../lib/errors.ts'
import { newId } from '../lib/ids.ts'
import { type Actor, recordAudit } from '../store/audit.ts'
import type { Executor } from '../store/db.ts'
import { getIntegrationRow } from '../store/integrations.ts'
import { webhookSources } from '../store/schema/inbound.ts'
import { inScope, offsetOf, type Page, type TenantScope } from '../store/scope.ts'

export type SourceRow = typeof webhookSources.$inferSelect

/** How long a rotated-out secret keeps verifying beside the new one. */
export const SECRET_OVERLAP_MS = 24 * 3_600_000

export interface Change {
  actor: Actor
  requestId?: string | null | undefined
}

const seal = (field: 'secret' | 'previous_secret', id: string) => ({ table: 'webhook_sources', field, id })

export function inboundOf(ctx: AppContext, provider: string): ConnectorInbound {
  const inbound = ctx.connectors.inbound(provider)
  if (!inbound) {
    throw ApiError.invalid(
      'provider',
      `"${provider}" cannot send webhooks; one of: ${ctx.connectors.inboundProviders().join(', ')}`,
    )
  }
  return inbound
}

function generateSecret(style: 'standard' | 'token'): string {
  return style === 'standard'
    ? `whsec_${randomBytes(24).toString('base64')}`
    : `pbs_${randomBytes(24).toString('base64url')}`
}

/** The source's secrets that verify now: the current one, then the previous one until it expires. */
export function sourceSecrets(ctx: AppContext, s: SourceRow, now: Date): string[] {
  const out = [ctx.vault.open(s.secret, seal('secret', s.id))]
  if (s.previousSecret && s.previousSecretExpiresAt && s.previousSecretExpiresAt > now) {
    out.push(ctx.vault.open(s.previousSecret, seal('previous_secret', s.id)))
  }
  return out
}

export function hookUrl(ctx: AppContext, requestUrl: string, s: SourceRow): string {
  const base = ctx.config.PATCHBAY_PUBLIC_URL ?? new URL(requestUrl).origin
  return `${base}/hooks/${s.hookId}`
}

function checkEventTypes(list: string[] | undefined): void {
  for (const [i, e] of (list ?? []).entries()) {
    if (!isValidSubscription(e)) {
      throw ApiError.invalid(`eventTypes.${i}`, `Unknown event type "${e}" (see GET /api/v1/event-types)`)
    }
  }
}

async function checkIntegration(
  ctx: AppContext,
  orgId: string,
  provider: string,
  id: string | null | undefined,
) {
  if (!id) return
  const row = await getIntegrationRow(ctx.db.orm, { kind: 'org', orgId }, id)
  if (!row) throw ApiError.invalid('integrationId', 'no such integration in this organization')
  if (row.provider !== provider) {
    throw ApiError.invalid(
      'integrationId',
      `the integration is a ${row.provider} integration, not ${provider}`,
    )
  }
}

export interface NewSource {
  provider: string
  integrationId?: string | undefined
  name: string
  eventTypes?: string[] | undefined
}

export async function createSource(
  ctx: AppContext,
  orgId: string,
  input: NewSource,
  change: Change,
): Promise<{ source: SourceRow; secret: string }> {
  const inbound = inboundOf(ctx, input.provider)
  checkEventTypes(input.eventTypes)
  await checkIntegration(ctx, orgId, input.provider, input.integrationId)
  const now = ctx.clock.now()
  const id = newId(now.getTime())
  const secret = generateSecret(inbound.secretStyle)
  const source = await ctx.db.orm.transaction(async (tx) => {
    const [row] = await tx
      .insert(webhookSources)
      .values({
        id,
        orgId,
        provider: input.provider,
        integrationId: input.integrationId ?? null,
        name: input.name,
        eventTypes: input.eventTypes ? [...new Set(input.eventTypes)] : null,
        hookId: randomBytes(18).toString('base64url'),
        secret: ctx.vault.seal(secret, seal('secret', id)),
        createdByKeyId: change.actor.type === 'api_key' ? change.actor.keyId : null,
        createdAt: now,
        updatedAt: now,
      })
      .returning()
    await recordAudit(
      tx,
      {
        actor: change.actor,
        orgId,
        action: 'webhook_source.create',
        targetType: 'webhook_source',
        targetId: id,
        summary: { provider: input.provider, name: input.name, integrationId: input.integrationId ?? null },
        requestId: change.requestId ?? null,
      },
      now,
    )
    return row as SourceRow
  })
  return { source, secret }
}

export async function getSource(
  db: Executor,
  scope: TenantScope,
  id: string,
): Promise<SourceRow | undefined> {
  const [row] = await db
    .select()
    .from(webhookSources)
    .where(and(eq(webhookSources.id, id), inScope(scope, webhookSources.orgId)))
  return row
}

export async function listSources(
  db: Executor,
  scope: TenantScope,
  filter: { orgId?: string | undefined; provider?: string | undefined },
  page: Page,
): Promise<{ items: SourceRow[]; total: number }> {
  const where = and(
    inScope(scope, webhookSources.orgId),
    filter.orgId ? eq(webhookSources.orgId, filter.orgId) : undefined,
    filter.provider ? eq(webhookSources.provider, filter.provider) : undefined,
  )
  const items = await db
    .select()
    .from(webhookSources)
    .where(where)
    .orderBy(desc(webhookSources.createdAt), desc(webhookSources.id))
    .limit(page.limit)
    .offset(offsetOf(page))
  const [n] = await db.select({ n: sql<number>`count(*)::int` }).from(webhookSources).where(where)
  return { items, total: n?.n ?? 0 }
}

export interface SourcePatch {
  name?: string | undefined
  eventTypes?: string[] | null | undefined
  integrationId?: string | null | undefined
}

export async function patchSource(
  ctx: AppContext,
  s: SourceRow,
  patch: SourcePatch,
  change: Change,
): Promise<SourceRow> {
  checkEventTypes(patch.eventTypes ?? undefined)
  await checkIntegration(ctx, s.orgId, s.provider, patch.integrationId)
  const now = ctx.clock.now()
  return ctx.db.orm.transaction(async (tx) => {
    const [row] = await tx
      .update(webhookSources)
      .set({
        ...(patch.name !== undefined ? { name: patch.name } : {}),
        ...(patch.eventTypes !== undefined
          ? { eventTypes: patch.eventTypes === null ? null : [...new Set(patch.eventTypes)] }
          : {}),
        ...(patch.integrationId !== undefined ? { integrationId: patch.integrationId } : {}),
        updatedAt: now,
      })
      .where(and(eq(webhookSources.id, s.id), eq(webhookSources.orgId, s.orgId)))
      .returning()
    await recordAudit(
      tx,
      {
        actor: change.actor,
        orgId: s.orgId,
        action: 'webhook_source.update',
        targetType: 'webhook_source',
        targetId: s.id,
        summary: { fields: Object.keys(patch) },
        requestId: change.requestId ?? null,
      },
      now,
    )
    return row as SourceRow
  })
}

/** A new secret; the current one keeps verifying for 24 hours (sealed again under its own column). */
export async function rotateSecret(
  ctx: AppContext,
  s: SourceRow,
  change: Change,
): Promise<{ source: SourceRow; secret: string }> {
  const now = ctx.clock.now()
  const inbound = inboundOf(ctx, s.provider)
  const secret = generateSecret(inbound.secretStyle)
  const old = ctx.vault.open(s.secret, seal('secret', s.id))
  const source = await ctx.db.orm.transaction(async (tx) => {
    const [row] = await tx
      .update(webhookSources)
      .set({
        secret: ctx.vault.seal(secret, seal('secret', s.id)),
        previousSecret: ctx.vault.seal(old, seal('previous_secret', s.id)),
        previousSecretExpiresAt: new Date(now.getTime() + SECRET_OVERLAP_MS),
        updatedAt: now,
      })
      .where(and(eq(webhookSources.id, s.id), eq(webhookSources.orgId, s.orgId)))
      .returning()
    await recordAudit(
      tx,
      {
        actor: change.actor,
        orgId: s.orgId,
        action: 'webhook_source.rotate_secret',
        targetType: 'webhook_source',
        targetId: s.id,
        summary: { previousValidUntil: new Date(now.getTime() + SECRET_OVERLAP_MS).toISOString() },
        requestId: change.requestId ?? null,
      },
      now,
    )
    return row as SourceRow
  })
  return { source, secret }
}

/** Deletes the source and, with it, its event log. */
export async function deleteSource(ctx: AppContext, s: SourceRow, change: Change): Promise<void> {
  const now = ctx.clock.now()
  await ctx.db.orm.transaction(async (tx) => {
    await tx.delete(webhookSources).where(and(eq(webhookSources.id, s.id), eq(webhookSources.orgId, s.orgId)))
    await recordAudit(
      tx,
      {
        actor: change.actor,
        orgId: s.orgId,
        action: 'webhook_source.delete',
        targetType: 'webhook_source',
        targetId: s.id,
        summary: { provider: s.provider, name: s.name },
        requestId: change.requestId ?? null,
      },
      now,
    )
  })
}

export async function integrationPublic(ctx: AppContext, s: SourceRow) {
  if (!s.integrationId) return undefined
  const row = await getIntegrationRow(ctx.db.orm, { kind: 'org', orgId: s.orgId }, s.integrationId)
  return row ? { publicCredentials: row.credentialsPublic } : undefined
}

export async function sourceOf(
  ctx: AppContext,
  orgId: string,
  sourceId: string,
): Promise<SourceRow | undefined> {
  const [s] = await ctx.db.orm
    .select()
    .from(webhookSources)
    .where(and(eq(webhookSources.id, sourceId), eq(webhookSources.orgId, orgId)))
  return s
}
