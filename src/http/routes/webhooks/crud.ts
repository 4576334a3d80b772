/** The webhook itself: `GET|POST /webhooks`, `GET|PATCH|DELETE /webhooks/{id}`. */
import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi'
import type { AppContext } from '../../../context.ts'
import { retryPolicySchema } from '../../../delivery/policy.ts'
import { createWebhook, patchWebhook, removeWebhook, webhookFields } from '../../../webhooks/service.ts'
import { isStandardSecret } from '../../../webhooks/signing.ts'
import { type DeliveryStats, deliveryStats, listWebhooks } from '../../../webhooks/store.ts'
import type { AppEnv } from '../../env.ts'
import { errorResponses } from '../../errors.ts'
import { type Principal, resolveOrgFilter, resolveOrgId, scopeOf } from '../../principal.ts'
import { idParams, iso, pageQuery, paginated, timestamp, uuidSchema } from '../../schemas.ts'
import { json } from '../shared.ts'
import { changeOf, loadWebhook, statusEnum, toWebhook, webhookSchema } from './schemas.ts'

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
  // Here as well as in the service, and run when another field failed, so one 422 names every problem.
  .superRefine(
    (b, ctx) => {
      const secret: unknown = b.secret
      if (
        b.signatureScheme === 'standard-webhooks' &&
        typeof secret === 'string' &&
        secret.length >= 8 &&
        !isStandardSecret(secret)
      ) {
        ctx.addIssue({
          code: 'custom',
          path: ['secret'],
          message: 'a standard-webhooks secret is "whsec_" + base64 of 24-64 bytes',
        })
      }
    },
    { when: (payload) => payload.value !== null && typeof payload.value === 'object' },
  )
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

function toStats(s: DeliveryStats) {
  return { ...s, lastDeliveredAt: iso(s.lastDeliveredAt) }
}

export function crudRoutes(app: OpenAPIHono<AppEnv>, ctx: AppContext) {
  const load = (p: Principal, id: string) => loadWebhook(ctx, p, id)

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
      const { webhook, generatedSecret } = await createWebhook(ctx, orgId, body, changeOf(c))
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
      const updated = await patchWebhook(ctx, w, c.req.valid('json'), changeOf(c))
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
      await removeWebhook(ctx, w, changeOf(c))
      return c.json({ message: 'Webhook deleted', id: w.id }, 200)
    },
  )
}
