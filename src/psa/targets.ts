import { conditionHolds, type RoutingCondition } from '../integrations/routing.ts'
import { automationEnabled, readSettings } from './settings.ts'

/**
 * Which PSA connection an alert's ticket goes to, decided inside the event-ingest transaction from rows the
 * fan-out loaded there (the service's `evaluateRouting` reads through its own connection, which would wait on the
 * ingest transaction in embedded mode). The rule walk is the one `evaluateRouting` documents: rules by priority
 * (highest first, then oldest), the first whose conditions all hold and whose integration — else fallback — is
 * active with the capability enabled; then the default rule; `test/psa-automation.test.ts` checks both agree.
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

function available(row: CandidateIntegration | undefined, capability: string): row is CandidateIntegration {
  return !!row && !row.deleted && row.status === 'active' && row.enabledCapabilities.includes(capability)
}

/** The integration the rules pick for this context, or undefined when no rule picks an active one. */
export function routeByRules(
  rules: readonly CandidateRule[],
  byId: ReadonlyMap<string, CandidateIntegration>,
  capability: string,
  context: Record<string, unknown>,
): CandidateIntegration | undefined {
  const byPriority = [...rules].sort(
    (a, b) =>
      b.priority - a.priority || a.createdAt.getTime() - b.createdAt.getTime() || compareIds(a.id, b.id),
  )
  const ordered = [...byPriority.filter((r) => !r.isDefault), ...byPriority.filter((r) => r.isDefault)]
  for (const rule of ordered) {
    if (!rule.isDefault && !rule.conditions.every((c) => conditionHolds(c, context))) continue
    const primary = byId.get(rule.integrationId)
    if (available(primary, capability)) return primary
    const fallback = rule.fallbackIntegrationId ? byId.get(rule.fallbackIntegrationId) : undefined
    if (available(fallback, capability)) return fallback
  }
  return undefined
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
    .filter((c) => available(c, TICKET_CAPABILITY) && automationEnabled(readSettings(c.settings)))
    .sort(
      (a, b) =>
        Number(b.isDefault) - Number(a.isDefault) ||
        a.createdAt.getTime() - b.createdAt.getTime() ||
        compareIds(a.id, b.id),
    )[0]
}
