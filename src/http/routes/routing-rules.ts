import { createRoute, z } from '@hono/zod-openapi'
import type { Context } from 'hono'
import type { AppContext } from '../../context.ts'
import { IntegrationError } from '../../integrations/errors.ts'
import {
  CONDITION_OPERATORS,
  createRoutingRule,
  deleteRoutingRule,
  evaluateRouting,
  getRoutingRule,
  listRoutingRules,
  type RoutingRule,
  ruleProblems,
  updateRoutingRule,
} from '../../integrations/routing.ts'
import type { AuditContext } from '../../integrations/service.ts'
import type { AppEnv } from '../env.ts'
import {
  envelope,
  envelopeErrorResponses,
  envelopeFieldName,
  envelopeRouter,
  pageEnvelope,
  pageParams,
  pagination,
} from '../envelope.ts'
import { actorOf, resolveOrgFilter, resolveOrgId, scopeOf } from '../principal.ts'
import { idParams, uuidSchema } from '../schemas.ts'
import { integrationResource } from './integrations/schemas.ts'

const TAG = 'Routing rules'
const timestamp = z.string().openapi({ example: '2026-01-10T08:30:00.000Z' })
const orgIdField = uuidSchema
  .optional()
  .openapi({ description: 'The organization (partner and system keys)' })

const conditionSchema = z
  .strictObject({
    field: z.string().min(1).max(200).openapi({
      description: "A dotted path into the operation's context, e.g. `customer.country`",
      example: 'severity',
    }),
    operator: z
      .enum(CONDITION_OPERATORS)
      .default('eq')
      .openapi({
        description:
          '`eq`, `neq`; `in`, `not_in` (value is an array); `gt`, `gte`, `lt`, `lte` (numbers, or strings such as ' +
          'ISO dates); `contains` (substring, or array member); `exists` (value true, the default, or false)',
      }),
    value: z.unknown().optional(),
  })
  .openapi('RoutingCondition')

const ruleSchema = z
  .object({
    id: z.uuid(),
    org_id: z.uuid(),
    capability: z.string(),
    integration_id: z.uuid(),
    fallback_integration_id: z.uuid().nullable(),
    priority: z.number().int(),
    is_default: z.boolean(),
    conditions: z.array(z.object({ field: z.string(), operator: z.string(), value: z.unknown().optional() })),
    created_at: timestamp,
    updated_at: timestamp,
  })
  .openapi('RoutingRule')

function ruleResource(r: RoutingRule) {
  return {
    id: r.id,
    org_id: r.orgId,
    capability: r.capability,
    integration_id: r.integrationId,
    fallback_integration_id: r.fallbackIntegrationId,
    priority: r.priority,
    is_default: r.isDefault,
    conditions: r.conditions,
    created_at: r.createdAt.toISOString(),
    updated_at: r.updatedAt.toISOString(),
  }
}

const priority = z.number().int().min(-1_000_000).max(1_000_000)

/**
 * The rule checks that need no database (conditions against their operators, none on a default rule, a fallback
 * other than the integration), run by the schema — also when another field failed — so one 422 lists every
 * problem of the request, an unknown field among them (issue 19, item 7). The service checks them again.
 */
function addRuleIssues(
  body: {
    integration_id?: unknown
    fallback_integration_id?: unknown
    is_default?: unknown
    conditions?: unknown
  },
  zctx: z.RefinementCtx,
) {
  const problems = ruleProblems({
    integrationId: body.integration_id,
    fallbackIntegrationId: body.fallback_integration_id,
    isDefault: body.is_default,
    conditions: body.conditions,
  })
  for (const [field, messages] of Object.entries(problems)) {
    const path = envelopeFieldName(field)
    for (const message of messages)
      zctx.addIssue({ code: 'custom', path: path.split('.'), message, params: { sentence: true } })
  }
}

const anObject = {
  when: (payload: { value: unknown }) => payload.value !== null && typeof payload.value === 'object',
}

const createBody = z
  .strictObject({
    capability: z.string().min(1).max(100).openapi({ example: 'create_ticket' }),
    integration_id: uuidSchema,
    priority: priority.optional().openapi({ description: 'Higher is evaluated first (default 0)' }),
    is_default: z.boolean().optional().openapi({
      description:
        'The catch-all for the capability, used when no other rule yields an active integration. One per capability: setting it moves it here.',
    }),
    fallback_integration_id: uuidSchema.nullable().optional().openapi({
      description: 'Used when this rule matches but its integration is not active',
    }),
    conditions: z.array(conditionSchema).max(20).optional().openapi({
      description: "All must match the operation's context. Not allowed on the default rule.",
    }),
    orgId: orgIdField,
  })
  .superRefine(addRuleIssues, anObject)
  .openapi('CreateRoutingRule')

const patchBody = z
  .strictObject({
    capability: z.string().min(1).max(100).optional(),
    integration_id: uuidSchema.optional(),
    priority: priority.optional(),
    is_default: z.boolean().optional(),
    fallback_integration_id: uuidSchema.nullable().optional(),
    conditions: z.array(conditionSchema).max(20).optional(),
  })
  .superRefine(addRuleIssues, anObject)
  .openapi('UpdateRoutingRule')

const evaluateBody = z
  .strictObject({
    capability: z.string().min(1).max(100),
    context: z
      .record(z.string(), z.unknown())
      .optional()
      .openapi({
        description: "The operation's context that conditions are matched against",
        example: { severity: 'critical', customer: { country: 'DE' } },
      }),
    orgId: orgIdField,
  })
  .openapi('EvaluateRouting')

const evaluationSchema = z
  .object({
    capability: z.string(),
    integration: z
      .unknown()
      .nullable()
      .openapi({ description: 'The chosen integration (as in GET /integrations/{id}), or null' }),
    rule_id: z.uuid().nullable(),
    via: z.enum(['rule', 'fallback', 'default_rule', 'default_rule_fallback']).nullable(),
    // A union, not `.nullable()`: the generator dropped null from a nullable literal's allowed values (issue 19, item 10).
    error: z.union([z.literal('no_active_provider'), z.null()]),
    reason: z.string(),
    trace: z.array(
      z.object({
        rule_id: z.uuid(),
        priority: z.number().int(),
        is_default: z.boolean(),
        outcome: z.enum(['chosen', 'skipped']),
        reason: z.string(),
      }),
    ),
  })
  .openapi('RoutingEvaluation')

function audit(c: Context<AppEnv>): AuditContext {
  return { actor: actorOf(c.var.principal), requestId: c.var.requestId }
}

export function routingRuleRoutes(ctx: AppContext) {
  const app = envelopeRouter(ctx)
  const db = ctx.db.orm

  app.openapi(
    createRoute({
      method: 'post',
      path: '/evaluate',
      tags: [TAG],
      summary: 'Dry-run routing',
      description:
        'Which rule and integration an operation with this capability and context would go to, and why, changing ' +
        'nothing. Rules are walked by priority (highest first, then oldest): the first whose conditions all match ' +
        'and whose integration is active wins; if its integration is not active, its fallback if active; then the ' +
        'default rule (its integration, then its fallback). Otherwise `integration` is null and `error` is ' +
        '`no_active_provider` (what a real operation fails with).',
      request: { body: { required: true, content: { 'application/json': { schema: evaluateBody } } } },
      responses: {
        200: {
          description: 'The evaluation',
          content: { 'application/json': { schema: envelope(evaluationSchema) } },
        },
        ...envelopeErrorResponses(400, 401, 404, 422),
      },
    }),
    async (c) => {
      const body = c.req.valid('json')
      const orgId = await resolveOrgId(db, c.var.principal, body.orgId)
      const e = await evaluateRouting(ctx, orgId, body.capability, body.context ?? {})
      const data = {
        capability: e.capability,
        integration: e.integration ? integrationResource(e.integration) : null,
        rule_id: e.ruleId,
        via: e.via,
        error: e.integration ? null : ('no_active_provider' as const),
        reason: e.reason,
        trace: e.trace.map((t) => ({
          rule_id: t.ruleId,
          priority: t.priority,
          is_default: t.isDefault,
          outcome: t.outcome,
          reason: t.reason,
        })),
      }
      return c.json({ success: true as const, message: e.reason, data, meta: {} }, 200)
    },
  )

  app.openapi(
    createRoute({
      method: 'post',
      path: '/',
      tags: [TAG],
      summary: 'Create a routing rule',
      description:
        'The integration (and fallback) must belong to the organization and have the capability enabled. Routing ' +
        'only ever selects `active` integrations.',
      request: { body: { required: true, content: { 'application/json': { schema: createBody } } } },
      responses: {
        201: { description: 'Created', content: { 'application/json': { schema: envelope(ruleSchema) } } },
        ...envelopeErrorResponses(400, 401, 404, 422),
      },
    }),
    async (c) => {
      const body = c.req.valid('json')
      const orgId = await resolveOrgId(db, c.var.principal, body.orgId)
      const rule = await createRoutingRule(
        ctx,
        orgId,
        {
          capability: body.capability,
          integrationId: body.integration_id,
          fallbackIntegrationId: body.fallback_integration_id,
          priority: body.priority,
          isDefault: body.is_default,
          conditions: body.conditions,
        },
        audit(c),
      )
      return c.json(
        {
          success: true as const,
          message: 'Routing rule created successfully',
          data: ruleResource(rule),
          meta: {},
        },
        201,
      )
    },
  )

  app.openapi(
    createRoute({
      method: 'get',
      path: '/',
      tags: [TAG],
      summary: 'List routing rules',
      description: 'By capability, then priority (highest first).',
      request: {
        query: z.object({
          capability: z.string().optional(),
          integration_id: uuidSchema
            .optional()
            .openapi({ description: 'Rules targeting it, as integration or fallback' }),
          ...pageParams,
          orgId: orgIdField,
        }),
      },
      responses: {
        200: {
          description: 'Routing rules',
          content: { 'application/json': { schema: pageEnvelope(ruleSchema) } },
        },
        ...envelopeErrorResponses(400, 401, 404, 422),
      },
    }),
    async (c) => {
      const q = c.req.valid('query')
      const p = c.var.principal
      const orgId = await resolveOrgFilter(db, p, q.orgId)
      const { items, total } = await listRoutingRules(
        ctx,
        scopeOf(p),
        { orgId, capability: q.capability, integrationId: q.integration_id },
        { page: q.page, limit: q.per_page },
      )
      const { meta, links } = pagination(
        '/api/v1/routing-rules',
        {
          capability: q.capability,
          integration_id: q.integration_id,
          orgId: q.orgId,
          per_page: c.req.query('per_page') ? q.per_page : undefined,
        },
        q.page,
        q.per_page,
        total,
      )
      return c.json({ success: true as const, data: items.map(ruleResource), meta, links }, 200)
    },
  )

  app.openapi(
    createRoute({
      method: 'get',
      path: '/{id}',
      tags: [TAG],
      summary: 'Get a routing rule',
      request: { params: idParams },
      responses: {
        200: { description: 'The rule', content: { 'application/json': { schema: envelope(ruleSchema) } } },
        ...envelopeErrorResponses(401, 404, 422),
      },
    }),
    async (c) => {
      const rule = await getRoutingRule(ctx, scopeOf(c.var.principal), c.req.valid('param').id)
      if (!rule) throw IntegrationError.notFound('Routing rule')
      return c.json({ success: true as const, data: ruleResource(rule), meta: {} }, 200)
    },
  )

  app.openapi(
    createRoute({
      method: 'patch',
      path: '/{id}',
      tags: [TAG],
      summary: 'Update a routing rule',
      description: 'Partial update, e.g. `{"integration_id": "…"}` to switch providers.',
      request: {
        params: idParams,
        body: { required: true, content: { 'application/json': { schema: patchBody } } },
      },
      responses: {
        200: { description: 'Updated', content: { 'application/json': { schema: envelope(ruleSchema) } } },
        ...envelopeErrorResponses(401, 404, 422),
      },
    }),
    async (c) => {
      const body = c.req.valid('json')
      const rule = await updateRoutingRule(
        ctx,
        scopeOf(c.var.principal),
        c.req.valid('param').id,
        {
          ...(body.capability !== undefined ? { capability: body.capability } : {}),
          ...(body.integration_id !== undefined ? { integrationId: body.integration_id } : {}),
          ...(body.fallback_integration_id !== undefined
            ? { fallbackIntegrationId: body.fallback_integration_id }
            : {}),
          ...(body.priority !== undefined ? { priority: body.priority } : {}),
          ...(body.is_default !== undefined ? { isDefault: body.is_default } : {}),
          ...(body.conditions !== undefined ? { conditions: body.conditions } : {}),
        },
        audit(c),
      )
      return c.json(
        {
          success: true as const,
          message: 'Routing rule updated successfully',
          data: ruleResource(rule),
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
      summary: 'Delete a routing rule',
      request: { params: idParams },
      responses: {
        200: {
          description: 'Deleted',
          content: {
            'application/json': { schema: z.object({ success: z.literal(true), message: z.string() }) },
          },
        },
        ...envelopeErrorResponses(401, 404, 422),
      },
    }),
    async (c) => {
      await deleteRoutingRule(ctx, scopeOf(c.var.principal), c.req.valid('param').id, audit(c))
      return c.json({ success: true as const, message: 'Routing rule deleted successfully' }, 200)
    },
  )

  return app
}
