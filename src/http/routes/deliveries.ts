import { createRoute, z } from '@hono/zod-openapi'
import type { AppContext } from '../../context.ts'
import { deliveryTimeline } from '../../delivery/attempts.ts'
import { TARGET_TYPES } from '../../delivery/targets.ts'
import { recordAudit } from '../../store/audit.ts'
import { getDelivery, listDeliveries, requeueFailed } from '../../webhooks/store.ts'
import { router } from '../env.ts'
import { ApiError, errorResponses } from '../errors.ts'
import { actorOf, resolveOrgFilter, scopeOf } from '../principal.ts'
import { dateTime, idParams, pageQuery, timeQuery, uuidSchema } from '../schemas.ts'
import {
  deliveryCursorQuery,
  deliveryDetailSchema,
  deliveryPage,
  deliveryPageSchema,
  deliveryStatusEnum,
  toAttempt,
  toDelivery,
} from './delivery-schemas.ts'
import { json, jsonBody } from './shared.ts'

const RECOVER_LIMIT = 10_000

const filterFields = {
  orgId: uuidSchema.optional(),
  webhookId: uuidSchema.optional().openapi({ description: 'One webhook' }),
  targetType: z
    .enum(TARGET_TYPES)
    .optional()
    .openapi({ description: '`webhook`, or an integration delivery kind' }),
  targetId: uuidSchema.optional().openapi({ description: 'One webhook or integration' }),
  eventType: z.string().max(100).optional(),
}

export function deliveryRoutes(ctx: AppContext) {
  const app = router()

  app.openapi(
    createRoute({
      method: 'get',
      path: '/',
      tags: ['Deliveries'],
      summary: 'List deliveries across webhooks and integrations',
      description:
        'The delivery history and dead-letter queue (`status=failed`) of the organizations the key reaches, newest ' +
        'first by `id` (a UUIDv7: its creation time to the millisecond, so the order of `createdAt`). `from` (inclusive) and `to` (exclusive) bound the creation time. Deep into a long history, page on by ' +
        '`cursor` (`pagination.nextCursor`) rather than by `page`.',
      request: {
        query: z.object({
          ...pageQuery,
          ...deliveryCursorQuery,
          ...filterFields,
          status: deliveryStatusEnum.optional(),
          from: timeQuery.optional(),
          to: timeQuery.optional(),
        }),
      },
      responses: {
        200: {
          description: 'Deliveries',
          content: { 'application/json': { schema: deliveryPageSchema } },
        },
        ...errorResponses(401, 404, 422),
      },
    }),
    async (c) => {
      const q = c.req.valid('query')
      const p = c.var.principal
      const orgId = await resolveOrgFilter(ctx.db.orm, p, q.orgId)
      const list = await listDeliveries(
        ctx.db.orm,
        scopeOf(p),
        {
          orgId,
          status: q.status,
          targetType: q.webhookId ? 'webhook' : q.targetType,
          targetId: q.webhookId ?? q.targetId,
          eventType: q.eventType,
          from: q.from,
          to: q.to,
          after: q.cursor,
        },
        q,
      )
      return c.json(deliveryPage(list.items, q, list), 200)
    },
  )

  app.openapi(
    createRoute({
      method: 'get',
      path: '/{id}',
      tags: ['Deliveries'],
      summary: 'Get a delivery with each of its attempts',
      description:
        'The delivery with its payload and its attempts on a timeline: request headers (secrets masked), ' +
        'response status and body, error and duration of each attempt.',
      request: { params: idParams },
      responses: { 200: json(deliveryDetailSchema, 'The delivery'), ...errorResponses(401, 404, 422) },
    }),
    async (c) => {
      const d = await getDelivery(ctx.db.orm, scopeOf(c.var.principal), c.req.valid('param').id)
      if (!d) throw ApiError.notFound('Delivery')
      const attempts = await deliveryTimeline(ctx.db.orm, d)
      return c.json({ ...toDelivery(d), attempts: attempts.map(toAttempt) }, 200)
    },
  )

  app.openapi(
    createRoute({
      method: 'post',
      path: '/retry',
      tags: ['Deliveries'],
      summary: 'Recover failed deliveries',
      description:
        'Queues a new attempt for every failed (dead-lettered) delivery matching the filter that has not been ' +
        `retried already — e.g. one webhook since a time. At most ${RECOVER_LIMIT} per call; call again for more.`,
      request: {
        body: jsonBody(
          z
            .strictObject({
              ...filterFields,
              since: dateTime().optional().openapi({ description: 'Failed deliveries created at or after' }),
              until: dateTime().optional().openapi({ description: 'and before' }),
            })
            .openapi('RecoverDeliveries'),
        ),
      },
      responses: {
        202: {
          description: 'Queued',
          content: {
            'application/json': {
              schema: z.object({
                message: z.string(),
                queued: z.number().int(),
                deliveryIds: z.array(z.uuid()),
              }),
            },
          },
        },
        ...errorResponses(400, 401, 404, 422),
      },
    }),
    async (c) => {
      const b = c.req.valid('json')
      const p = c.var.principal
      const orgId = await resolveOrgFilter(ctx.db.orm, p, b.orgId)
      const now = ctx.clock.now()
      const filter = {
        orgId,
        targetType: b.webhookId ? 'webhook' : b.targetType,
        targetId: b.webhookId ?? b.targetId,
        eventType: b.eventType,
        from: b.since ? new Date(b.since) : undefined,
        to: b.until ? new Date(b.until) : undefined,
      }
      const ids = await ctx.db.orm.transaction(async (tx) => {
        const queued = await requeueFailed(tx, scopeOf(p), filter, now, RECOVER_LIMIT)
        await recordAudit(
          tx,
          {
            actor: actorOf(p),
            orgId: orgId ?? null,
            action: 'delivery.recover',
            targetType: b.webhookId ? 'webhook' : 'deliveries',
            targetId: b.webhookId ?? b.targetId ?? null,
            summary: { filter: { ...b }, queued: queued.length },
            requestId: c.var.requestId,
          },
          now,
        )
        return queued
      })
      return c.json(
        { message: `${ids.length} failed deliveries queued for retry`, queued: ids.length, deliveryIds: ids },
        202,
      )
    },
  )

  return app
}
