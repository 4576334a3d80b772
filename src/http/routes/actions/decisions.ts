import { createRoute, z } from '@hono/zod-openapi'
import type { Context } from 'hono'
import { type ActionCaller, approveAction, rejectAction, requestAction } from '../../../actions/service.ts'
import {
  ACTION_STATUSES,
  type ActionAttemptRow,
  type ActionRow,
  BadCursor,
  getAction,
  getApproverScope,
  listActions,
  listAttempts,
  setApproverScope,
} from '../../../actions/store.ts'
import type { AppContext } from '../../../context.ts'
import type { Fanout } from '../../../delivery/types.ts'
import { secretValues } from '../../../integrations/credentials.ts'
import { loadCredentials } from '../../../integrations/service.ts'
import { connectorEnv } from '../../../integrations/verification.ts'
import { recordAudit } from '../../../store/audit.ts'
import { requeueFailed } from '../../../webhooks/store.ts'
import { type AppEnv, router } from '../../env.ts'
import { ApiError, errorResponses } from '../../errors.ts'
import { actorOf, type Principal, resolveOrgFilter, resolveOrgId, scopeOf } from '../../principal.ts'
import { idParams, iso, timeQuery, timestamp, uuidSchema } from '../../schemas.ts'
import { json, jsonBody } from '../shared.ts'

const TAG = 'Actions'
const statusEnum = z.enum(ACTION_STATUSES)

const actionSchema = z
  .object({
    id: z.uuid(),
    orgId: z.uuid(),
    integrationId: z.uuid(),
    provider: z.string(),
    action: z.string(),
    status: statusEnum,
    needsApproval: z.boolean(),
    input: z.unknown().openapi({ description: "The input as given, the action's sensitive fields masked" }),
    preview: z.unknown().nullable().openapi({
      description:
        "`{ok: true, vendor}` with the vendor's dry run or validation, or `{ok: false, error, status}`",
    }),
    requestedBy: z.uuid().nullable().openapi({ description: 'The API key that asked' }),
    approvedBy: z.uuid().nullable(),
    approvedAt: timestamp.nullable(),
    rejectedBy: z.uuid().nullable(),
    rejectedAt: timestamp.nullable(),
    rejectReason: z.string().nullable(),
    expiresAt: timestamp.nullable().openapi({ description: 'Pending approval until then; expired after' }),
    deliveryId: z.uuid().nullable().openapi({ description: 'The delivery carrying the latest run' }),
    result: z
      .object({ status: z.number().int(), body: z.string().nullable(), vendorRef: z.string().nullable() })
      .nullable(),
    error: z.string().nullable().openapi({ description: "The vendor's words when it failed" }),
    createdAt: timestamp,
    updatedAt: timestamp,
    completedAt: timestamp.nullable(),
  })
  .openapi('Action')

const attemptSchema = z
  .object({
    deliveryId: z.uuid(),
    attempt: z.number().int(),
    startedAt: timestamp,
    finishedAt: timestamp.nullable().openapi({ description: 'Null: cut short (the worker stopped)' }),
    outcome: z.string().nullable(),
    vendorStatus: z.number().int().nullable(),
    vendorBody: z.string().nullable(),
    error: z.string().nullable(),
  })
  .openapi('ActionAttempt')

const detailSchema = actionSchema.extend({ attempts: z.array(attemptSchema) }).openapi('ActionDetail')

function toAction(r: ActionRow) {
  return {
    id: r.id,
    orgId: r.orgId,
    integrationId: r.integrationId,
    provider: r.provider,
    action: r.action,
    status: r.status as z.infer<typeof statusEnum>,
    needsApproval: r.needsApproval,
    input: r.input,
    preview: r.preview ?? null,
    requestedBy: r.requestedByKeyId,
    approvedBy: r.approvedByKeyId,
    approvedAt: iso(r.approvedAt),
    rejectedBy: r.rejectedByKeyId,
    rejectedAt: iso(r.rejectedAt),
    rejectReason: r.rejectReason,
    expiresAt: iso(r.expiresAt),
    deliveryId: r.deliveryId,
    result:
      r.resultStatus === null ? null : { status: r.resultStatus, body: r.resultBody, vendorRef: r.vendorRef },
    error: r.errorMessage,
    createdAt: r.createdAt.toISOString(),
    updatedAt: r.updatedAt.toISOString(),
    completedAt: iso(r.completedAt),
  }
}

function toAttempt(a: ActionAttemptRow) {
  return {
    deliveryId: a.deliveryId,
    attempt: a.attempt,
    startedAt: a.startedAt.toISOString(),
    finishedAt: iso(a.finishedAt),
    outcome: a.outcome,
    vendorStatus: a.responseStatus,
    vendorBody: a.responseBody,
    error: a.errorMessage,
  }
}

function callerOf(c: Context<AppEnv>): ActionCaller {
  const p: Principal = c.var.principal
  return { keyId: p.keyId, scope: p.scope, actor: actorOf(p), requestId: c.var.requestId }
}

const requestBody = z
  .strictObject({
    action: z
      .string()
      .min(1)
      .max(100)
      .openapi({ description: "One of the provider's `actions` (providers list)" }),
    input: z
      .record(z.string(), z.unknown())
      .default({})
      .openapi({ description: "Matching the action's `input_schema`" }),
  })
  .openapi('ActionRequest')

/** `POST /integrations/{id}/actions` */
export function integrationActionRoutes(ctx: AppContext, fanouts: readonly Fanout[]) {
  const app = router()

  app.openapi(
    createRoute({
      method: 'post',
      path: '/{id}/actions',
      tags: [TAG],
      summary: 'Ask an integration to act at its vendor',
      description:
        "Validates the input against the action's schema (422 naming the fields). An action that needs approval " +
        "waits in `pending_approval` with the vendor's preview until another key approves it; one that needs " +
        'none is queued at once. Either way it is sent by the delivery engine.',
      request: { params: idParams, body: jsonBody(requestBody) },
      responses: {
        202: json(actionSchema, 'Recorded'),
        ...errorResponses(401, 404, 409, 422),
      },
    }),
    async (c) => {
      const p = c.var.principal
      const body = c.req.valid('json')
      const { integration, connector, credentials } = await loadCredentials(
        ctx,
        scopeOf(p),
        c.req.valid('param').id,
      )
      const definition = connector.actions?.find((a) => a.name === body.action)
      if (!definition) {
        const names = (connector.actions ?? []).map((a) => a.name)
        throw ApiError.invalid(
          'action',
          names.length
            ? `${connector.descriptor.displayName} has no action "${body.action}"; it has ${names.join(', ')}`
            : `${connector.descriptor.displayName} takes no actions`,
        )
      }
      const row = await requestAction(ctx, fanouts, callerOf(c), {
        orgId: integration.orgId,
        integrationId: integration.id,
        provider: integration.provider,
        integrationStatus: integration.status,
        definition,
        credentials,
        secrets: secretValues(connector.descriptor.credentialSchema, credentials),
        env: connectorEnv(ctx, integration.provider),
        input: body.input,
      })
      return c.json(toAction(row), 202)
    },
  )

  return app
}

const listQuery = z.object({
  orgId: uuidSchema.optional(),
  status: statusEnum.optional(),
  integrationId: uuidSchema.optional(),
  action: z.string().max(100).optional(),
  requester: uuidSchema.optional().openapi({ description: 'The id of the API key that asked' }),
  from: timeQuery.optional().openapi({ description: 'Created at or after' }),
  to: timeQuery.optional().openapi({ description: 'Created before' }),
  limit: z.coerce.number().int().min(1).max(100).default(50),
  cursor: z.string().max(200).optional(),
})

const settingsSchema = z
  .object({
    orgId: z.uuid(),
    approverScope: z.enum(['any', 'partner']).openapi({
      description:
        '`any`: any other key of the organization may approve; `partner`: only a partner or system key may',
    }),
  })
  .openapi('ActionSettings')

/** `/actions` */
export function actionRoutes(ctx: AppContext, fanouts: readonly Fanout[]) {
  const app = router()
  const db = ctx.db.orm

  app.openapi(
    createRoute({
      method: 'get',
      path: '/settings',
      tags: [TAG],
      summary: "An organization's approval rule",
      request: { query: z.object({ orgId: uuidSchema.optional() }) },
      responses: { 200: json(settingsSchema, 'Settings'), ...errorResponses(401, 404, 422) },
    }),
    async (c) => {
      const orgId = await resolveOrgId(db, c.var.principal, c.req.valid('query').orgId)
      return c.json({ orgId, approverScope: await getApproverScope(db, orgId) }, 200)
    },
  )

  app.openapi(
    createRoute({
      method: 'put',
      path: '/settings',
      tags: [TAG],
      summary: "Set an organization's approval rule (partner and system keys)",
      description: 'An organization key cannot change who may approve its own actions.',
      request: {
        body: jsonBody(
          z
            .strictObject({ orgId: uuidSchema.optional(), approverScope: z.enum(['any', 'partner']) })
            .openapi('ActionSettingsUpdate'),
        ),
      },
      responses: { 200: json(settingsSchema, 'Settings'), ...errorResponses(401, 403, 404, 422) },
    }),
    async (c) => {
      const p = c.var.principal
      const b = c.req.valid('json')
      if (p.scope === 'organization')
        throw ApiError.forbidden('Only a partner or system key may change who approves actions')
      const orgId = await resolveOrgId(db, p, b.orgId)
      const now = ctx.clock.now()
      await db.transaction(async (tx) => {
        await setApproverScope(tx, orgId, b.approverScope, now)
        await recordAudit(
          tx,
          {
            actor: actorOf(p),
            orgId,
            action: 'action.settings.update',
            targetType: 'org',
            targetId: orgId,
            summary: { approverScope: b.approverScope },
            requestId: c.var.requestId,
          },
          now,
        )
      })
      return c.json({ orgId, approverScope: b.approverScope }, 200)
    },
  )

  app.openapi(
    createRoute({
      method: 'get',
      path: '/',
      tags: [TAG],
      summary: 'List actions',
      description: 'Most recent first; `next` is the cursor of the following page.',
      request: { query: listQuery },
      responses: {
        200: json(z.object({ data: z.array(actionSchema), next: z.string().nullable() }), 'Actions'),
        ...errorResponses(401, 404, 422),
      },
    }),
    async (c) => {
      const q = c.req.valid('query')
      const orgId = await resolveOrgFilter(db, c.var.principal, q.orgId)
      try {
        const { items, next } = await listActions(db, scopeOf(c.var.principal), { ...q, orgId }, q)
        return c.json({ data: items.map(toAction), next: next ?? null }, 200)
      } catch (err) {
        if (err instanceof BadCursor) throw ApiError.invalid('cursor', err.message)
        throw err
      }
    },
  )

  app.openapi(
    createRoute({
      method: 'get',
      path: '/{id}',
      tags: [TAG],
      summary: 'Get an action with its preview, approval and every attempt with the vendor’s answer',
      request: { params: idParams },
      responses: { 200: json(detailSchema, 'The action'), ...errorResponses(401, 404, 422) },
    }),
    async (c) => {
      const row = await getAction(db, scopeOf(c.var.principal), c.req.valid('param').id)
      if (!row) throw ApiError.notFound('Action')
      const attempts = await listAttempts(db, row.id)
      return c.json({ ...toAction(row), attempts: attempts.map(toAttempt) }, 200)
    },
  )

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

  return app
}
