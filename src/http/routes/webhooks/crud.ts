import { createRoute, z } from '@hono/zod-openapi'
import type { Context } from 'hono'
import type { AppContext } from '../../../context.ts'
import { retryPolicySchema } from '../../../delivery/policy.ts'
import { recordAudit } from '../../../store/audit.ts'
import { shownHeaders } from '../../../webhooks/headers.ts'
import {
  createWebhook,
  effectiveRetryPolicy,
  patchWebhook,
  queueTestDelivery,
  removeWebhook,
  webhookFields,
  webhookHeaderSchema,
} from '../../../webhooks/service.ts'
import {
  type DeliveryStats,
  deliveryStats,
  getDelivery,
  getWebhook,
  listDeliveries,
  listWebhooks,
  requeueFailed,
  type WebhookRow,
} from '../../../webhooks/store.ts'
import type { AppEnv } from '../../env.ts'
import { router } from '../../env.ts'
import { ApiError, errorResponses } from '../../errors.ts'
import { actorOf, type Principal, resolveOrgFilter, resolveOrgId, scopeOf } from '../../principal.ts'
import { idParams, iso, pageQuery, paginated, timestamp, uuidSchema } from '../../schemas.ts'
import {
  deliveryCursorQuery,
  deliveryPage,
  deliveryPageSchema,
  deliveryStatusEnum,
} from '../delivery-schemas.ts'

const statusEnum = z.enum(['active', 'paused', 'failed'])

const webhookSchema = z
  .object({
    id: z.uuid(),
    orgId: z.uuid(),
    name: z.string(),
    url: z.string(),
    events: z.array(z.string()),
    headers: z.array(webhookHeaderSchema).openapi({
      description:
        'Custom headers, each value masked: `****` and its last four characters (only `****` when shorter than 13)',
    }),
    status: statusEnum,
    hasSecret: z.boolean(),
    signatureScheme: webhookFields.signatureScheme,
    retryPolicy: retryPolicySchema.openapi({ description: 'The policy in force (the default unless set)' }),
    createdAt: timestamp,
    updatedAt: timestamp,
    lastDeliveryAt: timestamp.nullable(),
  })
  .openapi('Webhook')

const statsSchema = z
  .object({
    total: z.number().int(),
    pending: z.number().int(),
    inProgress: z.number().int(),
    delivered: z.number().int(),
    failed: z.number().int(),
    retrying: z.number().int(),
    lastDeliveredAt: timestamp.nullable(),
  })
  .openapi('DeliveryStats')

const createBody = z
  .strictObject({
    orgId: uuidSchema.optional().openapi({ description: 'Required for partner and system keys' }),
    name: webhookFields.name,
    url: webhookFields.url.openapi({
      description: 'HTTPS; must not resolve to a private, loopback or link-local address',
    }),
    secret: webhookFields.secret.optional().openapi({
      description:
        'Signing secret. Stored encrypted, never returned. For `standard-webhooks` a `whsec_` secret, generated (and returned once) when omitted.',
    }),
    events: webhookFields.events.openapi({ description: 'Event types; `alert.*` and `*` wildcards allowed' }),
    headers: webhookFields.headers.default([]).openapi({
      description: 'Custom headers sent with every delivery. Values are stored encrypted and shown masked.',
    }),
    retryPolicy: retryPolicySchema.optional(),
    signatureScheme: webhookFields.signatureScheme.default('breeze'),
  })
  .openapi('CreateWebhook')

const patchBody = z
  .strictObject({
    name: webhookFields.name.optional(),
    url: webhookFields.url.optional(),
    secret: webhookFields.secret.nullable().optional().openapi({
      description:
        'A new secret (null removes it). A replaced standard-webhooks secret keeps signing for 24 hours.',
    }),
    events: webhookFields.events.optional(),
    headers: webhookFields.headers.optional().openapi({
      description:
        'Replaces the custom headers. A value sent back in its masked form (as responses show it) keeps the stored value of that header.',
    }),
    status: statusEnum.optional(),
    retryPolicy: retryPolicySchema
      .nullable()
      .optional()
      .openapi({ description: 'null restores the default' }),
    signatureScheme: webhookFields.signatureScheme.optional(),
  })
  .openapi('UpdateWebhook')

function toWebhook(w: WebhookRow) {
  return {
    id: w.id,
    orgId: w.orgId,
    name: w.name,
    url: w.url,
    events: w.events,
    headers: shownHeaders(w.headers),
    status: w.status,
    hasSecret: w.secret !== null,
    signatureScheme: w.signatureScheme as 'breeze' | 'standard-webhooks',
    retryPolicy: effectiveRetryPolicy(w),
    createdAt: iso(w.createdAt) as string,
    updatedAt: iso(w.updatedAt) as string,
    lastDeliveryAt: iso(w.lastDeliveryAt),
  }
}

function toStats(s: DeliveryStats) {
  return { ...s, lastDeliveredAt: iso(s.lastDeliveredAt) }
}

const json = <T extends z.ZodType>(schema: T, description: string) => ({
  description,
  content: { 'application/json': { schema } },
})

export function webhookRoutes(ctx: AppContext) {
  const app = router()
  const load = async (p: Principal, id: string) => {
    const w = await getWebhook(ctx.db.orm, scopeOf(p), id)
    if (!w) throw ApiError.notFound('Webhook')
    return w
  }
  const change = (c: Context<AppEnv>) => ({ actor: actorOf(c.var.principal), requestId: c.var.requestId })

  app.openapi(
    createRoute({
      method: 'get',
      path: '/',
      tags: ['Webhooks'],
      summary: 'List webhooks',
      description: 'Paginated, most recent first, filterable by status and orgId.',
      request: {
        query: z.object({ ...pageQuery, status: statusEnum.optional(), orgId: uuidSchema.optional() }),
      },
      responses: { 200: json(paginated(webhookSchema), 'Webhooks'), ...errorResponses(401, 404, 422) },
    }),
    async (c) => {
      const q = c.req.valid('query')
      const p = c.var.principal
      const orgId = await resolveOrgFilter(ctx.db.orm, p, q.orgId)
      const { items, total } = await listWebhooks(ctx.db.orm, scopeOf(p), { orgId, status: q.status }, q)
      return c.json({ data: items.map(toWebhook), pagination: { page: q.page, limit: q.limit, total } }, 200)
    },
  )

  app.openapi(
    createRoute({
      method: 'post',
      path: '/',
      tags: ['Webhooks'],
      summary: 'Create a webhook',
      description:
        'Validates the URL (HTTPS, DNS resolved, no private/loopback/link-local addresses), encrypts the secret, ' +
        'and returns the webhook. Unknown event types are refused.',
      request: { body: { required: true, content: { 'application/json': { schema: createBody } } } },
      responses: {
        201: json(
          webhookSchema.extend({
            secret: z.string().optional().openapi({ description: 'Only when generated' }),
          }),
          'Created',
        ),
        ...errorResponses(400, 401, 404, 422),
      },
    }),
    async (c) => {
      const body = c.req.valid('json')
      const orgId = await resolveOrgId(ctx.db.orm, c.var.principal, body.orgId)
      const { webhook, generatedSecret } = await createWebhook(ctx, orgId, body, change(c))
      return c.json({ ...toWebhook(webhook), ...(generatedSecret ? { secret: generatedSecret } : {}) }, 201)
    },
  )

  app.openapi(
    createRoute({
      method: 'get',
      path: '/{id}',
      tags: ['Webhooks'],
      summary: 'Get a webhook with delivery statistics',
      request: { params: idParams },
      responses: {
        200: json(webhookSchema.extend({ deliveryStats: statsSchema }), 'The webhook'),
        ...errorResponses(401, 404, 422),
      },
    }),
    async (c) => {
      const w = await load(c.var.principal, c.req.valid('param').id)
      const stats = await deliveryStats(ctx.db.orm, w.orgId, w.id)
      return c.json({ ...toWebhook(w), deliveryStats: toStats(stats) }, 200)
    },
  )

  app.openapi(
    createRoute({
      method: 'patch',
      path: '/{id}',
      tags: ['Webhooks'],
      summary: 'Update a webhook',
      description:
        'Any combination of name, URL, secret, events, headers, status (active, paused, failed) or retryPolicy.',
      request: {
        params: idParams,
        body: { required: true, content: { 'application/json': { schema: patchBody } } },
      },
      responses: { 200: json(webhookSchema, 'Updated'), ...errorResponses(401, 404, 422) },
    }),
    async (c) => {
      const w = await load(c.var.principal, c.req.valid('param').id)
      const updated = await patchWebhook(ctx, w, c.req.valid('json'), change(c))
      return c.json(toWebhook(updated), 200)
    },
  )

  app.openapi(
    createRoute({
      method: 'delete',
      path: '/{id}',
      tags: ['Webhooks'],
      summary: 'Delete a webhook and all its delivery records',
      request: { params: idParams },
      responses: {
        200: json(z.object({ message: z.string(), id: z.uuid() }), 'Deleted'),
        ...errorResponses(401, 404, 422),
      },
    }),
    async (c) => {
      const w = await load(c.var.principal, c.req.valid('param').id)
      await removeWebhook(ctx, w, change(c))
      return c.json({ message: 'Webhook deleted', id: w.id }, 200)
    },
  )

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
      const d = await queueTestDelivery(ctx, w, c.req.valid('json'), change(c))
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

  return app
}
