import { createRoute, z } from '@hono/zod-openapi'
import type { AppContext } from '../../../context.ts'
import {
  createConnection,
  deleteConnection,
  getConnection,
  listConnections,
  listTickets,
  type PsaConnection,
  psaProviders,
  requestSync,
  setConnectionStatus,
  testConnection,
  updateConnection,
} from '../../../psa/service.ts'
import { psaSettingsSchema } from '../../../psa/settings.ts'
import type { MappingRow } from '../../../psa/store.ts'
import { router } from '../../env.ts'
import { domainFailure } from '../../error-status.ts'
import { domainApiError, errorResponses, toErrorResponse } from '../../errors.ts'
import { resolveOrgFilter, resolveOrgId, scopeOf } from '../../principal.ts'
import { idParams, iso, pageQuery, paginated, timestamp, uuidSchema } from '../../schemas.ts'
import { auditOf, json, jsonBody } from '../shared.ts'

const TAG = 'PSA'

const syncStatusEnum = z.enum(['queued', 'running', 'completed', 'failed'])

const connectionSchema = z
  .object({
    id: z.uuid(),
    orgId: z.uuid(),
    provider: z.string().openapi({ example: 'connectwise' }),
    name: z.string().nullable(),
    settings: z
      .record(z.string(), z.unknown())
      .openapi({ description: 'The automation settings (PsaSettings)' }),
    status: z.enum(['pending_verify', 'active', 'inactive', 'error']).openapi({
      description:
        '`pending_verify` until the credentials are checked, then `active` or `error`; `inactive` while paused',
    }),
    enabled: z.boolean().openapi({ description: 'Not paused' }),
    isDefault: z
      .boolean()
      .openapi({ description: 'The default instance of its provider in the organization' }),
    hasCredentials: z.boolean(),
    syncSettings: z
      .object({
        lastTestedAt: timestamp.nullable(),
        status: z.enum(['verified', 'failed']).nullable().openapi({ description: 'The last test’s outcome' }),
      })
      .openapi({ description: 'What the last connection test found' }),
    lastError: z.string().nullable().openapi({ description: "The vendor's message while an error stands" }),
    lastTestedAt: timestamp.nullable(),
    lastSyncedAt: timestamp.nullable().openapi({ description: 'Same as lastSyncAt' }),
    lastSyncAt: timestamp.nullable().openapi({ description: 'When the last successful sync finished' }),
    lastSyncStatus: syncStatusEnum.nullable(),
    lastSyncError: z.string().nullable(),
    lastSync: z
      .object({
        id: z.uuid(),
        trigger: z.enum(['manual', 'scheduled']),
        status: syncStatusEnum,
        queuedAt: timestamp,
        startedAt: timestamp.nullable(),
        finishedAt: timestamp.nullable(),
        error: z.string().nullable(),
        counts: z.object({
          pages: z.number().int().openapi({ description: 'Pages of changed tickets listed' }),
          ticketsListed: z.number().int().openapi({ description: 'Changed tickets the vendor listed' }),
          mappingsChecked: z.number().int().openapi({ description: 'Mapped tickets fetched one by one' }),
          mappingsUpdated: z.number().int().openapi({ description: 'Mappings whose status changed' }),
          ticketsMissing: z
            .number()
            .int()
            .openapi({ description: 'Mapped tickets the vendor no longer has' }),
        }),
      })
      .nullable()
      .openapi({ description: 'The latest sync, with its counts' }),
    createdAt: timestamp,
    updatedAt: timestamp,
  })
  .openapi('PsaConnection')

const ticketSchema = z
  .object({
    id: z.uuid().openapi({ description: 'The mapping' }),
    psaId: z.uuid().openapi({ description: 'The PSA connection' }),
    orgId: z.uuid(),
    title: z.string(),
    status: z.string().nullable().openapi({ description: "The ticket's status at the vendor" }),
    syncedAt: timestamp.nullable(),
    createdAt: timestamp,
    updatedAt: timestamp,
    raw: z.object({
      externalTicketId: z.string(),
      externalTicketNumber: z.string().nullable(),
      externalTicketUrl: z.string().nullable(),
      alertId: z.string().nullable(),
      deviceId: z.string().nullable(),
      alertStatus: z.enum(['triggered', 'acknowledged', 'resolved']),
    }),
  })
  .openapi('PsaTicket')

function toConnection({ integration: v, lastSync: r }: PsaConnection) {
  // A successful test sets verifiedAt; a failed one clears it.
  const tested = v.lastTestedAt ? (v.verifiedAt ? ('verified' as const) : ('failed' as const)) : null
  return {
    id: v.id,
    orgId: v.orgId,
    provider: v.provider,
    name: v.name,
    settings: v.settings,
    status: v.status,
    enabled: v.status !== 'inactive',
    isDefault: v.isDefault,
    hasCredentials: v.hasCredentials,
    syncSettings: { lastTestedAt: iso(v.lastTestedAt), status: tested },
    lastError: v.lastError?.message ?? null,
    lastTestedAt: iso(v.lastTestedAt),
    lastSyncedAt: iso(v.lastSyncAt),
    lastSyncAt: iso(v.lastSyncAt),
    lastSyncStatus: (v.lastSyncStatus as z.infer<typeof syncStatusEnum> | null) ?? null,
    lastSyncError: v.lastSyncError,
    lastSync: r
      ? {
          id: r.id,
          trigger: r.trigger as 'manual' | 'scheduled',
          status: r.status as z.infer<typeof syncStatusEnum>,
          queuedAt: r.queuedAt.toISOString(),
          startedAt: iso(r.startedAt),
          finishedAt: iso(r.finishedAt),
          error: r.error,
          counts: {
            pages: r.pages,
            ticketsListed: r.ticketsListed,
            mappingsChecked: r.mappingsChecked,
            mappingsUpdated: r.mappingsUpdated,
            ticketsMissing: r.ticketsMissing,
          },
        }
      : null,
    createdAt: v.createdAt.toISOString(),
    updatedAt: v.updatedAt.toISOString(),
  }
}

function toTicket(m: MappingRow) {
  const number = m.externalTicketNumber ?? m.externalTicketId ?? ''
  return {
    id: m.id,
    psaId: m.connectionId,
    orgId: m.orgId,
    title: m.title ?? `Ticket ${number}`,
    status: m.status,
    syncedAt: iso(m.lastSyncAt),
    createdAt: m.createdAt.toISOString(),
    updatedAt: m.updatedAt.toISOString(),
    raw: {
      externalTicketId: m.externalTicketId ?? '',
      externalTicketNumber: m.externalTicketNumber,
      externalTicketUrl: m.externalTicketUrl,
      alertId: m.alertId,
      deviceId: m.deviceId,
      alertStatus: m.alertStatus as 'triggered' | 'acknowledged' | 'resolved',
    },
  }
}

const CONNECTIONS = '/connections'

export function psaRoutes(ctx: AppContext) {
  const app = router()
  app.onError((err, c) => {
    // The service says "Integration not found"; to this door's callers the thing is a PSA connection.
    const failure = domainFailure(err)
    const refused = failure
      ? domainApiError(
          failure,
          undefined,
          failure.code === 'not_found' ? 'PSA connection not found' : undefined,
        )
      : err
    return toErrorResponse(refused, c, c.var.log ?? ctx.log)
  })
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

  app.openapi(
    createRoute({
      method: 'post',
      path: `${CONNECTIONS}/{id}/sync`,
      tags: [TAG],
      summary: 'Sync ticket statuses now',
      description:
        "Queues a sync of the connection's mapped tickets (or reports the one already queued or running). " +
        '`lastSyncStatus` goes `queued` → `running` → `completed` or `failed` (with `lastSyncError`), and ' +
        '`lastSync` holds its counts. A paused connection is not synced (409).',
      request: { params: idParams },
      responses: {
        202: json(
          z.object({
            id: z.uuid().openapi({ description: 'The connection' }),
            provider: z.string(),
            syncedAt: timestamp.openapi({ description: 'When the sync was queued' }),
            status: syncStatusEnum,
            syncId: z.uuid(),
          }),
          'Queued',
        ),
        ...errorResponses(401, 404, 409, 422),
      },
    }),
    async (c) => {
      const { connection, run } = await requestSync(ctx, scopeOf(c.var.principal), c.req.valid('param').id)
      return c.json(
        {
          id: connection.id,
          provider: connection.provider,
          syncedAt: run.queuedAt.toISOString(),
          status: run.status as z.infer<typeof syncStatusEnum>,
          syncId: run.id,
        },
        202,
      )
    },
  )

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

  app.openapi(
    createRoute({
      method: 'get',
      path: `${CONNECTIONS}/{id}/tickets`,
      tags: [TAG],
      summary: "List a PSA connection's ticket mappings",
      request: { params: idParams, query: z.object(pageQuery) },
      responses: { 200: json(paginated(ticketSchema), 'Ticket mappings'), ...errorResponses(401, 404, 422) },
    }),
    async (c) => {
      const q = c.req.valid('query')
      const { items, total } = await listTickets(
        ctx,
        scopeOf(c.var.principal),
        { connectionId: c.req.valid('param').id },
        q,
      )
      return c.json({ data: items.map(toTicket), pagination: { page: q.page, limit: q.limit, total } }, 200)
    },
  )

  app.openapi(
    createRoute({
      method: 'get',
      path: '/tickets',
      tags: [TAG],
      summary: 'List ticket mappings across PSA connections',
      description: 'Every alert ticket of the connections the key reaches, newest first.',
      request: { query: z.object({ orgId: uuidSchema.optional(), ...pageQuery }) },
      responses: { 200: json(paginated(ticketSchema), 'Ticket mappings'), ...errorResponses(401, 404, 422) },
    }),
    async (c) => {
      const q = c.req.valid('query')
      const p = c.var.principal
      const orgId = await resolveOrgFilter(ctx.db.orm, p, q.orgId)
      const { items, total } = await listTickets(ctx, scopeOf(p), { orgId }, q)
      return c.json({ data: items.map(toTicket), pagination: { page: q.page, limit: q.limit, total } }, 200)
    },
  )

  return app
}
