import { describe, expect, it } from 'vitest'
import { type WalkRule, type WalkTarget, walkOrder, walkRouting } from './routing-walk.ts'

const at = (s: number) => new Date(Date.UTC(2026, 1, 18, 12, 0, s))

function target(id: string, over: Partial<WalkTarget> = {}): WalkTarget {
  return { id, status: 'active', enabledCapabilities: ['send_sms'], deleted: false, ...over }
}

function rule(id: string, integrationId: string, over: Partial<WalkRule> = {}): WalkRule {
  return {
    id,
    integrationId,
    fallbackIntegrationId: null,
    priority: 0,
    isDefault: false,
    conditions: [],
    createdAt: at(0),
    ...over,
  }
}

const targets = (...xs: WalkTarget[]) => new Map(xs.map((x) => [x.id, x]))

describe('walkRouting', () => {
  it('orders by priority, then age, then id, with the default rule last whatever its priority', () => {
    const order = walkOrder([
      rule('d', 'a', { isDefault: true, priority: 100 }),
      rule('b', 'a', { createdAt: at(1) }),
      rule('a', 'a', { createdAt: at(1) }),
      rule('old', 'a'),
      rule('high', 'a', { priority: 5, createdAt: at(9) }),
    ]).map((r) => r.id)
    expect(order).toEqual(['high', 'old', 'a', 'b', 'd'])
  })

  it('takes the first matching rule whose integration is active, tracing the rules it passed', () => {
    const rules = [
      rule('eu', 'x', { priority: 10, conditions: [{ field: 'region', operator: 'eq', value: 'eu' }] }),
      rule('any', 'y'),
    ]
    const choice = walkRouting(rules, targets(target('x'), target('y')), 'send_sms', { region: 'us' })
    expect(choice).toEqual({
      integrationId: 'y',
      ruleId: 'any',
      via: 'rule',
      reason: 'rule any matched and its integration y is active',
      trace: [
        {
          ruleId: 'eu',
          priority: 10,
          isDefault: false,
          outcome: 'skipped',
          reason: 'condition not met: region eq "eu" (context has "us")',
        },
        {
          ruleId: 'any',
          priority: 0,
          isDefault: false,
          outcome: 'chosen',
          reason: 'rule any matched and its integration y is active',
        },
      ],
    })
  })

  it('falls back when the integration cannot take it, and says why each candidate could not', () => {
    const rules = [
      rule('r', 'paused', { fallbackIntegrationId: 'fb', priority: 3 }),
      rule('gone', 'deleted', { fallbackIntegrationId: 'missing', priority: 2 }),
      rule('d', 'nocap', { isDefault: true, fallbackIntegrationId: 'dfb' }),
    ]
    const all = targets(
      target('paused', { status: 'inactive' }),
      target('fb', { status: 'error' }),
      target('deleted', { deleted: true }),
      target('nocap', { enabledCapabilities: ['send_email'] }),
      target('dfb'),
    )
    const choice = walkRouting(rules, all, 'send_sms', {})
    expect(choice.integrationId).toBe('dfb')
    expect(choice.via).toBe('default_rule_fallback')
    expect(choice.ruleId).toBe('d')
    expect(choice.trace.map((s) => [s.ruleId, s.outcome, s.reason])).toEqual([
      ['r', 'skipped', 'integration paused is inactive; fallback fb is error'],
      ['gone', 'skipped', 'integration deleted was deleted; fallback missing does not exist'],
      [
        'd',
        'chosen',
        'default rule d matched; its integration nocap does not have send_sms enabled, so its fallback dfb (active) was chosen',
      ],
    ])
  })

  it('picks a fallback of an ordinary rule as via fallback, and the default rule ignores its conditions', () => {
    const fb = walkRouting(
      [rule('r', 'off', { fallbackIntegrationId: 'on' })],
      targets(target('off', { status: 'inactive' }), target('on')),
      'send_sms',
      {},
    )
    expect([fb.integrationId, fb.via]).toEqual(['on', 'fallback'])
    const def = walkRouting(
      [rule('d', 'a', { isDefault: true, conditions: [{ field: 'x', operator: 'exists' }] })],
      targets(target('a')),
      'send_sms',
      {},
    )
    expect([def.integrationId, def.via]).toEqual(['a', 'default_rule'])
  })

  it('answers no provider, telling no rules apart from no usable rule', () => {
    expect(walkRouting([], new Map(), 'send_fax', {})).toEqual({
      integrationId: null,
      ruleId: null,
      via: null,
      reason: 'No routing rule for capability "send_fax".',
      trace: [],
    })
    const none = walkRouting([rule('r', 'a')], targets(target('a', { status: 'error' })), 'send_sms', {})
    expect(none.integrationId).toBeNull()
    expect(none.reason).toBe(
      'No active provider for capability "send_sms": no matching rule has an active integration or fallback.',
    )
    expect(none.trace).toEqual([
      {
        ruleId: 'r',
        priority: 0,
        isDefault: false,
        outcome: 'skipped',
        reason: 'integration a is error; fallback is not set',
      },
    ])
  })
})
