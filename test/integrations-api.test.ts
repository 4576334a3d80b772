import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { credentialParser, defineConnector, missingCredential } from '../src/connectors/define.ts'
import { createRegistry, defaultRegistry } from '../src/connectors/registry.ts'
import type { Connector } from '../src/connectors/types.ts'
import { baseUrl, basicAuth, callVendor, sensitiveValues } from '../src/connectors/vendor-http.ts'
import { findIntegration } from '../src/integrations/service.ts'
import { JobService } from '../src/jobs/service.ts'
import type { CredentialSchema } from '../src/vault/mask.ts'
import { WIRED_JOBS } from '../src/wiring.ts'
import { type RecordedRequest, type StandIn, startStandIn } from './fixtures/stand-in.ts'
import { createHarness, type Harness, seedTenants } from './harness.ts'

/**
 * A PSA-like vendor with a credential schema unlike the generic connectors': Basic auth made of a company id,
 * a public key and a private key, a site URL with an optional baseUrl override, a patterned field and a
 * defaulted number. Defined here so the tests need no real vendor's connector.
 */
const acmeSchema: CredentialSchema = {
  siteUrl: { type: 'url', sensitive: false, required: true },
  companyId: { type: 'string', sensitive: false, required: true, pattern: '^[a-z0-9]+$' },
  publicKey: { type: 'string', sensitive: false, required: true },
  privateKey: { type: 'string', sensitive: true, required: true },
  timeoutSeconds: { type: 'number', sensitive: false, required: false, default: 30 },
  baseUrl: { type: 'url', sensitive: false, required: false },
}
const acme: Connector = defineConnector(credentialParser(acmeSchema, missingCredential('Acme PSA')), {
  descriptor: {
    id: 'acme-psa',
    displayName: 'Acme PSA',
    category: 'psa',
    capabilities: ['create_ticket', 'add_ticket_note'],
    credentialSchema: acmeSchema,
  },
  async verify(credentials, env) {
    const res = await callVendor<{ companyName: string }>(env, {
      vendor: 'Acme PSA',
      url: `${baseUrl(String(credentials.siteUrl), credentials.baseUrl)}/apis/3.0/system/info`,
      headers: {
        authorization: basicAuth(
          `${String(credentials.companyId)}+${String(credentials.publicKey)}`,
          String(credentials.privateKey),
        ),
      },
      secrets: sensitiveValues(acmeSchema, credentials),
    })
    return { ok: true, account: res.data.companyName }
  },
})

let h: Harness
let t: Awaited<ReturnType<typeof seedTenants>>
let jobs: JobService
let vendor: StandIn
const PRIVATE = 'priv_9c8b7a6d5e4f'

function acmeAuthorized(req: RecordedRequest): boolean {
  return req.headers.authorization === basicAuth('contoso+pub_123', PRIVATE)
}

beforeAll(async () => {
  h = await createHarness({
    env: { PATCHBAY_PROBE_INTERVAL_MS: '0' },
    connectors: createRegistry([...defaultRegistry.all(), acme]),
  })
  t = await seedTenants(h)
  jobs = new JobService(h.ctx, WIRED_JOBS)
  vendor = await startStandIn((req) => {
    if (req.path !== '/apis/3.0/system/info') return { status: 404, body: { message: 'Unknown resource' } }
    return acmeAuthorized(req)
      ? { status: 200, body: { companyName: 'Contoso Ltd' } }
      : { status: 401, body: { code: 'Unauthorized', message: 'Password does not match. Please try again.' } }
  })
})
afterAll(async () => {
  await vendor.close()
  await h.close()
})

const API = '/api/v1/integrations'

function acmeBody(extra: Record<string, unknown> = {}, credentials: Record<string, unknown> = {}) {
  return {
    provider: 'acme-psa',
    credentials: {
      siteUrl: vendor.url('acme.test'),
      companyId: 'contoso',
      publicKey: 'pub_123',
      privateKey: PRIVATE,
      ...credentials,
    },
    enabled_capabilities: ['create_ticket'],
    ...extra,
  }
}

describe('input validation (422 in the SynthesQ shape)', () => {
  it('names every missing and unknown field', async () => {
    const r = await h.json('POST', API, { token: t.orgAToken, body: { nickname: 'x' } })
    expect(r.status).toBe(422)
    expect(r.body).toEqual({
      success: false,
      message: 'The given data was invalid.',
      errors: {
        provider: ['The provider field is required.'],
        credentials: ['The credentials field is required.'],
        enabled_capabilities: ['The enabled_capabilities field is required.'],
        nickname: ['The nickname field is not allowed.'],
      },
    })
  })

  it('checks the provider, its capabilities and its credential schema, reporting every problem at once', async () => {
    const unknown = await h.json('POST', API, { token: t.orgAToken, body: acmeBody({ provider: 'stripe' }) })
    expect(unknown.body.errors).toEqual({ provider: ['The selected provider is invalid.'] })

    const r = await h.json('POST', API, {
      token: t.orgAToken,
      body: acmeBody(
        { enabled_capabilities: ['create_ticket', 'send_sms'] },
        { privateKey: undefined, companyId: 'Contoso Ltd', timeoutSeconds: 'soon', password: 'hunter2' },
      ),
    })
    expect(r.status).toBe(422)
    expect(r.body.errors).toEqual({
      enabled_capabilities: [
        'Not supported by Acme PSA: send_sms. Supported: create_ticket, add_ticket_note.',
      ],
      'credentials.password': [
        'The credentials.password field is not part of the Acme PSA credential schema.',
      ],
      'credentials.companyId': ['The credentials.companyId field has an invalid format.'],
      'credentials.privateKey': ['The credentials.privateKey field is required.'],
      'credentials.timeoutSeconds': ['The credentials.timeoutSeconds field must be a number.'],
    })
    // Never echoes a value.
    expect(JSON.stringify(r.body)).not.toContain('hunter2')
  })

  it('refuses credential URLs that point at private addresses', async () => {
    const r = await h.json('POST', API, {
      token: t.orgAToken,
      body: acmeBody({}, { baseUrl: 'https://10.20.30.40/acme' }),
    })
    expect(r.status).toBe(422)
    expect(r.body.errors).toEqual({
      'credentials.baseUrl': ['The credentials.baseUrl URL resolves to a private address (10.20.30.40).'],
    })
  })

  it('reserves the metadata keys Patchbay fills in, and rejects malformed JSON', async () => {
    const r = await h.json('POST', API, {
      token: t.orgAToken,
      body: acmeBody({ metadata: { last_error: 'x' } }),
    })
    expect(r.body.errors).toEqual({
      'metadata.last_error': ['The metadata.last_error key is reserved for Patchbay.'],
    })
    const bad = await h.json('POST', API, { token: t.orgAToken, body: '{"provider":' })
    expect(bad).toEqual({
      status: 400,
      body: { success: false, message: 'Malformed JSON in request body', code: 'invalid_json' },
    })
  })

  it('checks list parameters', async () => {
    const r = await h.json('GET', `${API}?per_page=101&status=broken`, { token: t.orgAToken })
    expect(r.status).toBe(422)
    expect(Object.keys(r.body.errors).sort()).toEqual(['per_page', 'status'])
    expect(r.body.errors.per_page).toEqual(['The per_page field may not be greater than 100.'])
  })

  it('wrote nothing for any of the refused requests', async () => {
    const r = await h.json('GET', API, { token: t.orgAToken })
    expect(r.body.meta.total).toBe(0)
    const audit = await h.json('GET', `/api/v1/audit-logs?action=integration.*&orgId=${t.orgA.id}`)
    expect(audit.body.data).toEqual([])
  })
})

describe('a provider with its own credential schema', () => {
  let id: string
  it('shows non-sensitive fields and defaults, never the sensitive ones', async () => {
    const r = await h.json('POST', API, { token: t.orgAToken, body: acmeBody() })
    expect(r.status).toBe(201)
    id = r.body.data.id
    expect(r.body.data.credentials).toEqual({
      siteUrl: vendor.url('acme.test'),
      companyId: 'contoso',
      publicKey: 'pub_123',
      privateKey: null,
      timeoutSeconds: 30,
      baseUrl: null,
    })
  })

  it("verifies with the vendor's own auth scheme", async () => {
    await jobs.runDue()
    const call = vendor.requests.at(-1)
    expect(call?.path).toBe('/apis/3.0/system/info')
    expect(acmeAuthorized(call as RecordedRequest)).toBe(true)
    const r = await h.json('GET', `${API}/${id}`, { token: t.orgAToken })
    expect(r.body.data.status).toBe('active')
  })
})

describe('POST /integrations/test (unsaved credentials)', () => {
  it("reports the vendor's refusal verbatim, without the credentials, and stores nothing", async () => {
    const before = (await h.json('GET', API, { token: t.orgAToken })).body.meta.total
    const r = await h.json('POST', `${API}/test`, {
      token: t.orgAToken,
      body: {
        provider: 'acme-psa',
        credentials: { ...acmeBody().credentials, privateKey: 'priv_wrong_000000' },
      },
    })
    expect(r.status).toBe(200)
    expect(r.body).toMatchObject({
      success: false,
      message: 'Acme PSA answered 401: Password does not match. Please try again.',
      data: { ok: false, provider: 'acme-psa', vendor_status: 401, retryable: false, account: null },
    })
    expect(JSON.stringify(r.body)).not.toContain('priv_wrong_000000')
    expect((await h.json('GET', API, { token: t.orgAToken })).body.meta.total).toBe(before)
  })

  it('says who the credentials belong to when they work', async () => {
    const r = await h.json('POST', `${API}/test`, {
      token: t.orgAToken,
      body: { provider: 'acme-psa', credentials: acmeBody().credentials },
    })
    expect(r.body).toMatchObject({
      success: true,
      message: 'Connection successful. Credentials validated.',
      data: { ok: true, account: 'Contoso Ltd', error: null },
    })
  })

  it("tests a change over a saved integration's credentials", async () => {
    const saved = (await h.json('GET', `${API}?provider=acme-psa`, { token: t.orgAToken })).body.data[0]
    const r = await h.json('POST', `${API}/test`, {
      token: t.orgAToken,
      body: {
        provider: 'acme-psa',
        integration_id: saved.id,
        credentials: { baseUrl: vendor.url('acme-eu.test') },
      },
    })
    expect(r.body.data.ok).toBe(true)
    expect(vendor.requests.at(-1)?.headers.host).toBe(`acme-eu.test:${vendor.port}`)
    expect(acmeAuthorized(vendor.requests.at(-1) as RecordedRequest)).toBe(true)
    const other = await h.json('POST', `${API}/test`, {
      token: t.orgCToken,
      body: { provider: 'acme-psa', integration_id: saved.id, credentials: {} },
    })
    expect(other.status).toBe(404)
  })
})

describe('instances of one provider', () => {
  it('allows one unnamed instance, then only distinctly named ones; the first is the default', async () => {
    const second = await h.json('POST', API, { token: t.orgAToken, body: acmeBody() })
    expect(second).toMatchObject({
      status: 422,
      body: {
        success: false,
        message: 'The given data was invalid.',
        errors: { provider: ['An integration for this provider already exists.'] },
      },
    })
    const eu = await h.json('POST', API, { token: t.orgAToken, body: acmeBody({ name: 'EU' }) })
    expect(eu.status).toBe(201)
    expect(eu.body.data).toMatchObject({ name: 'EU', is_default: false })
    const dup = await h.json('POST', API, { token: t.orgAToken, body: acmeBody({ name: 'eu' }) })
    expect(dup.status).toBe(422)
    expect(dup.body.errors).toEqual({
      provider: ['An integration for this provider already exists.'],
      name: ['Another instance is already named "eu".'],
    })
    // Another organization has its own instances.
    const elsewhere = await h.json('POST', API, { token: t.orgCToken, body: acmeBody() })
    expect(elsewhere.status).toBe(201)
  })

  it('uses the default whenever no instance is named, and one default at a time', async () => {
    const list = (await h.json('GET', `${API}?provider=acme-psa`, { token: t.orgAToken })).body.data
    const first = list.find((i: { name: string | null }) => i.name === null)
    const eu = list.find((i: { name: string | null }) => i.name === 'EU')
    expect((await findIntegration(h.ctx, t.orgA.id, 'acme-psa'))?.id).toBe(first.id)
    expect((await findIntegration(h.ctx, t.orgA.id, 'acme-psa', 'eu'))?.id).toBe(eu.id)

    const r = await h.json('POST', `${API}/${eu.id}/default`, { token: t.orgAToken })
    expect(r.body).toMatchObject({
      success: true,
      message: 'Default integration set successfully',
      data: { is_default: true },
    })
    expect((await h.json('GET', `${API}/${first.id}`, { token: t.orgAToken })).body.data.is_default).toBe(
      false,
    )
    expect((await findIntegration(h.ctx, t.orgA.id, 'acme-psa'))?.id).toBe(eu.id)

    // Deleting the default hands the role to the remaining instance.
    await h.json('DELETE', `${API}/${eu.id}`, { token: t.orgAToken })
    expect((await h.json('GET', `${API}/${first.id}`, { token: t.orgAToken })).body.data.is_default).toBe(
      true,
    )
  })

  it('renaming follows the same rules', async () => {
    const [first] = (await h.json('GET', `${API}?provider=acme-psa`, { token: t.orgAToken })).body.data
    const named = await h.json('POST', API, { token: t.orgAToken, body: acmeBody({ name: 'US' }) })
    const clash = await h.json('PATCH', `${API}/${named.body.data.id}`, {
      token: t.orgAToken,
      body: { name: null },
    })
    expect(clash.status).toBe(422)
    const ok = await h.json('PATCH', `${API}/${first.id}`, { token: t.orgAToken, body: { name: 'Primary' } })
    expect(ok.body.data).toMatchObject({ id: first.id, name: 'Primary' })
  })
})

describe('listing', () => {
  it('filters by status, category and provider, with meta and links', async () => {
    await jobs.runDue()
    for (let i = 0; i < 3; i++) {
      await h.json('POST', API, {
        token: t.orgAToken,
        body: {
          provider: 'generic-monitoring',
          name: `mon-${i}`,
          credentials: { endpoint: `http://mon${i}.test:1/ingest` },
          enabled_capabilities: ['forward_events'],
        },
      })
    }
    const page = await h.json('GET', `${API}?category=monitoring&per_page=2&page=2`, { token: t.orgAToken })
    expect(page.body.meta).toEqual({ current_page: 2, per_page: 2, total: 3, last_page: 2 })
    expect(page.body.links).toEqual({
      first: '/api/v1/integrations?category=monitoring&per_page=2&page=1',
      last: '/api/v1/integrations?category=monitoring&per_page=2&page=2',
      prev: '/api/v1/integrations?category=monitoring&per_page=2&page=1',
      next: null,
    })
    expect(page.body.data).toHaveLength(1)
    const psa = await h.json('GET', `${API}?category=psa&status=active`, { token: t.orgAToken })
    // "Primary" and "US"; "EU" was deleted.
    expect(psa.body.data.map((i: { name: string }) => i.name).sort()).toEqual(['Primary', 'US'])
    const pending = await h.json('GET', `${API}?status=pending_verify&provider=generic-monitoring`, {
      token: t.orgAToken,
    })
    expect(pending.body.meta.total).toBe(3)
    const plain = await h.json('GET', API, { token: t.orgAToken })
    expect(plain.body.links.first).toBe('/api/v1/integrations?page=1')
  })
})

describe('tenancy', () => {
  it("keeps organizations apart: another tenant's integration is a 404 in the SynthesQ shape", async () => {
    const [mine] = (await h.json('GET', `${API}?provider=acme-psa`, { token: t.orgAToken })).body.data
    for (const [method, path] of [
      ['GET', `${API}/${mine.id}`],
      ['PATCH', `${API}/${mine.id}`],
      ['DELETE', `${API}/${mine.id}`],
      ['POST', `${API}/${mine.id}/disable`],
      ['POST', `${API}/${mine.id}/default`],
    ] as const) {
      const r = await h.json(method, path, {
        token: t.orgCToken,
        ...(method === 'PATCH' ? { body: {} } : {}),
      })
      expect(r, `${method} ${path}`).toEqual({
        status: 404,
        body: { success: false, message: 'Integration not found', code: 'not_found' },
      })
    }
    const foreign = await h.json('GET', `${API}?orgId=${t.orgC.id}`, { token: t.partnerToken })
    expect(foreign.status).toBe(404)
    const theirs = await h.json('GET', API, { token: t.orgCToken })
    expect(theirs.body.data.every((i: { org_id: string }) => i.org_id === t.orgC.id)).toBe(true)
  })

  it('partner and system keys name the organization', async () => {
    const create = await h.json('POST', API, { token: t.partnerToken, body: acmeBody() })
    expect(create).toEqual({
      status: 400,
      body: { success: false, message: 'Organization context required', code: 'org_context_required' },
    })
    const providers = await h.json('GET', `${API}/providers`, { token: t.partnerToken })
    expect(providers.status).toBe(400)
    const mine = await h.json('GET', API, { token: t.partnerToken })
    const orgs = new Set(mine.body.data.map((i: { org_id: string }) => i.org_id))
    expect([...orgs]).toEqual([t.orgA.id])
    const r = await h.json('POST', API, { token: t.partnerToken, body: { ...acmeBody(), orgId: t.orgB.id } })
    expect(r.body.data.org_id).toBe(t.orgB.id)
  })
})
