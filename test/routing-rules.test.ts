import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { credentialParser, defineConnector, missingCredential } from '../src/connectors/define.ts'
import { createRegistry, defaultRegistry } from '../src/connectors/registry.ts'
import type { Connector } from '../src/connectors/types.ts'
import { basicAuth, callVendor, sensitiveValues } from '../src/connectors/vendor-http.ts'
import { IntegrationError } from '../src/integrations/errors.ts'
import { resolveIntegration } from '../src/integrations/routing.ts'
import { JobService } from '../src/jobs/service.ts'
import type { CredentialSchema } from '../src/vault/mask.ts'
import { WIRED_JOBS } from '../src/wiring.ts'
import { type StandIn, startStandIn } from './fixtures/stand-in.ts'
import { createHarness, type Harness, seedTenants } from './harness.ts'

/** Two SMS vendors with different credential schemas, as in the seed's "switching providers" scenario. */
function smsConnector(id: string, displayName: string, schema: CredentialSchema, user: string): Connector {
  return defineConnector(credentialParser(schema, missingCredential(displayName)), {
    descriptor: {
      id,
      displayName,
      category: 'communication',
      capabilities: ['send_sms', 'send_whatsapp'],
      credentialSchema: schema,
    },
    async verify(credentials, env) {
      await callVendor(env, {
        vendor: displayName,
        url: `${String(credentials.baseUrl)}/v1/Accounts/${String(credentials[user])}`,
        headers: { authorization: basicAuth(String(credentials[user]), String(credentials.auth_token)) },
        secrets: sensitiveValues(schema, credentials),
      })
      return { ok: true }
    },
  })
}
const textco = smsConnector(
  'textco',
  'TextCo',
  {
    auth_id: { type: 'string', sensitive: false, required: true },
    auth_token: { type: 'string', sensitive: true, required: true },
    baseUrl: { type: 'url', sensitive: false, required: true },
  },
  'auth_id',
)
const smsly = smsConnector(
  'smsly',
  'Smsly',
  {
    account_sid: { type: 'string', sensitive: false, required: true },
    auth_token: { type: 'string', sensitive: true, required: true },
    from_number: { type: 'string', sensitive: false, required: true, pattern: '^\\+[0-9]{6,15}$' },
    baseUrl: { type: 'url', sensitive: false, required: true },
  },
  'account_sid',
)

let h: Harness
let t: Awaited<ReturnType<typeof seedTenants>>
let jobs: JobService
let vendor: StandIn

beforeAll(async () => {
  h = await createHarness({
    env: { PATCHBAY_PROBE_INTERVAL_MS: '0' },
    connectors: createRegistry([...defaultRegistry.all(), textco, smsly]),
  })
  t = await seedTenants(h)
  jobs = new JobService(h.ctx, WIRED_JOBS)
  vendor = await startStandIn((req) =>
    req.headers.authorization?.startsWith('Basic ')
      ? { status: 200, body: { status: 'active' } }
      : { status: 401 },
  )
})
afterAll(async () => {
  await vendor.close()
  await h.close()
})

const RULES = '/api/v1/routing-rules'

async function sms(orgId: string, provider: 'textco' | 'smsly', name?: string): Promise<string> {
  const credentials =
    provider === 'textco'
      ? { auth_id: 'MA_ACCOUNT', auth_token: 'textco_token_secret_1', baseUrl: vendor.url('textco.test') }
      : {
          account_sid: 'AC_ACCOUNT',
          auth_token: 'smsly_token_secret_2',
          from_number: '+15550100000',
          baseUrl: vendor.url('smsly.test'),
        }
  const r = await h.json('POST', '/api/v1/integrations', {
    body: { orgId, provider, name, credentials, enabled_capabilities: ['send_sms', 'send_whatsapp'] },
  })
  expect(r.status).toBe(201)
  return r.body.data.id
}

async function evaluate(orgId: string, capability: string, context: Record<string, unknown> = {}) {
  const r = await h.json('POST', `${RULES}/evaluate`, { body: { orgId, capability, context } })
  expect(r.status).toBe(200)
  return r.body.data
}

describe('scenario 3: switching providers, with a fallback', () => {
  it('moves traffic to the new provider, falls back while it is down, and fails clearly with none active', async () => {
    const org = t.orgA.id
    const plivoLike = await sms(org, 'textco')
    await jobs.runDue()
    const rule = await h.json('POST', RULES, {
      token: t.orgAToken,
      body: { capability: 'send_sms', integration_id: plivoLike, is_default: true, priority: 100 },
    })
    expect(rule.status).toBe(201)
    expect((await evaluate(org, 'send_sms')).integration.id).toBe(plivoLike)

    const twilioLike = await sms(org, 'smsly')
    await jobs.runDue()
    const patched = await h.json('PATCH', `${RULES}/${rule.body.data.id}`, {
      token: t.orgAToken,
      body: { integration_id: twilioLike, fallback_integration_id: plivoLike },
    })
    expect(patched.body).toMatchObject({
      success: true,
      message: 'Routing rule updated successfully',
      data: { id: rule.body.data.id, integration_id: twilioLike, fallback_integration_id: plivoLike },
    })
    expect(await evaluate(org, 'send_sms')).toMatchObject({
      integration: { id: twilioLike, provider: 'smsly' },
      rule_id: rule.body.data.id,
      via: 'default_rule',
    })

    await h.json('POST', `/api/v1/integrations/${twilioLike}/disable`)
    const fallback = await evaluate(org, 'send_sms')
    expect(fallback).toMatchObject({ integration: { id: plivoLike }, via: 'default_rule_fallback' })
    expect(fallback.reason).toContain(`its integration ${twilioLike} is inactive`)

    await h.json('POST', `/api/v1/integrations/${twilioLike}/activate`)
    await h.json('POST', `/api/v1/integrations/${plivoLike}/disable`)
    expect((await evaluate(org, 'send_sms')).integration.id).toBe(twilioLike)

    await h.json('POST', `/api/v1/integrations/${twilioLike}/disable`)
    const none = await evaluate(org, 'send_sms')
    expect(none).toMatchObject({ integration: null, rule_id: null, via: null, error: 'no_active_provider' })
    expect(none.trace).toEqual([
      {
        rule_id: rule.body.data.id,
        priority: 100,
        is_default: true,
        outcome: 'skipped',
        reason: `integration ${twilioLike} is inactive; fallback ${plivoLike} is inactive`,
      },
    ])
    const err = await resolveIntegration(h.ctx, org, 'send_sms').catch((e: unknown) => e)
    expect(err).toBeInstanceOf(IntegrationError)
    expect(err).toMatchObject({ code: 'no_active_provider' })
    const nothing = await resolveIntegration(h.ctx, org, 'send_fax').catch((e: unknown) => e)
    expect(nothing).toMatchObject({
      code: 'no_active_provider',
      message: 'No routing rule for capability "send_fax".',
    })
  })
})

describe('evaluation order', () => {
  let org: string
  let eu: string
  let urgent: string
  let urgentBackup: string
  let catchAll: string
  const ids: Record<string, string> = {}
  beforeAll(async () => {
    org = t.orgB.id
    eu = await sms(org, 'textco', 'EU')
    urgent = await sms(org, 'smsly', 'Urgent')
    urgentBackup = await sms(org, 'smsly', 'Urgent backup')
    catchAll = await sms(org, 'textco', 'Catch-all')
    await jobs.runDue()
    const make = async (name: string, body: Record<string, unknown>) => {
      const r = await h.json('POST', RULES, { body: { orgId: org, capability: 'send_whatsapp', ...body } })
      expect(r.status).toBe(201)
      ids[name] = r.body.data.id
    }
    await make('eu', {
      integration_id: eu,
      priority: 100,
      conditions: [{ field: 'customer.country', operator: 'in', value: ['DE', 'FR'] }],
    })
    await make('urgent', {
      integration_id: urgent,
      fallback_integration_id: urgentBackup,
      priority: 50,
      conditions: [
        { field: 'severity', operator: 'eq', value: 'critical' },
        { field: 'customer.tier', operator: 'gte', value: 3 },
      ],
    })
    await make('default', { integration_id: catchAll, is_default: true, priority: 1000 })
  })

  it('takes the highest-priority rule whose conditions all match; the default rule comes last', async () => {
    expect(
      await evaluate(org, 'send_whatsapp', { customer: { country: 'DE', tier: 5 }, severity: 'critical' }),
    ).toMatchObject({ integration: { id: eu }, rule_id: ids.eu, via: 'rule' })
    const urgentCase = await evaluate(org, 'send_whatsapp', {
      customer: { country: 'US', tier: 3 },
      severity: 'critical',
    })
    expect(urgentCase).toMatchObject({ integration: { id: urgent }, rule_id: ids.urgent, via: 'rule' })
    expect(urgentCase.trace[0]).toMatchObject({
      rule_id: ids.eu,
      outcome: 'skipped',
      reason: 'condition not met: customer.country in ["DE","FR"] (context has "US")',
    })
    const lowTier = await evaluate(org, 'send_whatsapp', {
      customer: { country: 'US', tier: 2 },
      severity: 'critical',
    })
    expect(lowTier).toMatchObject({ integration: { id: catchAll }, via: 'default_rule' })
    expect(lowTier.trace.map((s: { outcome: string }) => s.outcome)).toEqual(['skipped', 'skipped', 'chosen'])
    expect(await evaluate(org, 'send_whatsapp')).toMatchObject({ integration: { id: catchAll } })
  })

  it("uses a matching rule's fallback before moving on, and moves on when both are down", async () => {
    const ctx = { customer: { country: 'US', tier: 4 }, severity: 'critical' }
    await h.json('POST', `/api/v1/integrations/${urgent}/disable`)
    expect(await evaluate(org, 'send_whatsapp', ctx)).toMatchObject({
      integration: { id: urgentBackup },
      via: 'fallback',
    })
    await h.json('POST', `/api/v1/integrations/${urgentBackup}/disable`)
    expect(await evaluate(org, 'send_whatsapp', ctx)).toMatchObject({
      integration: { id: catchAll },
      via: 'default_rule',
    })
    await h.json('POST', `/api/v1/integrations/${urgent}/activate`)
    await h.json('POST', `/api/v1/integrations/${urgentBackup}/activate`)
  })

  it('skips integrations that no longer have the capability enabled', async () => {
    await h.json('PATCH', `/api/v1/integrations/${eu}`, { body: { enabled_capabilities: ['send_sms'] } })
    const r = await evaluate(org, 'send_whatsapp', { customer: { country: 'FR' } })
    expect(r).toMatchObject({ integration: { id: catchAll } })
    expect(r.trace[0].reason).toBe(
      `integration ${eu} does not have send_whatsapp enabled; fallback is not set`,
    )
    const stillSms = await h.json('PATCH', `/api/v1/integrations/${eu}`, {
      body: { enabled_capabilities: ['send_sms', 'send_whatsapp'] },
    })
    expect(stillSms.body.data.status).toBe('active')
  })
})

describe('rule validation', () => {
  it('checks targets, capabilities, fallbacks and conditions, naming the fields', async () => {
    const org = t.orgA.id
    const [mine] = (await h.json('GET', `/api/v1/integrations?orgId=${org}&provider=smsly`)).body.data
    const theirs = await sms(t.orgC.id, 'textco')
    const cases: [Record<string, unknown>, Record<string, string[]>][] = [
      [
        { capability: 'send_sms', integration_id: theirs },
        { integration_id: ['The selected integration_id is invalid.'] },
      ],
      [
        { capability: 'create_ticket', integration_id: mine.id },
        { integration_id: ['The integration does not have the create_ticket capability enabled.'] },
      ],
      [
        { capability: 'send_sms', integration_id: mine.id, fallback_integration_id: mine.id },
        { fallback_integration_id: ['The fallback must be a different integration.'] },
      ],
      [
        {
          capability: 'send_sms',
          integration_id: mine.id,
          is_default: true,
          conditions: [{ field: 'a', operator: 'in', value: 'x' }],
        },
        {
          'conditions.0.value': ['The in operator needs an array value.'],
          conditions: ['A default rule applies to every operation; it takes no conditions.'],
        },
      ],
      [
        {
          capability: 'send_sms',
          integration_id: mine.id,
          conditions: [{ field: 'a', operator: 'like', value: 'x' }],
        },
        { 'conditions.0.operator': [expect.stringContaining('The conditions.0.operator field is invalid')] },
      ],
      [
        { integration_id: 'nope' },
        { capability: ['The capability field is required.'], integration_id: [expect.any(String)] },
      ],
    ]
    for (const [body, errors] of cases) {
      const r = await h.json('POST', RULES, { token: t.orgAToken, body })
      expect(r, JSON.stringify(body)).toMatchObject({
        status: 422,
        body: { success: false, message: 'The given data was invalid.', errors },
      })
      expect(Object.keys(r.body.errors).sort()).toEqual(Object.keys(errors).sort())
    }
  })
})

describe('rule management', () => {
  it('lists, gets, moves the default, deletes, audits, and keeps tenants apart', async () => {
    const org = (
      await h.json('POST', '/api/v1/orgs', { body: { name: 'Rules Co', partnerId: t.partner.id } })
    ).body.id
    const a = await sms(org, 'textco')
    const b = await sms(org, 'smsly')
    const first = await h.json('POST', RULES, {
      token: t.partnerToken,
      body: { orgId: org, capability: 'send_sms', integration_id: a, is_default: true },
    })
    const second = await h.json('POST', RULES, {
      token: t.partnerToken,
      body: { orgId: org, capability: 'send_sms', integration_id: b, is_default: true },
    })
    expect(second.body.data.is_default).toBe(true)
    const moved = await h.json('GET', `/api/v1/audit-logs?targetId=${second.body.data.id}`)
    expect(moved.body.data[0].summary).toMatchObject({
      isDefault: true,
      previousDefaultRuleId: first.body.data.id,
    })
    expect((await h.json('GET', `${RULES}/${first.body.data.id}`)).body.data.is_default).toBe(false)
    await h.json('POST', RULES, {
      token: t.partnerToken,
      body: { orgId: org, capability: 'send_whatsapp', integration_id: a, priority: 5 },
    })

    const list = await h.json('GET', `${RULES}?orgId=${org}&capability=send_sms&per_page=1`, {
      token: t.partnerToken,
    })
    expect(list.body.meta).toEqual({ current_page: 1, per_page: 1, total: 2, last_page: 2 })
    expect(list.body.links.next).toBe(
      `/api/v1/routing-rules?capability=send_sms&orgId=${org}&per_page=1&page=2`,
    )
    const byTarget = await h.json('GET', `${RULES}?orgId=${org}&integration_id=${a}`, {
      token: t.partnerToken,
    })
    expect(byTarget.body.meta.total).toBe(2)

    expect((await h.json('GET', `${RULES}/${first.body.data.id}`, { token: t.orgCToken })).status).toBe(404)
    expect((await h.json('DELETE', `${RULES}/${first.body.data.id}`, { token: t.orgCToken })).status).toBe(
      404,
    )
    const deleted = await h.json('DELETE', `${RULES}/${first.body.data.id}`, { token: t.partnerToken })
    expect(deleted).toEqual({
      status: 200,
      body: { success: true, message: 'Routing rule deleted successfully' },
    })
    expect((await h.json('GET', `${RULES}/${first.body.data.id}`)).status).toBe(404)

    const audit = await h.json('GET', `/api/v1/audit-logs?orgId=${org}&action=routing_rule.*`)
    expect(audit.body.data.map((e: { action: string }) => e.action).sort()).toEqual([
      'routing_rule.create',
      'routing_rule.create',
      'routing_rule.create',
      'routing_rule.delete',
    ])
  })
})
