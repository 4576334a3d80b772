/**
 * A webhook's deliveries: `GET /webhooks/{id}/deliveries`, `POST /webhooks/{id}/test` (a test delivery through
 * the real pipeline) and `POST /webhooks/{id}/retry/{deliveryId}`.
 */
import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi'
import type { AppContext } from '../../../context.ts'
import { recordAudit } from '../../../store/audit.ts'
import { queueTestDelivery } from '../../../webhooks/service.ts'
import { getDelivery, listDeliveries, requeueFailed } from '../../../webhooks/store.ts'
import type { AppEnv } from '../../env.ts'
import { ApiError, errorResponses } from '../../errors.ts'
import { actorOf, type Principal } from '../../principal.ts'
import { idParams, pageQuery, uuidSchema } from '../../schemas.ts'
import {
  deliveryCursorQuery,
  deliveryPage,
  deliveryPageSchema,
  deliveryStatusEnum,
} from '../delivery-schemas.ts'
import { json } from '../shared.ts'
import { changeOf, loadWebhook } from './schemas.ts'

export function deliveryRoutes(app: OpenAPIHono<AppEnv>, ctx: AppContext) {
  const load = (p: Principal, id: string) => loadWebhook(ctx, p, id)

  app.openapi(
    createRoute({
      method: 'get',
      path: '/{id}/deliveries',
      tags: ['Webhooks'],
      summary: "List a webhook's deliveries",
      description: 'Most recent first.',
      request: {
        params: idParams,
        query: z.object({ ...pageQuery, ...deliveryCursorQuery, status: deliveryStatusEnum.optional() }),
      },
      responses: { 200: json(deliveryPageSchema, 'Deliveries'), ...errorResponses(401, 404, 422) },
    }),
    async (c) => {
      const w = await load(c.var.principal, c.req.valid('param').id)
      const q = c.req.valid('query')
      const list = await listDeliveries(
        ctx.db.orm,
        { kind: 'org', orgId: w.orgId },
        { targetType: 'webhook', targetId: w.id, status: q.status, after: q.cursor },
        q,
      )
      return c.json(deliveryPage(list.items, q, list), 200)
    },
  )

  app.openapi(
    createRoute({
      method: 'post',
      path: '/{id}/test',
      tags: ['Webhooks'],
      summary: 'Send a test delivery',
      description:
        'Queued through the same pipeline as real events. `event` defaults to `webhook.test`, `payload` to a message, timestamp and the webhook id. A webhook that is not `active` answers 409 and nothing is queued.',
      request: {
        params: idParams,
        body: {
          required: false,
          content: {
            'application/json': {
              schema: z.strictObject({
                event: z.string().max(100).optional(),
                payload: z.record(z.string(), z.unknown()).optional(),
              }),
            },
          },
        },
      },
      responses: {
        202: json(
          z.object({
            message: z.string(),
            delivery: z.object({
              id: z.uuid(),
              webhookId: z.uuid(),
              status: z.literal('pending'),
              event: z.string(),
              attempt: z.literal(0),
            }),
          }),
          'Queued',
        ),
        ...errorResponses(401, 404, 409, 422),
      },
    }),
    async (c) => {
      const w = await load(c.var.principal, c.req.valid('param').id)
      // A paused (or failed) webhook sends nothing, so a test queued for it could only fail and count as a failure.
      if (w.status !== 'active')
        throw ApiError.conflict(`Webhook is ${w.status}; set its status to active to send a test delivery`)
      const d = await queueTestDelivery(ctx, w, c.req.valid('json'), changeOf(c))
      return c.json(
        {
          message: 'Test delivery queued',
          delivery: {
            id: d.id,
            webhookId: w.id,
            status: 'pending' as const,
            event: d.eventType,
            attempt: 0 as const,
          },
        },
        202,
      )
    },
  )

  app.openapi(
    createRoute({
      method: 'post',
      path: '/{id}/retry/{deliveryId}',
      tags: ['Webhooks'],
      summary: 'Retry a failed delivery',
      description: 'Only `failed` deliveries. Creates a new delivery with the same event, queued now.',
      request: {
        params: idParams.extend({
          deliveryId: uuidSchema.openapi({ param: { name: 'deliveryId', in: 'path' } }),
        }),
      },
      responses: {
        202: json(
          z.object({
            message: z.string(),
            delivery: z.object({ id: z.uuid(), status: z.literal('pending'), attempt: z.literal(0) }),
          }),
          'Queued',
        ),
        ...errorResponses(401, 404, 409, 422),
      },
    }),
    async (c) => {
      const { id, deliveryId } = c.req.valid('param')
      const w = await load(c.var.principal, id)
      const scope = { kind: 'org' as const, orgId: w.orgId }
      const d = await getDelivery(ctx.db.orm, scope, deliveryId)
      if (d?.targetType !== 'webhook' || d.targetId !== w.id) throw ApiError.notFound('Delivery')
      if (d.status !== 'failed') {
        throw new ApiError(
          409,
          'not_failed',
          `Only failed deliveries can be retried (this one is ${d.status})`,
        )
      }
      const now = ctx.clock.now()
      const [newId] = await ctx.db.orm.transaction(async (tx) => {
        const ids = await requeueFailed(tx, scope, { targetId: w.id, ids: [d.id] }, now, 1)
        if (ids[0]) {
          await recordAudit(
            tx,
            {
              actor: actorOf(c.var.principal),
              orgId: w.orgId,
              action: 'delivery.retry',
              targetType: 'delivery',
              targetId: d.id,
              summary: { webhookId: w.id, newDeliveryId: ids[0] },
              requestId: c.var.requestId,
            },
            now,
          )
        }
        return ids
      })
      if (!newId)
        throw new ApiError(
          409,
          'already_retried',
          'This delivery has already been retried; retry the newer delivery instead',
        )
      return c.json(
        {
          message: 'Delivery retry queued',
          delivery: { id: newId, status: 'pending' as const, attempt: 0 as const },
        },
        202,
      )
    },
  )
}
