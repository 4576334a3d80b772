import { and, eq, inArray } from 'drizzle-orm'
import type { AppContext } from '../context.ts'
import { newId } from '../lib/ids.ts'
import { recordAudit } from '../store/audit.ts'
import type { Executor } from '../store/db.ts'
import {
  clearDefaultRule,
  deleteRoutingRuleRow,
  getRoutingRule as getRuleRow,
  type IntegrationRow,
  insertRoutingRule,
  listRoutingRules as listRuleRows,
  type RoutingRuleRow,
  rulesForCapability,
  updateRoutingRule as updateRuleRow,
} from '../store/integrations.ts'
import { integrations, type RoutingCondition } from '../store/schema/integrations.ts'
import type { Page, TenantScope } from '../store/scope.ts'
import { FieldErrors, IntegrationError } from './errors.ts'
import {
  CONDITION_OPERATORS,
  type ConditionOperator,
  type RouteVia,
  type TraceStep,
  type WalkTarget,
  walkRouting,
} from './routing-walk.ts'
import type { AuditContext, IntegrationView } from './service.ts'
import { toView } from './service.ts'

export type { RoutingCondition } from '../store/schema/integrations.ts'
export {
  CONDITION_OPERATORS,
  type ConditionOperator,
  conditionHolds,
  walkRouting,
} from './routing-walk.ts'

export type RoutingRule = RoutingRuleRow

export interface RuleInput {
  capability: string
  integrationId: string
  fallbackIntegrationId?: string | null | undefined
  /** Higher wins. Default 0. */
  priority?: number | undefined
  /** The catch-all for the capability (one per capability; setting it moves it here). */
  isDefault?: boolean | undefined
  /** All must match the operation's context. Not allowed on the default rule. */
  conditions?: RoutingCondition[] | undefined
}

export type RulePatch = Partial<RuleInput>

function checkConditions(errors: FieldErrors, conditions: RoutingCondition[]): void {
  conditions.forEach((c, i) => {
    checkCondition(errors, c, `conditions.${i}`)
  })
}

function checkCondition(errors: FieldErrors, c: RoutingCondition, at: string): void {
  if (!CONDITION_OPERATORS.includes(c.operator as ConditionOperator)) {
    errors.add(`${at}.operator`, `Must be one of ${CONDITION_OPERATORS.join(', ')}.`)
    return
  }
  if ((c.operator === 'in' || c.operator === 'not_in') && !Array.isArray(c.value)) {
    errors.add(`${at}.value`, `The ${c.operator} operator needs an array value.`)
  }
  if (
    ['gt', 'gte', 'lt', 'lte'].includes(c.operator) &&
    typeof c.value !== 'number' &&
    typeof c.value !== 'string'
  ) {
    errors.add(`${at}.value`, `The ${c.operator} operator needs a number or string value.`)
  }
  if (c.operator === 'exists' && c.value !== undefined && typeof c.value !== 'boolean') {
    errors.add(`${at}.value`, 'The exists operator takes true, false or no value.')
  }
  if (!['exists'].includes(c.operator) && c.value === undefined) {
    errors.add(`${at}.value`, `The ${c.operator} operator needs a value.`)
  }
}

/**
 * What `validateRule` would refuse in a rule (whole, or the fields of a patch) without reading the database: each
 * condition's value against its operator, conditions on a default rule, a fallback that is the rule's own
 * integration; by field, in the service's words. A request schema runs
 * this — also when another field failed — so one 422 names every problem of the request; the service still
 * checks, with the stored rule filled in. A condition that is not yet well-formed (not an object, an unknown
 * operator) is skipped: the schema reports it itself.
 */
export function ruleProblems(input: {
  integrationId?: unknown
  fallbackIntegrationId?: unknown
  isDefault?: unknown
  conditions?: unknown
}): Record<string, string[]> {
  const errors = new FieldErrors()
  if (typeof input.integrationId === 'string' && input.fallbackIntegrationId === input.integrationId)
    errors.add('fallbackIntegrationId', 'The fallback must be a different integration.')
  const { conditions } = input
  if (!Array.isArray(conditions)) return errors.fields
  conditions.forEach((c: unknown, i) => {
    if (c === null || typeof c !== 'object' || Array.isArray(c)) return
    // The schema defaults a missing operator to `eq`; a failed parse may hand over the raw condition.
    const operator = (c as { operator?: unknown }).operator ?? 'eq'
    if (typeof operator !== 'string' || !CONDITION_OPERATORS.includes(operator as ConditionOperator)) return
    checkCondition(errors, { ...(c as RoutingCondition), operator }, `conditions.${i}`)
  })
  if (input.isDefault === true && conditions.length > 0)
    errors.add('conditions', 'A default rule applies to every operation; it takes no conditions.')
  return errors.fields
}

// ---- rules ----

async function integrationsById(
  db: Executor,
  orgId: string,
  ids: string[],
): Promise<Map<string, IntegrationRow>> {
  const unique = [...new Set(ids)]
  if (unique.length === 0) return new Map()
  const found = await db
    .select()
    .from(integrations)
    .where(and(eq(integrations.orgId, orgId), inArray(integrations.id, unique)))
  return new Map(found.map((r) => [r.id, r]))
}

async function checkTarget(
  db: Executor,
  errors: FieldErrors,
  orgId: string,
  field: string,
  id: string,
  capability: string,
): Promise<void> {
  const row = (await integrationsById(db, orgId, [id])).get(id)
  if (!row || row.deletedAt) {
    errors.add(field, `The selected ${field} is invalid.`)
    return
  }
  if (!row.enabledCapabilities.includes(capability)) {
    errors.add(field, `The integration does not have the ${capability} capability enabled.`)
  }
}

interface CompleteRule {
  capability: string
  integrationId: string
  fallbackIntegrationId: string | null
  priority: number
  isDefault: boolean
  conditions: RoutingCondition[]
}

async function validateRule(db: Executor, orgId: string, rule: CompleteRule): Promise<void> {
  const errors = new FieldErrors()
  await checkTarget(db, errors, orgId, 'integrationId', rule.integrationId, rule.capability)
  if (rule.fallbackIntegrationId) {
    if (rule.fallbackIntegrationId === rule.integrationId) {
      errors.add('fallbackIntegrationId', 'The fallback must be a different integration.')
    } else {
      await checkTarget(
        db,
        errors,
        orgId,
        'fallbackIntegrationId',
        rule.fallbackIntegrationId,
        rule.capability,
      )
    }
  }
  checkConditions(errors, rule.conditions)
  if (rule.isDefault && rule.conditions.length > 0) {
    errors.add('conditions', 'A default rule applies to every operation; it takes no conditions.')
  }
  errors.throwIfAny()
}

function ruleSummary(r: RoutingRuleRow) {
  return {
    capability: r.capability,
    integrationId: r.integrationId,
    fallbackIntegrationId: r.fallbackIntegrationId,
    priority: r.priority,
    isDefault: r.isDefault,
    conditions: r.conditions,
  }
}

export async function createRoutingRule(
  ctx: AppContext,
  orgId: string,
  input: RuleInput,
  audit: AuditContext,
): Promise<RoutingRule> {
  const rule: CompleteRule = {
    capability: input.capability,
    integrationId: input.integrationId,
    fallbackIntegrationId: input.fallbackIntegrationId ?? null,
    priority: input.priority ?? 0,
    isDefault: input.isDefault ?? false,
    conditions: input.conditions ?? [],
  }
  return ctx.db.orm.transaction(async (tx) => {
    await validateRule(tx, orgId, rule)
    const now = ctx.clock.now()
    const replaced = rule.isDefault ? await clearDefaultRule(tx, orgId, rule.capability) : []
    const created = await insertRoutingRule(tx, {
      id: newId(now.getTime()),
      orgId,
      ...rule,
      createdAt: now,
      updatedAt: now,
    })
    await recordAudit(
      tx,
      {
        actor: audit.actor,
        orgId,
        action: 'routing_rule.create',
        targetType: 'routing_rule',
        targetId: created.id,
        summary: {
          ...ruleSummary(created),
          ...(replaced.length ? { previousDefaultRuleId: replaced[0] } : {}),
        },
        requestId: audit.requestId ?? null,
      },
      now,
    )
    return created
  })
}

export async function updateRoutingRule(
  ctx: AppContext,
  scope: TenantScope,
  id: string,
  patch: RulePatch,
  audit: AuditContext,
): Promise<RoutingRule> {
  return ctx.db.orm.transaction(async (tx) => {
    const current = await getRuleRow(tx, scope, id, { forUpdate: true })
    if (!current) throw IntegrationError.notFound('Routing rule')
    const next: CompleteRule = {
      capability: patch.capability ?? current.capability,
      integrationId: patch.integrationId ?? current.integrationId,
      fallbackIntegrationId:
        patch.fallbackIntegrationId !== undefined
          ? patch.fallbackIntegrationId
          : current.fallbackIntegrationId,
      priority: patch.priority ?? current.priority,
      isDefault: patch.isDefault ?? current.isDefault,
      conditions: patch.conditions ?? current.conditions,
    }
    await validateRule(tx, current.orgId, next)
    const now = ctx.clock.now()
    const replaced =
      next.isDefault && (!current.isDefault || next.capability !== current.capability)
        ? await clearDefaultRule(tx, current.orgId, next.capability)
        : []
    const updated = await updateRuleRow(tx, current.id, { ...next, updatedAt: now })
    await recordAudit(
      tx,
      {
        actor: audit.actor,
        orgId: current.orgId,
        action: 'routing_rule.update',
        targetType: 'routing_rule',
        targetId: current.id,
        summary: {
          before: ruleSummary(current),
          after: ruleSummary(updated),
          ...(replaced.length ? { previousDefaultRuleId: replaced[0] } : {}),
        },
        requestId: audit.requestId ?? null,
      },
      now,
    )
    return updated
  })
}

export async function deleteRoutingRule(
  ctx: AppContext,
  scope: TenantScope,
  id: string,
  audit: AuditContext,
): Promise<RoutingRule> {
  return ctx.db.orm.transaction(async (tx) => {
    const current = await getRuleRow(tx, scope, id, { forUpdate: true })
    if (!current) throw IntegrationError.notFound('Routing rule')
    await deleteRoutingRuleRow(tx, current.id)
    const now = ctx.clock.now()
    await recordAudit(
      tx,
      {
        actor: audit.actor,
        orgId: current.orgId,
        action: 'routing_rule.delete',
        targetType: 'routing_rule',
        targetId: current.id,
        summary: ruleSummary(current),
        requestId: audit.requestId ?? null,
      },
      now,
    )
    return current
  })
}

export async function getRoutingRule(ctx: AppContext, scope: TenantScope, id: string) {
  return getRuleRow(ctx.db.orm, scope, id)
}

export async function listRoutingRules(
  ctx: AppContext,
  scope: TenantScope,
  filter: { orgId?: string | undefined; capability?: string | undefined; integrationId?: string | undefined },
  page: Page,
) {
  return listRuleRows(ctx.db.orm, scope, filter, page)
}

// ---- evaluation ----

export type { RouteVia, TraceStep } from './routing-walk.ts'

export interface RoutingEvaluation {
  capability: string
  /** The chosen integration, or null: no active provider. */
  integration: IntegrationView | null
  ruleId: string | null
  via: RouteVia | null
  reason: string
  /** Every rule considered, in order, and what became of it. */
  trace: TraceStep[]
}

/**
 * Which integration handles `capability` for an operation with this context: the organization's rules and the
 * integrations they name, read here, walked by `walkRouting` (whose comment states the order). Nothing is changed;
 * `trace` says why.
 */
export async function evaluateRouting(
  ctx: AppContext,
  orgId: string,
  capability: string,
  context: Record<string, unknown> = {},
): Promise<RoutingEvaluation> {
  const rules = await rulesForCapability(ctx.db.orm, orgId, capability)
  const rows = await integrationsById(
    ctx.db.orm,
    orgId,
    rules.flatMap((r) => [r.integrationId, ...(r.fallbackIntegrationId ? [r.fallbackIntegrationId] : [])]),
  )
  const targets = new Map<string, WalkTarget>()
  for (const [id, row] of rows) targets.set(id, { ...row, deleted: row.deletedAt !== null })
  const choice = walkRouting(rules, targets, capability, context)
  const row = choice.integrationId ? rows.get(choice.integrationId) : undefined
  return {
    capability,
    integration: row ? toView(ctx, row) : null,
    ruleId: choice.ruleId,
    via: choice.via,
    reason: choice.reason,
    trace: choice.trace,
  }
}

/**
 * The active integration that handles `capability` for this operation, by the organization's routing rules.
 * Throws `IntegrationError` with code `no_active_provider` (SynthesQ's NoActiveProviderException) when none.
 */
export async function resolveIntegration(
  ctx: AppContext,
  orgId: string,
  capability: string,
  context: Record<string, unknown> = {},
): Promise<IntegrationView> {
  const evaluation = await evaluateRouting(ctx, orgId, capability, context)
  if (!evaluation.integration) throw new IntegrationError('no_active_provider', evaluation.reason)
  return evaluation.integration
}
