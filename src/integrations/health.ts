import { createHash } from 'node:crypto'
import { sql } from 'drizzle-orm'
import type { AppContext } from '../context.ts'
import { newId } from '../lib/ids.ts'
import { metricsOf } from '../lib/metrics.ts'
import { recordAudit } from '../store/audit.ts'
import { type Executor, rows } from '../store/db.ts'
import {
  allIntegrationRows,
  deleteProbesBefore,
  getIntegrationRow,
  type IntegrationFilter,
  type IntegrationRow,
  insertProbe,
  type ProbeRow,
  probesSince,
  updateIntegrationRow,
} from '../store/integrations.ts'
import type { TenantScope } from '../store/scope.ts'
import { openCredentials } from './credentials.ts'
import { type CheckOutcome, checkConnector, expiryFields } from './verification.ts'

export const HISTORY_MS = 24 * 60 * 60_000

/**
 * Flapping: the probe outcome changed (success ↔ failure) at least FLAP_MIN_CHANGES times within the last
 * FLAP_WINDOW probes of the past 24 hours. At the default 5-minute interval that is four changes in about
 * 100 minutes: an integration that keeps failing and recovering, usually vendor-side flakiness, which the
 * failure threshold alone would never surface because no failure streak gets long enough.
 */
export const FLAP_WINDOW = 20
export const FLAP_MIN_CHANGES = 4

/** A stable point within the interval for each integration, so probes of many integrations spread out. */
export function probeOffsetMs(integrationId: string, intervalMs: number): number {
  const digest = createHash('sha256').update(integrationId).digest()
  return digest.readUInt32BE(0) % intervalMs
}

/** The integration's first probe slot strictly after `after`: slots are `offset + k·interval`. */
export function nextProbeSlot(integrationId: string, after: Date, intervalMs: number): Date {
  const offset = probeOffsetMs(integrationId, intervalMs)
  const t = after.getTime()
  let slot = Math.floor((t - offset) / intervalMs) * intervalMs + offset
  if (slot <= t) slot += intervalMs
  return new Date(slot)
}

/**
 * When an integration that just became healthy is first probed: its first slot after the next sweep, so the
 * sweep always sees a slot before it is due (it was just verified anyway). Null when probes are off.
 */
export function firstProbeAt(ctx: AppContext, integrationId: string, now: Date): Date | null {
  const interval = ctx.config.PATCHBAY_PROBE_INTERVAL_MS
  if (interval <= 0) return null
  return nextProbeSlot(integrationId, new Date(now.getTime() + sweepIntervalMs(interval)), interval)
}

/** How often the sweep runs: it enqueues every probe due before its next run, at the probe's own time. */
export function sweepIntervalMs(probeIntervalMs: number): number {
  return probeIntervalMs > 0 ? Math.min(probeIntervalMs, 60_000) : 0
}

/** Integrations that are probed: active ones, and those the probes themselves put in error (to restore them). */
export function isProbed(row: Pick<IntegrationRow, 'status' | 'errorSource' | 'deletedAt'>): boolean {
  return (
    !row.deletedAt && (row.status === 'active' || (row.status === 'error' && row.errorSource === 'probe'))
  )
}

export interface ProbeTarget {
  integrationId: string
  orgId: string
  provider: string
  seq: number
  runAt: Date
}

/**
 * Finds every probed integration whose next slot falls before the next sweep, hands each to `enqueue` with its
 * slot as the run time, and moves its slot one interval on (to the first slot after now, when late). Rows are
 * claimed with SKIP LOCKED, so concurrent sweeps never probe an integration twice for one slot.
 */
export async function sweepProbes(
  ctx: AppContext,
  enqueue: (tx: Executor, target: ProbeTarget) => Promise<void>,
): Promise<number> {
  const interval = ctx.config.PATCHBAY_PROBE_INTERVAL_MS
  if (interval <= 0) return 0
  const now = ctx.clock.now()
  const horizon = new Date(now.getTime() + sweepIntervalMs(interval))
  return ctx.db.orm.transaction(async (tx) => {
    const due = await rows<{
      id: string
      org_id: string
      provider: string
      verify_seq: number
      next_probe_at: Date | string | null
    }>(
      tx,
      sql`SELECT id, org_id, provider, verify_seq, next_probe_at FROM integrations
          WHERE deleted_at IS NULL
            AND (status = 'active' OR (status = 'error' AND error_source = 'probe'))
            AND (next_probe_at IS NULL OR next_probe_at <= ${horizon.toISOString()})
          ORDER BY next_probe_at NULLS FIRST, id
          LIMIT 10000
          FOR UPDATE SKIP LOCKED`,
    )
    let enqueued = 0
    for (const r of due) {
      let next: Date
      if (r.next_probe_at === null) {
        next = nextProbeSlot(r.id, now, interval)
      } else {
        const slot = new Date(r.next_probe_at)
        await enqueue(tx, {
          integrationId: r.id,
          orgId: r.org_id,
          provider: r.provider,
          seq: r.verify_seq,
          runAt: slot,
        })
        enqueued++
        next = slot > now ? new Date(slot.getTime() + interval) : nextProbeSlot(r.id, now, interval)
      }
      await tx.execute(sql`UPDATE integrations SET next_probe_at = ${next.toISOString()} WHERE id = ${r.id}`)
    }
    return enqueued
  })
}

/**
 * Probes one integration and records the outcome. Failures past PATCHBAY_PROBE_FAILURE_THRESHOLD in a row move
 * an active integration to `error`; the next success moves it back to `active`. The outcome is dropped when
 * the integration changed meanwhile (new credentials, disabled, deleted).
 */
export async function runProbe(
  ctx: AppContext,
  p: { integrationId: string; orgId: string; seq: number },
): Promise<void> {
  const scope: TenantScope = { kind: 'org', orgId: p.orgId }
  const row = await getIntegrationRow(ctx.db.orm, scope, p.integrationId)
  if (!row || row.verifySeq !== p.seq || !isProbed(row) || !row.credentials) return
  const connector = ctx.connectors.get(row.provider)
  const outcome: CheckOutcome = connector
    ? await checkConnector(ctx, connector, openCredentials(ctx.vault, row.id, row.credentials), 'probe')
    : { ok: false, error: `Provider "${row.provider}" is not available`, retryable: false, latencyMs: 0 }
  metricsOf(ctx).probes.inc({ provider: row.provider, outcome: outcome.ok ? 'ok' : 'failed' })
  const threshold = ctx.config.PATCHBAY_PROBE_FAILURE_THRESHOLD
  await ctx.db.orm.transaction(async (tx) => {
    const current = await getIntegrationRow(tx, scope, p.integrationId, { forUpdate: true })
    if (!current || current.verifySeq !== p.seq || !isProbed(current)) return
    const now = ctx.clock.now()
    await insertProbe(tx, {
      id: newId(now.getTime()),
      integrationId: current.id,
      orgId: current.orgId,
      probedAt: now,
      ok: outcome.ok,
      latencyMs: outcome.latencyMs,
      httpStatus: outcome.httpStatus ?? null,
      error: outcome.ok ? null : (outcome.error ?? 'probe failed'),
    })
    const failures = outcome.ok ? 0 : current.consecutiveProbeFailures + 1
    const set: Partial<IntegrationRow> = {
      lastProbeAt: now,
      lastProbeOk: outcome.ok,
      consecutiveProbeFailures: failures,
      ...(outcome.ok ? expiryFields(outcome) : {}),
    }
    let action: string | undefined
    if (outcome.ok && current.status === 'error') {
      Object.assign(set, {
        status: 'active',
        lastError: null,
        lastErrorAt: null,
        errorSource: null,
        updatedAt: now,
      })
      action = 'integration.health.restored'
    } else if (!outcome.ok && current.status === 'active' && failures >= threshold) {
      Object.assign(set, {
        status: 'error',
        lastError: outcome.error ?? 'probe failed',
        lastErrorAt: now,
        errorSource: 'probe',
        updatedAt: now,
      })
      action = 'integration.health.failed'
    } else if (!outcome.ok && current.status === 'error') {
      Object.assign(set, { lastError: outcome.error ?? 'probe failed', lastErrorAt: now })
    }
    await updateIntegrationRow(tx, current.id, set)
    if (action) {
      await recordAudit(
        tx,
        {
          actor: { type: 'system', name: 'health-probe' },
          orgId: current.orgId,
          action,
          targetType: 'integration',
          targetId: current.id,
          summary: {
            provider: current.provider,
            name: current.name,
            statusBefore: current.status,
            statusAfter: set.status,
            consecutiveFailures: failures,
            ...(outcome.ok ? {} : { error: outcome.error }),
          },
        },
        now,
      )
    }
  })
}

export async function pruneProbes(ctx: AppContext): Promise<number> {
  // An hour beyond the window, so the oldest entry of a 24-hour history is never cut while being read.
  return deleteProbesBefore(ctx.db.orm, new Date(ctx.clock.now().getTime() - HISTORY_MS - 60 * 60_000))
}

export function countChanges(outcomes: readonly boolean[]): number {
  let changes = 0
  for (let i = 1; i < outcomes.length; i++) if (outcomes[i] !== outcomes[i - 1]) changes++
  return changes
}

export function isFlapping(outcomes: readonly boolean[]): boolean {
  return countChanges(outcomes.slice(-FLAP_WINDOW)) >= FLAP_MIN_CHANGES
}

export type HealthState = 'connected' | 'disconnected' | 'needs_attention'

/**
 * The status page's three buckets. connected: active, latest probe (if any yet) succeeded, not flapping.
 * needs_attention: in error (credentials rejected, or probes failing past the threshold), or active but its
 * latest probe failed or it is flapping. disconnected: disabled (inactive) or not yet verified (pending_verify).
 */
export function healthState(
  status: IntegrationRow['status'],
  lastProbeOk: boolean | null,
  flapping: boolean,
  warning: string | null = null,
): HealthState {
  switch (status) {
    case 'active':
      // A warning (credentials about to expire) needs someone before it breaks, not after.
      return lastProbeOk === false || flapping || warning ? 'needs_attention' : 'connected'
    case 'error':
      return 'needs_attention'
    case 'inactive':
    case 'pending_verify':
      return 'disconnected'
  }
}

export interface IntegrationHealth {
  integration: IntegrationRow
  state: HealthState
  flapping: boolean
  latest: ProbeRow | null
  /** The probes of the last 24 hours, oldest first. */
  history: ProbeRow[]
  /** Share of the last 24 hours' probes that succeeded, or null without probes. */
  uptime: number | null
}

export interface HealthReport {
  summary: Record<HealthState, number> & { total: number }
  integrations: IntegrationHealth[]
}

export async function healthReport(
  ctx: AppContext,
  scope: TenantScope,
  filter: IntegrationFilter,
): Promise<HealthReport> {
  const integrations = await allIntegrationRows(ctx.db.orm, scope, filter)
  const since = new Date(ctx.clock.now().getTime() - HISTORY_MS)
  const probes = await probesSince(
    ctx.db.orm,
    integrations.map((i) => i.id),
    since,
  )
  const byIntegration = new Map<string, ProbeRow[]>()
  for (const p of probes) {
    let list = byIntegration.get(p.integrationId)
    if (!list) {
      list = []
      byIntegration.set(p.integrationId, list)
    }
    list.push(p)
  }
  const summary = { connected: 0, disconnected: 0, needs_attention: 0, total: integrations.length }
  const items = integrations.map((integration): IntegrationHealth => {
    const history = byIntegration.get(integration.id) ?? []
    const latest = history.at(-1) ?? null
    const flapping = isFlapping(history.map((h) => h.ok))
    const state = healthState(
      integration.status,
      latest ? latest.ok : integration.lastProbeOk,
      flapping,
      integration.warning,
    )
    summary[state]++
    const okCount = history.filter((h) => h.ok).length
    return {
      integration,
      state,
      flapping,
      latest,
      history,
      uptime: history.length ? okCount / history.length : null,
    }
  })
  return { summary, integrations: items }
}
