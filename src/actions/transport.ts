/**
 * The `action` delivery: sends one approved action to its vendor through the connector's `run`. The engine owns
 * claiming, leases, retries (the default policy, a vendor's Retry-After winning when longer) and the dead-letter
 * state; this transport refuses anything not approved, finds a result an earlier attempt already recorded
 * instead of sending again, records each attempt with the vendor's answer, and moves the action to `completed`
 * or `failed` (with its event and audit entry) once the engine has recorded the outcome.
 */

import { and, eq, isNull, ne, sql } from 'drizzle-orm'
import { z } from 'zod'
import { VendorError, VendorRefusal } from '../connectors/vendor-error.ts'
import type { AppContext } from '../context.ts'
import { DEFAULT_RETRY_POLICY } from '../delivery/policy.ts'
import {
  type AttemptOutcome,
  type ClaimedDelivery,
  type Fanout,
  operationOf,
  type Settled,
  type Transport,
} from '../delivery/types.ts'
import { connectorEnv } from '../integrations/verification.ts'
import { newId } from '../lib/ids.ts'
import { scrubSecrets } from '../lib/redact.ts'
import { TargetLoader, unusable, vendorFailure } from '../notifications/targets.ts'
import { actionAttempts, actions } from '../store/schema/actions.ts'
import { ACTION_TARGET, openInput, sensitiveValues, settleAction } from './service.ts'

const BODY_LIMIT = 1000

/** An `action` delivery's `operation`, as service.ts queues it (`op` is always `action`, not read). */
export const actionOperation = z.object({ actionId: z.string() })

function actionIdOf(d: ClaimedDelivery): string | undefined {
  return operationOf(actionOperation, d)?.actionId
}

export function actionTransport(ctx: AppContext, fanouts: () => readonly Fanout[]): Transport {
  const targets = new TargetLoader(ctx)
  const db = ctx.db.orm

  async function finishAttempt(
    attemptId: string,
    outcome: string,
    fields: { status?: number | undefined; body?: string | undefined; error?: string | undefined },
  ) {
    await db
      .update(actionAttempts)
      .set({
        finishedAt: ctx.clock.now(),
        outcome,
        responseStatus: fields.status ?? null,
        responseBody: fields.body?.slice(0, BODY_LIMIT) ?? null,
        errorMessage: fields.error?.slice(0, 2000) ?? null,
      })
      .where(eq(actionAttempts.id, attemptId))
  }

  return {
    type: ACTION_TARGET,

    prepare: (batch) => targets.prepare(batch),

    async attempt(d: ClaimedDelivery): Promise<AttemptOutcome> {
      const actionId = actionIdOf(d)
      if (!actionId) return { kind: 'failed', errorMessage: 'Delivery names no action; not sent' }
      const [row] = await db
        .select()
        .from(actions)
        .where(and(eq(actions.id, actionId), eq(actions.orgId, d.orgId)))
      if (!row) return { kind: 'failed', errorMessage: 'The action no longer exists; not sent' }
      // The engine never sends what was not approved, whatever put the delivery in the queue.
      if (row.needsApproval && !row.approvedAt)
        return { kind: 'failed', errorMessage: 'The action was not approved; not sent' }
      if (['pending_approval', 'rejected', 'expired'].includes(row.status))
        return { kind: 'failed', errorMessage: `The action is ${row.status}; not sent` }
      if (row.resultStatus !== null) {
        // An earlier attempt got the vendor's answer but its outcome was not recorded (the worker stopped).
        return {
          kind: 'delivered',
          responseStatus: row.resultStatus,
          responseBody: `Already done: ${row.resultBody ?? ''}`.slice(0, BODY_LIMIT),
        }
      }
      const target = targets.get(d.targetId)
      const refused = unusable(target, d)
      if (refused || !target?.credentials) return refused ?? { kind: 'failed' }
      const definition = ctx.connectors.get(target.provider)?.actions?.find((a) => a.name === row.action)
      if (!definition)
        return { kind: 'failed', errorMessage: `${target.provider} has no action "${row.action}"; not sent` }
      const input = openInput(ctx, row)
      const secrets = [...target.secrets, ...sensitiveValues(input, definition.sensitiveInput)]
      // Any earlier attempt that did not end in a clear refusal may have reached the vendor.
      const [prior] = await db
        .select({ n: sql<number>`count(*)::int` })
        .from(actionAttempts)
        .where(
          and(
            eq(actionAttempts.actionId, row.id),
            sql`(${actionAttempts.finishedAt} IS NULL OR ${actionAttempts.responseStatus} IS NULL OR ${actionAttempts.responseStatus} >= 500)`,
          ),
        )
      const now = ctx.clock.now()
      const attemptId = newId(now.getTime())
      await db.transaction(async (tx) => {
        await tx
          .update(actions)
          .set({ status: 'running', deliveryId: d.id, updatedAt: now })
          .where(and(eq(actions.id, row.id), ne(actions.status, 'completed')))
        await tx.insert(actionAttempts).values({
          id: attemptId,
          actionId: row.id,
          orgId: row.orgId,
          deliveryId: d.id,
          attempt: d.attempt,
          startedAt: now,
        })
      })
      const started = performance.now()
      try {
        const result = await definition.run(target.credentials, input, connectorEnv(ctx, target.provider), {
          idempotencyKey: row.id,
          mayHaveRun: (prior?.n ?? 0) > 0,
          timeoutMs: ctx.config.PATCHBAY_DELIVERY_TIMEOUT_MS,
        })
        const body = scrubSecrets(String(result.body ?? ''), secrets).slice(0, BODY_LIMIT)
        // Recorded before the outcome: a retry after a crash finds it instead of sending again.
        await db
          .update(actions)
          .set({ resultStatus: result.status, resultBody: body, vendorRef: result.vendorRef ?? null })
          .where(and(eq(actions.id, row.id), isNull(actions.resultStatus)))
        await finishAttempt(attemptId, 'completed', { status: result.status, body })
        return {
          kind: 'delivered',
          responseStatus: result.status,
          responseBody: body,
          responseTimeMs: Math.round(performance.now() - started),
        }
      } catch (err) {
        if (!(err instanceof VendorError)) {
          await finishAttempt(attemptId, 'retry', { error: 'Internal error during the attempt' })
          throw err
        }
        const judged = vendorFailure(err, secrets)
        const outcome: AttemptOutcome =
          err instanceof VendorRefusal ? { ...judged, kind: 'failed', retryAfterMs: undefined } : judged
        await finishAttempt(attemptId, outcome.kind, {
          status: outcome.responseStatus,
          body: outcome.responseBody,
          error: outcome.errorMessage,
        })
        return { ...outcome, responseTimeMs: Math.round(performance.now() - started) }
      }
    },

    retryPolicy: () => DEFAULT_RETRY_POLICY,

    async settled(results: Settled[]): Promise<void> {
      const now = ctx.clock.now()
      for (const r of results) {
        const actionId = actionIdOf(r.delivery)
        if (!actionId) continue
        try {
          if (r.status === 'retrying') {
            await db
              .update(actions)
              .set({ errorMessage: r.outcome.errorMessage ?? null, updatedAt: now })
              .where(and(eq(actions.id, actionId), eq(actions.status, 'running')))
            continue
          }
          await db.transaction((tx) =>
            settleAction(tx, fanouts(), now, {
              actionId,
              orgId: r.delivery.orgId,
              deliveryId: r.delivery.id,
              delivered: r.status === 'delivered',
              errorMessage: r.outcome.errorMessage ?? null,
              vendorStatus: r.outcome.responseStatus ?? null,
            }),
          )
        } catch (err) {
          ctx.log.error({ err, actionId }, 'could not record an action’s outcome')
        }
      }
    },
  }
}
