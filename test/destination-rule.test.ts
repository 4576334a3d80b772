import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { connector } from '../src/connectors/registry.ts'
import { DESTINATION_RULE } from '../src/integrations/credentials.ts'
import { JobService } from '../src/jobs/service.ts'
import { WIRED_JOBS } from '../src/wiring.ts'
import { bearer, type RecordedRequest, type Reply, type StandIn, startStandIn } from './fixtures/stand-in.ts'
import { createHarness, type Harness, seedTenants } from './harness.ts'
import { type DiscordStandin, startDiscordStandin } from './standins/discord.ts'
import { ConnectWiseStandIn, PSA_STANDINS, type PsaStandIn } from './standins/index.ts'
import { type SlackStandin, startSlackStandin } from './standins/slack.ts'
import { startTeamsStandin, type TeamsStandin } from './standins/teams.ts'
import { TicketingStandIn } from './standins/ticketing.ts'

/**
 * The destination rule (issue 11): a stored secret is only ever sent to the destination it was saved with. An
 * organization key (the kind an MSP hands a customer) may edit an integration but never read its secrets, so
 * through every door that lays input over stored credentials, changing a field that decides where requests go
 * without giving the secrets again is a 422 naming them, nothing is written, and the attacker's server (a real
 * loopback server) receives no request at all, not even later from a queued verification. Given again, the
 * change goes through and the secrets go to the new destination.
 */
let h: Harness
let t: Awaited<ReturnType<typeof seedTenants>>
let jobs: JobService
/** The attacker's server: it must never receive a request. */
let attacker: StandIn
const closers: (() => Promise<void>)[] = []

beforeAll(async () => {
  h = await createHarness({ env: { PATCHBAY_PROBE_INTERVAL_MS: '0' } })
  t = await seedTenants(h)
  jobs = new JobService(h.ctx, WIRED_JOBS)
  attacker = await startStandIn(() => ({ status: 200, body: { ok: true } }))
  closers.push(() => attacker.close())
})
afterAll(async () => {
  for (const close of closers) await close()
  await h.close()
})

// Each test gets an organization of its own (the Breeze doors keep one integration per provider).
let org: { id: string; token: string }
beforeEach(async () => {
  attacker.requests.length = 0
  const created = await h.json('POST', '/api/v1/orgs', { body: { name: 'Contoso', partnerId: t.partner.id } })
  const key = await h.json('POST', '/api/v1/api-keys', {
    body: { name: 'customer', scope: 'organization', orgId: created.body.id },
  })
  org = { id: created.body.id, token: key.body.token }
})

// biome-ignore lint/suspicious/noExplicitAny: tests read response bodies loosely and assert on them
async function call(method: string, path: string, body?: unknown): Promise<any> {
  return h.json(method, path, { token: org.token, ...(body !== undefined ? { body } : {}) })
}

const API = '/api/v1/integrations'
const evil = (path = '/') => attacker.url('attacker.test', path)

/** The attacker got nothing, now or from anything queued (verifications, deliveries). */
async function expectNothingSent() {
  await jobs.runDue()
  await h.worker.drain()
  expect(attacker.requests.map((r) => `${r.method} ${r.path}`)).toEqual([])
}

const ruleMessage = (field: string) => `The ${field} field ${DESTINATION_RULE}.`

/** The Breeze doors' 422: `{error, code, details}` naming each field. */
function breeze422(fields: string[]) {
  return {
    code: 'validation_failed',
    details: fields.map((path) => ({ path, message: ruleMessage(path) })),
  }
}

function sensitiveFields(provider: string, credentials: Record<string, unknown>): string[] {
  const schema = connector(provider)?.descriptor.credentialSchema ?? {}
  return Object.entries(schema)
    .filter(([name, f]) => f.sensitive && credentials[name] !== undefined)
    .map(([name]) => name)
}

const DESTINATIONS: Record<string, string[]> = {
  connectwise: ['siteUrl', 'baseUrl'],
  autotask: ['zone', 'baseUrl'],
  jira: ['siteUrl', 'baseUrl'],
  servicenow: ['instance', 'baseUrl'],
  freshservice: ['domain', 'baseUrl'],
  zendesk: ['subdomain', 'baseUrl'],
  'generic-monitoring': ['endpoint'],
  'generic-ticketing': ['apiUrl'],
  slack: ['webhookUrl', 'baseUrl'],
  teams: ['webhookUrl', 'baseUrl'],
  discord: ['webhookUrl', 'baseUrl'],
  pax8: ['baseUrl'],
  unifi: ['consoleUrl', 'consoleCertSha256', 'baseUrl'],
  'datto-edr': ['instance', 'baseUrl'],
  microsoft365: ['tenantId', 'loginBaseUrl', 'baseUrl'],
  'datto-rmm': ['platform', 'baseUrl'],
  itglue: ['baseUrl'],
}

describe('GET /integrations/providers', () => {
  it('marks every field that decides where requests go as a destination, and only those', async () => {
    const r = await call('GET', `${API}/providers`)
    expect(r.status).toBe(200)
    const shown: Record<string, string[]> = {}
    for (const p of r.body.data as {
      name: string
      credential_schema: Record<string, { destination: unknown }>
    }[]) {
      for (const f of Object.values(p.credential_schema)) expect(typeof f.destination, p.name).toBe('boolean')
      shown[p.name] = Object.entries(p.credential_schema)
        .filter(([, f]) => f.destination === true)
        .map(([name]) => name)
    }
    expect(shown).toEqual(DESTINATIONS)
  })

  it('documents the flag in the OpenAPI document', async () => {
    // biome-ignore lint/suspicious/noExplicitAny: the document is read loosely and asserted on
    const doc: any = await (await h.request('GET', '/api/v1/openapi.json', { token: null })).json()
    const field = doc.components.schemas.Provider.properties.credential_schema.additionalProperties
    expect(field.properties.destination).toMatchObject({ type: 'boolean' })
    expect(field.required).toContain('destination')
  })
})

/** A value for a destination field that points at the attacker, valid for the field's own pattern. */
function attackerValue(provider: string, field: string): string {
  const f = connector(provider)?.descriptor.credentialSchema[field]
  if (f?.type === 'url') return evil('/')
  if (provider === 'autotask') return 'webservices99.autotask.net'
  if (provider === 'zendesk') return 'attacker'
  return `attacker.test:${attacker.port}`
}

describe.each(Object.keys(PSA_STANDINS))('SynthesQ doors, %s', (provider) => {
  let vendor: PsaStandIn
  /** Where the integration legitimately moves: another stand-in of the same vendor. */
  let moved: PsaStandIn
  beforeAll(async () => {
    const start = PSA_STANDINS[provider] as (o: { clock: typeof h.clock }) => PsaStandIn
    vendor = await start({ clock: h.clock }).start()
    moved = await start({ clock: h.clock }).start()
    closers.push(
      () => vendor.close(),
      () => moved.close(),
    )
  })

  async function configure() {
    const capabilities = connector(provider)?.descriptor.capabilities ?? []
    const r = await call('POST', API, {
      provider,
      credentials: vendor.credentials,
      enabled_capabilities: [...capabilities],
    })
    expect(r.status, JSON.stringify(r.body)).toBe(201)
    await jobs.runDue()
    const got = await call('GET', `${API}/${r.body.data.id}`)
    expect(got.body.data.status).toBe('active')
    return got.body.data as { id: string; credentials: Record<string, unknown>; updated_at: string }
  }

  const secrets = () => sensitiveFields(provider, vendor.credentials)
  const envelope422 = () => ({
    success: false,
    message: 'The given data was invalid.',
    errors: Object.fromEntries(
      secrets().map((name) => [`credentials.${name}`, [ruleMessage(`credentials.${name}`)]]),
    ),
  })

  it('POST /integrations/test with integration_id: a changed destination alone is a 422, nothing is sent', async () => {
    const saved = await configure()
    for (const field of DESTINATIONS[provider] ?? []) {
      const r = await call('POST', `${API}/test`, {
        provider,
        credentials: { [field]: attackerValue(provider, field) },
        integration_id: saved.id,
      })
      expect({ field, status: r.status, body: r.body }).toEqual({ field, status: 422, body: envelope422() })
    }
    await expectNothingSent()

    // Given again, the secrets go to the new destination.
    const before = vendor.requests.length
    const given = Object.fromEntries(secrets().map((name) => [name, moved.credentials[name]]))
    const ok = await call('POST', `${API}/test`, {
      provider,
      credentials: { ...given, baseUrl: moved.url },
      integration_id: saved.id,
    })
    expect(ok.status, JSON.stringify(ok.body)).toBe(200)
    expect(ok.body.data.ok).toBe(true)
    expect(moved.requests.length).toBeGreaterThan(0)
    expect(vendor.requests.length).toBe(before)
  })

  it('PATCH /integrations/{id}: a changed destination alone is a 422 and nothing is written or sent', async () => {
    const saved = await configure()
    for (const field of DESTINATIONS[provider] ?? []) {
      const r = await call('PATCH', `${API}/${saved.id}`, {
        credentials: { [field]: attackerValue(provider, field) },
      })
      expect({ field, status: r.status, body: r.body }).toEqual({ field, status: 422, body: envelope422() })
    }
    // Clearing the override moves the destination too (back to the vendor's own host).
    const cleared = await call('PATCH', `${API}/${saved.id}`, { credentials: { baseUrl: null } })
    expect(cleared.status).toBe(422)
    await expectNothingSent()
    const after = await call('GET', `${API}/${saved.id}`)
    expect(after.body.data).toMatchObject({
      status: 'active',
      credentials: saved.credentials,
      updated_at: saved.updated_at,
    })

    // A change that keeps the destination needs nothing more.
    const [secret] = secrets()
    const same = await call('PATCH', `${API}/${saved.id}`, {
      credentials: { baseUrl: vendor.url, [secret as string]: vendor.credentials[secret as string] },
    })
    expect(same.status).toBe(200)

    const given = Object.fromEntries(secrets().map((name) => [name, moved.credentials[name]]))
    const ok = await call('PATCH', `${API}/${saved.id}`, { credentials: { ...given, baseUrl: moved.url } })
    expect(ok.status, JSON.stringify(ok.body)).toBe(200)
    const before = vendor.requests.length
    await jobs.runDue()
    expect((await call('GET', `${API}/${saved.id}`)).body.data.status).toBe('active')
    expect(moved.requests.length).toBeGreaterThan(0)
    expect(vendor.requests.length).toBe(before)
    expect(attacker.requests).toEqual([])
  })
})

describe('SynthesQ doors, generic-ticketing (the apiUrl of the issue)', () => {
  const KEY = 'tk_dest_rule_stored_key_8f7e'
  let tk: TicketingStandIn
  beforeAll(async () => {
    tk = await new TicketingStandIn({ apiKey: KEY, clock: h.clock }).start()
    closers.push(() => tk.close())
  })

  it('PATCH apiUrl alone is a 422 naming apiKey; with the key it moves and the key goes there', async () => {
    const created = await call('POST', API, {
      provider: 'generic-ticketing',
      credentials: { apiUrl: tk.apiUrl, apiKey: KEY },
      enabled_capabilities: ['create_ticket'],
    })
    expect(created.status).toBe(201)
    await jobs.runDue()
    const id = created.body.data.id
    const r = await call('PATCH', `${API}/${id}`, { credentials: { apiUrl: evil('/api') } })
    expect(r).toEqual({
      status: 422,
      body: {
        success: false,
        message: 'The given data was invalid.',
        errors: { 'credentials.apiKey': [ruleMessage('credentials.apiKey')] },
      },
    })
    const tested = await call('POST', `${API}/test`, {
      provider: 'generic-ticketing',
      credentials: { apiUrl: evil('/api') },
      integration_id: id,
    })
    expect(tested.status).toBe(422)
    await expectNothingSent()

    const ok = await call('PATCH', `${API}/${id}`, {
      credentials: { apiUrl: evil('/api'), apiKey: 'tk_the_callers_own_key_1234' },
    })
    expect(ok.status).toBe(200)
    await jobs.runDue()
    expect(attacker.requests.map((q) => bearer(q as RecordedRequest))).toEqual([
      'tk_the_callers_own_key_1234',
    ])
  })
})

describe('Breeze doors', () => {
  it('POST /integrations/ticketing: apiUrl alone, or with the masked key, is a 422; the test still goes home', async () => {
    const KEY = 'tk_breeze_ticketing_key_5c4d'
    const tk = await new TicketingStandIn({ apiKey: KEY, clock: h.clock }).start()
    const tk2 = await new TicketingStandIn({ apiKey: KEY, clock: h.clock }).start()
    closers.push(
      () => tk.close(),
      () => tk2.close(),
    )
    const saved = await call('POST', `${API}/ticketing`, { apiUrl: tk.apiUrl, apiKey: KEY })
    expect(saved.status, JSON.stringify(saved.body)).toBe(200)
    await jobs.runDue()
    for (const body of [{ apiUrl: evil('/api') }, { apiUrl: evil('/api'), apiKey: saved.body.data.apiKey }]) {
      const r = await call('POST', `${API}/ticketing`, body)
      expect(r.status).toBe(422)
      expect(r.body).toMatchObject(breeze422(['apiKey']))
    }
    tk.resetRequests()
    const test = await call('POST', `${API}/ticketing/test`, {})
    expect(test.body.success).toBe(true)
    expect(tk.requests.length).toBeGreaterThan(0)
    await expectNothingSent()

    const moved = await call('POST', `${API}/ticketing`, { apiUrl: tk2.apiUrl, apiKey: KEY })
    expect(moved.status).toBe(200)
    expect((await call('POST', `${API}/ticketing/test`, {})).body.success).toBe(true)
    expect(tk2.requests.some((q) => q.headers.authorization === `Bearer ${KEY}`)).toBe(true)
  })

  it('PUT /integrations/monitoring: endpoint alone, or with the masked key, is a 422; the test still goes home', async () => {
    const KEY = 'mon_breeze_key_stored_a9b8c7'
    const seen: string[] = []
    const ingest = (req: RecordedRequest): Reply => {
      seen.push(`${req.headers.host} ${bearer(req)}`)
      return { status: 202, body: { accepted: true } }
    }
    const receiver = await startStandIn(ingest)
    closers.push(() => receiver.close())
    const endpoint = receiver.url('monitoring.test', '/ingest')
    const saved = await call('PUT', `${API}/monitoring`, { endpoint, apiKey: KEY, metricsEnabled: true })
    expect(saved.status, JSON.stringify(saved.body)).toBe(200)
    await jobs.runDue()
    for (const body of [
      { endpoint: evil('/ingest') },
      { endpoint: evil('/ingest'), apiKey: saved.body.data.apiKey },
    ]) {
      const r = await call('PUT', `${API}/monitoring`, body)
      expect(r.status).toBe(422)
      expect(r.body).toMatchObject(breeze422(['apiKey']))
    }
    seen.length = 0
    expect((await call('POST', `${API}/monitoring/test`, {})).body.success).toBe(true)
    expect(seen).toEqual([`monitoring.test:${receiver.port} ${KEY}`])
    await expectNothingSent()

    const other = receiver.url('elsewhere.test', '/ingest')
    expect((await call('PUT', `${API}/monitoring`, { endpoint: other, apiKey: KEY })).status).toBe(200)
    seen.length = 0
    expect((await call('POST', `${API}/monitoring/test`, {})).body.success).toBe(true)
    expect(seen).toEqual([`elsewhere.test:${receiver.port} ${KEY}`])
  })

  it('PUT and POST /integrations/psa: credentials.baseUrl alone is a 422 naming every secret', async () => {
    const cw = await new ConnectWiseStandIn({ clock: h.clock }).start()
    const cw2 = await new ConnectWiseStandIn({ clock: h.clock }).start()
    closers.push(
      () => cw.close(),
      () => cw2.close(),
    )
    const saved = await call('POST', `${API}/psa`, { provider: 'connectwise', credentials: cw.credentials })
    expect(saved.status, JSON.stringify(saved.body)).toBe(200)
    await jobs.runDue()
    const needed = ['publicKey', 'privateKey', 'clientId'].map((f) => `credentials.${f}`)
    const put = await call('PUT', `${API}/psa`, { credentials: { baseUrl: evil() } })
    expect(put.status).toBe(422)
    expect(put.body).toMatchObject(breeze422(needed))
    const post = await call('POST', `${API}/psa`, {
      provider: 'connectwise',
      credentials: { siteUrl: evil(), baseUrl: evil() },
    })
    expect(post.status).toBe(422)
    expect(post.body).toMatchObject(breeze422(needed))
    const before = cw.requests.length
    expect((await call('POST', `${API}/psa/test`, {})).body.success).toBe(true)
    expect(cw.requests.length).toBeGreaterThan(before)
    await expectNothingSent()

    const { publicKey, privateKey, clientId } = cw2.credentials
    const moved = await call('PUT', `${API}/psa`, {
      credentials: { publicKey, privateKey, clientId, baseUrl: cw2.url },
    })
    expect(moved.status, JSON.stringify(moved.body)).toBe(200)
    expect((await call('POST', `${API}/psa/test`, {})).body.success).toBe(true)
    expect(cw2.requests.length).toBeGreaterThan(0)
  })

  it('PATCH /psa/connections/{id}: a new destination without the secrets is refused and nothing is sent', async () => {
    const cw = await new ConnectWiseStandIn({ clock: h.clock }).start()
    const cw2 = await new ConnectWiseStandIn({ clock: h.clock }).start()
    closers.push(
      () => cw.close(),
      () => cw2.close(),
    )
    const created = await call('POST', '/api/v1/psa/connections', {
      provider: 'connectwise',
      name: 'Main',
      credentials: cw.credentials,
    })
    expect(created.status, JSON.stringify(created.body)).toBe(201)
    await jobs.runDue()
    const id = created.body.id
    const { companyId, siteUrl } = cw.credentials
    const r = await call('PATCH', `/api/v1/psa/connections/${id}`, {
      credentials: { companyId, siteUrl, baseUrl: evil() },
    })
    expect(r.status).toBe(422)
    expect(r.body.details.map((d: { path: string }) => d.path).sort()).toEqual(
      ['credentials.clientId', 'credentials.privateKey', 'credentials.publicKey'].sort(),
    )
    expect((await call('POST', `/api/v1/psa/connections/${id}/test`, {})).body.success).toBe(true)
    await expectNothingSent()

    const ok = await call('PATCH', `/api/v1/psa/connections/${id}`, { credentials: cw2.credentials })
    expect(ok.status, JSON.stringify(ok.body)).toBe(200)
    expect((await call('POST', `/api/v1/psa/connections/${id}/test`, {})).body.success).toBe(true)
    expect(cw2.requests.length).toBeGreaterThan(0)
  })
})

describe.each([
  ['slack', () => startSlackStandin(), (s: SlackStandin) => s.credentials()],
  ['teams', () => startTeamsStandin(), (s: TeamsStandin) => s.credentials('workflow')],
  ['discord', () => startDiscordStandin(), (s: DiscordStandin) => s.credentials()],
] as const)('Breeze chat door POST /integrations/%s', (provider, start, credentialsOf) => {
  it('baseUrl alone (with test: true) is a 422 naming webhookUrl and posts nothing; a whole new URL is fine', async () => {
    // biome-ignore lint/suspicious/noExplicitAny: the three stand-ins share the members used here
    const chat: any = await start()
    // biome-ignore lint/suspicious/noExplicitAny: as above
    const other: any = await start()
    closers.push(
      () => chat.close(),
      () => other.close(),
    )
    // biome-ignore lint/suspicious/noExplicitAny: as above
    const creds = (credentialsOf as (s: any) => { webhookUrl: string; baseUrl: string })(chat)
    const saved = await call('POST', `${API}/${provider}`, { ...creds, test: true })
    expect(saved.status, JSON.stringify(saved.body)).toBe(200)
    expect(saved.body.success).toBe(true)
    const stored = (await call('GET', `${API}/communication`)).body.data[provider]
    expect(stored).toMatchObject({ baseUrl: creds.baseUrl, status: 'active' })
    for (const body of [
      { baseUrl: evil(), test: true },
      { baseUrl: evil(), webhookUrl: saved.body.data.webhookUrl, test: true },
      { baseUrl: null, test: true },
    ]) {
      const r = await call('POST', `${API}/${provider}`, body)
      expect(r.status).toBe(422)
      expect(r.body).toMatchObject(breeze422(['webhookUrl']))
    }
    await expectNothingSent()
    expect((await call('GET', `${API}/communication`)).body.data[provider]).toEqual(stored)

    // The secret given again (a whole webhook URL) may go to a new host.
    // biome-ignore lint/suspicious/noExplicitAny: as above
    const moved = (credentialsOf as (s: any) => { webhookUrl: string; baseUrl: string })(other)
    const ok = await call('POST', `${API}/${provider}`, { ...moved, test: true })
    expect(ok.status, JSON.stringify(ok.body)).toBe(200)
    expect(ok.body.success).toBe(true)
    expect(other.messages.length).toBe(1)
  })
})

describe('Outgoing webhooks: PATCH /webhooks/{id}', () => {
  it('a new url without the custom header values given again is a 422, and nothing is sent there', async () => {
    const home = await startStandIn(() => ({ status: 200, body: {} }))
    closers.push(() => home.close())
    const created = await call('POST', '/api/v1/webhooks', {
      name: 'Alerts',
      url: home.url('hooks.test', '/in'),
      events: ['device.offline'],
      headers: [{ key: 'Authorization', value: 'Bearer wh_secret_4cf1e07d' }],
    })
    expect(created.status, JSON.stringify(created.body)).toBe(201)
    const id = created.body.id as string
    const masked = created.body.headers

    for (const [body, path] of [
      [{ url: evil('/steal') }, 'headers'],
      [{ url: evil('/steal'), headers: masked }, 'headers.0.value'],
    ] as const) {
      const r = await call('PATCH', `/api/v1/webhooks/${id}`, body)
      expect(r.status, JSON.stringify(r.body)).toBe(422)
      expect(r.body.details).toEqual([expect.objectContaining({ path })])
      expect(r.body.details[0].message).toContain('only sent to the URL it was saved with')
    }
    await call('POST', '/api/v1/events', { type: 'device.offline', data: {} })
    await expectNothingSent()
    expect(home.requests.map((r) => r.headers.authorization)).toEqual(['Bearer wh_secret_4cf1e07d'])

    // Other edits keep the stored value by its mask; a move with the value given again goes through.
    expect((await call('PATCH', `/api/v1/webhooks/${id}`, { name: 'Renamed', headers: masked })).status).toBe(
      200,
    )
    const moved = await call('PATCH', `/api/v1/webhooks/${id}`, {
      url: evil('/new'),
      headers: [{ key: 'Authorization', value: 'Bearer wh_new_for_new_host' }],
    })
    expect(moved.status, JSON.stringify(moved.body)).toBe(200)
    await call('POST', '/api/v1/events', { type: 'device.offline', data: {} })
    await h.worker.drain()
    expect(attacker.requests.map((r) => r.headers.authorization)).toEqual(['Bearer wh_new_for_new_host'])
  })
})
