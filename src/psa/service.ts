/**
 * PSA connections: the Breeze `/psa/connections` door onto the integration model. A PSA connection IS an
 * integration whose provider's category is `psa` (same store, lifecycle, routing, health probes); its `settings`
 * are the automation settings (settings.ts). This module adds what the door needs on top of the integration
 * service: listing by last update, whole-object credential replacement, the `error` status, ticket mappings
 * (removed with the connection) and syncs.
 */
import { and, count, desc, eq, inArray, isNull } from 'drizzle-orm'
import type { AppContext } from '../context.ts'
import {
  type AuditContext,
  activateIntegration,
  createIntegration,
  deleteIntegration,
  disableIntegration,
  getIntegration,
  IntegrationError,
  type IntegrationView,
  newIntegrationProblems,
  toView,
  updateIntegration,
  verifyIntegrationNow,
} from '../integrations/service.ts'
import { recordAudit } from '../store/audit.ts'
import { getIntegrationRow, updateIntegrationRow } from '../store/integrations.ts'
import { integrations } from '../store/schema/integrations.ts'
import { inScope, offsetOf, type Page, type TenantScope } from '../store/scope.ts'
import { enqueueSync } from './jobs.ts'
import type { PsaSettings } from './settings.ts'
import {
  deleteMappings,
  deleteSyncRuns,
  latestSyncRuns,
  listMappings,
  type MappingFilter,
  type MappingRow,
  type SyncRunRow,
} from './store.ts'
import { queueSync } from './sync.ts'

export interface PsaConnection {
  integration: IntegrationView
  /** The latest sync, if any. */
  lastSync: SyncRunRow | null
}

export function psaProviders(ctx: Pick<AppContext, 'connectors'>): string[] {
  return ctx.connectors
    .all()
    .filter((c) => c.descriptor.category === 'psa')
    .map((c) => c.descriptor.id)
}

/** The live PSA connection, or not_found (another tenant's, a deleted one, or an integration of another kind). */
async function requireConnection(ctx: AppContext, scope: TenantScope, id: string): Promise<IntegrationView> {
  const found = await getIntegration(ctx, scope, id)
  if (found?.category !== 'psa') throw IntegrationError.notFound('PSA connection')
  return found
}

async function withSync(ctx: AppContext, views: IntegrationView[]): Promise<PsaConnection[]> {
  const runs = await latestSyncRuns(
    ctx.db.orm,
    views.map((v) => v.id),
  )
  return views.map((integration) => ({ integration, lastSync: runs.get(integration.id) ?? null }))
}

export async function listConnections(
  ctx: AppContext,
  scope: TenantScope,
  filter: { orgId?: string | undefined; provider?: string | undefined },
  page: Page,
): Promise<{ items: PsaConnection[]; total: number }> {
  const db = ctx.db.orm
  const where = and(
    inScope(scope, integrations.orgId),
    isNull(integrations.deletedAt),
    inArray(integrations.provider, psaProviders(ctx)),
    filter.orgId ? eq(integrations.orgId, filter.orgId) : undefined,
    filter.provider ? eq(integrations.provider, filter.provider) : undefined,
  )
  const [items, [total]] = await Promise.all([
    db
      .select()
      .from(integrations)
      .where(where)
      .orderBy(desc(integrations.updatedAt), desc(integrations.id))
      .limit(page.limit)
      .offset(offsetOf(page)),
    db.select({ n: count() }).from(integrations).where(where),
  ])
  return {
    items: await withSync(
      ctx,
      items.map((r) => toView(ctx, r)),
    ),
    total: total?.n ?? 0,
  }
}

export async function getConnection(ctx: AppContext, scope: TenantScope, id: string): Promise<PsaConnection> {
  const [found] = await withSync(ctx, [await requireConnection(ctx, scope, id)])
  return found as PsaConnection
}

export interface NewConnection {
  provider: string
  name: string
  credentials: Record<string, unknown>
  settings?: PsaSettings | undefined
}

/** Creates the connection in `pending_verify` with every capability of its provider, and queues verification. */
export async function createConnection(
  ctx: AppContext,
  orgId: string,
  input: NewConnection,
  audit: AuditContext,
): Promise<PsaConnection> {
  if (!psaProviders(ctx).includes(input.provider))
    throw IntegrationError.field('provider', 'The selected provider is not a PSA provider.')
  checkCompany(ctx, input.provider, input.settings)
  const created = await createIntegration(
    ctx,
    orgId,
    {
      provider: input.provider,
      name: input.name,
      credentials: input.credentials,
      settings: input.settings ?? {},
    },
    audit,
  )
  return { integration: created, lastSync: null }
}

/** A provider whose tickets need a company refuses `autoCreateTickets` without `companyId` (422 naming it). */
export function checkCompany(ctx: AppContext, provider: string, settings: PsaSettings | undefined) {
  const problem = companyProblem(ctx, provider, settings)
  if (problem) throw IntegrationError.field('settings.companyId', problem)
}

function companyProblem(
  ctx: Pick<AppContext, 'connectors'>,
  provider: string,
  settings: Pick<PsaSettings, 'autoCreateTickets' | 'companyId'> | undefined,
): string | undefined {
  if (!settings?.autoCreateTickets || settings.companyId) return undefined
  const connector = ctx.connectors.get(provider)
  if (!connector?.tickets?.companyRequired) return undefined
  return `${connector.descriptor.displayName} tickets need a company: set settings.companyId when autoCreateTickets is on.`
}

/**
 * What `createConnection` would refuse without reading the database or calling the vendor (the credentials
 * against the provider's schema, a company for providers whose tickets need one), by field, in the service's
 * words. A request schema runs this — also when another field failed — so one 422 names every problem of the
 * request; the service still checks for its other callers. Values that are not yet the right type are skipped:
 * the schema reports those itself.
 */
export function newConnectionProblems(
  ctx: Pick<AppContext, 'connectors'>,
  input: { provider?: unknown; credentials?: unknown; settings?: unknown },
): Record<string, string[]> {
  const { provider, settings } = input
  if (typeof provider !== 'string' || !psaProviders(ctx).includes(provider)) return {}
  const problems = newIntegrationProblems(ctx, { provider, credentials: input.credentials })
  if (settings !== null && typeof settings === 'object') {
    const { autoCreateTickets, companyId } = settings as Record<string, unknown>
    // Only a well-formed setting: `autoCreateTickets: "yes"` is the schema's to refuse, not a missing company.
    const company = companyProblem(ctx, provider, {
      autoCreateTickets: autoCreateTickets === true,
      ...(typeof companyId === 'string' ? { companyId } : {}),
    })
    if (company) problems['settings.companyId'] = [company]
  }
  return problems
}

export interface ConnectionPatch {
  name?: string | undefined
  /** A complete new credentials object: it replaces the stored one (fields left out are not kept). */
  credentials?: Record<string, unknown> | undefined
  /** Replaces the settings object. */
  settings?: PsaSettings | undefined
}

export async function updateConnection(
  ctx: AppContext,
  scope: TenantScope,
  id: string,
  patch: ConnectionPatch,
  audit: AuditContext,
): Promise<PsaConnection> {
  const current = await requireConnection(ctx, scope, id)
  checkCompany(ctx, current.provider, patch.settings)
  let credentials: Record<string, unknown> | undefined
  if (patch.credentials !== undefined) {
    // The integration service merges given fields over the stored ones; null clears a field, so naming every
    // field of the schema makes the given object replace the stored one whole.
    const schema = ctx.connectors.get(current.provider)?.descriptor.credentialSchema ?? {}
    credentials = Object.fromEntries(Object.keys(schema).map((k) => [k, null]))
    Object.assign(credentials, patch.credentials)
  }
  const updated = await updateIntegration(
    ctx,
    scope,
    id,
    {
      ...(patch.name !== undefined ? { name: patch.name } : {}),
      credentials,
      settings: patch.settings,
    },
    audit,
  )
  const [found] = await withSync(ctx, [updated])
  return found as PsaConnection
}

/**
 * Deletes the connection (its credentials are erased; see deleteIntegration), then its ticket mappings and
 * sync history. Deliveries still queued for it fail with "no longer exists".
 */
export async function deleteConnection(
  ctx: AppContext,
  scope: TenantScope,
  id: string,
  audit: AuditContext,
): Promise<{ integration: IntegrationView; mappingsRemoved: number }> {
  const current = await requireConnection(ctx, scope, id)
  const { integration } = await deleteIntegration(ctx, scope, id, audit)
  const mappingsRemoved = await ctx.db.orm.transaction(async (tx) => {
    const n = await deleteMappings(tx, current.orgId, id)
    await deleteSyncRuns(tx, current.orgId, id)
    await recordAudit(
      tx,
      {
        actor: audit.actor,
        orgId: current.orgId,
        action: 'psa.ticket_mappings.delete',
        targetType: 'integration',
        targetId: id,
        summary: { provider: current.provider, name: current.name, mappingsRemoved: n },
        requestId: audit.requestId ?? null,
      },
      ctx.clock.now(),
    )
    return n
  })
  return { integration, mappingsRemoved }
}

/** Tests the saved credentials with the vendor now, audited as `psa.connection.test`. */
export async function testConnection(ctx: AppContext, scope: TenantScope, id: string, audit: AuditContext) {
  await requireConnection(ctx, scope, id)
  return verifyIntegrationNow(ctx, scope, id, audit, { action: 'psa.connection.test' })
}

export type ConnectionStatus = 'active' | 'paused' | 'error'

/**
 * Breeze's connection status. `paused` disables the integration (`inactive`: no tickets, no probes, no
 * scheduled syncs); `active` re-activates it (re-verifying when it was never verified or is in error); `error`
 * marks it failed by hand (out of routing, not probed) until a successful test or an activation.
 */
export async function setConnectionStatus(
  ctx: AppContext,
  scope: TenantScope,
  id: string,
  status: ConnectionStatus,
  audit: AuditContext,
): Promise<PsaConnection> {
  await requireConnection(ctx, scope, id)
  let view: IntegrationView
  if (status === 'active') view = await activateIntegration(ctx, scope, id, audit)
  else if (status === 'paused') view = await disableIntegration(ctx, scope, id, audit)
  else view = await markError(ctx, scope, id, audit)
  const [found] = await withSync(ctx, [view])
  return found as PsaConnection
}

async function markError(
  ctx: AppContext,
  scope: TenantScope,
  id: string,
  audit: AuditContext,
): Promise<IntegrationView> {
  const row = await ctx.db.orm.transaction(async (tx) => {
    const current = await getIntegrationRow(tx, scope, id, { forUpdate: true })
    if (!current) throw IntegrationError.notFound('PSA connection')
    if (current.status === 'error') return current
    const now = ctx.clock.now()
    const updated = await updateIntegrationRow(tx, id, {
      status: 'error',
      lastError: 'Marked as failed through the API',
      lastErrorAt: now,
      // Neither `verification` nor `probe`: the health probes leave it alone until someone tests or activates it.
      errorSource: 'manual',
      updatedAt: now,
    })
    await recordAudit(
      tx,
      {
        actor: audit.actor,
        orgId: current.orgId,
        action: 'integration.mark_error',
        targetType: 'integration',
        targetId: id,
        summary: {
          provider: current.provider,
          name: current.name,
          statusBefore: current.status,
          statusAfter: 'error',
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
 * Queues a sync of the connection now, or reports the one already queued or running. A paused connection is
 * not synced (conflict).
 */
export async function requestSync(
  ctx: AppContext,
  scope: TenantScope,
  id: string,
): Promise<{ connection: IntegrationView; run: SyncRunRow; created: boolean }> {
  const connection = await requireConnection(ctx, scope, id)
  if (connection.status === 'inactive')
    throw IntegrationError.conflict('The PSA connection is paused; set its status to active to sync it')
  const { run, created } = await queueSync(
    ctx,
    { orgId: connection.orgId, connectionId: id, provider: connection.provider },
    'manual',
    enqueueSync(ctx.clock.now()),
  )
  return { connection, run, created }
}

export async function listTickets(
  ctx: AppContext,
  scope: TenantScope,
  filter: MappingFilter,
  page: Page,
): Promise<{ items: MappingRow[]; total: number }> {
  if (filter.connectionId) await requireConnection(ctx, scope, filter.connectionId)
  return listMappings(ctx.db.orm, scope, filter, page)
}
