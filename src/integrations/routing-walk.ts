/**
 * The routing walk, as one pure function: which integration handles a capability for an operation, and why. The
 * dry run (`evaluateRouting`), the PSA ticket automation and generic ticketing's autoCreate all decide through
 * `walkRouting`, so they cannot disagree; each caller only loads rules and integrations its own way (the fan-outs
 * read inside the ingest transaction) and hands them here.
 */
import type { RoutingCondition } from '../store/schema/integrations.ts'

export type { RoutingCondition } from '../store/schema/integrations.ts'

export const CONDITION_OPERATORS = [
  'eq',
  'neq',
  'in',
  'not_in',
  'gt',
  'gte',
  'lt',
  'lte',
  'contains',
  'exists',
] as const
export type ConditionOperator = (typeof CONDITION_OPERATORS)[number]

function lookup(context: unknown, path: string): unknown {
  let value: unknown = context
  for (const part of path.split('.')) {
    if (value === null || typeof value !== 'object') return undefined
    value = (value as Record<string, unknown>)[part]
  }
  return value
}

/** -1, 0 or 1 for two numbers or two strings; undefined when they cannot be ordered. */
function compare(a: unknown, b: unknown): number | undefined {
  if ((typeof a === 'number' && typeof b === 'number') || (typeof a === 'string' && typeof b === 'string')) {
    return a < b ? -1 : a > b ? 1 : 0
  }
  return undefined
}

/** Whether one condition holds for the context. Ordering operators compare numbers, or strings (ISO dates). */
export function conditionHolds(c: RoutingCondition, context: unknown): boolean {
  const actual = lookup(context, c.field)
  const v = c.value
  switch (c.operator as ConditionOperator) {
    case 'eq':
      return actual === v
    case 'neq':
      return actual !== v
    case 'in':
      return Array.isArray(v) && v.includes(actual)
    case 'not_in':
      return Array.isArray(v) && !v.includes(actual)
    case 'gt':
      return (compare(actual, v) ?? 0) > 0
    case 'gte': {
      const order = compare(actual, v)
      return order !== undefined && order >= 0
    }
    case 'lt':
      return (compare(actual, v) ?? 0) < 0
    case 'lte': {
      const order = compare(actual, v)
      return order !== undefined && order <= 0
    }
    case 'contains':
      return typeof actual === 'string'
        ? typeof v === 'string' && actual.includes(v)
        : Array.isArray(actual) && actual.includes(v)
    case 'exists': {
      const present = actual !== undefined && actual !== null
      return v === false ? !present : present
    }
    default:
      return false
  }
}

/** A condition and what the context holds for it, for the trace. */
export function describeCondition(c: RoutingCondition, context: unknown): string {
  const actual = lookup(context, c.field)
  return `${c.field} ${c.operator}${c.value === undefined ? '' : ` ${JSON.stringify(c.value)}`} (context has ${
    actual === undefined ? 'nothing' : JSON.stringify(actual)
  })`
}

export type RouteVia = 'rule' | 'fallback' | 'default_rule' | 'default_rule_fallback'

export interface TraceStep {
  ruleId: string
  priority: number
  isDefault: boolean
  outcome: 'chosen' | 'skipped'
  reason: string
}

/** A routing rule as the walk needs it. */
export interface WalkRule {
  id: string
  integrationId: string
  fallbackIntegrationId: string | null
  priority: number
  isDefault: boolean
  conditions: readonly RoutingCondition[]
  createdAt: Date
}

/** An integration a rule may name, as the walk judges it. */
export interface WalkTarget {
  id: string
  status: string
  enabledCapabilities: readonly string[]
  /** Soft-deleted. */
  deleted: boolean
}

export interface RoutingChoice {
  /** The chosen integration's id, or null: no active provider. */
  integrationId: string | null
  ruleId: string | null
  via: RouteVia | null
  reason: string
  /** Every rule considered, in order, and what became of it. */
  trace: TraceStep[]
}

/** Why a target cannot take an operation of `capability`, or undefined when it can. */
export function unavailable(target: WalkTarget | undefined, capability: string): string | undefined {
  if (!target) return 'does not exist'
  if (target.deleted) return 'was deleted'
  if (target.status !== 'active') return `is ${target.status}`
  if (!target.enabledCapabilities.includes(capability)) return `does not have ${capability} enabled`
  return undefined
}

/** Code-point order, as PostgreSQL orders uuids (lower-case hex). */
function compareIds(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

/** Rules in walk order: priority (highest first), then oldest, then id; the default rule(s) last. */
export function walkOrder<R extends WalkRule>(rules: readonly R[]): R[] {
  const byPriority = [...rules].sort(
    (a, b) =>
      b.priority - a.priority || a.createdAt.getTime() - b.createdAt.getTime() || compareIds(a.id, b.id),
  )
  return [...byPriority.filter((r) => !r.isDefault), ...byPriority.filter((r) => r.isDefault)]
}

/**
 * Which integration handles `capability` for an operation with this context. Rules are walked by priority
 * (highest first, then oldest): the first whose conditions all match and whose integration is active with the
 * capability enabled wins; if its integration cannot take it, its fallback, if it can. Then the default rule (its
 * integration, then its fallback; its conditions are not consulted). Otherwise there is no active provider.
 * `rules` are one organization's rules for `capability`, in any order; `targets` holds the integrations they
 * name (a missing one "does not exist").
 */
export function walkRouting(
  rules: readonly WalkRule[],
  targets: ReadonlyMap<string, WalkTarget>,
  capability: string,
  context: Record<string, unknown>,
): RoutingChoice {
  const trace: TraceStep[] = []
  for (const rule of walkOrder(rules)) {
    const step = { ruleId: rule.id, priority: rule.priority, isDefault: rule.isDefault }
    if (!rule.isDefault) {
      const failed = rule.conditions.find((c) => !conditionHolds(c, context))
      if (failed) {
        trace.push({
          ...step,
          outcome: 'skipped',
          reason: `condition not met: ${describeCondition(failed, context)}`,
        })
        continue
      }
    }
    const primary = targets.get(rule.integrationId)
    const primaryProblem = unavailable(primary, capability)
    const what = rule.isDefault ? 'default rule' : 'rule'
    if (!primaryProblem && primary) {
      const reason = `${what} ${rule.id} matched and its integration ${primary.id} is active`
      trace.push({ ...step, outcome: 'chosen', reason })
      return {
        integrationId: primary.id,
        ruleId: rule.id,
        via: rule.isDefault ? 'default_rule' : 'rule',
        reason,
        trace,
      }
    }
    const fallbackId = rule.fallbackIntegrationId
    const fallback = fallbackId ? targets.get(fallbackId) : undefined
    const fallbackProblem = fallbackId ? unavailable(fallback, capability) : 'is not set'
    if (!fallbackProblem && fallback) {
      const reason = `${what} ${rule.id} matched; its integration ${rule.integrationId} ${primaryProblem}, so its fallback ${fallback.id} (active) was chosen`
      trace.push({ ...step, outcome: 'chosen', reason })
      return {
        integrationId: fallback.id,
        ruleId: rule.id,
        via: rule.isDefault ? 'default_rule_fallback' : 'fallback',
        reason,
        trace,
      }
    }
    trace.push({
      ...step,
      outcome: 'skipped',
      reason: `integration ${rule.integrationId} ${primaryProblem}; fallback${fallbackId ? ` ${fallbackId}` : ''} ${fallbackProblem}`,
    })
  }
  const reason =
    rules.length === 0
      ? `No routing rule for capability "${capability}".`
      : `No active provider for capability "${capability}": no matching rule has an active integration or fallback.`
  return { integrationId: null, ruleId: null, via: null, reason, trace }
}
