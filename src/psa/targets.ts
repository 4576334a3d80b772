import { type RoutingCondition, unavailable, walkRouting } from '../integrations/routing-walk.ts'
import type { Querier } from '../store/db.ts'
import { automationEnabled, readSettings } from './settings.ts'

/**
 * Which PSA connection an alert's ticket goes to, decided inside the event-ingest transaction from rows the
 * fan-out loaded there (the service's `evaluateRouting` reads through its own connection, which would wait on the
 * ingest transaction in embedded mode). The decision itself is `walkRouting`, the same walk the dry run makes.
 */

export const TICKET_CAPABILITY = 'create_ticket'

export interface CandidateIntegration {
  id: string
  orgId: string
  provider: string
  /** The connector's category; only `psa` connections are this automation's to drive. */
  category: string
  status: string
  enabledCapabilities: string[]
  settings: Record<string, unknown>
  isDefault: boolean
  createdAt: Date
  deleted: boolean
}

export interface CandidateRule {
  id: string
  orgId: string
  integrationId: string
  fallbackIntegrationId: string | null
  priority: number
  isDefault: boolean
  conditions: RoutingCondition[]
  createdAt: Date
}

/** Code-point order, as PostgreSQL orders uuids. */
function compareIds(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

/** The integration the rules pick for this context, or undefined when no rule picks an active one. */
export function routeByRules(
  rules: readonly CandidateRule[],
  byId: ReadonlyMap<string, CandidateIntegration>,
  capability: string,
  context: Record<string, unknown>,
): CandidateIntegration | undefined {
  const { integrationId } = walkRouting(rules, byId, capability, context)
  return integrationId ? byId.get(integrationId) : undefined
}

/**
 * The PSA connection whose automation handles a new alert, or undefined for none. A routing rule that picks an
 * integration decides: a PSA connection with `autoCreateTickets` gets the ticket; anything else (a generic
 * ticketing endpoint, a PSA connection without automation) means this automation stays out of it. With no rule
 * deciding, the organization's default: among its active PSA connections with `autoCreateTickets`, a default
 * instance first, then the oldest.
 */
export function chooseConnection(
  rules: readonly CandidateRule[],
  byId: ReadonlyMap<string, CandidateIntegration>,
  psaConnections: readonly CandidateIntegration[],
  context: Record<string, unknown>,
): CandidateIntegration | undefined {
  const routed = routeByRules(rules, byId, TICKET_CAPABILITY, context)
  if (routed) {
    return routed.category === 'psa' && automationEnabled(readSettings(routed.settings)) ? routed : undefined
  }
  return [...psaConnections]
    .filter(
      (c) => unavailable(c, TICKET_CAPABILITY) === undefined && automationEnabled(readSettings(c.settings)),
    )
    .sort(
      (a, b) =>
        Number(b.isDefault) - Number(a.isDefault) ||
        a.createdAt.getTime() - b.createdAt.getTime() ||
        compareIds(a.id, b.id),
    )[0]
}

/** An integration row as the ingest-time fan-outs read it (raw SQL inside the ingest transaction). */
export interface IntegrationRowSql {
  id: string
  org_id: string
  provider: string
  status: string
  enabled_capabilities: string[] | null
  settings: Record<string, unknown> | null
  is_default: boolean
  created_at: Date | string
  deleted_at: Date | string | null
}

export const INTEGRATION_COLUMNS =
  'id, org_id, provider, status, enabled_capabilities, settings, is_default, created_at, deleted_at'

/** Turns rows into candidates, with each provider's category from the connector registry. */
export function candidateOf(
  categoryOf: (provider: string) => string,
): (r: IntegrationRowSql) => CandidateIntegration {
  return (r) => ({
    id: r.id,
    orgId: r.org_id,
    provider: r.provider,
    category: categoryOf(r.provider),
    status: r.status,
    enabledCapabilities: r.enabled_capabilities ?? [],
    settings: r.settings ?? {},
    isDefault: r.is_default,
    createdAt: new Date(r.created_at),
    deleted: r.deleted_at !== null,
  })
}

/**
 * The organizations' routing rules for `capability`, by organization, read in the ingest transaction; every
 * integration a rule names that `byId` does not hold yet is loaded into it, so `routeByRules` can judge it. Used by
 * the fan-outs that create tickets (the PSA automation, generic ticketing's autoCreate), which must agree.
 */
export async function loadRules(
  q: Querier,
  orgIds: readonly string[],
  capability: string,
  byId: Map<string, CandidateIntegration>,
  candidate: (r: IntegrationRowSql) => CandidateIntegration,
): Promise<Map<string, CandidateRule[]>> {
  const rows = await q.query<{
    id: string
    org_id: string
    integration_id: string
    fallback_integration_id: string | null
    priority: number
    is_default: boolean
    conditions: RoutingCondition[] | null
    created_at: Date | string
  }>(
    `SELECT id, org_id, integration_id, fallback_integration_id, priority, is_default, conditions, created_at
     FROM routing_rules WHERE org_id = ANY($1::uuid[]) AND capability = $2`,
    [orgIds, capability],
    'pb_fanout_routing_rules',
  )
  const missing = [
    ...new Set(rows.flatMap((r) => [r.integration_id, r.fallback_integration_id ?? r.integration_id])),
  ].filter((id) => !byId.has(id))
  if (missing.length > 0) {
    const extra = await q.query<IntegrationRowSql>(
      `SELECT ${INTEGRATION_COLUMNS} FROM integrations WHERE id = ANY($1::uuid[])`,
      [missing],
      'pb_fanout_rule_targets',
    )
    for (const r of extra) byId.set(r.id, candidate(r))
  }
  const rulesOf = new Map<string, CandidateRule[]>()
  for (const r of rows) {
    const list = rulesOf.get(r.org_id) ?? []
    list.push({
      id: r.id,
      orgId: r.org_id,
      integrationId: r.integration_id,
      fallbackIntegrationId: r.fallback_integration_id,
      priority: r.priority,
      isDefault: r.is_default,
      conditions: r.conditions ?? [],
      createdAt: new Date(r.created_at),
    })
    rulesOf.set(r.org_id, list)
  }
  return rulesOf
}
