import { randomBytes } from 'node:crypto'
import { and, desc, eq, inArray, isNotNull, lt, sql } from 'drizzle-orm'
import type { ConnectorInbound } from '../connectors/types.ts'
import type { AppContext } from '../context.ts'
import { isValidSubscription } from '../events/catalog.ts'
import { loadCredentials } from '../integrations/service.ts'
import { connectorEnv } from '../integrations/verification.ts'
import { ApiError } from '../lib/errors.ts'
import { newId } from '../lib/ids.ts'
import { scrubSecrets } from '../lib/scrub.ts'
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
  const expected = inboundOf(ctx, provider).integrationProvider ?? provider
  if (row.provider !== expected) {
    throw ApiError.invalid(
      'integrationId',
      `the integration is a ${row.provider} integration, not ${expected}`,
    )
  }
}

function checkRegistration(
  ctx: AppContext,
  provider: string,
  integrationId: string | null | undefined,
  options: Record<string, unknown> | undefined,
): void {
  const registrar = inboundOf(ctx, provider).registration
  if (options?.register === false) return
  if (!options) {
    if (!integrationId || !registrar?.checkOptions) return
    options = {}
  }
  if (!registrar) throw ApiError.invalid('registration', `Patchbay registers nothing at ${provider}`)
  if (!integrationId) throw ApiError.invalid('registration', 'registering needs an integrationId')
  const problem = registrar.checkOptions?.(options)
  if (problem) throw ApiError.invalid(problem.field, problem.message)
}

export interface NewSource {
  provider: string
  integrationId?: string | undefined
  name: string
  eventTypes?: string[] | undefined
  /** Vendor choices for the registration (board, resource…), checked by the vendor's registrar. */
  registration?: Record<string, unknown> | undefined
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
  checkRegistration(ctx, input.provider, input.integrationId, input.registration)
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
        registrationOptions: input.registration ?? null,
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
  if (
    patch.integrationId !== undefined &&
    patch.integrationId !== s.integrationId &&
    s.registrationVendorId
  ) {
    // The registration can only be removed with the integration that made it.
    throw ApiError.invalid(
      'integrationId',
      'the source is registered at the vendor through its integration; delete the source and create it again to change it',
    )
  }
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

export function deactivationUrl(ctx: AppContext, requestUrl: string, s: SourceRow): string {
  return `${hookUrl(ctx, requestUrl, s)}/deactivated`
}

/** The linked integration's credentials and the vendor's registrar, or why there is nothing to register. */
async function registrarOf(ctx: AppContext, s: SourceRow) {
  const registrar = inboundOf(ctx, s.provider).registration
  if (!registrar || !s.integrationId) return undefined
  const { credentials, connector } = await loadCredentials(
    ctx,
    { kind: 'org', orgId: s.orgId },
    s.integrationId,
  )
  return { registrar, credentials, env: connectorEnv(ctx, connector.descriptor.id) }
}

async function setRegistration(
  ctx: AppContext,
  s: SourceRow,
  values: Partial<
    Pick<
      SourceRow,
      'registrationStatus' | 'registrationVendorId' | 'registrationExpiresAt' | 'registrationError'
    >
  >,
): Promise<SourceRow> {
  const [row] = await ctx.db.orm
    .update(webhookSources)
    .set({ ...values, updatedAt: ctx.clock.now() })
    .where(and(eq(webhookSources.id, s.id), eq(webhookSources.orgId, s.orgId)))
    .returning()
  return (row ?? s) as SourceRow
}

/** The vendor's error text without the source's secrets (the connector already removed its credentials). */
function errorOf(ctx: AppContext, s: SourceRow, err: unknown): string {
  const text = err instanceof Error ? err.message : String(err)
  return scrubSecrets(text, sourceSecrets(ctx, s, ctx.clock.now()))
}

/**
 * Creates the webhook at the vendor (on creation, and on `POST /{id}/register` to retry or re-create). An earlier
 * registration is removed first, best effort. The outcome is kept on the source (`failed` with the vendor's
 * error); nothing is thrown for a vendor failure. Sources with no registrar or no integration are left alone.
 */
export async function registerSource(
  ctx: AppContext,
  s: SourceRow,
  requestUrl: string,
  change: Change,
  /** Asked for by `POST /{id}/register`, which registers even a source created with `register: false`. */
  explicit = false,
): Promise<SourceRow> {
  if (s.registrationOptions?.register === false && !s.registrationVendorId && !explicit) return s
  let r: Awaited<ReturnType<typeof registrarOf>>
  try {
    r = await registrarOf(ctx, s)
  } catch (err) {
    return setRegistration(ctx, s, { registrationStatus: 'failed', registrationError: errorOf(ctx, s, err) })
  }
  if (!r) return s
  if (s.registrationVendorId) {
    await r.registrar.unregister(r.credentials, s.registrationVendorId, r.env).catch(() => undefined)
  }
  let row: SourceRow
  try {
    const out = await r.registrar.register(
      r.credentials,
      {
        url: hookUrl(ctx, requestUrl, s),
        secret: sourceSecrets(ctx, s, ctx.clock.now())[0] as string,
        deactivationUrl: deactivationUrl(ctx, requestUrl, s),
        name: s.name,
        eventTypes: s.eventTypes ?? undefined,
        options: explicit ? { ...s.registrationOptions, register: true } : (s.registrationOptions ?? {}),
      },
      r.env,
    )
    row = await setRegistration(ctx, s, {
      registrationStatus: 'registered',
      registrationVendorId: out.vendorId,
      registrationExpiresAt: out.expiresAt ?? null,
      registrationError: null,
    })
  } catch (err) {
    row = await setRegistration(ctx, s, {
      registrationStatus: 'failed',
      registrationVendorId: null,
      registrationExpiresAt: null,
      registrationError: errorOf(ctx, s, err),
    })
  }
  await recordAudit(
    ctx.db.orm,
    {
      actor: change.actor,
      orgId: s.orgId,
      action: 'webhook_source.register',
      targetType: 'webhook_source',
      targetId: s.id,
      summary: { status: row.registrationStatus, vendorId: row.registrationVendorId },
      requestId: change.requestId ?? null,
    },
    ctx.clock.now(),
  )
  return row
}

/** The vendor told Patchbay (Autotask's DeactivationUrl) that it turned the webhook off. */
export async function markDeactivated(ctx: AppContext, hookId: string): Promise<boolean> {
  const rows = await ctx.db.orm
    .update(webhookSources)
    .set({
      registrationStatus: 'deactivated',
      registrationError: 'the vendor deactivated the webhook; register again once the cause is fixed',
      updatedAt: ctx.clock.now(),
    })
    .where(and(eq(webhookSources.hookId, hookId), isNotNull(webhookSources.registrationVendorId)))
    .returning({ id: webhookSources.id })
  return rows.length > 0
}

/**
 * Renews every registration that expires within its vendor's renewal window (Graph subscriptions). A failure
 * marks the source `failed` with the vendor's error, keeping the vendor id and expiry, so the next run tries again
 * while the subscription still lives. Returns how many were renewed.
 */
export async function renewRegistrations(ctx: AppContext): Promise<{ renewed: number; failed: number }> {
  const now = ctx.clock.now()
  const providers = ctx.connectors.inboundProviders().flatMap((p) => {
    const reg = ctx.connectors.inbound(p)?.registration
    return reg?.renew ? [{ p, before: reg.renewBeforeMs ?? 0 }] : []
  })
  let renewed = 0
  let failed = 0
  for (const { p, before } of providers) {
    const due = await ctx.db.orm
      .select()
      .from(webhookSources)
      .where(
        and(
          eq(webhookSources.provider, p),
          inArray(webhookSources.registrationStatus, ['registered', 'failed']),
          isNotNull(webhookSources.registrationVendorId),
          lt(webhookSources.registrationExpiresAt, new Date(now.getTime() + before)),
        ),
      )
    for (const s of due) {
      const expired = s.registrationExpiresAt && s.registrationExpiresAt <= now
      if (expired) {
        // Past its expiry the vendor has dropped it: renewing cannot help, registering again does.
        const error = `the registration expired at ${s.registrationExpiresAt?.toISOString()}; register again`
        if (s.registrationError !== error) {
          await setRegistration(ctx, s, { registrationStatus: 'failed', registrationError: error })
          failed++
        }
        continue
      }
      try {
        const r = await registrarOf(ctx, s)
        if (!r?.registrar.renew) continue
        const out = await r.registrar.renew(r.credentials, s.registrationVendorId as string, r.env)
        await setRegistration(ctx, s, {
          registrationStatus: 'registered',
          registrationExpiresAt: out.expiresAt,
          registrationError: null,
        })
        renewed++
      } catch (err) {
        await setRegistration(ctx, s, {
          registrationStatus: 'failed',
          registrationError: `renewal failed: ${errorOf(ctx, s, err)}`,
        })
        failed++
      }
    }
  }
  return { renewed, failed }
}

/**
 * Deletes the source and, with it, its event log. The registration at the vendor is removed first, best effort:
 * a vendor refusal does not keep the source (its URL stops answering anyway, 404), and is returned so the
 * caller can tell the user to remove the webhook at the vendor by hand.
 */
export async function deleteSource(
  ctx: AppContext,
  s: SourceRow,
  change: Change,
): Promise<{ registrationRemoved: boolean; registrationError?: string }> {
  let removal: { registrationRemoved: boolean; registrationError?: string } = { registrationRemoved: false }
  if (s.registrationVendorId) {
    try {
      const r = await registrarOf(ctx, s)
      if (r) {
        await r.registrar.unregister(r.credentials, s.registrationVendorId, r.env)
        removal = { registrationRemoved: true }
      }
    } catch (err) {
      removal = { registrationRemoved: false, registrationError: errorOf(ctx, s, err) }
    }
  }
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
        summary: { provider: s.provider, name: s.name, registrationRemoved: removal.registrationRemoved },
        requestId: change.requestId ?? null,
      },
      now,
    )
  })
  return removal
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
