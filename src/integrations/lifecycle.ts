import type { AppContext } from '../context.ts'
import type { JobInfo } from '../jobs/define.ts'
import { RetryJob } from '../jobs/define.ts'
import { type Actor, recordAudit } from '../store/audit.ts'
import { getIntegrationRow, type IntegrationRow, updateIntegrationRow } from '../store/integrations.ts'
import type { TenantScope } from '../store/scope.ts'
import { openCredentials } from './credentials.ts'
import { firstProbeAt } from './health.ts'
import { type CheckOutcome, checkConnector, expiryFields } from './verification.ts'

export interface VerifyPayload {
  integrationId: string
  orgId: string
  provider: string
  seq: number
}

/** The fields that make an integration healthy and freshly verified. */
export function activeFields(ctx: AppContext, id: string, now: Date): Partial<IntegrationRow> {
  return {
    status: 'active',
    lastError: null,
    lastErrorAt: null,
    errorSource: null,
    consecutiveProbeFailures: 0,
    nextProbeAt: firstProbeAt(ctx, id, now),
  }
}

/** Runs a connector check on the integration's stored credentials. */
export async function checkIntegration(
  ctx: AppContext,
  row: IntegrationRow,
  kind: 'verify' | 'probe',
): Promise<CheckOutcome> {
  const connector = ctx.connectors.get(row.provider)
  if (!connector || !row.credentials) {
    return {
      ok: false,
      error: `Provider "${row.provider}" is not available in this Patchbay`,
      retryable: false,
      latencyMs: 0,
    }
  }
  return checkConnector(ctx, connector, openCredentials(ctx.vault, row.id, row.credentials), kind)
}

/**
 * The background verification of new or changed credentials. A transient failure (timeout, rate limit,
 * outage) is noted in the integration's error and retried, staying `pending_verify`; rejected credentials, or
 * the last attempt, end in `error` with the vendor's message. A newer request (another credential change, a
 * manual test) supersedes this one.
 */
export async function runVerification(ctx: AppContext, p: VerifyPayload, job: JobInfo): Promise<void> {
  const scope: TenantScope = { kind: 'org', orgId: p.orgId }
  const row = await getIntegrationRow(ctx.db.orm, scope, p.integrationId)
  if (row?.status !== 'pending_verify' || row.verifySeq !== p.seq) return
  const outcome = await checkIntegration(ctx, row, 'verify')
  if (!outcome.ok && outcome.retryable && job.attempt < job.maxAttempts) {
    const now = ctx.clock.now()
    await ctx.db.orm.transaction(async (tx) => {
      const current = await getIntegrationRow(tx, scope, p.integrationId, { forUpdate: true })
      if (current?.status !== 'pending_verify' || current.verifySeq !== p.seq) return
      await updateIntegrationRow(tx, current.id, {
        lastError: `${outcome.error ?? 'verification failed'} (will retry)`,
        lastErrorAt: now,
        errorSource: 'verification',
        lastTestedAt: now,
      })
    })
    throw new RetryJob(outcome.error ?? 'verification failed', outcome.retryAfterMs)
  }
  await applyVerification(ctx, scope, p.integrationId, p.seq, outcome, {
    actor: { type: 'system', name: 'verification' },
    mode: 'background',
  })
}

export interface ApplyOptions {
  actor: Actor
  requestId?: string | null | undefined
  /** background: only a pending verification is settled. manual: a test of the saved credentials. */
  mode: 'background' | 'manual'
  /** Audit action of a manual test (default `integration.test`). */
  action?: string | undefined
}

/**
 * Records a verification outcome, if it still applies (same verification sequence). Success makes a pending or
 * failed integration active; failure puts a pending or active one in error with the vendor's message. A
 * disabled integration stays disabled either way.
 */
export async function applyVerification(
  ctx: AppContext,
  scope: TenantScope,
  id: string,
  seq: number,
  outcome: CheckOutcome,
  opts: ApplyOptions,
): Promise<IntegrationRow | undefined> {
  return ctx.db.orm.transaction(async (tx) => {
    const row = await getIntegrationRow(tx, scope, id, { forUpdate: true })
    if (!row || row.verifySeq !== seq) return undefined
    if (opts.mode === 'background' && row.status !== 'pending_verify') return undefined
    const now = ctx.clock.now()
    const set: Partial<IntegrationRow> = { lastTestedAt: now }
    if (outcome.ok) {
      set.verifiedAt = now
      Object.assign(set, expiryFields(outcome))
      if (row.status === 'pending_verify' || row.status === 'error')
        Object.assign(set, activeFields(ctx, id, now))
      else Object.assign(set, { lastError: null, lastErrorAt: null, errorSource: null })
    } else {
      Object.assign(set, {
        verifiedAt: null,
        lastError: outcome.error ?? 'verification failed',
        lastErrorAt: now,
        errorSource: 'verification',
      })
      if (row.status === 'pending_verify' || row.status === 'active' || row.status === 'error')
        set.status = 'error'
    }
    if (set.status && set.status !== row.status) set.updatedAt = now
    const updated = await updateIntegrationRow(tx, id, set)
    const action =
      opts.mode === 'manual'
        ? (opts.action ?? 'integration.test')
        : outcome.ok
          ? 'integration.verified'
          : 'integration.verification_failed'
    await recordAudit(
      tx,
      {
        actor: opts.actor,
        orgId: row.orgId,
        action,
        targetType: 'integration',
        targetId: id,
        summary: {
          provider: row.provider,
          name: row.name,
          ok: outcome.ok,
          statusBefore: row.status,
          statusAfter: updated.status,
          ...(outcome.ok ? {} : { error: outcome.error, httpStatus: outcome.httpStatus ?? null }),
          ...(outcome.account ? { account: outcome.account } : {}),
        },
        requestId: opts.requestId ?? null,
      },
      now,
    )
    return updated
  })
}
