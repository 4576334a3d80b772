/** The integration itself: `GET|POST /integrations`, `GET|PATCH|DELETE /integrations/{id}`. */
import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi'
import type { AppContext } from '../../../context.ts'
import {
  createIntegration,
  deleteIntegration,
  getIntegration,
  IntegrationError,
  listIntegrations,
  newIntegrationProblems,
  updateIntegration,
} from '../../../integrations/service.ts'
import type { AppEnv } from '../../env.ts'
import {
  EnvelopeValidationError,
  envelope,
  envelopeErrorResponses,
  envelopeFieldName,
  pageEnvelope,
  pageParams,
  pagination,
} from '../../envelope.ts'
import { resolveOrgFilter, resolveOrgId, scopeOf } from '../../principal.ts'
import { idParams } from '../../schemas.ts'
import { auditOf } from '../shared.ts'
import {
  categoryEnum,
  integrationResource,
  integrationSchema,
  jsonObject,
  orgIdField,
  statusEnum,
  TAG,
} from './schemas.ts'

/** Keys Patchbay adds to `metadata` in responses; callers may not set them. */
const RESERVED_METADATA = ['last_error', 'last_error_at', 'last_error_source'] as const

const createFields = z.strictObject({
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

/** The reserved keys `metadata` sets, by field; nothing for a metadata that is not an object (the schema says so). */
function reservedMetadataProblems(metadata: unknown): Record<string, string[]> {
  const problems: Record<string, string[]> = {}
  if (metadata !== null && typeof metadata === 'object') {
    for (const k of RESERVED_METADATA.filter((key) => key in metadata))
      problems[`metadata.${k}`] = [`The metadata.${k} key is reserved for Patchbay.`]
  }
  return problems
}

/** A service's field problems as schema issues, in the SynthesQ field names and the service's own sentences. */
function addProblems(problems: Record<string, string[]>, zctx: z.RefinementCtx) {
  for (const [field, messages] of Object.entries(problems)) {
    const path = envelopeFieldName(field)
    for (const message of messages)
      zctx.addIssue({ code: 'custom', path: path.split('.'), message, params: { sentence: true } })
  }
}

/**
 * The create body, with the checks that need neither the database nor the network (reserved metadata keys,
 * provider, capabilities, credentials) run by the schema — also when a field failed — so one 422 lists every
 * problem of the request, an unknown field among them (issue 19, item 7). The service checks them again.
 */
function createBodyFor(ctx: AppContext) {
  return createFields
    .superRefine(
      (body, zctx) => {
        const problems: Record<string, string[]> = newIntegrationProblems(ctx, {
          provider: body.provider,
          enabledCapabilities: body.enabled_capabilities,
          credentials: body.credentials,
        })
        Object.assign(problems, reservedMetadataProblems(body.metadata))
        addProblems(problems, zctx)
      },
      { when: (payload) => payload.value !== null && typeof payload.value === 'object' },
    )
    .openapi('CreateIntegration')
}

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
  // Reserved metadata keys need no stored state, so they are checked here — also when another field failed —
  // and one 422 names them beside an unknown field (issue 19, item 7). The rest needs the stored integration.
  .superRefine((body, zctx) => addProblems(reservedMetadataProblems(body.metadata), zctx), {
    when: (payload) => payload.value !== null && typeof payload.value === 'object',
  })
  .openapi('UpdateIntegration')

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

function checkMetadata(metadata: Record<string, unknown> | undefined) {
  const reserved = RESERVED_METADATA.filter((k) => metadata && k in metadata)
  if (reserved.length) {
    const errors: Record<string, string[]> = {}
    for (const k of reserved) errors[`metadata.${k}`] = [`The metadata.${k} key is reserved for Patchbay.`]
    throw new EnvelopeValidationError(errors)
  }
}

export function crudRoutes(app: OpenAPIHono<AppEnv>, ctx: AppContext) {
  const db = ctx.db.orm

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
        ...envelopeErrorResponses(400, 401, 404, 422),
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
      request: { body: { required: true, content: { 'application/json': { schema: createBodyFor(ctx) } } } },
      responses: {
        201: {
          description: 'Created',
          content: { 'application/json': { schema: envelope(integrationSchema) } },
        },
        ...envelopeErrorResponses(400, 401, 404, 422),
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
        auditOf(c),
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
        ...envelopeErrorResponses(401, 404, 422),
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
        ...envelopeErrorResponses(401, 404, 422),
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
        auditOf(c),
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
        ...envelopeErrorResponses(401, 404, 422),
      },
    }),
    async (c) => {
      const { integration, orphanedRules } = await deleteIntegration(
        ctx,
        scopeOf(c.var.principal),
        c.req.valid('param').id,
        auditOf(c),
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
}
