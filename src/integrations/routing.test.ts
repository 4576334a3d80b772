import { describe, expect, it } from 'vitest'
import { conditionHolds } from './routing.ts'

const context = {
  severity: 'critical',
  score: 7,
  at: '2026-02-18T12:00:00Z',
  tags: ['vip', 'eu'],
  customer: { country: 'DE', name: 'Contoso GmbH', tier: null },
}

describe('routing conditions', () => {
  it.each([
    ['eq', 'severity', 'critical', true],
    ['eq', 'score', '7', false],
    ['neq', 'severity', 'warning', true],
    ['in', 'customer.country', ['DE', 'FR'], true],
    ['in', 'customer.country', 'DE', false],
    ['not_in', 'customer.country', ['US'], true],
    ['gt', 'score', 5, true],
    ['gte', 'score', 7, true],
    ['lt', 'score', 7, false],
    ['lte', 'score', 7, true],
    ['gt', 'score', '5', false],
    ['lt', 'at', '2026-03-01T00:00:00Z', true],
    ['contains', 'customer.name', 'GmbH', true],
    ['contains', 'tags', 'vip', true],
    ['contains', 'tags', 'us', false],
    ['exists', 'customer.country', undefined, true],
    ['exists', 'customer.tier', undefined, false],
    ['exists', 'customer.tier', false, true],
    ['exists', 'missing.deeply.nested', true, false],
    ['eq', 'missing.deeply.nested', 'x', false],
    ['unknown', 'severity', 'critical', false],
  ] as const)('%s %s %j → %s', (operator, field, value, expected) => {
    expect(conditionHolds({ field, operator, value }, context)).toBe(expected)
  })
})
