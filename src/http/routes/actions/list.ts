/** `GET /actions` and `GET /actions/{id}`: actions by status, and one with its preview, approval and attempts. */
import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi'
import {
  type ActionAttemptRow,
  BadCursor,
  getAction,
  listActions,
  listAttempts,
} from '../../../actions/store.ts'
import type { AppContext } from '../../../context.ts'
import type { AppEnv } from '../../env.ts'
import { ApiError, errorResponses } from '../../errors.ts'
import { resolveOrgFilter, scopeOf } from '../../principal.ts'
import { idParams, iso, timeQuery, timestamp, uuidSchema } from '../../schemas.ts'
import { json } from '../shared.ts'
import { actionSchema, statusEnum, TAG, toAction } from './schemas.ts'

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

export function listRoutes(app: OpenAPIHono<AppEnv>, ctx: AppContext) {
  const db = ctx.db.orm

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
}
