// Issue 19, item 7: "one unknown field in a request hides every other error in it". A request's checks that need
// neither the database nor the network run while the request is validated, so one 4xx lists every problem:
// unknown fields beside missing, invalid and refused ones. (The monitoring door's secret-named fields at any depth,
// and PSA settings, are in new-user.test.ts.)
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createHarness, type Harness, seedTenants } from './harness.ts'

let h: Harness
let t: Awaited<ReturnType<typeof seedTenants>>
beforeAll(async () => {
  h = await createHarness()
  t = await seedTenants(h)
})
afterAll(async () => {
  await h.close()
})

const paths = (body: { details: { path: string }[] }) => body.details.map((d) => d.path).sort()

describe('webhooks', () => {
  it('an unknown field is reported with unknown event types and reserved or repeated headers', async () => {
    const res = await h.json('POST', '/api/v1/webhooks', {
      token: t.orgAToken,
      body: {
        name: 'hook',
        url: 'https://hooks.test/in',
        events: ['device.offline', 'no.such.event'],
        headers: [
          { key: 'X-Breeze-Signature', value: 'forged' },
          { key: 'X-Team', value: 'a' },
          { key: 'x-team', value: 'b' },
        ],
        colour: 'blue',
      },
    })
    expect(res.status).toBe(422)
    expect(res.body.code).toBe('validation_failed')
    expect(paths(res.body)).toEqual(['colour', 'events.1', 'headers.0.key', 'headers.2.key'])
    expect(res.body.details).toContainEqual({
      path: 'events.1',
      message: 'Unknown event type "no.such.event" (see GET /api/v1/event-types)',
    })
    expect(res.body.details).toContainEqual({
      path: 'headers.0.key',
      message: '"X-Breeze-Signature" is set by Patchbay and cannot be overridden',
    })
    expect(res.body.details).toContainEqual({ path: 'headers.2.key', message: '"x-team" is listed twice' })
    const list = await h.json('GET', '/api/v1/webhooks', { token: t.orgAToken })
    expect(list.body.data).toEqual([])
  })

  it('a secret that is not a standard-webhooks one is reported with an unknown field', async () => {
    const res = await h.json('POST', '/api/v1/webhooks', {
      token: t.orgAToken,
      body: {
        name: 'hook',
        url: 'https://hooks.test/in',
        events: ['device.offline'],
        signatureScheme: 'standard-webhooks',
        secret: 'plain-secret-1234',
        bogus: true,
      },
    })
    expect(res.status).toBe(422)
    expect(res.body.details).toEqual(
      expect.arrayContaining([
        { path: 'secret', message: 'a standard-webhooks secret is "whsec_" + base64 of 24-64 bytes' },
        { path: 'bogus', message: 'Unknown field' },
      ]),
    )
    expect(res.body.details).toHaveLength(2)
    expect(JSON.stringify(res.body)).not.toContain('plain-secret-1234')
  })

  it('an update reports them together too', async () => {
    const created = await h.json('POST', '/api/v1/webhooks', {
      token: t.orgAToken,
      body: { name: 'hook', url: 'https://hooks.test/in', events: ['device.offline'] },
    })
    expect(created.status).toBe(201)
    const res = await h.json('PATCH', `/api/v1/webhooks/${created.body.id}`, {
      token: t.orgAToken,
      body: { events: ['nope'], headers: [{ key: 'Content-Type', value: 'text/plain' }], bogus: 1 },
    })
    expect(res.status).toBe(422)
    expect(paths(res.body)).toEqual(['bogus', 'events.0', 'headers.0.key'])
  })
})

describe('integrations (SynthesQ shape)', () => {
  it('an unknown field is reported with the credential, capability and metadata problems', async () => {
    const res = await h.json('POST', '/api/v1/integrations', {
      token: t.orgAToken,
      body: {
        provider: 'generic-ticketing',
        credentials: { apiUrl: 'not a url', password: 'hunter2-hunter2' },
        enabled_capabilities: ['create_ticket', 'send_sms'],
        metadata: { last_error: 'x' },
        nickname: 'x',
      },
    })
    expect(res.status).toBe(422)
    expect(res.body.success).toBe(false)
    expect(Object.keys(res.body.errors).sort()).toEqual(
      [
        'nickname',
        'enabled_capabilities',
        'credentials.password',
        'credentials.apiUrl',
        'credentials.apiKey',
        'metadata.last_error',
      ].sort(),
    )
    expect(res.body.errors.nickname).toEqual(['The nickname field is not allowed.'])
    expect(res.body.errors['credentials.apiKey']).toEqual(['The credentials.apiKey field is required.'])
    expect(res.body.errors['metadata.last_error']).toEqual([
      'The metadata.last_error key is reserved for Patchbay.',
    ])
    expect(JSON.stringify(res.body)).not.toContain('hunter2')
  })

  it('an unknown provider is reported with the other problems', async () => {
    const res = await h.json('POST', '/api/v1/integrations', {
      token: t.orgAToken,
      body: { provider: 'stripe', credentials: {}, enabled_capabilities: [], extra: true },
    })
    expect(res.status).toBe(422)
    expect(res.body.errors).toEqual({
      provider: ['The selected provider is invalid.'],
      enabled_capabilities: ['The enabled_capabilities field must name at least one capability.'],
      extra: ['The extra field is not allowed.'],
    })
  })
})

describe('integration updates (SynthesQ shape)', () => {
  it('reserved metadata keys are reported with an unknown field', async () => {
    // Checked before the integration is looked up: no stored state is needed to see these.
    const res = await h.json('PATCH', '/api/v1/integrations/c0ffee00-0000-4000-8000-000000000004', {
      token: t.orgAToken,
      body: { metadata: { last_error: 'x', team: 'ops' }, enabled_capabilities: [], nickname: 'x' },
    })
    expect(res.status).toBe(422)
    expect(res.body.errors).toEqual({
      nickname: ['The nickname field is not allowed.'],
      enabled_capabilities: ['The enabled_capabilities field must name at least one capability.'],
      'metadata.last_error': ['The metadata.last_error key is reserved for Patchbay.'],
    })
  })
})

describe('events and inbound webhook sources', () => {
  it('an unknown event type is reported with an unknown field, in a single event and in a batch', async () => {
    const one = await h.json('POST', '/api/v1/events', {
      token: t.orgAToken,
      body: { type: 'no.such.event', data: {}, colour: 'blue' },
    })
    expect(one.status).toBe(422)
    expect(one.body.details).toEqual(
      expect.arrayContaining([
        { path: 'type', message: 'Unknown event type "no.such.event" (see GET /api/v1/event-types)' },
        { path: 'colour', message: 'Unknown field' },
      ]),
    )
    expect(one.body.details).toHaveLength(2)

    const batch = await h.json('POST', '/api/v1/events/batch', {
      token: t.orgAToken,
      body: { events: [{ type: 'device.offline' }, { type: 'nope', extra: 1 }] },
    })
    expect(batch.status).toBe(422)
    expect(paths(batch.body)).toEqual(['events.1.extra', 'events.1.type'])
  })

  it('a source with an unknown event type and an unknown field reports both', async () => {
    const res = await h.json('POST', '/api/v1/webhook-sources', {
      token: t.orgAToken,
      body: { provider: 'generic', name: 'in', eventTypes: ['alert.triggered', 'nope'], colour: 'blue' },
    })
    expect(res.status).toBe(422)
    expect(paths(res.body)).toEqual(['colour', 'eventTypes.1'])
  })
})

describe('PSA connections', () => {
  const credentials = {
    companyId: 'contoso',
    publicKey: 'pub-key-0000',
    privateKey: 'priv-key-0000',
    clientId: 'c0ffee00-0000-4000-8000-000000000001',
  }

  it('an unknown field is reported with the credential and company problems', async () => {
    const res = await h.json('POST', '/api/v1/psa/connections', {
      token: t.orgAToken,
      body: {
        provider: 'connectwise',
        name: 'main',
        credentials: { companyId: 'contoso', publicKey: 'pub-key-0000', clientId: 'not-a-uuid', colour: 1 },
        settings: { autoCreateTickets: true },
        colour: 'blue',
      },
    })
    expect(res.status).toBe(422)
    expect(res.body.code).toBe('validation_failed')
    expect(res.body.details).toEqual([
      { path: 'colour', message: 'Unknown field' },
      {
        path: 'credentials.colour',
        message: 'The credentials.colour field is not part of the ConnectWise PSA credential schema.',
      },
      { path: 'credentials.privateKey', message: 'The credentials.privateKey field is required.' },
      { path: 'credentials.clientId', message: 'The credentials.clientId field has an invalid format.' },
      {
        path: 'settings.companyId',
        message:
          'ConnectWise PSA tickets need a company: set settings.companyId when autoCreateTickets is on.',
      },
    ])
    expect(res.body.error).toBe(
      `Invalid request body: ${res.body.details.map((d: { path: string; message: string }) => `${d.path}: ${d.message}`).join('; ')}`,
    )
    expect(JSON.stringify(res.body)).not.toContain('pub-key-0000')
    const list = await h.json('GET', '/api/v1/psa/connections', { token: t.orgAToken })
    expect(list.body.pagination.total).toBe(0)
  })

  it('credential problems alone keep the sentence the service has always given them', async () => {
    const res = await h.json('POST', '/api/v1/psa/connections', {
      token: t.orgAToken,
      body: { provider: 'connectwise', name: 'main', credentials: { ...credentials, clientId: 'nope' } },
    })
    expect(res.status).toBe(422)
    expect(res.body).toEqual({
      error: 'Validation failed: credentials.clientId: The credentials.clientId field has an invalid format.',
      code: 'validation_failed',
      details: [
        { path: 'credentials.clientId', message: 'The credentials.clientId field has an invalid format.' },
      ],
    })
  })

  it("a bad autoCreateTickets is the schema's to refuse, not a missing company", async () => {
    const res = await h.json('POST', '/api/v1/psa/connections', {
      token: t.orgAToken,
      body: { provider: 'connectwise', name: 'main', credentials, settings: { autoCreateTickets: 'yes' } },
    })
    expect(res.status).toBe(422)
    expect(paths(res.body)).toEqual(['settings.autoCreateTickets'])
  })
})

describe('routing rules', () => {
  const integrationId = 'c0ffee00-0000-4000-8000-000000000002'

  it('an unknown field is reported with the condition and fallback problems, on create and update', async () => {
    const res = await h.json('POST', '/api/v1/routing-rules', {
      token: t.orgAToken,
      body: {
        capability: 'send_sms',
        integration_id: integrationId,
        fallback_integration_id: integrationId,
        is_default: true,
        conditions: [
          { field: 'severity', operator: 'in', value: 'critical' },
          { field: 'customer.country', value: 'DE' },
          { field: 'age', operator: 'gt' },
          { field: 'a', operator: 'like', value: 'x' },
        ],
        colour: 'blue',
      },
    })
    expect(res.status).toBe(422)
    expect(res.body.errors).toEqual({
      colour: ['The colour field is not allowed.'],
      fallback_integration_id: ['The fallback must be a different integration.'],
      conditions: ['A default rule applies to every operation; it takes no conditions.'],
      'conditions.0.value': ['The in operator needs an array value.'],
      'conditions.2.value': [
        'The gt operator needs a number or string value.',
        'The gt operator needs a value.',
      ],
      'conditions.3.operator': [expect.stringContaining('The conditions.3.operator field is invalid')],
    })
    const list = await h.json('GET', '/api/v1/routing-rules', { token: t.orgAToken })
    expect(list.body.data).toEqual([])

    // No stored rule is needed to see these in an update, so the rule need not exist to get the 422.
    const patch = await h.json('PATCH', `/api/v1/routing-rules/${integrationId}`, {
      token: t.orgAToken,
      body: { conditions: [{ field: 'up', operator: 'exists', value: 'yes' }], bogus: 1 },
    })
    expect(patch.status).toBe(422)
    expect(patch.body.errors).toEqual({
      bogus: ['The bogus field is not allowed.'],
      'conditions.0.value': ['The exists operator takes true, false or no value.'],
    })
  })
})

// The change handlers' own checks need the stored change (its status, approvals, stored window) or the PSA (a
// ticket to link), so they cannot run early; what the bodies check themselves is already reported together.
describe('change controls', () => {
  const person = { name: 'Ada', email: 'ada@example.com' }
  const backwards = { start: '2026-12-03T10:00:00Z', end: '2026-12-03T09:00:00Z', timezone: 'UTC' }

  it('a window that ends before it starts is reported with unknown fields, on create and schedule', async () => {
    const res = await h.json('POST', '/api/v1/changes', {
      token: t.orgAToken,
      body: {
        title: 'Patch the firewall',
        description: '',
        implementationPlan: '',
        window: backwards,
        risk: 'low',
        creator: person,
        technicalApprover: person,
        operationalApprover: person,
        colour: 'blue',
      },
    })
    expect(res.status).toBe(422)
    expect(res.body.details).toEqual(
      expect.arrayContaining([
        { path: 'colour', message: 'Unknown field' },
        { path: 'window.timezone', message: 'Unknown field' },
        { path: 'window.end', message: 'end must be after start' },
      ]),
    )
    expect(res.body.details).toHaveLength(3)
    const list = await h.json('GET', '/api/v1/changes', { token: t.orgAToken })
    expect(list.body.pagination.total).toBe(0)

    // Checked before the change is looked up: no stored state is needed to see these.
    const scheduled = await h.json(
      'POST',
      `/api/v1/changes/${'c0ffee00-0000-4000-8000-000000000003'}/schedule`,
      {
        token: t.orgAToken,
        body: { window: backwards },
      },
    )
    expect(scheduled.status).toBe(422)
    expect(paths(scheduled.body)).toEqual(['window.end', 'window.timezone'])
  })

  it('a window whose start is invalid is not also said to end before it', async () => {
    const res = await h.json('POST', `/api/v1/changes/${'c0ffee00-0000-4000-8000-000000000003'}/schedule`, {
      token: t.orgAToken,
      body: { window: { start: 'soon', end: '2026-12-03T09:00:00Z', timezone: 'UTC' } },
    })
    expect(res.status).toBe(422)
    expect(new Set(paths(res.body))).toEqual(new Set(['window.start', 'window.timezone']))
  })
})
