/** `POST /actions/{id}/approve|reject|retry`: the decisions on an action, and sending a failed one again. */
import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi'
import { approveAction, rejectAction } from '../../../actions/service.ts'
import { getAction } from '../../../actions/store.ts'
import type { AppContext } from '../../../context.ts'
import type { Fanout } from '../../../delivery/types.ts'
import { recordAudit } from '../../../store/audit.ts'
import { requeueFailed } from '../../../webhooks/store.ts'
import type { AppEnv } from '../../env.ts'
import { ApiError, errorResponses } from '../../errors.ts'
import { actorOf, scopeOf } from '../../principal.ts'
import { idParams } from '../../schemas.ts'
import { json, jsonBody } from '../shared.ts'
import { actionSchema, callerOf, TAG, toAction } from './schemas.ts'

export function decisionRoutes(app: OpenAPIHono<AppEnv>, ctx: AppContext, fanouts: readonly Fanout[]) {
  const db = ctx.db.orm

  app.openapi(
    createRoute({
      method: 'post',
      path: '/{id}/approve',
      tags: [TAG],
      summary: 'Approve an action (another key than the one that asked)',
      description:
        'Queues the action for sending. 403 for the key that asked it, or for an organization key when the ' +
        'organization requires a partner or system key; 409 when it is not pending (already decided, or expired).',
      request: { params: idParams },
      responses: {
        202: json(actionSchema, 'Approved and queued'),
        ...errorResponses(401, 403, 404, 409, 422),
      },
    }),
    async (c) => {
      const row = await approveAction(
        ctx,
        fanouts,
        scopeOf(c.var.principal),
        callerOf(c),
        c.req.valid('param').id,
      )
      return c.json(toAction(row), 202)
    },
  )

  app.openapi(
    createRoute({
      method: 'post',
      path: '/{id}/reject',
      tags: [TAG],
      summary: 'Reject an action pending approval, with a reason',
      request: {
        params: idParams,
        body: jsonBody(
          z.strictObject({ reason: z.string().trim().min(1).max(2000) }).openapi('ActionReject'),
        ),
      },
      responses: { 200: json(actionSchema, 'Rejected'), ...errorResponses(401, 404, 409, 422) },
    }),
    async (c) => {
      const row = await rejectAction(
        ctx,
        fanouts,
        scopeOf(c.var.principal),
        callerOf(c),
        c.req.valid('param').id,
        c.req.valid('json').reason,
      )
      return c.json(toAction(row), 200)
    },
  )

  app.openapi(
    createRoute({
      method: 'post',
      path: '/{id}/retry',
      tags: [TAG],
      summary: 'Send a failed action again',
      description:
        'Queues a new attempt of the failed delivery that carried it (as `POST /deliveries/retry` does). Only a ' +
        'failed action: one rejected or expired was never approved and cannot be sent.',
      request: { params: idParams },
      responses: {
        202: json(z.object({ id: z.uuid(), deliveryId: z.uuid() }), 'Queued'),
        ...errorResponses(401, 404, 409, 422),
      },
    }),
    async (c) => {
      const p = c.var.principal
      const scope = scopeOf(p)
      const row = await getAction(db, scope, c.req.valid('param').id)
      if (!row) throw ApiError.notFound('Action')
      if (row.status !== 'failed' || !row.deliveryId)
        throw ApiError.conflict(`The action is ${row.status}; only a failed action can be retried`)
      const now = ctx.clock.now()
      const ids = await db.transaction(async (tx) => {
        const queued = await requeueFailed(
          tx,
          scope,
          { orgId: row.orgId, targetType: 'action', ids: [row.deliveryId as string] },
          now,
          1,
        )
        await recordAudit(
          tx,
          {
            actor: actorOf(p),
            orgId: row.orgId,
            action: 'action.retry',
            targetType: 'action',
            targetId: row.id,
            summary: { deliveryId: queued[0] ?? null },
            requestId: c.var.requestId,
          },
          now,
        )
        return queued
      })
      if (!ids[0]) throw ApiError.conflict('The failed delivery was already retried; see its retry')
      return c.json({ id: row.id, deliveryId: ids[0] }, 202)
    },
  )
}
