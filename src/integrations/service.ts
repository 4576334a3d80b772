/**
 * The integration model, for every door onto it: the SynthesQ `/integrations` routes, the Breeze
 * `/psa/connections` and `/integrations/<provider>` routes, and any code that needs to call a vendor. Routes
 * stay thin and call these; every change is one transaction with its audit entry, and credentials leave the
 * vault only through `loadCredentials`, for connector calls.
 */

import type { Connector, Credentials } from '../connectors/types.ts'
import type { AppContext } from '../context.ts'
import { enqueueJob } from '../jobs/store.ts'
import { newId } from '../lib/ids.ts'
import { type Actor, recordAudit } from '../store/audit.ts'
import type { Executor } from '../store/db.ts'
import {
  allIntegrationRows,
  configuredProviders,
  getIntegrationRow,
  type IntegrationFilter,
  type IntegrationRow,
  type IntegrationStatus,
  insertIntegration,
  listIntegrationRows,
  lockProvider,
  type RoutingRuleRow,
  rulesReferencing,
  updateIntegrationRow,
} from '../store/integrations.ts'
import type { Page, TenantScope } from '../store/scope.ts'
import { maskCredentials } from '../vault/mask.ts'
import {
  checkCredentialUrls,
  openCredentials,
  publicPart,
  sameCredentials,
  sealCredentials,
  validateCredentials,
} from './credentials.ts'
import { initialSettings } from './defaults.ts'
import { FieldErrors, IntegrationError } from './errors.ts'
import { verifyIntegrationJob } from './jobs.ts'
import { activeFields, applyVerification, checkIntegration } from './lifecycle.ts'
import { type CheckOutcome, checkConnector } from './verification.ts'

export { IntegrationError } from './errors.ts'
export type { CheckOutcome } from './verification.ts'

/** Who is acting, for the audit entry. */
export interface AuditContext {
  actor: Actor
  requestId?: string | null | undefined
}

/** An integration as it may be shown: credentials masked (sensitive fields null), no ciphertext. */
export interface IntegrationView {
  id: string
  orgId: string
  provider: string
  name: string | null
  displayName: string
  category: string
  isDefault: boolean
  status: IntegrationStatus
  enabledCapabilities: string[]
  /** Every field of the provider's credential schema; sensitive ones always null. */
  credentials: Record<string, unknown>
  hasCredentials: boolean
  settings: Record<string, unknown>
  metadata: Record<string, unknown>
  /** The last verification or probe error (the vendor's text, no credentials), while it stands. */
  lastError: { message: string; at: Date; source: 'verification' | 'probe' } | null
  verifiedAt: Date | null
  lastTestedAt: Date | null
  lastProbeAt: Date | null
  lastProbeOk: boolean | null
  consecutiveProbeFailures: number
  lastSyncAt: Date | null
  lastSyncStatus: string | null
  lastSyncError: string | null
  createdAt: Date
  updatedAt: Date
}

export function toView(ctx: AppContext, row: IntegrationRow): IntegrationView {
  const d = ctx.connectors.get(row.provider)?.descriptor
  return {
    id: row.id,
    orgId: row.orgId,
    provider: row.provider,
    name: row.name,
    displayName: d?.displayName ?? row.provider,
    category: d?.category ?? 'unknown',
    isDefault: row.isDefault,
    status: row.status,
    enabledCapabilities: row.enabledCapabilities,
    credentials: d
      ? maskCredentials(d.credentialSchema, row.credentialsPublic)
      : { ...row.credentialsPublic },
    hasCredentials: row.credentials !== null,
    settings: row.settings,
    metadata: row.metadata,
    lastError:
      row.lastError && row.lastErrorAt
        ? {
            message: row.lastError,
            at: row.lastErrorAt,
            source: row.errorSource === 'probe' ? 'probe' : 'verification',
          }
        : null,
    verifiedAt: row.verifiedAt,
    lastTestedAt: row.lastTestedAt,
    lastProbeAt: row.lastProbeAt,
    lastProbeOk: row.lastProbeOk,
    consecutiveProbeFailures: row.consecutiveProbeFailures,
    lastSyncAt: row.lastSyncAt,
    lastSyncStatus: row.lastSyncStatus,
    lastSyncError: row.lastSyncError,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
  }
}

/** The connector for a provider name, or a 422-style error on `provider`. */
export function requireConnector(ctx: AppContext, provider: string, field = 'provider'): Connector {
  const c = ctx.connectors.get(provider)
  if (!c) throw IntegrationError.field(field, `The selected ${field} is invalid.`)
  return c
}

function checkCapabilities(errors: FieldErrors, connector: Connector, wanted: readonly string[]): void {
  const supported = connector.descriptor.capabilities
  const unknown = wanted.filter((c) => !supported.includes(c))
  if (unknown.length) {
    errors.add(
      'enabledCapabilities',
      `Not supported by ${connector.descriptor.displayName}: ${unknown.join(', ')}. Supported: ${supported.join(', ')}.`,
    )
  }
  if (new Set(wanted).size !== wanted.length)
    errors.add('enabledCapabilities', 'Capabilities must not repeat.')
}

/**
 * What is wrong with a new integration that can be told without the database or the network (provider,
 * capabilities, credentials), by service field name; `{}` when nothing. A door runs it while it validates the
 * request, so these problems are reported with the request's other ones (an unknown field among them) in one
 * refusal. Takes the input as sent: fields of the wrong type are left to the door's schema.
 */
export function newIntegrationProblems(
  ctx: Pick<AppContext, 'connectors'>,
  input: { provider?: unknown; enabledCapabilities?: unknown; credentials?: unknown },
): Record<string, string[]> {
  if (typeof input.provider !== 'string' || input.provider === '') return {}
  const connector = ctx.connectors.get(input.provider)
  if (!connector) return { provider: ['The selected provider is invalid.'] }
  const errors = new FieldErrors()
  const wanted = input.enabledCapabilities
  if (Array.isArray(wanted) && wanted.length > 0 && wanted.every((c) => typeof c === 'string'))
    checkCapabilities(errors, connector, wanted)
  const credentials = input.credentials
  if (credentials !== null && typeof credentials === 'object' && !Array.isArray(credentials)) {
    try {
      validateCredentials(connector, credentials as Record<string, unknown>)
    } catch (err) {
      if (!(err instanceof IntegrationError)) throw err
      for (const [f, msgs] of Object.entries(err.fields)) for (const m of msgs) errors.add(f, m)
    }
  }
  return errors.fields
}

function cleanName(name: string | null | undefined): string | null {
  const n = name?.trim()
  return n ? n : null
}

const EXISTS = 'An integration for this provider already exists.'

/** One unnamed instance per provider; named instances need distinct names (case-insensitive). */
async function checkInstanceName(
  tx: Executor,
  orgId: string,
  provider: string,
  name: string | null,
  selfId?: string,
): Promise<IntegrationRow[]> {
  await lockProvider(tx, orgId, provider)
  const others = (await allIntegrationRows(tx, { kind: 'org', orgId }, { provider })).filter(
    (r) => r.id !== selfId,
  )
  if (name === null && others.length > 0) {
    throw IntegrationError.invalid({
      provider: [EXISTS],
      name: ['Give this instance a name of its own to add another one.'],
    })
  }
  if (name !== null && others.some((r) => r.name?.toLowerCase() === name.toLowerCase())) {
    throw IntegrationError.invalid({
      provider: [EXISTS],
      name: [`Another instance is already named "${name}".`],
    })
  }
  return others
}

async function enqueueVerification(tx: Executor, row: IntegrationRow, now: Date) {
  await enqueueJob(
    tx,
    verifyIntegrationJob,
    { integrationId: row.id, orgId: row.orgId, provider: row.provider, seq: row.verifySeq },
    now,
  )
}

export interface NewIntegration {
  provider: string
  /** Distinguishes several instances of one provider; omit for the (only) unnamed instance. */
  name?: string | null | undefined
  credentials: Record<string, unknown>
  /** Default: every capability of the provider. */
  enabledCapabilities?: string[] | undefined
  settings?: Record<string, unknown> | undefined
  metadata?: Record<string, unknown> | undefined
}

/**
 * Creates an integration in `pending_verify` and queues its verification (which moves it to `active` or
 * `error`). The first instance of a provider in the organization becomes its default.
 */
export async function createIntegration(
  ctx: AppContext,
  orgId: string,
  input: NewIntegration,
  audit: AuditContext,
): Promise<IntegrationView> {
  const connector = requireConnector(ctx, input.provider)
  const errors = new FieldErrors()
  const capabilities = input.enabledCapabilities ?? [...connector.descriptor.capabilities]
  checkCapabilities(errors, connector, capabilities)
  let credentials: Credentials = {}
  try {
    credentials = validateCredentials(connector, input.credentials)
  } catch (err) {
    if (!(err instanceof IntegrationError)) throw err
    for (const [f, msgs] of Object.entries(err.fields)) for (const m of msgs) errors.add(f, m)
  }
  errors.throwIfAny()
  await checkCredentialUrls(ctx.http, connector.descriptor.credentialSchema, credentials)
  const name = cleanName(input.name)
  const now = ctx.clock.now()
  const id = newId(now.getTime())
  const row = await ctx.db.orm.transaction(async (tx) => {
    const others = await checkInstanceName(tx, orgId, input.provider, name)
    const created = await insertIntegration(tx, {
      id,
      orgId,
      provider: input.provider,
      name,
      isDefault: !others.some((o) => o.isDefault),
      status: 'pending_verify',
      enabledCapabilities: capabilities,
      credentials: sealCredentials(ctx.vault, id, credentials),
      credentialsPublic: publicPart(connector.descriptor.credentialSchema, credentials),
      settings: initialSettings(connector, input.settings),
      metadata: input.metadata ?? {},
      createdByKeyId: audit.actor.type === 'api_key' ? audit.actor.keyId : null,
      createdAt: now,
      updatedAt: now,
    })
    await enqueueVerification(tx, created, now)
    await recordAudit(
      tx,
      {
        actor: audit.actor,
        orgId,
        action: 'integration.create',
        targetType: 'integration',
        targetId: id,
        summary: {
          provider: input.provider,
          name,
          enabledCapabilities: capabilities,
          credentialFields: Object.keys(credentials).sort(),
          settings: created.settings,
          metadata: created.metadata,
        },
        requestId: audit.requestId ?? null,
      },
      now,
    )
    return created
  })
  return toView(ctx, row)
}

export interface IntegrationPatch {
  name?: string | null | undefined
  /** Partial: given fields replace, `null` clears an optional field, absent fields are kept. */
  credentials?: Record<string, unknown> | undefined
  enabledCapabilities?: string[] | undefined
  /** Replaces the settings object as a whole. */
  settings?: Record<string, unknown> | undefined
  /** Replaces the metadata object as a whole. */
  metadata?: Record<string, unknown> | undefined
}

/**
 * Updates an integration in place (its id never changes). Changed credentials are re-sealed in the same
 * write, reset the integration to `pending_verify` and queue a new verification.
 */
export async function updateIntegration(
  ctx: AppContext,
  scope: TenantScope,
  id: string,
  patch: IntegrationPatch,
  audit: AuditContext,
): Promise<IntegrationView> {
  // Checking a URL resolves its host, which may take seconds: it happens before the row is locked, on what the
  // patch makes of the credentials as they are then, and is confirmed under the lock. Had another change moved
  // a URL field meanwhile, the check runs again on what is there now.
  for (let attempt = 1; ; attempt++) {
    const checkedUrls =
      patch.credentials === undefined ? undefined : await checkPatchedUrls(ctx, scope, id, patch.credentials)
    try {
      return await updateLocked(ctx, scope, id, patch, audit, checkedUrls)
    } catch (err) {
      if (!(err instanceof UrlsMovedMeanwhile)) throw err
      if (attempt >= 3) {
        throw IntegrationError.conflict(
          'The integration kept changing while this update was checked; try again',
        )
      }
    }
  }
}

class UrlsMovedMeanwhile extends Error {}

/** The URL fields of a set of credentials, comparable as one string. */
function urlFields(connector: Connector, credentials: Credentials): string {
  const schema = connector.descriptor.credentialSchema
  return JSON.stringify(
    Object.keys(schema)
      .filter((name) => schema[name]?.type === 'url')
      .map((name) => [name, credentials[name] ?? null]),
  )
}

/**
 * Checks, with no lock held, the URLs of the credentials `patch` would make of the integration as it is now.
 * Returns their fields (see urlFields), or undefined when there is nothing to check: the integration is missing,
 * the patch invalid (the locked update reports either) or the credentials unchanged.
 */
async function checkPatchedUrls(
  ctx: AppContext,
  scope: TenantScope,
  id: string,
  patch: Record<string, unknown>,
): Promise<string | undefined> {
  const row = await getIntegrationRow(ctx.db.orm, scope, id)
  const connector = row && ctx.connectors.get(row.provider)
  if (!row || !connector) return undefined
  const base = row.credentials ? openCredentials(ctx.vault, row.id, row.credentials) : {}
  let merged: Credentials
  try {
    merged = validateCredentials(connector, patch, base)
  } catch (err) {
    if (err instanceof IntegrationError) return undefined
    throw err
  }
  // Unchanged credentials are not saved, so not checked either (as before).
  if (sameCredentials(base, merged)) return undefined
  await checkCredentialUrls(ctx.http, connector.descriptor.credentialSchema, merged)
  return urlFields(connector, merged)
}

async function updateLocked(
  ctx: AppContext,
  scope: TenantScope,
  id: string,
  patch: IntegrationPatch,
  audit: AuditContext,
  checkedUrls: string | undefined,
): Promise<IntegrationView> {
  const row = await ctx.db.orm.transaction(async (tx) => {
    const current = await getIntegrationRow(tx, scope, id, { forUpdate: true })
    if (!current) throw IntegrationError.notFound()
    const touchesProvider = patch.credentials !== undefined || patch.enabledCapabilities !== undefined
    const connector = touchesProvider ? requireConnector(ctx, current.provider) : undefined
    const errors = new FieldErrors()
    const set: Partial<IntegrationRow> = {}
    const changed: string[] = []
    let credentialFields: string[] = []
    if (patch.enabledCapabilities !== undefined && connector) {
      checkCapabilities(errors, connector, patch.enabledCapabilities)
      if (JSON.stringify(patch.enabledCapabilities) !== JSON.stringify(current.enabledCapabilities)) {
        set.enabledCapabilities = patch.enabledCapabilities
        changed.push('enabledCapabilities')
      }
    }
    let credentials: Credentials | undefined
    let reverify = false
    if (patch.credentials !== undefined && connector) {
      const base = current.credentials ? openCredentials(ctx.vault, current.id, current.credentials) : {}
      try {
        const merged = validateCredentials(connector, patch.credentials, base)
        if (!sameCredentials(base, merged)) {
          credentials = merged
          const keys = new Set([...Object.keys(base), ...Object.keys(merged)])
          credentialFields = [...keys].filter((k) => base[k] !== merged[k]).sort()
        }
      } catch (err) {
        if (!(err instanceof IntegrationError)) throw err
        for (const [f, msgs] of Object.entries(err.fields)) for (const m of msgs) errors.add(f, m)
      }
    }
    errors.throwIfAny()
    if (patch.name !== undefined) {
      const name = cleanName(patch.name)
      if (name !== current.name) {
        await checkInstanceName(tx, current.orgId, current.provider, name, current.id)
        set.name = name
        changed.push('name')
      }
    }
    if (patch.settings !== undefined && JSON.stringify(patch.settings) !== JSON.stringify(current.settings)) {
      set.settings = patch.settings
      changed.push('settings')
    }
    if (patch.metadata !== undefined && JSON.stringify(patch.metadata) !== JSON.stringify(current.metadata)) {
      set.metadata = patch.metadata
      changed.push('metadata')
    }
    if (credentials && connector) {
      // No DNS under the lock: the URLs were checked before it was taken.
      if (urlFields(connector, credentials) !== checkedUrls) throw new UrlsMovedMeanwhile()
      Object.assign(set, {
        credentials: sealCredentials(ctx.vault, current.id, credentials),
        credentialsPublic: publicPart(connector.descriptor.credentialSchema, credentials),
        status: 'pending_verify',
        verifySeq: current.verifySeq + 1,
        verifiedAt: null,
        lastError: null,
        lastErrorAt: null,
        errorSource: null,
        consecutiveProbeFailures: 0,
      })
      changed.push('credentials')
    } else if (patch.credentials !== undefined && current.status === 'error') {
      // The SynthesQ troubleshooting guide: updating the credentials of an integration in error re-queues its
      // verification, even unchanged ones (the vendor side may have been fixed meanwhile).
      Object.assign(set, {
        status: 'pending_verify',
        verifySeq: current.verifySeq + 1,
        lastError: null,
        lastErrorAt: null,
        errorSource: null,
        consecutiveProbeFailures: 0,
      })
      reverify = true
      changed.push('verification')
    }
    if (changed.length === 0) return current
    const now = ctx.clock.now()
    set.updatedAt = now
    const updated = await updateIntegrationRow(tx, current.id, set)
    if (credentials || reverify) await enqueueVerification(tx, updated, now)
    await recordAudit(
      tx,
      {
        actor: audit.actor,
        orgId: current.orgId,
        action: 'integration.update',
        targetType: 'integration',
        targetId: current.id,
        summary: {
          provider: current.provider,
          name: updated.name,
          changed,
          ...(credentials ? { credentialFields } : {}),
          ...(set.settings ? { settings: set.settings } : {}),
          ...(set.metadata ? { metadata: set.metadata } : {}),
          ...(set.enabledCapabilities ? { enabledCapabilities: set.enabledCapabilities } : {}),
          statusBefore: current.status,
          statusAfter: updated.status,
        },
        requestId: audit.requestId ?? null,
      },
      now,
    )
    return updated
  })
  return toView(ctx, row)
}

export async function getIntegration(
  ctx: AppContext,
  scope: TenantScope,
  id: string,
): Promise<IntegrationView | undefined> {
  const row = await getIntegrationRow(ctx.db.orm, scope, id)
  return row ? toView(ctx, row) : undefined
}

export interface ListFilter {
  orgId?: string | undefined
  status?: IntegrationStatus | undefined
  provider?: string | undefined
  /** A connector category (`psa`, `communication`, `monitoring`, `ticketing`). */
  category?: string | undefined
  name?: string | undefined
}

export function storeFilter(ctx: AppContext, f: ListFilter): IntegrationFilter {
  return {
    orgId: f.orgId,
    status: f.status,
    provider: f.provider,
    name: f.name,
    providers: f.category
      ? ctx.connectors
          .all()
          .filter((c) => c.descriptor.category === f.category)
          .map((c) => c.descriptor.id)
      : undefined,
  }
}

/** Live integrations the scope can reach, newest first. */
export async function listIntegrations(
  ctx: AppContext,
  scope: TenantScope,
  filter: ListFilter,
  page: Page,
): Promise<{ items: IntegrationView[]; total: number }> {
  const { items, total } = await listIntegrationRows(ctx.db.orm, scope, storeFilter(ctx, filter), page)
  return { items: items.map((r) => toView(ctx, r)), total }
}

/** The organization's instance of a provider: the one with this name, or the default when no name is given. */
export async function findIntegration(
  ctx: AppContext,
  orgId: string,
  provider: string,
  name?: string | null,
): Promise<IntegrationView | undefined> {
  const rows = await allIntegrationRows(ctx.db.orm, { kind: 'org', orgId }, { provider })
  const wanted = cleanName(name)
  const row = wanted
    ? rows.find((r) => r.name?.toLowerCase() === wanted.toLowerCase())
    : (rows.find((r) => r.isDefault) ?? rows[0])
  return row ? toView(ctx, row) : undefined
}

/** Providers with a live integration in the organization (`is_configured`). */
export function configuredProviderIds(ctx: AppContext, orgId: string): Promise<Set<string>> {
  return configuredProviders(ctx.db.orm, orgId)
}

/**
 * The decrypted credentials and connector of an integration, for a connector call. Never put the credentials
 * in a response, a log line, an audit entry, a job payload or an error message.
 */
export async function loadCredentials(
  ctx: AppContext,
  scope: TenantScope,
  id: string,
): Promise<{ integration: IntegrationView; connector: Connector; credentials: Credentials }> {
  const row = await getIntegrationRow(ctx.db.orm, scope, id)
  if (!row?.credentials) throw IntegrationError.notFound()
  const connector = ctx.connectors.get(row.provider)
  if (!connector)
    throw IntegrationError.conflict(`Provider "${row.provider}" is not available in this Patchbay`)
  return {
    integration: toView(ctx, row),
    connector,
    credentials: openCredentials(ctx.vault, row.id, row.credentials),
  }
}

/**
 * Tests credentials without saving anything: validates them against the provider's schema, then calls the
 * vendor for real. With `base`, the given fields are laid over that integration's saved credentials (to test
 * a change before saving it). The outcome carries the vendor's error text, never a credential.
 */
export async function testCredentials(
  ctx: AppContext,
  provider: string,
  credentials: Record<string, unknown>,
  base?: { scope: TenantScope; id: string },
): Promise<CheckOutcome> {
  const connector = requireConnector(ctx, provider)
  let saved: Credentials | undefined
  if (base) {
    const row = await getIntegrationRow(ctx.db.orm, base.scope, base.id)
    if (!row?.credentials) throw IntegrationError.notFound()
    if (row.provider !== provider) {
      throw IntegrationError.field('provider', `The integration is a ${row.provider} integration.`)
    }
    saved = openCredentials(ctx.vault, row.id, row.credentials)
  }
  const complete = validateCredentials(connector, credentials, saved)
  await checkCredentialUrls(ctx.http, connector.descriptor.credentialSchema, complete)
  return checkConnector(ctx, connector, complete, 'verify')
}

/**
 * Verifies a saved integration now (a "test connection" button) and records the outcome: `lastTestedAt`,
 * and success makes a pending or failed integration active, failure puts an active or pending one in error.
 * Supersedes any verification still queued. Audited as `opts.action` (default `integration.test`).
 */
export async function verifyIntegrationNow(
  ctx: AppContext,
  scope: TenantScope,
  id: string,
  audit: AuditContext,
  opts: { action?: string } = {},
): Promise<{ integration: IntegrationView; outcome: CheckOutcome }> {
  const row = await ctx.db.orm.transaction(async (tx) => {
    const current = await getIntegrationRow(tx, scope, id, { forUpdate: true })
    if (!current) throw IntegrationError.notFound()
    return updateIntegrationRow(tx, current.id, { verifySeq: current.verifySeq + 1 })
  })
  const outcome = await checkIntegration(ctx, row, 'verify')
  const updated = await applyVerification(ctx, scope, id, row.verifySeq, outcome, {
    actor: audit.actor,
    requestId: audit.requestId,
    mode: 'manual',
    action: opts.action,
  })
  const latest = updated ?? (await getIntegrationRow(ctx.db.orm, scope, id))
  if (!latest) throw IntegrationError.notFound()
  return { integration: toView(ctx, latest), outcome }
}

async function transition(
  ctx: AppContext,
  scope: TenantScope,
  id: string,
  audit: AuditContext,
  action: string,
  decide: (row: IntegrationRow, now: Date) => Partial<IntegrationRow> | undefined,
): Promise<IntegrationView> {
  const row = await ctx.db.orm.transaction(async (tx) => {
    const current = await getIntegrationRow(tx, scope, id, { forUpdate: true })
    if (!current) throw IntegrationError.notFound()
    const now = ctx.clock.now()
    const set = decide(current, now)
    if (!set) return current
    const updated = await updateIntegrationRow(tx, current.id, { ...set, updatedAt: now })
    if (set.verifySeq !== undefined) await enqueueVerification(tx, updated, now)
    await recordAudit(
      tx,
      {
        actor: audit.actor,
        orgId: current.orgId,
        action,
        targetType: 'integration',
        targetId: current.id,
        summary: {
          provider: current.provider,
          name: current.name,
          statusBefore: current.status,
          statusAfter: updated.status,
        },
        requestId: audit.requestId ?? null,
      },
      now,
    )
    return updated
  })
  return toView(ctx, row)
}

/**
 * Makes an integration eligible for routing again. A disabled integration whose credentials were verified
 * becomes `active` at once, without calling the vendor; one never verified, or in `error`, goes back to
 * `pending_verify` and is verified again. Active or pending ones are left as they are.
 */
export function activateIntegration(
  ctx: AppContext,
  scope: TenantScope,
  id: string,
  audit: AuditContext,
): Promise<IntegrationView> {
  return transition(ctx, scope, id, audit, 'integration.activate', (row, now) => {
    if (row.status === 'active' || row.status === 'pending_verify') return undefined
    if (row.status === 'inactive' && row.verifiedAt) return activeFields(ctx, row.id, now)
    return { status: 'pending_verify', verifySeq: row.verifySeq + 1, consecutiveProbeFailures: 0 }
  })
}

/** Takes an integration out of routing and probing (`inactive`) until it is activated again. */
export function disableIntegration(
  ctx: AppContext,
  scope: TenantScope,
  id: string,
  audit: AuditContext,
): Promise<IntegrationView> {
  return transition(ctx, scope, id, audit, 'integration.disable', (row) =>
    row.status === 'inactive' ? undefined : { status: 'inactive' },
  )
}

/** Makes this instance the one used when no instance of its provider is named. */
export async function setDefaultIntegration(
  ctx: AppContext,
  scope: TenantScope,
  id: string,
  audit: AuditContext,
): Promise<IntegrationView> {
  const row = await ctx.db.orm.transaction(async (tx) => {
    const current = await getIntegrationRow(tx, scope, id, { forUpdate: true })
    if (!current) throw IntegrationError.notFound()
    if (current.isDefault) return current
    await lockProvider(tx, current.orgId, current.provider)
    const now = ctx.clock.now()
    const siblings = await allIntegrationRows(
      tx,
      { kind: 'org', orgId: current.orgId },
      { provider: current.provider },
    )
    const previous = siblings.find((s) => s.isDefault)
    if (previous) await updateIntegrationRow(tx, previous.id, { isDefault: false, updatedAt: now })
    const updated = await updateIntegrationRow(tx, current.id, { isDefault: true, updatedAt: now })
    await recordAudit(
      tx,
      {
        actor: audit.actor,
        orgId: current.orgId,
        action: 'integration.set_default',
        targetType: 'integration',
        targetId: current.id,
        summary: { provider: current.provider, name: current.name, previousDefaultId: previous?.id ?? null },
        requestId: audit.requestId ?? null,
      },
      now,
    )
    return updated
  })
  return toView(ctx, row)
}

export interface OrphanedRule {
  id: string
  capability: string
  /** Whether the deleted integration was the rule's target or its fallback. */
  role: 'integration' | 'fallback'
}

function orphaned(rules: RoutingRuleRow[], id: string): OrphanedRule[] {
  return rules.flatMap((r) => [
    ...(r.integrationId === id ? [{ id: r.id, capability: r.capability, role: 'integration' as const }] : []),
    ...(r.fallbackIntegrationId === id
      ? [{ id: r.id, capability: r.capability, role: 'fallback' as const }]
      : []),
  ])
}

/**
 * Soft-deletes an integration: it disappears from lists and routing, its sealed credentials are erased, and a
 * remaining instance of the provider becomes the default if it was. Returns the routing rules that pointed at
 * it, which no longer have that target.
 */
export async function deleteIntegration(
  ctx: AppContext,
  scope: TenantScope,
  id: string,
  audit: AuditContext,
): Promise<{ integration: IntegrationView; orphanedRules: OrphanedRule[] }> {
  return ctx.db.orm.transaction(async (tx) => {
    const current = await getIntegrationRow(tx, scope, id, { forUpdate: true })
    if (!current) throw IntegrationError.notFound()
    await lockProvider(tx, current.orgId, current.provider)
    const now = ctx.clock.now()
    const deleted = await updateIntegrationRow(tx, current.id, {
      deletedAt: now,
      updatedAt: now,
      isDefault: false,
      credentials: null,
      nextProbeAt: null,
    })
    let promotedId: string | null = null
    if (current.isDefault) {
      const [next] = await allIntegrationRows(
        tx,
        { kind: 'org', orgId: current.orgId },
        { provider: current.provider },
      )
      if (next) {
        await updateIntegrationRow(tx, next.id, { isDefault: true, updatedAt: now })
        promotedId = next.id
      }
    }
    const rules = orphaned(await rulesReferencing(tx, current.orgId, current.id), current.id)
    await recordAudit(
      tx,
      {
        actor: audit.actor,
        orgId: current.orgId,
        action: 'integration.delete',
        targetType: 'integration',
        targetId: current.id,
        summary: {
          provider: current.provider,
          name: current.name,
          statusBefore: current.status,
          newDefaultId: promotedId,
          orphanedRoutingRules: rules.map((r) => ({ id: r.id, role: r.role })),
        },
        requestId: audit.requestId ?? null,
      },
      now,
    )
    return { integration: toView(ctx, deleted), orphanedRules: rules }
  })
}

/**
 * Creates the organization's instance of a provider, or updates it when there is one (the named one, else
 * the default): for doors with "one integration per provider" semantics, such as Breeze's
 * `/integrations/slack`. Credentials given replace the stored ones field by field.
 */
export async function saveIntegration(
  ctx: AppContext,
  orgId: string,
  input: NewIntegration,
  audit: AuditContext,
): Promise<{ integration: IntegrationView; created: boolean }> {
  const existing = await findIntegration(ctx, orgId, input.provider, input.name)
  if (!existing) return { integration: await createIntegration(ctx, orgId, input, audit), created: true }
  const patch: IntegrationPatch = { credentials: input.credentials }
  if (input.enabledCapabilities !== undefined) patch.enabledCapabilities = input.enabledCapabilities
  if (input.settings !== undefined) patch.settings = input.settings
  if (input.metadata !== undefined) patch.metadata = input.metadata
  const integration = await updateIntegration(ctx, { kind: 'org', orgId }, existing.id, patch, audit)
  return { integration, created: false }
}

/** Records a sync's progress on the integration (PSA syncs). Not a configuration change, so not audited. */
export async function recordSyncState(
  ctx: AppContext,
  orgId: string,
  id: string,
  state: { status: string; at?: Date; error?: string | null },
): Promise<void> {
  const row = await getIntegrationRow(ctx.db.orm, { kind: 'org', orgId }, id)
  if (!row) throw IntegrationError.notFound()
  await updateIntegrationRow(ctx.db.orm, id, {
    lastSyncStatus: state.status,
    lastSyncError: state.error ?? null,
    ...(state.at ? { lastSyncAt: state.at } : {}),
  })
}

// ---- For the doors that keep one integration per organization (monitoring, ticketing settings) ----

/** An API key as the settings show it (`****abcd`), sent back instead of the key itself. */
export function isMaskedKey(apiKey: string): boolean {
  return apiKey.startsWith('****')
}

/** A masked key sent back keeps the stored key only when it is the stored key's mask; otherwise a 422. */
export function assertStoredMaskedKey(masked: string, storedMask: unknown): void {
  if (masked !== storedMask) {
    throw IntegrationError.field(
      'apiKey',
      'The apiKey field holds a masked key that is not the stored one; send the full key.',
    )
  }
}

/** Verifies the organization's integration of the provider now; undefined when it has none. */
export async function verifyOrgIntegration(
  ctx: AppContext,
  orgId: string,
  provider: string,
  audit: AuditContext,
): Promise<{ integration: IntegrationView; outcome: CheckOutcome } | undefined> {
  const integration = await findIntegration(ctx, orgId, provider)
  if (!integration) return undefined
  return verifyIntegrationNow(ctx, { kind: 'org', orgId }, integration.id, audit)
}
