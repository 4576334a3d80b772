/**
 * Actions (README, "Actions and approvals"): writes at a vendor a caller asks for. Each state change is one
 * transaction with its audit entry and its platform event (ingested there, so webhooks and chat channels carry
 * it), and an action that may be sent becomes a delivery (`target_type` `action`) in that same transaction.
 */

import { and, eq, inArray, lte, notInArray, sql } from 'drizzle-orm'
import type { ConnectorAction, ConnectorEnv, Credentials } from '../connectors/types.ts'
import { VendorError } from '../connectors/vendor-error.ts'
import type { AppContext } from '../context.ts'
import { ingestWithin } from '../delivery/ingest.ts'
import type { Fanout } from '../delivery/types.ts'
import { ApiError } from '../lib/errors.ts'
import { newId } from '../lib/ids.ts'
import { scrubSecrets } from '../lib/redact.ts'
import { type Actor, recordAudit } from '../store/audit.ts'
import { type Executor, querierOf, rows } from '../store/db.ts'
import { actions } from '../store/schema/actions.ts'
import type { TenantScope } from '../store/scope.ts'
import { type ActionRow, getAction, getApproverScope, keyMadeBy } from './store.ts'

export const ACTION_TARGET = 'action'
export const MASK = '********'

/** Who asks, approves or rejects: an API key, with its scope (the four-eyes and partner rules read it). */
export interface ActionCaller {
  keyId: string
  scope: 'system' | 'partner' | 'organization'
  actor: Actor
  requestId?: string | null | undefined
}

export type ActionEventType =
  | 'action.requested'
  | 'action.approved'
  | 'action.rejected'
  | 'action.completed'
  | 'action.failed'
  | 'action.expired'

/** The input with the action's sensitive fields (dotted paths) replaced by a mask. */
export function maskInput(input: unknown, paths: readonly string[] = []): unknown {
  const copy = structuredClone(input) as Record<string, unknown>
  for (const p of paths) {
    const parts = p.split('.')
    let node: unknown = copy
    for (const [i, key] of parts.entries()) {
      if (!node || typeof node !== 'object') break
      const obj = node as Record<string, unknown>
      if (i === parts.length - 1) {
        if (key in obj && obj[key] !== undefined && obj[key] !== null) obj[key] = MASK
      } else node = obj[key]
    }
  }
  return copy
}

/** The sensitive values of an input, to scrub from vendor answers that echo them. */
export function sensitiveValues(input: unknown, paths: readonly string[] = []): string[] {
  const out: string[] = []
  for (const p of paths) {
    let node: unknown = input
    for (const key of p.split('.'))
      node = node && typeof node === 'object' ? (node as Record<string, unknown>)[key] : undefined
    if (typeof node === 'string' && node.length > 0) out.push(node)
  }
  return out
}

const SEAL = (id: string) => ({ table: 'actions', field: 'input', id })

export function sealInput(ctx: AppContext, id: string, input: unknown): string {
  return ctx.vault.sealJson(input, SEAL(id))
}

export function openInput(ctx: AppContext, row: ActionRow): unknown {
  return ctx.vault.openJson(row.sealedInput, SEAL(row.id))
}

/** The event an action's change announces; the masked input, never the sealed one. */
export function eventData(row: ActionRow, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    actionId: row.id,
    orgId: row.orgId,
    integrationId: row.integrationId,
    provider: row.provider,
    action: row.action,
    status: row.status,
    needsApproval: row.needsApproval,
    input: row.input,
    requestedBy: row.requestedByKeyId,
    approvedBy: row.approvedByKeyId,
    ...extra,
  }
}

/** Stores the event (id unique per action and change, so a repeat is a no-op) and its fan-out, in `tx`. */
export async function emitActionEvent(
  tx: Executor,
  fanouts: readonly Fanout[],
  row: ActionRow,
  type: ActionEventType,
  now: Date,
  extra: Record<string, unknown> = {},
  suffix = '',
): Promise<string> {
  const id = `${type}:${row.id}${suffix}`
  await ingestWithin(
    querierOf(tx),
    fanouts,
    [{ orgId: row.orgId, id, type, occurredAt: now, data: eventData(row, extra) }],
    now,
  )
  return id
}

/** Queues the delivery that sends the action, in `tx`; returns its id. */
export async function queueDelivery(
  tx: Executor,
  row: ActionRow,
  eventId: string,
  eventType: string,
  now: Date,
) {
  const id = newId(now.getTime())
  await tx.execute(sql`
    INSERT INTO deliveries (id, org_id, target_type, target_id, event_id, event_type, operation, status, attempts,
                            next_attempt_at, created_at, updated_at)
    VALUES (${id}, ${row.orgId}, ${ACTION_TARGET}, ${row.integrationId}, ${eventId}, ${eventType},
            ${JSON.stringify({ op: 'action', actionId: row.id })}::jsonb, 'pending', 0, ${now}, ${now}, ${now})`)
  await tx.execute(sql`SELECT pg_notify('patchbay_deliveries', '')`)
  return id
}

export interface NewAction {
  orgId: string
  integrationId: string
  provider: string
  integrationStatus: string
  definition: ConnectorAction
  credentials: Credentials
  secrets: readonly string[]
  env: ConnectorEnv
  /** The input as the caller sent it, before validation. */
  input: unknown
}

/** Validates the input against the action's schema; the 422 names each field as `input.<path>`. */
export function parseInput(definition: ConnectorAction, input: unknown): unknown {
  const parsed = definition.input.safeParse(input ?? {})
  if (parsed.success) return parsed.data
  const details = parsed.error.issues.map((issue) => {
    const path = ['input', ...issue.path.map(String)].join('.')
    if (issue.code === 'unrecognized_keys')
      return { path: issue.keys.map((k) => `${path}.${k}`).join(', '), message: 'Unknown field' }
    return { path, message: issue.message }
  })
  const summary = details.map((d) => `${d.path}: ${d.message}`).join('; ')
  throw new ApiError(422, 'validation_failed', `Invalid action input: ${summary}`, details)
}

/**
 * Records a requested action. One needing approval gets the vendor's preview (its refusal shown as is) and waits
 * in `pending_approval` until it expires; one that needs none is queued at once.
 */
export async function requestAction(
  ctx: AppContext,
  fanouts: readonly Fanout[],
  caller: ActionCaller,
  a: NewAction,
): Promise<ActionRow> {
  const input = parseInput(a.definition, a.input)
  if (a.integrationStatus === 'inactive')
    throw ApiError.conflict('The integration is disabled; activate it before asking it to act')
  const started = ctx.clock.now()
  const id = newId(started.getTime())
  let preview: unknown = null
  if (a.definition.preview) {
    try {
      preview = {
        ok: true,
        vendor: await a.definition.preview(a.credentials, input, a.env, {
          idempotencyKey: id,
          mayHaveRun: false,
          timeoutMs: ctx.config.PATCHBAY_DELIVERY_TIMEOUT_MS,
        }),
      }
    } catch (err) {
      if (!(err instanceof VendorError)) throw err
      const secrets = [...a.secrets, ...sensitiveValues(input, a.definition.sensitiveInput)]
      preview = {
        ok: false,
        error: scrubSecrets(err.message, secrets).slice(0, 2000),
        status: err.status ?? null,
      }
    }
  }
  const now = ctx.clock.now()
  return ctx.db.orm.transaction(async (tx) => {
    const [row] = await tx
      .insert(actions)
      .values({
        id,
        orgId: a.orgId,
        integrationId: a.integrationId,
        provider: a.provider,
        action: a.definition.name,
        input: maskInput(input, a.definition.sensitiveInput),
        sealedInput: sealInput(ctx, id, input),
        needsApproval: a.definition.needsApproval,
        status: a.definition.needsApproval ? 'pending_approval' : 'queued',
        preview,
        requestedByKeyId: caller.keyId,
        requestedByScope: caller.scope,
        expiresAt: a.definition.needsApproval
          ? new Date(now.getTime() + ctx.config.PATCHBAY_ACTION_APPROVAL_TTL_MS)
          : null,
        createdAt: now,
        updatedAt: now,
      })
      .returning()
    let stored = row as ActionRow
    const eventId = await emitActionEvent(tx, fanouts, stored, 'action.requested', now, {
      preview,
      expiresAt: stored.expiresAt?.toISOString() ?? null,
    })
    if (!stored.needsApproval) {
      const deliveryId = await queueDelivery(tx, stored, eventId, 'action.requested', now)
      ;[stored] = (await tx.update(actions).set({ deliveryId }).where(eq(actions.id, id)).returning()) as [
        ActionRow,
      ]
    }
    await recordAudit(
      tx,
      {
        actor: caller.actor,
        orgId: stored.orgId,
        action: 'action.request',
        targetType: 'action',
        targetId: id,
        summary: { provider: stored.provider, action: stored.action, status: stored.status },
        requestId: caller.requestId ?? null,
      },
      now,
    )
    return stored
  })
}

/**
 * Marks an action past its approval time expired, in `tx`, with its `action.expired` event (so whoever waits on
 * the approval in chat or a PSA hears that it lapsed, not only that it was rejected); true when it did.
 */
async function expireOne(
  tx: Executor,
  fanouts: readonly Fanout[],
  row: ActionRow,
  now: Date,
): Promise<boolean> {
  const done = await tx
    .update(actions)
    .set({ status: 'expired', updatedAt: now })
    .where(and(eq(actions.id, row.id), eq(actions.status, 'pending_approval')))
    .returning({ id: actions.id })
  if (done.length === 0) return false
  await recordAudit(
    tx,
    {
      actor: { type: 'system', name: 'actions' },
      orgId: row.orgId,
      action: 'action.expire',
      targetType: 'action',
      targetId: row.id,
      summary: { provider: row.provider, action: row.action, expiresAt: row.expiresAt?.toISOString() },
    },
    now,
  )
  await emitActionEvent(tx, fanouts, { ...row, status: 'expired', updatedAt: now }, 'action.expired', now)
  return true
}

function refuseUnlessPending(row: ActionRow): void {
  if (row.status === 'pending_approval') return
  if (row.status === 'expired')
    throw ApiError.conflict('The action expired before it was approved; it was never sent. Request it again.')
  throw ApiError.conflict(`The action is ${row.status}; only an action pending approval can be decided`)
}

/**
 * Approves an action: by another key than the one that asked, nor one of its scope that key made (four eyes),
 * and by a partner or system key when the organization requires it. An action past its expiry is expired here,
 * never sent.
 */
export async function approveAction(
  ctx: AppContext,
  fanouts: readonly Fanout[],
  scope: TenantScope,
  caller: ActionCaller,
  id: string,
): Promise<ActionRow> {
  const now = ctx.clock.now()
  const result = await ctx.db.orm.transaction(async (tx) => {
    const row = await getAction(tx, scope, id, { forUpdate: true })
    if (!row) throw ApiError.notFound('Action')
    if (row.status === 'pending_approval' && row.expiresAt && row.expiresAt <= now) {
      await expireOne(tx, fanouts, row, now)
      return { expired: true as const }
    }
    refuseUnlessPending(row)
    if (row.requestedByKeyId === caller.keyId)
      throw ApiError.forbidden('The API key that requested an action cannot approve it; another key must')
    // A key of the same scope the requester made (or made from one it made) would let one holder approve their own
    // request. A narrower key it made (a partner's key for its customer) is another party's, and may approve.
    if (
      row.requestedByKeyId &&
      caller.scope === row.requestedByScope &&
      (await keyMadeBy(tx, caller.keyId, row.requestedByKeyId))
    )
      throw ApiError.forbidden(
        'A key made by the API key that requested an action, with its scope, cannot approve it; another key must',
      )
    if (caller.scope === 'organization' && (await getApproverScope(tx, row.orgId)) === 'partner')
      throw ApiError.forbidden("This organization's actions must be approved with a partner or system key")
    const [approved] = (await tx
      .update(actions)
      .set({ status: 'queued', approvedByKeyId: caller.keyId, approvedAt: now, updatedAt: now })
      .where(eq(actions.id, id))
      .returning()) as [ActionRow]
    const eventId = await emitActionEvent(tx, fanouts, approved, 'action.approved', now)
    const deliveryId = await queueDelivery(tx, approved, eventId, 'action.approved', now)
    const [stored] = (await tx.update(actions).set({ deliveryId }).where(eq(actions.id, id)).returning()) as [
      ActionRow,
    ]
    await recordAudit(
      tx,
      {
        actor: caller.actor,
        orgId: row.orgId,
        action: 'action.approve',
        targetType: 'action',
        targetId: id,
        summary: { provider: row.provider, action: row.action, requestedBy: row.requestedByKeyId },
        requestId: caller.requestId ?? null,
      },
      now,
    )
    return { row: stored }
  })
  // Committed outside the refused transaction: an approval that came too late still leaves the action expired.
  if ('expired' in result)
    throw ApiError.conflict('The action expired before it was approved; it was never sent. Request it again.')
  return result.row
}

/** Rejects an action pending approval, with a reason; any key that reaches it may (the requester withdrawing it too). */
export async function rejectAction(
  ctx: AppContext,
  fanouts: readonly Fanout[],
  scope: TenantScope,
  caller: ActionCaller,
  id: string,
  reason: string,
): Promise<ActionRow> {
  const now = ctx.clock.now()
  return ctx.db.orm.transaction(async (tx) => {
    const row = await getAction(tx, scope, id, { forUpdate: true })
    if (!row) throw ApiError.notFound('Action')
    refuseUnlessPending(row)
    const [stored] = (await tx
      .update(actions)
      .set({
        status: 'rejected',
        rejectedByKeyId: caller.keyId,
        rejectedAt: now,
        rejectReason: reason,
        updatedAt: now,
      })
      .where(eq(actions.id, id))
      .returning()) as [ActionRow]
    await emitActionEvent(tx, fanouts, stored, 'action.rejected', now, { reason, rejectedBy: caller.keyId })
    await recordAudit(
      tx,
      {
        actor: caller.actor,
        orgId: row.orgId,
        action: 'action.reject',
        targetType: 'action',
        targetId: id,
        summary: { provider: row.provider, action: row.action, reason },
        requestId: caller.requestId ?? null,
      },
      now,
    )
    return stored
  })
}

/** The periodic sweep: every action still pending past its expiry becomes `expired` (never sent). */
export async function expireActions(
  ctx: AppContext,
  fanouts: readonly Fanout[] = ctx.fanouts,
  limit = 1000,
): Promise<number> {
  const now = ctx.clock.now()
  const due = await ctx.db.orm
    .select()
    .from(actions)
    .where(and(eq(actions.status, 'pending_approval'), lte(actions.expiresAt, now)))
    .limit(limit)
  let n = 0
  for (const row of due) {
    if (await ctx.db.orm.transaction((tx) => expireOne(tx, fanouts, row, now))) n++
  }
  return n
}

/** A delivery's final outcome, to be recorded on the action it carried. */
export interface ActionOutcome {
  actionId: string
  orgId: string
  deliveryId: string
  delivered: boolean
  /** The delivery's error (failed only). */
  errorMessage: string | null
  vendorStatus: number | null
}

/**
 * Moves an action to `completed` or `failed` from its delivery's final outcome, with its event and audit entry,
 * in `tx`: the transport's `settled` step, and the sweep for an action a worker left `running`. The update is
 * conditional, so of two callers (or a repeat) only one records it; the other gets undefined.
 */
export async function settleAction(
  tx: Executor,
  fanouts: readonly Fanout[],
  now: Date,
  o: ActionOutcome,
): Promise<ActionRow | undefined> {
  const [row] = (await tx
    .update(actions)
    .set(
      o.delivered
        ? { status: 'completed', completedAt: now, errorMessage: null, updatedAt: now }
        : { status: 'failed', errorMessage: o.errorMessage ?? 'Failed', updatedAt: now },
    )
    .where(
      and(
        eq(actions.id, o.actionId),
        eq(actions.orgId, o.orgId),
        o.delivered
          ? inArray(actions.status, ['queued', 'running', 'failed'])
          : notInArray(actions.status, ['completed', 'failed', 'rejected', 'expired', 'pending_approval']),
      ),
    )
    .returning()) as ActionRow[]
  if (!row) return undefined
  await emitActionEvent(
    tx,
    fanouts,
    row,
    o.delivered ? 'action.completed' : 'action.failed',
    now,
    o.delivered
      ? { result: { status: row.resultStatus, body: row.resultBody, vendorRef: row.vendorRef } }
      : { error: row.errorMessage, vendorStatus: o.vendorStatus },
    o.delivered ? '' : `:${o.deliveryId}`,
  )
  await recordAudit(
    tx,
    {
      actor: { type: 'system', name: 'delivery' },
      orgId: row.orgId,
      action: o.delivered ? 'action.complete' : 'action.fail',
      targetType: 'action',
      targetId: row.id,
      summary: {
        provider: row.provider,
        action: row.action,
        deliveryId: o.deliveryId,
        ...(o.delivered ? {} : { error: row.errorMessage }),
      },
    },
    now,
  )
  return row
}

/**
 * How long a delivery may have been final before its action is settled by the sweep rather than by the worker
 * that finished it (which does so right after recording the outcome).
 */
export const RECONCILE_AFTER_MS = 5 * 60_000

/**
 * The sweep for actions a worker left `queued` or `running`: it died between recording its delivery's final
 * outcome (delivered or failed) and updating the action. Each is settled from its delivery's final state, with
 * the same event and audit entry as the normal path, exactly once (settleAction's update is conditional).
 */
export async function reconcileActions(
  ctx: AppContext,
  fanouts: readonly Fanout[],
  limit = 1000,
): Promise<number> {
  const now = ctx.clock.now()
  const stuck = await rows<{
    id: string
    org_id: string
    delivery_id: string
    status: 'delivered' | 'failed'
    error_message: string | null
    response_status: number | null
  }>(
    ctx.db.orm,
    sql`SELECT a.id, a.org_id, a.delivery_id, d.status, d.error_message, d.response_status
        FROM actions a JOIN deliveries d ON d.id = a.delivery_id AND d.org_id = a.org_id
        WHERE a.status IN ('queued', 'running') AND d.status IN ('delivered', 'failed')
          AND d.updated_at <= ${new Date(now.getTime() - RECONCILE_AFTER_MS)}
        LIMIT ${limit}`,
  )
  let n = 0
  for (const s of stuck) {
    const settled = await ctx.db.orm.transaction((tx) =>
      settleAction(tx, fanouts, now, {
        actionId: s.id,
        orgId: s.org_id,
        deliveryId: s.delivery_id,
        delivered: s.status === 'delivered',
        errorMessage: s.error_message,
        vendorStatus: s.response_status,
      }),
    )
    if (settled) n++
  }
  return n
}
