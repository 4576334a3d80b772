import { describe, expect, it } from 'vitest'
import { type CandidateIntegration, type CandidateRule, chooseConnection, routeByRules } from './targets.ts'

const at = (s: number) => new Date(Date.UTC(2026, 1, 18, 12, 0, s))

function integration(id: string, over: Partial<CandidateIntegration> = {}): CandidateIntegration {
  return {
    id,
    orgId: 'org',
    provider: 'connectwise',
    category: 'psa',
    status: 'active',
    enabledCapabilities: ['create_ticket'],
    settings: { autoCreateTickets: true },
    isDefault: true,
    createdAt: at(0),
    deleted: false,
    ...over,
  }
}

function rule(id: string, integrationId: string, over: Partial<CandidateRule> = {}): CandidateRule {
  return {
    id,
    orgId: 'org',
    integrationId,
    fallbackIntegrationId: null,
    priority: 0,
    isDefault: false,
    conditions: [],
    createdAt: at(0),
    ...over,
  }
}

const byId = (...xs: CandidateIntegration[]) => new Map(xs.map((x) => [x.id, x]))

describe('routing for alert tickets', () => {
  it('walks rules by priority, then age, with conditions; default rule last; fallback when inactive', () => {
    const a = integration('a')
    const b = integration('b')
    const c = integration('c', { status: 'error' })
    const rules = [
      rule('r-default', 'a', { isDefault: true, priority: 100 }),
      rule('r-old', 'b', { createdAt: at(1) }),
      rule('r-new', 'a', { createdAt: at(2) }),
      rule('r-crit', 'c', {
        priority: 5,
        fallbackIntegrationId: 'b',
        conditions: [{ field: 'severity', operator: 'eq', value: 'critical' }],
      }),
    ]
    const all = byId(a, b, c)
    expect(routeByRules(rules, all, 'create_ticket', { severity: 'critical' })?.id).toBe('b')
    expect(routeByRules(rules, all, 'create_ticket', { severity: 'info' })?.id).toBe('b')
    const onlyDefault = [rule('r-default', 'a', { isDefault: true })]
    expect(routeByRules(onlyDefault, all, 'create_ticket', {})?.id).toBe('a')
    expect(routeByRules([], all, 'create_ticket', {})).toBeUndefined()
    const noCapability = byId(integration('a', { enabledCapabilities: ['list_companies'] }))
    expect(routeByRules(onlyDefault, noCapability, 'create_ticket', {})).toBeUndefined()
  })

  it('takes only PSA connections with automation, and the default one when no rule decides', () => {
    const psa = integration('psa', { isDefault: false, createdAt: at(0) })
    const psaDefault = integration('psa-default', { createdAt: at(5) })
    const off = integration('off', { settings: {} })
    const generic = integration('generic', { category: 'ticketing', provider: 'generic-ticketing' })
    const all = byId(psa, psaDefault, off, generic)
    expect(chooseConnection([], all, [psa, psaDefault, off], {})?.id).toBe('psa-default')
    expect(
      chooseConnection([rule('r', 'generic', { isDefault: true })], all, [psa, psaDefault], {}),
    ).toBeUndefined()
    expect(
      chooseConnection([rule('r', 'off', { isDefault: true })], all, [psa, psaDefault, off], {}),
    ).toBeUndefined()
    expect(chooseConnection([rule('r', 'psa')], all, [psa, psaDefault], {})?.id).toBe('psa')
    expect(chooseConnection([], all, [off], {})).toBeUndefined()
  })
})
