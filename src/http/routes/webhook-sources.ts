import { createRoute, z } from '@hono/zod-openapi'
import type { AppContext } from '../../context.ts'
import { isValidSubscription } from '../../events/catalog.ts'
import {
  createSource,
  deleteSource,
  getSource,
  hookUrl,
  inboundOf,
  listSources,
  patchSource,
  registerSource,
  rotateSecret,
  type SourceRow,
} from '../../inbound/sources.ts'
import { router } from '../env.ts'
import { ApiError, errorResponses } from '../errors.ts'
import { type Principal, resolveOrgFilter, resolveOrgId, scopeOf } from '../principal.ts'
import { idParams, iso, pageQuery, paginated, timestamp, uuidSchema } from '../schemas.ts'
import { auditOf, json, jsonBody } from './shared.ts'

const sourceSchema = z
  .object({
    id: z.uuid(),
    orgId: z.uuid(),
    provider: z.string(),
    integrationId: z.uuid().nullable(),
    name: z.string(),
    eventTypes: z.array(z.string()).nullable(),
    url: z.string().openapi({ description: 'Paste this in the vendor’s admin panel' }),
    previousSecretValidUntil: timestamp.nullable().openapi({
      description: 'After a rotation, until when the previous secret still verifies',
    }),
    rejectedCount: z.number().int(),
    lastRejectedAt: timestamp.nullable(),
    registration: z
      .object({
        status: z.enum(['registered', 'failed', 'deactivated', 'manual']),
        vendorId: z.string().nullable(),
        expiresAt: timestamp.nullable(),
        error: z
          .string()
          .nullable()
          .openapi({ description: 'The vendor’s error, verbatim, secrets removed' }),
      })
      .openapi({
        description:
          'The webhook Patchbay created at the vendor for this source (`manual`: paste the URL yourself, see setup)',
      }),
    createdAt: timestamp,
    updatedAt: timestamp,
  })
  .openapi('WebhookSource')

const withSecret = sourceSchema
  .extend({
    secret: z.string().openapi({ description: 'Shown here and on rotate-secret only' }),
    setup: z.array(z.string()).openapi({ description: 'What to paste where in the vendor’s admin panel' }),
  })
  .openapi('WebhookSourceWithSecret')

// Unknown types are refused here, not only by the service, so other problems of the request come with them.
const eventTypes = z
  .array(
    z
      .string()
      .min(1)
      .max(100)
      .refine(isValidSubscription, {
        error: (issue) => `Unknown event type "${String(issue.input)}" (see GET /api/v1/event-types)`,
      }),
  )
  .min(1)
  .max(100)

const createBody = z
  .strictObject({
    orgId: uuidSchema.optional().openapi({ description: 'Required for partner and system keys' }),
    provider: z.string().min(1).max(64).openapi({
      description: 'autotask, connectwise, msgraph, datto-rmm or generic (see the README)',
    }),
    integrationId: uuidSchema.optional().openapi({
      description:
        'An integration of the same provider: its site is trusted for key URLs, its ticket mappings updated',
    }),
    name: z.string().trim().min(1).max(255),
    eventTypes: eventTypes
      .optional()
      .openapi({ description: 'Platform event types to produce; all when omitted' }),
    registration: z
      .strictObject({
        register: z.boolean().optional().openapi({
          description:
            'false: link the integration without registering at the vendor (you configured the webhook yourself)',
        }),
        level: z
          .enum(['board', 'owner'])
          .optional()
          .openapi({ description: 'ConnectWise: callback level; default owner (every ticket)' }),
        objectId: z
          .number()
          .int()
          .positive()
          .max(2_147_483_647)
          .optional()
          .openapi({ description: 'ConnectWise: the board id at the board level' }),
        resource: z
          .string()
          .min(1)
          .max(500)
          .optional()
          .openapi({ description: 'Graph: the resource to watch' }),
        changeType: z
          .string()
          .max(50)
          .optional()
          .openapi({ description: 'Graph: created, updated, deleted (comma-separated); default updated' }),
      })
      .optional()
      .openapi({
        description:
          'Vendor choices for the registration Patchbay makes with the linked integration (see the README)',
      }),
  })
  .openapi('CreateWebhookSource')

const patchBody = z
  .strictObject({
    name: z.string().trim().min(1).max(255).optional(),
    integrationId: uuidSchema.nullable().optional(),
    eventTypes: eventTypes.nullable().optional(),
  })
  .openapi('UpdateWebhookSource')

export function webhookSourceRoutes(ctx: AppContext) {
  const app = router()
  const load = async (p: Principal, id: string) => {
    const s = await getSource(ctx.db.orm, scopeOf(p), id)
    if (!s) throw ApiError.notFound('Webhook source')
    return s
  }
  const view = (s: SourceRow, requestUrl: string) => ({
    id: s.id,
    orgId: s.orgId,
    provider: s.provider,
    integrationId: s.integrationId,
    name: s.name,
    eventTypes: s.eventTypes,
    url: hookUrl(ctx, requestUrl, s),
    previousSecretValidUntil:
      s.previousSecretExpiresAt && s.previousSecretExpiresAt > ctx.clock.now()
        ? iso(s.previousSecretExpiresAt)
        : null,
    rejectedCount: s.rejectedCount,
    lastRejectedAt: iso(s.lastRejectedAt),
    registration: {
      status: (s.registrationStatus ?? 'manual') as 'registered' | 'failed' | 'deactivated' | 'manual',
      vendorId: s.registrationVendorId,
      expiresAt: iso(s.registrationExpiresAt),
      error: s.registrationError,
    },
    createdAt: iso(s.createdAt) as string,
    updatedAt: iso(s.updatedAt) as string,
  })
  const withSetup = (s: SourceRow, secret: string, requestUrl: string) => {
    const v = view(s, requestUrl)
    const setup = inboundOf(ctx, s.provider).setup(v.url, secret)
    // Registered through the vendor's API: the manual steps are only a fallback.
    if (v.registration.status === 'registered') {
      setup.unshift(
        `Patchbay registered this webhook at the vendor (id ${v.registration.vendorId}); nothing to paste. By hand, if needed:`,
      )
    }
    return { ...v, secret, setup }
  }

  app.openapi(
    createRoute({
      method: 'get',
      path: '/',
      tags: ['Webhook sources'],
      summary: 'List inbound webhook sources',
      request: {
        query: z.object({ ...pageQuery, orgId: uuidSchema.optional(), provider: z.string().optional() }),
      },
      responses: { 200: json(paginated(sourceSchema), 'Sources'), ...errorResponses(401, 404, 422) },
    }),
    async (c) => {
      const q = c.req.valid('query')
      const orgId = await resolveOrgFilter(ctx.db.orm, c.var.principal, q.orgId)
      const { items, total } = await listSources(
        ctx.db.orm,
        scopeOf(c.var.principal),
        { orgId, provider: q.provider },
        q,
      )
      return c.json(
        { data: items.map((s) => view(s, c.req.url)), pagination: { page: q.page, limit: q.limit, total } },
        200,
      )
    },
  )

  app.openapi(
    createRoute({
      method: 'post',
      path: '/',
      tags: ['Webhook sources'],
      summary: 'Create an inbound webhook source',
      description:
        'Returns the URL and the secret to paste in the vendor’s admin panel. The secret is shown only here and on rotate-secret.',
      request: { body: jsonBody(createBody) },
      responses: { 201: json(withSecret, 'Created'), ...errorResponses(400, 401, 404, 422) },
    }),
    async (c) => {
      const body = c.req.valid('json')
      const orgId = await resolveOrgId(ctx.db.orm, c.var.principal, body.orgId)
      const { source, secret } = await createSource(ctx, orgId, body, auditOf(c))
      const registered = await registerSource(ctx, source, c.req.url, auditOf(c))
      return c.json(withSetup(registered, secret, c.req.url), 201)
    },
  )

  app.openapi(
    createRoute({
      method: 'get',
      path: '/{id}',
      tags: ['Webhook sources'],
      summary: 'Get an inbound webhook source',
      request: { params: idParams },
      responses: { 200: json(sourceSchema, 'The source'), ...errorResponses(401, 404, 422) },
    }),
    async (c) => c.json(view(await load(c.var.principal, c.req.valid('param').id), c.req.url), 200),
  )

  app.openapi(
    createRoute({
      method: 'patch',
      path: '/{id}',
      tags: ['Webhook sources'],
      summary: 'Update an inbound webhook source',
      request: { params: idParams, body: jsonBody(patchBody) },
      responses: { 200: json(sourceSchema, 'Updated'), ...errorResponses(401, 404, 422) },
    }),
    async (c) => {
      const s = await load(c.var.principal, c.req.valid('param').id)
      return c.json(view(await patchSource(ctx, s, c.req.valid('json'), auditOf(c)), c.req.url), 200)
    },
  )

  app.openapi(
    createRoute({
      method: 'delete',
      path: '/{id}',
      tags: ['Webhook sources'],
      summary: 'Delete an inbound webhook source and its event log',
      request: { params: idParams },
      description:
        'Removes the registration at the vendor first, best effort: when the vendor refuses, the source is deleted ' +
        'all the same and `registrationError` says what to remove at the vendor by hand.',
      responses: {
        200: json(
          z.object({
            message: z.string(),
            id: z.uuid(),
            registrationRemoved: z.boolean(),
            registrationError: z.string().optional(),
          }),
          'Deleted',
        ),
        ...errorResponses(401, 404, 422),
      },
    }),
    async (c) => {
      const s = await load(c.var.principal, c.req.valid('param').id)
      const removal = await deleteSource(ctx, s, auditOf(c))
      return c.json({ message: 'Webhook source deleted', id: s.id, ...removal }, 200)
    },
  )

  app.openapi(
    createRoute({
      method: 'post',
      path: '/{id}/register',
      tags: ['Webhook sources'],
      summary: 'Register (again) at the vendor',
      description:
        'Creates the webhook at the vendor with the linked integration (removing an earlier one first); the outcome ' +
        'is in `registration`. 422 when the vendor has no API for it or no integration is linked.',
      request: { params: idParams },
      responses: {
        200: json(sourceSchema, 'The source with its registration'),
        ...errorResponses(401, 404, 422),
      },
    }),
    async (c) => {
      const s = await load(c.var.principal, c.req.valid('param').id)
      if (!inboundOf(ctx, s.provider).registration) {
        throw ApiError.invalid(
          'provider',
          `Patchbay registers nothing at ${s.provider}; see the source's setup`,
        )
      }
      if (!s.integrationId) throw ApiError.invalid('integrationId', 'link an integration to register')
      return c.json(view(await registerSource(ctx, s, c.req.url, auditOf(c), true), c.req.url), 200)
    },
  )

  app.openapi(
    createRoute({
      method: 'post',
      path: '/{id}/rotate-secret',
      tags: ['Webhook sources'],
      summary: 'Rotate the secret',
      description: 'Returns the new secret once; the previous one keeps verifying for 24 hours.',
      request: { params: idParams },
      responses: { 200: json(withSecret, 'Rotated'), ...errorResponses(401, 404, 422) },
    }),
    async (c) => {
      const s = await load(c.var.principal, c.req.valid('param').id)
      const { source, secret } = await rotateSecret(ctx, s, auditOf(c))
      return c.json(withSetup(source, secret, c.req.url), 200)
    },
  )

  return app
}
