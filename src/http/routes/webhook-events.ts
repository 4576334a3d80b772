import { createRoute, z } from '@hono/zod-openapi'
import type { AppContext } from '../../context.ts'
import { type EventFilter, getEvent, listEvents, replayEvent, replayMatching } from '../../inbound/events.ts'
import type { WebhookEventRow } from '../../inbound/pipeline.ts'
import { router } from '../env.ts'
import { ApiError, errorResponses } from '../errors.ts'
import { resolveOrgFilter, scopeOf } from '../principal.ts'
import { dateTime, idParams, iso, timeQuery, timestamp, uuidSchema } from '../schemas.ts'
import { auditOf, json, jsonBody } from './shared.ts'

const statusEnum = z.enum(['received', 'processing', 'processed', 'retrying', 'failed', 'rejected'])
const stageEnum = z.enum(['verify', 'parse', 'normalize', 'apply'])

const failureSchema = z
  .object({
    stage: z.string(),
    errorClass: z.string(),
    error: z.string().openapi({ description: 'Verbatim, secrets removed' }),
    suggestion: z.string(),
  })
  .openapi('WebhookFailureAnalysis')

const summarySchema = z
  .object({
    id: z.uuid(),
    orgId: z.uuid(),
    sourceId: z.uuid(),
    provider: z.string(),
    status: statusEnum,
    stage: stageEnum.nullable(),
    bodyBytes: z.number().int(),
    preview: z.string().nullable().openapi({ description: 'The first 200 characters of the body' }),
    replayOf: z.uuid().nullable(),
    failure: failureSchema.nullable(),
    receivedAt: timestamp,
    processedAt: timestamp.nullable(),
  })
  .openapi('WebhookEvent')

const attemptSchema = z
  .object({
    stage: z.string(),
    attempt: z.number().int(),
    ok: z.boolean(),
    error: z.string().optional(),
    errorClass: z.string().optional(),
    detail: z.string().optional(),
    durationMs: z.number(),
    at: timestamp,
  })
  .openapi('WebhookEventAttempt')

const detailSchema = summarySchema
  .extend({
    headers: z.record(z.string(), z.string()).openapi({ description: 'As received, without secrets' }),
    body: z.string().nullable().openapi({ description: 'Raw body; null for rejected requests' }),
    verified: z.string().nullable(),
    attempts: z.array(attemptSchema),
    platformEvents: z.array(z.object({ id: z.string(), type: z.string() })).nullable(),
  })
  .openapi('WebhookEventDetail')

const filterFields = {
  orgId: uuidSchema.optional(),
  sourceId: uuidSchema.optional(),
  provider: z.string().max(64).optional(),
  status: statusEnum.optional(),
  stage: stageEnum.optional(),
  from: timeQuery.optional().openapi({ description: 'Received at or after (ISO 8601)' }),
  to: timeQuery.optional().openapi({ description: 'Received at or before (ISO 8601)' }),
  q: z.string().min(1).max(200).optional().openapi({ description: 'Text anywhere in the body' }),
}

function summary(e: WebhookEventRow) {
  return {
    id: e.id,
    orgId: e.orgId,
    sourceId: e.sourceId,
    provider: e.provider,
    status: e.status as z.infer<typeof statusEnum>,
    stage: e.stage as z.infer<typeof stageEnum> | null,
    bodyBytes: e.bodyBytes,
    preview: e.body === null ? null : e.body.slice(0, 200),
    replayOf: e.replayOf,
    failure: (e.failure as z.infer<typeof failureSchema> | null) ?? null,
    receivedAt: iso(e.receivedAt) as string,
    processedAt: iso(e.processedAt),
  }
}

export function webhookEventRoutes(ctx: AppContext) {
  const app = router()

  app.openapi(
    createRoute({
      method: 'get',
      path: '/',
      tags: ['Webhook events'],
      summary: 'List received inbound webhook events',
      description: 'Most recent first; `next` is the cursor of the following page.',
      request: {
        query: z.object({
          ...filterFields,
          limit: z.coerce.number().int().min(1).max(100).default(50),
          cursor: z.string().max(200).optional(),
        }),
      },
      responses: {
        200: json(z.object({ data: z.array(summarySchema), next: z.string().nullable() }), 'Events'),
        ...errorResponses(401, 404, 422),
      },
    }),
    async (c) => {
      const q = c.req.valid('query')
      const orgId = await resolveOrgFilter(ctx.db.orm, c.var.principal, q.orgId)
      const { items, next } = await listEvents(ctx.db.orm, scopeOf(c.var.principal), { ...q, orgId }, q)
      return c.json({ data: items.map(summary), next: next ?? null }, 200)
    },
  )

  app.openapi(
    createRoute({
      method: 'get',
      path: '/{id}',
      tags: ['Webhook events'],
      summary: 'Get an inbound webhook event with headers, body and every stage attempt',
      request: { params: idParams },
      responses: { 200: json(detailSchema, 'The event'), ...errorResponses(401, 404, 422) },
    }),
    async (c) => {
      const e = await getEvent(ctx.db.orm, scopeOf(c.var.principal), c.req.valid('param').id)
      if (!e) throw ApiError.notFound('Webhook event')
      return c.json(
        {
          ...summary(e),
          headers: e.headers,
          body: e.body,
          verified: e.verified,
          attempts: e.attempts as z.infer<typeof attemptSchema>[],
          platformEvents: e.platformEvents ?? null,
        },
        200,
      )
    },
  )

  app.openapi(
    createRoute({
      method: 'post',
      path: '/{id}/replay',
      tags: ['Webhook events'],
      summary: 'Replay an event through the whole pipeline as a new event',
      request: { params: idParams },
      responses: {
        202: json(z.object({ id: z.uuid(), replayOf: z.uuid() }), 'Queued'),
        ...errorResponses(401, 404, 409, 422),
      },
    }),
    async (c) => {
      const e = await getEvent(ctx.db.orm, scopeOf(c.var.principal), c.req.valid('param').id)
      if (!e) throw ApiError.notFound('Webhook event')
      const id = await replayEvent(ctx, e, auditOf(c))
      return c.json({ id, replayOf: e.id }, 202)
    },
  )

  app.openapi(
    createRoute({
      method: 'post',
      path: '/replay',
      tags: ['Webhook events'],
      summary: 'Replay every event matching a filter (at most 1000; status defaults to failed)',
      request: {
        body: jsonBody(
          z
            .strictObject({
              orgId: uuidSchema.optional(),
              sourceId: uuidSchema.optional(),
              provider: z.string().max(64).optional(),
              status: statusEnum.default('failed'),
              stage: stageEnum.optional(),
              from: dateTime().optional(),
              to: dateTime().optional(),
              q: z.string().min(1).max(200).optional(),
            })
            .openapi('BulkReplay'),
        ),
      },
      responses: {
        202: json(z.object({ count: z.number().int(), ids: z.array(z.uuid()) }), 'Queued'),
        ...errorResponses(401, 404, 422),
      },
    }),
    async (c) => {
      const b = c.req.valid('json')
      const orgId = await resolveOrgFilter(ctx.db.orm, c.var.principal, b.orgId)
      const filter: EventFilter = {
        ...b,
        orgId,
        from: b.from ? new Date(b.from) : undefined,
        to: b.to ? new Date(b.to) : undefined,
      }
      return c.json(await replayMatching(ctx, scopeOf(c.var.principal), filter, auditOf(c)), 202)
    },
  )

  return app
}
