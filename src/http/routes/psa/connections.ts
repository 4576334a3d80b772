/**
 * PSA connections: `GET|POST /psa/connections`, `GET|PATCH|DELETE /psa/connections/{id}`, its test and its
 * status (paused, active, error).
 */
import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi'
import type { AppContext } from '../../../context.ts'
import {
  createConnection,
  deleteConnection,
  getConnection,
  listConnections,
  newConnectionProblems,
  psaProviders,
  setConnectionStatus,
  testConnection,
  updateConnection,
} from '../../../psa/service.ts'
import { psaSettingsSchema } from '../../../psa/settings.ts'
import type { AppEnv } from '../../env.ts'
import { errorResponses, REFUSAL } from '../../errors.ts'
import { resolveOrgFilter, resolveOrgId, scopeOf } from '../../principal.ts'
import { idParams, pageQuery, paginated, uuidSchema } from '../../schemas.ts'
import { auditOf, json, jsonBody } from '../shared.ts'
import { CONNECTIONS, connectionSchema, TAG, toConnection } from './schemas.ts'

export function connectionRoutes(app: OpenAPIHono<AppEnv>, ctx: AppContext) {
  const providers = psaProviders(ctx)
  // A registry without PSA providers (a trimmed test registry) still builds the routes; nothing matches.
  const providerEnum = z
    .enum((providers.length ? providers : ['(none)']) as [string, ...string[]])
    .openapi({ example: 'connectwise' })
  const credentialsSchema = z.record(z.string(), z.unknown()).openapi({
    description:
      "The provider's credential fields (GET /api/v1/integrations/providers lists them); every vendor also " +
      'takes an optional `baseUrl`. Stored encrypted, never returned.',
  })

  app.openapi(
    createRoute({
      method: 'get',
      path: CONNECTIONS,
      tags: [TAG],
      summary: 'List PSA connections',
      description:
        'Paginated, most recently updated first. Partner and system keys see every organization they reach unless `orgId` narrows it.',
      request: {
        query: z.object({ orgId: uuidSchema.optional(), provider: providerEnum.optional(), ...pageQuery }),
      },
      responses: {
        200: json(paginated(connectionSchema), 'PSA connections'),
        ...errorResponses(401, 404, 422),
      },
    }),
    async (c) => {
      const q = c.req.valid('query')
      const p = c.var.principal
      const orgId = await resolveOrgFilter(ctx.db.orm, p, q.orgId)
      const { items, total } = await listConnections(ctx, scopeOf(p), { orgId, provider: q.provider }, q)
      return c.json(
        { data: items.map(toConnection), pagination: { page: q.page, limit: q.limit, total } },
        200,
      )
    },
  )

  app.openapi(
    createRoute({
      method: 'post',
      path: CONNECTIONS,
      tags: [TAG],
      summary: 'Create a PSA connection',
      description:
        "Validates the credentials against the provider's credential schema, encrypts them, and verifies them " +
        'with the vendor in the background (`pending_verify` → `active` or `error`). The response never ' +
        'contains the credentials; `hasCredentials` says they are stored. Names are unique per provider.',
      request: {
        body: jsonBody(
          z
            .strictObject({
              orgId: uuidSchema.optional().openapi({ description: 'Required for partner and system keys' }),
              provider: providerEnum,
              name: z.string().trim().min(1, 'must not be empty').max(255),
              credentials: credentialsSchema,
              settings: psaSettingsSchema.optional(),
            })
            // The service's checks that need neither the database nor the vendor (credentials, a company where
            // tickets need one), run here too and also when another field failed, so one 422 names every
            // problem of the request — an unknown field no longer hides them (issue 19, item 7).
            .superRefine(
              (body, zctx) => {
                for (const [field, messages] of Object.entries(newConnectionProblems(ctx, body)))
                  for (const message of messages)
                    zctx.addIssue({ code: 'custom', path: field.split('.'), message, params: REFUSAL })
              },
              { when: (payload) => payload.value !== null && typeof payload.value === 'object' },
            )
            .openapi('CreatePsaConnection'),
        ),
      },
      responses: { 201: json(connectionSchema, 'Created'), ...errorResponses(400, 401, 404, 422) },
    }),
    async (c) => {
      const body = c.req.valid('json')
      const orgId = await resolveOrgId(ctx.db.orm, c.var.principal, body.orgId)
      const created = await createConnection(
        ctx,
        orgId,
        { provider: body.provider, name: body.name, credentials: body.credentials, settings: body.settings },
        auditOf(c),
      )
      return c.json(toConnection(created), 201)
    },
  )

  app.openapi(
    createRoute({
      method: 'get',
      path: `${CONNECTIONS}/{id}`,
      tags: [TAG],
      summary: 'Get a PSA connection',
      request: { params: idParams },
      responses: { 200: json(connectionSchema, 'The connection'), ...errorResponses(401, 404, 422) },
    }),
    async (c) =>
      c.json(toConnection(await getConnection(ctx, scopeOf(c.var.principal), c.req.valid('param').id)), 200),
  )

  app.openapi(
    createRoute({
      method: 'patch',
      path: `${CONNECTIONS}/{id}`,
      tags: [TAG],
      summary: 'Update a PSA connection',
      description:
        'Only the fields given change. `credentials` is a complete new credentials object: it replaces the ' +
        'stored one in one write and the connection is verified again (`pending_verify`). `settings` replaces ' +
        'the settings object.',
      request: {
        params: idParams,
        body: jsonBody(
          z
            .strictObject({
              name: z.string().trim().min(1, 'must not be empty').max(255).optional(),
              credentials: credentialsSchema.optional(),
              settings: psaSettingsSchema.optional(),
            })
            .openapi('UpdatePsaConnection'),
        ),
      },
      responses: { 200: json(connectionSchema, 'Updated'), ...errorResponses(401, 404, 422) },
    }),
    async (c) => {
      const body = c.req.valid('json')
      const updated = await updateConnection(
        ctx,
        scopeOf(c.var.principal),
        c.req.valid('param').id,
        body,
        auditOf(c),
      )
      return c.json(toConnection(updated), 200)
    },
  )

  app.openapi(
    createRoute({
      method: 'delete',
      path: `${CONNECTIONS}/{id}`,
      tags: [TAG],
      summary: 'Delete a PSA connection',
      description:
        'Erases the encrypted credentials and removes every ticket mapping of the connection (irreversible). ' +
        'Ticket operations still queued for it fail.',
      request: { params: idParams },
      responses: {
        200: json(
          z.object({ success: z.literal(true), id: z.uuid(), ticketMappingsRemoved: z.number().int() }),
          'Deleted',
        ),
        ...errorResponses(401, 404, 422),
      },
    }),
    async (c) => {
      const { integration, mappingsRemoved } = await deleteConnection(
        ctx,
        scopeOf(c.var.principal),
        c.req.valid('param').id,
        auditOf(c),
      )
      return c.json(
        { success: true as const, id: integration.id, ticketMappingsRemoved: mappingsRemoved },
        200,
      )
    },
  )

  app.openapi(
    createRoute({
      method: 'post',
      path: `${CONNECTIONS}/{id}/test`,
      tags: [TAG],
      summary: 'Test a PSA connection',
      description:
        'Calls the vendor with the saved credentials (a real, cheap authenticated request). Records `lastTestedAt` ' +
        'and the outcome (`syncSettings.status` verified or failed; a failure puts the connection in `error`, a ' +
        "success makes it `active`), audited as `psa.connection.test`. On failure `message` is the vendor's own " +
        'error text.',
      request: { params: idParams },
      responses: {
        200: json(z.object({ success: z.boolean(), message: z.string() }), 'The test ran'),
        ...errorResponses(401, 404, 422),
      },
    }),
    async (c) => {
      const { outcome } = await testConnection(
        ctx,
        scopeOf(c.var.principal),
        c.req.valid('param').id,
        auditOf(c),
      )
      return c.json(
        {
          success: outcome.ok,
          message: outcome.ok ? 'Credentials verified' : (outcome.error ?? 'Test failed'),
        },
        200,
      )
    },
  )
}

/** `POST /connections/{id}/status`. */
export function connectionStatusRoute(app: OpenAPIHono<AppEnv>, ctx: AppContext) {
  app.openapi(
    createRoute({
      method: 'post',
      path: `${CONNECTIONS}/{id}/status`,
      tags: [TAG],
      summary: 'Set a PSA connection’s status',
      description:
        '`paused`: disabled (`inactive`) — no tickets, probes or scheduled syncs until activated. `active`: ' +
        'enabled again (verified again when it was never verified or is in error). `error`: marked failed by ' +
        'hand, out of routing until a successful test or an activation.',
      request: {
        params: idParams,
        body: jsonBody(
          z.strictObject({ status: z.enum(['active', 'paused', 'error']) }).openapi('PsaConnectionStatus'),
        ),
      },
      responses: { 200: json(connectionSchema, 'Updated'), ...errorResponses(401, 404, 422) },
    }),
    async (c) => {
      const updated = await setConnectionStatus(
        ctx,
        scopeOf(c.var.principal),
        c.req.valid('param').id,
        c.req.valid('json').status,
        auditOf(c),
      )
      return c.json(toConnection(updated), 200)
    },
  )
}
