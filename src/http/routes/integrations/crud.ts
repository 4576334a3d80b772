import { createRoute, z } from '@hono/zod-openapi'
import type { Context } from 'hono'
import { describeActions } from '../../../actions/describe.ts'
import { CONNECTOR_CATEGORIES } from '../../../connectors/types.ts'
import type { AppContext } from '../../../context.ts'
import { healthReport, type IntegrationHealth } from '../../../integrations/health.ts'
import {
  type AuditContext,
  activateIntegration,
  type CheckOutcome,
  configuredProviderIds,
  createIntegration,
  deleteIntegration,
  disableIntegration,
  getIntegration,
  IntegrationError,
  type IntegrationView,
  listIntegrations,
  setDefaultIntegration,
  storeFilter,
  testCredentials,
  updateIntegration,
  verifyIntegrationNow,
} from '../../../integrations/service.ts'
import { describeCredentialField, providerCredentialFieldSchema } from '../../../vault/mask.ts'
import type { AppEnv } from '../../env.ts'
import { actorOf, resolveOrgFilter, resolveOrgId, scopeOf } from '../../principal.ts'
import { idParams, iso, uuidSchema } from '../../schemas.ts'
import {
  envelope,
  pageEnvelope,
  pageParams,
  pagination,
  SynthesqValidationError,
  synthesqErrorResponses,
  synthesqRouter,
} from '../../synthesq.ts'
import { failureOf, failureSchema } from '../integration-doors.ts'

const TAG = 'Integrations'
const statusEnum = z.enum(['pending_verify', 'active', 'inactive', 'error'])
const categoryEnum = z.enum(CONNECTOR_CATEGORIES)

/** Keys Patchbay adds to `metadata` in responses; callers may not set them. */
const RESERVED_METADATA = ['last_error', 'last_error_at', 'last_error_source'] as const

const timestamp = z.string().openapi({ example: '2026-01-10T08:30:00.000Z' })

const integrationSchema = z
  .object({
    id: z.uuid(),
    org_id: z.uuid(),
    provider: z.string().openapi({ example: 'connectwise' }),
    name: z.string().nullable().openapi({ description: 'Instance name; null for the unnamed instance' }),
    display_name: z.string(),
    category: z.string(),
    status: statusEnum,
    is_default: z.boolean().openapi({ description: 'Used when no instance of the provider is named' }),
    enabled_capabilities: z.array(z.string()),
    credentials: z.record(z.string(), z.unknown()).openapi({
      description: 'Every field of the credential schema; sensitive fields are always null',
    }),
    metadata: z.record(z.string(), z.unknown()).openapi({
      description:
        'Your own key-value notes; while an error stands Patchbay adds `last_error` (the vendor’s message), ' +
        '`last_error_at` and `last_error_source` (`verification` or `probe`)',
    }),
    settings: z.record(z.string(), z.unknown()),
    verified_at: timestamp.nullable(),
    last_tested_at: timestamp.nullable(),
    last_probe_at: timestamp.nullable(),
    last_probe_ok: z.boolean().nullable(),
    created_at: timestamp,
    updated_at: timestamp,
  })
  .openapi('Integration')

export function integrationResource(v: IntegrationView) {
  const metadata: Record<string, unknown> = { ...v.metadata }
  if (v.lastError) {
    metadata.last_error = v.lastError.message
    metadata.last_error_at = v.lastError.at.toISOString()
    metadata.last_error_source = v.lastError.source
  }
  return {
    id: v.id,
    org_id: v.orgId,
    provider: v.provider,
    name: v.name,
    display_name: v.displayName,
    category: v.category,
    status: v.status,
    is_default: v.isDefault,
    enabled_capabilities: v.enabledCapabilities,
    credentials: v.credentials,
    metadata,
    settings: v.settings,
    verified_at: iso(v.verifiedAt),
    last_tested_at: iso(v.lastTestedAt),
    last_probe_at: iso(v.lastProbeAt),
    last_probe_ok: v.lastProbeOk,
    created_at: v.createdAt.toISOString(),
    updated_at: v.updatedAt.toISOString(),
  }
}

const providerSchema = z
  .object({
    name: z.string(),
    display_name: z.string(),
    category: z.string(),
    capabilities: z.array(z.string()),
    credential_schema: z.record(z.string(), providerCredentialFieldSchema),
    credential_rules: z
      .array(z.object({ one_of: z.array(z.array(z.string())), description: z.string() }))
      .openapi({
        description: 'For each rule, every field of at least one of its groups must be given',
        example: [
          {
            one_of: [['username', 'password'], ['oauthToken']],
            description: 'Give username and password (Basic auth), or oauthToken.',
          },
        ],
      }),
    is_configured: z.boolean(),
    actions: z
      .array(
        z.object({
          name: z.string(),
          description: z.string(),
          needs_approval: z.boolean(),
          has_preview: z.boolean(),
          idempotency: z.string().openapi({ description: 'How a repeat at the vendor is avoided' }),
          input_schema: z
            .record(z.string(), z.unknown())
            .openapi({ description: 'JSON Schema of `input` for POST /integrations/{id}/actions' }),
        }),
      )
      .openapi({
        description: 'Writes this provider can make at its vendor (README, "Actions and approvals")',
      }),
  })
  .openapi('Provider')

const jsonObject = z.record(z.string(), z.unknown())

const orgIdField = uuidSchema
  .optional()
  .openapi({ description: 'The organization (partner and system keys)' })

const createBody = z
  .strictObject({
    provider: z.string().min(1).openapi({ example: 'generic-ticketing' }),
    name: z.string().trim().max(255).nullable().optional().openapi({
      description: 'Needed to add a second instance of a provider; instance names are unique per provider',
    }),
    credentials: jsonObject.openapi({ description: "Matching the provider's credential_schema" }),
    enabled_capabilities: z.array(z.string()).min(1, 'must name at least one capability'),
    metadata: jsonObject.optional(),
    settings: jsonObject.optional(),
    orgId: orgIdField,
  })
  .openapi('CreateIntegration')

const patchBody = z
  .strictObject({
    name: z.string().trim().max(255).nullable().optional(),
    credentials: jsonObject.optional().openapi({
      description:
        'Fields given replace the stored ones, null clears an optional field, others are kept. Changing a ' +
        '`destination` field needs every stored sensitive field given again (else 422)',
    }),
    enabled_capabilities: z.array(z.string()).min(1, 'must name at least one capability').optional(),
    metadata: jsonObject.optional().openapi({ description: 'Replaces the metadata object' }),
    settings: jsonObject.optional().openapi({ description: 'Replaces the settings object' }),
  })
  .openapi('UpdateIntegration')

const testBody = z
  .strictObject({
    provider: z.string().min(1),
    credentials: jsonObject,
    integration_id: uuidSchema.optional().openapi({
      description:
        "Lay the given credentials over this integration's saved ones (test a change before saving); " +
        'changing a `destination` field needs every stored sensitive field given again (else 422)',
    }),
    orgId: orgIdField,
  })
  .openapi('TestCredentials')

const testResultSchema = z
  .object({
    ok: z.boolean(),
    provider: z.string(),
    error: z.string().nullable().openapi({ description: "The vendor's own error text, credentials removed" }),
    vendor_status: z.number().int().nullable().openapi({
      description: "The vendor's HTTP status when it answered (on success too); null when none answered",
    }),
    failure: failureSchema,
    retryable: z
      .boolean()
      .openapi({ description: 'A rate limit, timeout or outage rather than a rejection' }),
    account: z.string().nullable(),
    advice: z
      .string()
      .nullable()
      .optional()
      .openapi({
        description:
          'What to change, when the test found something (e.g. the IT Glue region or Datto RMM platform of a blank ' +
          'URL); nothing stored is changed',
      }),
    suggested_credentials: z.record(z.string(), z.string()).nullable().optional().openapi({
      description: 'The credential values the advice suggests, to save with the integration',
    }),
    latency_ms: z.number().int(),
  })
  .openapi('CredentialTestResult')

const probeSchema = z
  .object({
    probed_at: timestamp,
    ok: z.boolean(),
    latency_ms: z.number().int(),
    vendor_status: z.number().int().nullable(),
    error: z.string().nullable(),
  })
  .openapi('Probe')

const statusItemSchema = z
  .object({
    id: z.uuid(),
    org_id: z.uuid(),
    provider: z.string(),
    name: z.string().nullable(),
    display_name: z.string(),
    status: statusEnum,
    health: z.enum(['connected', 'disconnected', 'needs_attention']),
    flapping: z.boolean(),
    consecutive_failures: z.number().int(),
    uptime_24h: z
      .number()
      .nullable()
      .openapi({ description: 'Share of the last 24 hours’ probes that succeeded' }),
    latest_probe: probeSchema.nullable(),
    history: z.array(probeSchema).openapi({ description: 'Every probe of the last 24 hours, oldest first' }),
    last_error: z.string().nullable(),
    warning: z
      .string()
      .nullable()
      .openapi({
        description:
          'Something to act on before it breaks, from the last successful check (credentials that expire soon); ' +
          'an active integration with a warning counts as needs_attention',
      }),
    credentials_expire_at: timestamp.nullable().openapi({
      description:
        'When the credentials stop working, for vendors whose credentials expire (Datto EDR tokens)',
    }),
    next_probe_at: timestamp.nullable(),
  })
  .openapi('IntegrationHealth')

const statusSchema = z
  .object({
    summary: z.object({
      connected: z.number().int(),
      disconnected: z.number().int(),
      needs_attention: z.number().int(),
      total: z.number().int(),
    }),
    probe_interval_ms: z.number().int(),
    failure_threshold: z.number().int(),
    integrations: z.array(statusItemSchema),
  })
  .openapi('IntegrationStatus')

const deletedSchema = z.object({
  success: z.literal(true),
  message: z.string(),
  data: z.object({
    id: z.uuid(),
    affected_routing_rules: z
      .array(z.object({ id: z.uuid(), capability: z.string(), role: z.enum(['integration', 'fallback']) }))
      .openapi({
        description: 'Rules that pointed at the deleted integration and no longer have that target',
      }),
  }),
  meta: z.object({}),
})

/** A test's outcome as the SynthesQ routes show it. */
function testData(provider: string, outcome: CheckOutcome) {
  return {
    ok: outcome.ok,
    provider,
    error: outcome.ok ? null : (outcome.error ?? 'Test failed'),
    vendor_status: outcome.httpStatus ?? null,
    failure: failureOf(outcome),
    retryable: outcome.retryable,
    account: outcome.account ?? null,
    advice: outcome.advice ?? null,
    suggested_credentials: outcome.suggestedCredentials ?? null,
    latency_ms: Math.round(outcome.latencyMs),
  }
}

function audit(c: Context<AppEnv>): AuditContext {
  return { actor: actorOf(c.var.principal), requestId: c.var.requestId }
}

function checkMetadata(metadata: Record<string, unknown> | undefined) {
  const reserved = RESERVED_METADATA.filter((k) => metadata && k in metadata)
  if (reserved.length) {
    const errors: Record<string, string[]> = {}
    for (const k of reserved) errors[`metadata.${k}`] = [`The metadata.${k} key is reserved for Patchbay.`]
    throw new SynthesqValidationError(errors)
  }
}

function probe(p: IntegrationHealth['latest']) {
  return p
    ? {
        probed_at: p.probedAt.toISOString(),
        ok: p.ok,
        latency_ms: p.latencyMs,
        vendor_status: p.httpStatus,
        error: p.error,
      }
    : null
}

export function integrationRoutes(ctx: AppContext) {
  const app = synthesqRouter(ctx)
  const db = ctx.db.orm

  app.openapi(
    createRoute({
      method: 'get',
      path: '/providers',
      tags: [TAG],
      summary: 'List available providers',
      description:
        'Every provider Patchbay can connect to, with its capabilities, the credential fields to configure it ' +
        '(`sensitive` fields are encrypted and never shown again; `destination` fields decide where requests go, ' +
        'and changing one needs every sensitive field given again in the same request) and whether the ' +
        'organization has configured it.',
      request: { query: z.object({ orgId: orgIdField }) },
      responses: {
        200: {
          description: 'Providers',
          content: { 'application/json': { schema: envelope(z.array(providerSchema)) } },
        },
        ...synthesqErrorResponses(400, 401, 404, 422),
      },
    }),
    async (c) => {
      const orgId = await resolveOrgId(db, c.var.principal, c.req.valid('query').orgId)
      const configured = await configuredProviderIds(ctx, orgId)
      const data = ctx.connectors.all().map(({ descriptor: d, actions }) => ({
        name: d.id,
        display_name: d.displayName,
        category: d.category,
        capabilities: [...d.capabilities],
        credential_schema: Object.fromEntries(
          Object.entries(d.credentialSchema).map(([name, field]) => [name, describeCredentialField(field)]),
        ),
        credential_rules: (d.credentialRules ?? []).map((r) => ({
          one_of: r.oneOf.map((g) => [...g]),
          description: r.description,
        })),
        is_configured: configured.has(d.id),
        actions: describeActions(actions),
      }))
      return c.json(
        { success: true as const, message: 'Providers retrieved successfully', data, meta: {} },
        200,
      )
    },
  )

  app.openapi(
    createRoute({
      method: 'post',
      path: '/test',
      tags: [TAG],
      summary: 'Test credentials without saving them',
      description:
        "Calls the provider's API with the given credentials (a real, cheap authenticated request) and reports " +
        "the outcome, with the vendor's error text verbatim when it refuses. Nothing is stored. " +
        '`success` is the outcome of the test.',
      request: { body: { required: true, content: { 'application/json': { schema: testBody } } } },
      responses: {
        200: {
          description: 'The test ran',
          content: {
            'application/json': {
              schema: z.object({
                success: z.boolean(),
                message: z.string(),
                data: testResultSchema,
                meta: z.object({}),
              }),
            },
          },
        },
        ...synthesqErrorResponses(400, 401, 404, 422),
      },
    }),
    async (c) => {
      const body = c.req.valid('json')
      if (body.orgId) await resolveOrgId(db, c.var.principal, body.orgId)
      const outcome = await testCredentials(
        ctx,
        body.provider,
        body.credentials,
        body.integration_id ? { scope: scopeOf(c.var.principal), id: body.integration_id } : undefined,
      )
      const data = testData(body.provider, outcome)
      const message = outcome.ok
        ? outcome.advice
          ? `Connection successful. ${outcome.advice}`
          : 'Connection successful. Credentials validated.'
        : (outcome.error ?? 'Test failed')
      return c.json({ success: outcome.ok, message, data, meta: {} }, 200)
    },
  )

  app.openapi(
    createRoute({
      method: 'get',
      path: '/status',
      tags: [TAG],
      summary: 'Integration health',
      description:
        'Summary counts and, per integration, the latest health probe, the rolling 24-hour probe history and a ' +
        'flapping flag. **connected**: active, latest probe succeeded (or none yet), not flapping. ' +
        '**needs_attention**: in `error`, or active with a failed latest probe, flapping, or a `warning` (credentials expiring soon). **disconnected**: ' +
        '`inactive` or `pending_verify`. **Flapping**: the probe outcome changed between success and failure ' +
        'at least 4 times within the last 20 probes of the past 24 hours. Active integrations are probed every ' +
        'PATCHBAY_PROBE_INTERVAL_MS (default 5 minutes), each at its own offset within the interval; ' +
        'PATCHBAY_PROBE_FAILURE_THRESHOLD failures in a row move one to `error`, the next success restores it.',
      request: {
        query: z.object({
          orgId: orgIdField,
          provider: z.string().optional(),
          category: categoryEnum.optional(),
        }),
      },
      responses: {
        200: { description: 'Health', content: { 'application/json': { schema: envelope(statusSchema) } } },
        ...synthesqErrorResponses(400, 401, 404, 422),
      },
    }),
    async (c) => {
      const q = c.req.valid('query')
      const p = c.var.principal
      const orgId = await resolveOrgFilter(db, p, q.orgId)
      const report = await healthReport(
        ctx,
        scopeOf(p),
        storeFilter(ctx, { orgId, provider: q.provider, category: q.category }),
      )
      const data = {
        summary: report.summary,
        probe_interval_ms: ctx.config.PATCHBAY_PROBE_INTERVAL_MS,
        failure_threshold: ctx.config.PATCHBAY_PROBE_FAILURE_THRESHOLD,
        integrations: report.integrations.map((h) => ({
          id: h.integration.id,
          org_id: h.integration.orgId,
          provider: h.integration.provider,
          name: h.integration.name,
          display_name:
            ctx.connectors.get(h.integration.provider)?.descriptor.displayName ?? h.integration.provider,
          status: h.integration.status,
          health: h.state,
          flapping: h.flapping,
          consecutive_failures: h.integration.consecutiveProbeFailures,
          uptime_24h: h.uptime,
          latest_probe: probe(h.latest),
          history: h.history.map((x) => probe(x) as NonNullable<ReturnType<typeof probe>>),
          last_error: h.integration.lastError,
          warning: h.integration.warning,
          credentials_expire_at: iso(h.integration.credentialsExpireAt),
          next_probe_at: iso(h.integration.nextProbeAt),
        })),
      }
      return c.json(
        { success: true as const, message: 'Integration status retrieved successfully', data, meta: {} },
        200,
      )
    },
  )

  app.openapi(
    createRoute({
      method: 'get',
      path: '/',
      tags: [TAG],
      summary: 'List integrations',
      description:
        'Live (not deleted) integrations, newest first. Partner and system keys see every organization they reach unless `orgId` narrows it.',
      request: {
        query: z.object({
          status: statusEnum.optional(),
          category: categoryEnum.optional(),
          provider: z.string().optional(),
          ...pageParams,
          orgId: orgIdField,
        }),
      },
      responses: {
        200: {
          description: 'Integrations',
          content: { 'application/json': { schema: pageEnvelope(integrationSchema) } },
        },
        ...synthesqErrorResponses(400, 401, 404, 422),
      },
    }),
    async (c) => {
      const q = c.req.valid('query')
      const p = c.var.principal
      const orgId = await resolveOrgFilter(db, p, q.orgId)
      const { items, total } = await listIntegrations(
        ctx,
        scopeOf(p),
        { orgId, status: q.status, category: q.category, provider: q.provider },
        { page: q.page, limit: q.per_page },
      )
      const { meta, links } = pagination(
        '/api/v1/integrations',
        {
          status: q.status,
          category: q.category,
          provider: q.provider,
          orgId: q.orgId,
          per_page: c.req.query('per_page') ? q.per_page : undefined,
        },
        q.page,
        q.per_page,
        total,
      )
      return c.json({ success: true as const, data: items.map(integrationResource), meta, links }, 200)
    },
  )

  app.openapi(
    createRoute({
      method: 'post',
      path: '/',
      tags: [TAG],
      summary: 'Configure an integration',
      description:
        'Creates the integration in `pending_verify` and verifies the credentials in the background with a real ' +
        "call to the vendor: it becomes `active`, or `error` with the vendor's message in `metadata.last_error`. " +
        'One unnamed instance per provider; further instances need distinct `name`s. The first instance of a ' +
        'provider is its default.',
      request: { body: { required: true, content: { 'application/json': { schema: createBody } } } },
      responses: {
        201: {
          description: 'Created',
          content: { 'application/json': { schema: envelope(integrationSchema) } },
        },
        ...synthesqErrorResponses(400, 401, 404, 422),
      },
    }),
    async (c) => {
      const body = c.req.valid('json')
      checkMetadata(body.metadata)
      const orgId = await resolveOrgId(db, c.var.principal, body.orgId)
      const created = await createIntegration(
        ctx,
        orgId,
        {
          provider: body.provider,
          name: body.name,
          credentials: body.credentials,
          enabledCapabilities: body.enabled_capabilities,
          settings: body.settings,
          metadata: body.metadata,
        },
        audit(c),
      )
      return c.json(
        {
          success: true as const,
          message: 'Integration configured successfully',
          data: integrationResource(created),
          meta: {},
        },
        201,
      )
    },
  )

  const one = (
    method: 'post',
    path: string,
    summary: string,
    description: string,
    message: string,
    act: typeof activateIntegration,
  ) =>
    app.openapi(
      createRoute({
        method,
        path,
        tags: [TAG],
        summary,
        description,
        request: { params: idParams },
        responses: {
          200: {
            description: 'Done',
            content: { 'application/json': { schema: envelope(integrationSchema) } },
          },
          ...synthesqErrorResponses(401, 404, 422),
        },
      }),
      async (c) => {
        const updated = await act(ctx, scopeOf(c.var.principal), c.req.valid('param').id, audit(c))
        return c.json({ success: true as const, message, data: integrationResource(updated), meta: {} }, 200)
      },
    )

  app.openapi(
    createRoute({
      method: 'get',
      path: '/{id}',
      tags: [TAG],
      summary: 'Get an integration',
      description: 'Sensitive credential fields are always null; non-sensitive ones are shown.',
      request: { params: idParams },
      responses: {
        200: {
          description: 'The integration',
          content: { 'application/json': { schema: envelope(integrationSchema) } },
        },
        ...synthesqErrorResponses(401, 404, 422),
      },
    }),
    async (c) => {
      const found = await getIntegration(ctx, scopeOf(c.var.principal), c.req.valid('param').id)
      if (!found) throw IntegrationError.notFound()
      return c.json({ success: true as const, data: integrationResource(found), meta: {} }, 200)
    },
  )

  app.openapi(
    createRoute({
      method: 'post',
      path: '/{id}/test',
      tags: [TAG],
      summary: 'Test a saved integration',
      description:
        "Runs the connector's verification against the stored credentials now (a real, cheap authenticated " +
        'request) and records the result as background verification does: `last_tested_at` is set, success ' +
        'makes a pending or failed integration `active`, failure puts it in `error`. A verification still ' +
        'queued is superseded. `success` is the outcome of the test; `data.integration` is the state after it.',
      request: { params: idParams },
      responses: {
        200: {
          description: 'The test ran',
          content: {
            'application/json': {
              schema: z.object({
                success: z.boolean(),
                message: z.string(),
                data: testResultSchema.extend({ integration: integrationSchema }),
                meta: z.object({}),
              }),
            },
          },
        },
        ...synthesqErrorResponses(401, 404, 422),
      },
    }),
    async (c) => {
      const { integration, outcome } = await verifyIntegrationNow(
        ctx,
        scopeOf(c.var.principal),
        c.req.valid('param').id,
        audit(c),
      )
      const message = outcome.ok
        ? outcome.advice
          ? `Connection successful. ${outcome.advice}`
          : 'Connection successful. Credentials validated.'
        : (outcome.error ?? 'Test failed')
      return c.json(
        {
          success: outcome.ok,
          message,
          data: {
            ...testData(integration.provider, outcome),
            integration: integrationResource(integration),
          },
          meta: {},
        },
        200,
      )
    },
  )

  app.openapi(
    createRoute({
      method: 'patch',
      path: '/{id}',
      tags: [TAG],
      summary: 'Update an integration',
      description:
        'Partial update; the id never changes. Changed credentials are re-encrypted in one write, reset the ' +
        'integration to `pending_verify` and are verified again in the background. On an integration in ' +
        '`error`, sending `credentials` re-queues verification even when they are unchanged.',
      request: {
        params: idParams,
        body: { required: true, content: { 'application/json': { schema: patchBody } } },
      },
      responses: {
        200: {
          description: 'Updated',
          content: { 'application/json': { schema: envelope(integrationSchema) } },
        },
        ...synthesqErrorResponses(401, 404, 422),
      },
    }),
    async (c) => {
      const body = c.req.valid('json')
      checkMetadata(body.metadata)
      const updated = await updateIntegration(
        ctx,
        scopeOf(c.var.principal),
        c.req.valid('param').id,
        {
          ...(body.name !== undefined ? { name: body.name } : {}),
          credentials: body.credentials,
          enabledCapabilities: body.enabled_capabilities,
          settings: body.settings,
          metadata: body.metadata,
        },
        audit(c),
      )
      return c.json(
        {
          success: true as const,
          message: 'Integration updated successfully',
          data: integrationResource(updated),
          meta: {},
        },
        200,
      )
    },
  )

  app.openapi(
    createRoute({
      method: 'delete',
      path: '/{id}',
      tags: [TAG],
      summary: 'Delete an integration',
      description:
        'Soft delete: the integration leaves lists and routing, and its encrypted credentials are erased. The ' +
        'response lists the routing rules that pointed at it and so lost their target (or fallback).',
      request: { params: idParams },
      responses: {
        200: { description: 'Deleted', content: { 'application/json': { schema: deletedSchema } } },
        ...synthesqErrorResponses(401, 404, 422),
      },
    }),
    async (c) => {
      const { integration, orphanedRules } = await deleteIntegration(
        ctx,
        scopeOf(c.var.principal),
        c.req.valid('param').id,
        audit(c),
      )
      const message = orphanedRules.length
        ? `Integration deleted successfully. ${orphanedRules.length} routing rule reference(s) lost their target: ${orphanedRules
            .map((r) => `${r.id} (${r.capability}, ${r.role})`)
            .join(', ')}.`
        : 'Integration deleted successfully'
      return c.json(
        {
          success: true as const,
          message,
          data: { id: integration.id, affected_routing_rules: orphanedRules },
          meta: {},
        },
        200,
      )
    },
  )

  one(
    'post',
    '/{id}/activate',
    'Activate an integration',
    'A disabled integration whose credentials were verified becomes `active` at once, without re-verifying. One ' +
      'never verified, or in `error`, returns to `pending_verify` and is verified again.',
    'Integration activated successfully',
    activateIntegration,
  )
  one(
    'post',
    '/{id}/disable',
    'Disable an integration',
    'Moves it to `inactive`: no operations are routed to it and it is not probed until activated again.',
    'Integration disabled successfully',
    disableIntegration,
  )
  one(
    'post',
    '/{id}/default',
    'Make this the default instance',
    'The default instance of a provider is used whenever no instance is named. The previous default stops being one.',
    'Default integration set successfully',
    setDefaultIntegration,
  )

  return app
}
