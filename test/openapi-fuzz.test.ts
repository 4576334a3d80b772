/**
 * Every operation of the app's own OpenAPI document, sent what a careless or hostile client sends: no token, an
 * unknown token, malformed JSON, wrong types, NUL and lone surrogates in every string (free-form fields and
 * object keys included) and every query and path parameter, dates outside the documented range, deep nesting
 * and oversized arrays. Nothing may answer 5xx. The cases are generated from the document, so a new route is
 * covered the day it is documented.
 */
import fc from 'fast-check'
import { afterAll, describe, expect, it } from 'vitest'
import { createHarness } from './harness.ts'
import { ConnectWiseStandIn } from './standins/connectwise.ts'
import { startGraph } from './standins/graph.ts'
import { MicrosoftDirectory, startMicrosoftLogin } from './standins/microsoft-login.ts'
import { startPartnerCenter } from './standins/partner-center.ts'

const SEED = 1102
const METRICS_TOKEN = 'fuzz-metrics-token-0123456789abcdef'
const h = await createHarness({ env: { PATCHBAY_METRICS_TOKEN: METRICS_TOKEN }, checkResponses: true })
afterAll(() => h.close())

type Schema = Record<string, unknown> & {
  $ref?: string
  type?: string | string[]
  properties?: Record<string, Schema>
  items?: Schema
  additionalProperties?: Schema | boolean
  anyOf?: Schema[]
  oneOf?: Schema[]
  allOf?: Schema[]
  enum?: unknown[]
  format?: string
}
interface Parameter {
  name: string
  in: 'path' | 'query' | 'header'
  schema?: Schema
}
interface Operation {
  method: string
  path: string
  parameters: Parameter[]
  body: Schema | undefined
  public: boolean
}

const docRes = await h.request('GET', '/api/v1/openapi.json', { token: null })
const doc = (await docRes.json()) as {
  paths: Record<
    string,
    Record<
      string,
      {
        parameters?: Parameter[]
        security?: unknown[]
        requestBody?: { content?: Record<string, { schema?: Schema }> }
      }
    >
  >
  components: { schemas: Record<string, Schema> }
}

const operations: Operation[] = Object.entries(doc.paths)
  .flatMap(([path, ops]) =>
    Object.entries(ops).map(([method, op]) => ({
      method: method.toUpperCase(),
      path,
      parameters: op.parameters ?? [],
      body: op.requestBody?.content?.['application/json']?.schema,
      public: Array.isArray(op.security) && op.security.length === 0,
    })),
  )
  // Deletions last, so the resources the other operations are sent to still exist when they are.
  .sort((a, b) => Number(a.method === 'DELETE') - Number(b.method === 'DELETE'))

function deref(s: Schema | undefined): Schema {
  let out = s ?? {}
  for (let i = 0; i < 10 && out.$ref; i++) {
    out = doc.components.schemas[out.$ref.replace('#/components/schemas/', '')] ?? {}
  }
  if (out.allOf?.length) return deref(out.allOf[0])
  const variants = out.anyOf ?? out.oneOf
  if (variants) return deref(variants.find((v) => deref(v).type !== 'null') ?? variants[0])
  return out
}

function typeOf(s: Schema): string | undefined {
  if (Array.isArray(s.type)) return s.type.find((t) => t !== 'null')
  if (s.type) return s.type
  if (s.properties || s.additionalProperties) return 'object'
  return undefined
}

// Real resources, made through the API, so requests that name one reach the handler rather than a 404.
const seedCall = async (path: string, body: unknown) => {
  const r = await h.json('POST', path, { body })
  expect(r.status, `${path}: ${JSON.stringify(r.body)}`).toBeLessThan(300)
  return (r.body.data ?? r.body) as { id: string }
}
const partner = await seedCall('/api/v1/partners', { name: 'Fuzz MSP' })
const org = await seedCall('/api/v1/orgs', { name: 'Fuzz Org', partnerId: partner.id })
const orgKey = await seedCall('/api/v1/api-keys', { name: 'fuzz', scope: 'organization', orgId: org.id })
const orgToken = (orgKey as unknown as { token: string }).token
const webhook = await seedCall('/api/v1/webhooks', {
  orgId: org.id,
  name: 'Fuzz hook',
  url: 'https://hooks.fuzz.test/in',
  events: ['*'],
})
await seedCall('/api/v1/events', { orgId: org.id, type: 'alert.triggered', data: { note: 'seed' } })
const delivery = (await h.json('GET', `/api/v1/deliveries?orgId=${org.id}`)).body.data[0] as { id: string }
const integration = await seedCall('/api/v1/integrations', {
  orgId: org.id,
  provider: 'generic-ticketing',
  credentials: { apiUrl: 'https://tickets.fuzz.test/api', apiKey: 'tk_fuzz_123456' },
  enabled_capabilities: ['create_ticket'],
})
const rule = await seedCall('/api/v1/routing-rules', {
  orgId: org.id,
  capability: 'create_ticket',
  integration_id: integration.id,
})
// Change management reaches ConnectWise: the seeded connection talks to the stand-in.
const cw = await new ConnectWiseStandIn({
  clock: h.clock,
  credentials: { companyId: 'fuzz', publicKey: 'pub-fuzz-0001', privateKey: 'priv-fuzz-0001' },
}).start()
afterAll(() => cw.close())
cw.addMember({ firstName: 'Alice', lastName: 'Admin', email: 'alice@msp.example' })
cw.addConfiguration({ name: 'srv01', type: 'Server' })
const psa = await seedCall('/api/v1/psa/connections', {
  orgId: org.id,
  provider: 'connectwise',
  name: 'Fuzz CW',
  credentials: {
    companyId: 'fuzz',
    publicKey: 'pub-fuzz-0001',
    privateKey: 'priv-fuzz-0001',
    clientId: '6f3a4c1e-8b2d-4f5a-9c7e-1d2b3a4c5e6f',
    siteUrl: 'https://cw.fuzz.test',
    baseUrl: cw.url,
  },
})
// Change management gets a connection of its own: the PSA routes' fuzzing rewrites the one above's credentials.
const cmPsa = await seedCall('/api/v1/psa/connections', {
  orgId: org.id,
  provider: 'connectwise',
  name: 'Fuzz CW changes',
  credentials: {
    companyId: 'fuzz',
    publicKey: 'pub-fuzz-0001',
    privateKey: 'priv-fuzz-0001',
    clientId: '6f3a4c1e-8b2d-4f5a-9c7e-1d2b3a4c5e6f',
    baseUrl: cw.url,
  },
})
const changeSettings = {
  integrationId: cmPsa.id,
  enabled: true,
  autoUpdateStatus: true,
  statuses: { created: 'New' },
  company: { id: '250', boardIds: ['1'] },
  configurationTypes: [{ typeId: '1', deviceType: 'Server' }],
}
expect(
  (await h.json('PUT', `/api/v1/changes/settings?orgId=${org.id}`, { body: changeSettings })).status,
).toBe(200)
const person = { name: 'Alice Admin', email: 'alice@msp.example' }
const changeBody = {
  title: 'Fuzz change',
  description: 'Touches @srv01',
  implementationPlan: 'Plan',
  window: { start: '2026-02-20T22:00:00.000Z', end: '2026-02-21T01:00:00.000Z' },
  risk: 'low',
  creator: person,
  technicalApprover: person,
  operationalApprover: person,
}
/** A change taken through `steps` (transition, body), one per transition route, so each route's sample is allowed. */
async function changeAt(steps: [string, unknown][], ticket = false): Promise<string> {
  const body = ticket
    ? { ...changeBody, ticketId: String(cw.addTicket({ summary: 'Fuzz ticket' }).id) }
    : changeBody
  const c = await seedCall(`/api/v1/changes?orgId=${org.id}`, body)
  for (const [step, b] of steps) await seedCall(`/api/v1/changes/${c.id}/${step}?orgId=${org.id}`, b)
  return c.id
}
const approved: [string, unknown][] = [
  ['approve', { role: 'technical' }],
  ['approve', { role: 'operational' }],
]
const scheduled: [string, unknown][] = [...approved, ['schedule', {}]]
const started: [string, unknown][] = [...scheduled, ['start', { implementer: person }]]
const changeFor: Record<string, string> = {
  approve: await changeAt([]),
  schedule: await changeAt(approved),
  start: await changeAt(scheduled),
  complete: await changeAt(started),
  fail: await changeAt(started),
  cancel: await changeAt([]),
  ticket: await changeAt([]),
  'time-entries': await changeAt([], true),
  '': await changeAt([], true),
}
const unlinkedTicket = String(cw.addTicket({ summary: 'Fuzz ticket to link' }).id)

// An integration that takes actions (nothing is sent: the fuzz never runs the delivery worker), and two actions
// asked by the organization's key, so the system key may decide them.
const rmmIntegration = await seedCall('/api/v1/integrations', {
  orgId: org.id,
  provider: 'datto-rmm',
  credentials: { apiKey: 'rmm-fuzz-key', apiSecret: 'rmm-fuzz-secret', platform: 'merlot' },
  enabled_capabilities: ['read_resources'],
})
const askAction = async (body: unknown) => {
  const r = await h.json('POST', `/api/v1/integrations/${rmmIntegration.id}/actions`, {
    token: orgToken,
    body,
  })
  expect(r.status, JSON.stringify(r.body)).toBe(202)
  return r.body as { id: string }
}
const action = await askAction({
  action: 'run_quick_job',
  input: { deviceUid: 'dev-fuzz', componentUid: 'comp-fuzz' },
})
const rejectable = await askAction({
  action: 'run_quick_job',
  input: { deviceUid: 'dev-fuzz', componentUid: 'comp-fuzz' },
})
await askAction({ action: 'resolve_alert', input: { alertUid: 'alert-fuzz' } })

const partnerKey = await seedCall('/api/v1/api-keys', {
  name: 'fuzz partner',
  scope: 'partner',
  partnerId: partner.id,
})
const partnerToken = (partnerKey as unknown as { token: string }).token

// An inbound webhook source and one event received on it (Datto RMM: the secret travels in the URL).
const source = (await seedCall('/api/v1/webhook-sources', {
  orgId: org.id,
  provider: 'datto-rmm',
  name: 'Fuzz RMM',
})) as unknown as { id: string; url: string; secret: string }
const hookId = source.url.split('/hooks/')[1] ?? ''
const received = await h.request('POST', `/hooks/${hookId}?secret=${encodeURIComponent(source.secret)}`, {
  token: null,
  body: JSON.stringify({
    alertUID: 'fuzz-1',
    alertMessage: 'Disk full',
    priority: 'High',
    hostname: 'fuzz-pc',
  }),
})
expect(received.status).toBeLessThan(300)
const webhookEvent = (await h.json('GET', `/api/v1/webhook-events?orgId=${org.id}`)).body.data[0] as {
  id: string
}

// The Microsoft 365 onboarding talks to Microsoft: its stand-ins, an app registered with them, one customer.
const msDirectory = new MicrosoftDirectory(h.clock)
const msApp = {
  appId: '0b6f7a52-3c4d-4e8f-9a1b-2c3d4e5f6a7b',
  secret: 'fuzz-app-secret-0001',
  tenant: '7d1e2f3a-4b5c-4d6e-8f90-a1b2c3d4e5f6',
}
msDirectory.addApp({ appId: msApp.appId, secret: msApp.secret, homeTenant: msApp.tenant })
msDirectory.addTenant({ id: msApp.tenant, domain: 'fuzzmsp.onmicrosoft.com', name: 'Fuzz MSP' })
const msCustomer = msDirectory.addTenant({
  id: '3c2b1a09-8f7e-4d6c-9b5a-4f3e2d1c0b9a',
  domain: 'fuzzcustomer.onmicrosoft.com',
  name: 'Fuzz Customer',
  users: [],
})
const msLogin = await startMicrosoftLogin(msDirectory)
const msGraph = await startGraph(msDirectory)
const msPartnerCenter = await startPartnerCenter(msDirectory, { partnerTenant: msApp.tenant })
msPartnerCenter.addCustomer(msCustomer)
afterAll(() => Promise.all([msLogin.close(), msGraph.close(), msPartnerCenter.close()]))
const msAppBody = {
  appId: msApp.appId,
  clientSecret: msApp.secret,
  partnerTenantId: msApp.tenant,
  loginBaseUrl: msLogin.baseUrl,
  graphBaseUrl: msGraph.baseUrl,
  partnerCenterBaseUrl: msPartnerCenter.baseUrl,
}
const msRegistered = await h.json('PUT', '/api/v1/onboarding/microsoft365/app', {
  token: partnerToken,
  body: msAppBody,
})
expect(msRegistered.status, JSON.stringify(msRegistered.body)).toBeLessThan(300)

/** The key an operation is sent with by default: partner-only routes need a partner's. */
function tokenFor(op: Operation): string {
  if (op.path === '/metrics') return METRICS_TOKEN
  return op.path.startsWith('/api/v1/onboarding/') ? partnerToken : h.systemToken
}

/** The id a path or body field most likely means. */
function idFor(name: string, path: string): string {
  const n = name.toLowerCase()
  if (n === 'hookid') return hookId
  if (n === 'id' && /^\/api\/v1\/integrations\/\{id\}\/actions$/.test(path)) return rmmIntegration.id
  if (n === 'id' && path === '/api/v1/actions/{id}/reject') return rejectable.id
  if (n === 'customerid') return msCustomer.id
  if (n.includes('partner')) return partner.id
  if (n.startsWith('org')) return org.id
  if (n.includes('webhook')) return webhook.id
  if (n.includes('delivery')) return delivery.id
  if (n.includes('integration')) return integration.id
  if (n !== 'id') return org.id
  const resource = path.split('/')[3]
  if (path.startsWith('/api/v1/psa/connections')) return psa.id
  if (path.startsWith('/api/v1/changes/{id}')) {
    const rest = path.split('/')[5] ?? ''
    return changeFor[rest] ?? changeFor[''] ?? ''
  }
  const byResource: Record<string, string> = {
    partners: partner.id,
    orgs: org.id,
    'api-keys': orgKey.id,
    webhooks: webhook.id,
    integrations: integration.id,
    'routing-rules': rule.id,
    'webhook-sources': source.id,
    'webhook-events': webhookEvent.id,
    actions: action.id,
  }
  return byResource[resource ?? ''] ?? '00000000-0000-4000-8000-000000000000'
}

const VALID_TIME = '2026-02-18T12:00:00.000Z'

/** A plausible value for a schema: what a correct client would send, as the starting point of every mutation. */
function sample(schema: Schema | undefined, name: string, path: string, depth = 0): unknown {
  const s = deref(schema)
  if (s.enum?.length) return s.enum[0]
  if (s.example !== undefined && typeOf(s) !== 'object') return s.example
  switch (typeOf(s)) {
    case 'string': {
      if (s.format === 'uuid') return idFor(name, path)
      if (s.format === 'date-time') return VALID_TIME
      if (/^(event|events|eventType|eventTypes|type)$/.test(name)) return 'alert.triggered'
      if (/url$|endpoint/i.test(name)) return `https://${name.toLowerCase()}.fuzz.test/in`
      const min = typeof s.minLength === 'number' ? s.minLength : 1
      return 'sample-value'.padEnd(min, 'x')
    }
    case 'integer':
    case 'number':
      return typeof s.minimum === 'number' ? s.minimum : 1
    case 'boolean':
      return true
    case 'array': {
      const min = typeof s.minItems === 'number' ? Math.max(s.minItems, 1) : 1
      return Array.from({ length: min }, () => sample(s.items, name, path, depth + 1))
    }
    case 'object': {
      const out: Record<string, unknown> = {}
      for (const [k, v] of Object.entries(s.properties ?? {})) {
        if (depth < 6) out[k] = sample(v, k, path, depth + 1)
      }
      // Free-form objects (event data, metadata, settings) get content of their own to corrupt.
      if (!s.properties && s.additionalProperties !== false) out.note = { text: 'free-form', list: ['a'] }
      return out
    }
    default:
      return 'sample-value'
  }
}

const cwCredentials = {
  companyId: 'fuzz',
  publicKey: 'pub-fuzz-0001',
  privateKey: 'priv-fuzz-0001',
  clientId: '6f3a4c1e-8b2d-4f5a-9c7e-1d2b3a4c5e6f',
  siteUrl: 'https://cw.fuzz.test',
  baseUrl: cw.url,
}
const ticketing = {
  provider: 'generic-ticketing',
  credentials: { apiUrl: 'https://tickets.fuzz.test/api', apiKey: 'tk_fuzz_123456' },
}
const psaBody = {
  provider: 'connectwise',
  credentials: cwCredentials,
  settings: { defaultBoard: 'Service Board' },
}
const rules = { capability: 'create_ticket', integration_id: integration.id, is_default: undefined }

/**
 * Where the generated sample is not a request the handler accepts (fields that exclude each other, values only
 * a provider knows), the fields a valid one needs instead, so mutations reach the handler. A route without an
 * entry is still sent everything below, starting from its generated sample.
 */
const BASE_OVERRIDES: Record<string, Record<string, unknown>> = {
  'POST /api/v1/api-keys': { scope: 'organization', partnerId: undefined },
  'POST /api/v1/integrations/slack': {
    webhookUrl: 'https://hooks.slack.com/services/T0/B0/fuzz',
    test: false,
  },
  'POST /api/v1/integrations/teams': {
    webhookUrl: 'https://fuzz.webhook.office.com/webhookb2/x',
    test: false,
  },
  'POST /api/v1/integrations/discord': { webhookUrl: 'https://discord.com/api/webhooks/1/fuzz', test: false },
  'POST /api/v1/integrations/psa': psaBody,
  'PUT /api/v1/integrations/psa': psaBody,
  'POST /api/v1/psa/connections': psaBody,
  'PATCH /api/v1/psa/connections/{id}': { ...psaBody, provider: undefined, name: undefined },
  'POST /api/v1/integrations/test': { ...ticketing, integration_id: undefined },
  'POST /api/v1/integrations': { ...ticketing, enabled_capabilities: ['create_ticket'], name: 'second' },
  'PATCH /api/v1/integrations/{id}': {
    ...ticketing,
    provider: undefined,
    enabled_capabilities: ['create_ticket'],
  },
  'POST /api/v1/routing-rules': { ...rules, fallback_integration_id: undefined },
  'PATCH /api/v1/routing-rules/{id}': { ...rules, fallback_integration_id: undefined },
  'POST /api/v1/webhook-sources': { provider: 'generic', integrationId: undefined, registration: undefined },
  'PATCH /api/v1/webhook-sources/{id}': { integrationId: undefined },
  'PUT /api/v1/onboarding/microsoft365/app': msAppBody,
  'PUT /api/v1/changes/settings': changeSettings,
  'POST /api/v1/changes': { ...changeBody, ticketId: undefined, vcabMembers: undefined },
  'PUT /api/v1/changes/{id}/ticket': { ticketId: unlinkedTicket },
  'POST /api/v1/changes/{id}/approve': { role: 'technical' },
  'POST /api/v1/changes/{id}/schedule': { window: undefined },
  'POST /api/v1/changes/{id}/start': { implementer: person },
  'POST /api/v1/changes/{id}/time-entries': { email: person.email, start: VALID_TIME, end: undefined },
  'POST /api/v1/integrations/{id}/actions': { action: 'resolve_alert', input: { alertUid: 'alert-fuzz-2' } },
  'POST /api/v1/onboarding/microsoft365/customers': {
    customers: [{ customerId: msCustomer.id, orgId: org.id }],
  },
}

function baseBody(op: Operation): unknown {
  if (!op.body) return undefined
  const generated = sample(op.body, '', op.path)
  const override = BASE_OVERRIDES[`${op.method} ${op.path}`]
  if (!override || generated === null || typeof generated !== 'object') return generated
  const out: Record<string, unknown> = { ...(generated as Record<string, unknown>), ...override }
  for (const [k, v] of Object.entries(override)) if (v === undefined) delete out[k]
  return out
}

type Path = (string | number)[]
interface Leaf {
  path: Path
  value: unknown
  schema: Schema
}

/** Every value in a sample body, with the schema that described it (free-form content has none). */
function leaves(value: unknown, schema: Schema | undefined, path: Path = []): Leaf[] {
  const s = deref(schema)
  const here: Leaf[] = path.length ? [{ path, value, schema: s }] : []
  if (Array.isArray(value)) {
    return [...here, ...value.flatMap((v, i) => leaves(v, s.items, [...path, i]))]
  }
  if (value !== null && typeof value === 'object') {
    const props = s.properties ?? {}
    const extra = typeof s.additionalProperties === 'object' ? s.additionalProperties : undefined
    return [...here, ...Object.entries(value).flatMap(([k, v]) => leaves(v, props[k] ?? extra, [...path, k]))]
  }
  return here
}

function withValue(root: unknown, path: Path, value: unknown): unknown {
  const copy = structuredClone(root) as Record<string | number, unknown>
  let at = copy
  for (const seg of path.slice(0, -1)) at = at[seg] as Record<string | number, unknown>
  at[path[path.length - 1] as string | number] = value
  return copy
}

const deepJson = (levels: number) => `${'{"a":'.repeat(levels)}1${'}'.repeat(levels)}`
const DATES_OUT_OF_RANGE = ['0000-01-01T00:00:00Z', '1969-12-31T23:59:59Z', '9999-12-31T23:00:00-05:00']
// JSON.stringify writes these as the escapes `\u0000`, `\ud800`, `\udc00`: the form a client's JSON carries.
const BAD_STRINGS = ['nul\u0000inside', '\ud800', 'tail\udc00']
const WRONG_TYPES: Record<string, unknown[]> = {
  string: [12345, { x: 1 }],
  integer: ['many', 1.5, 1e300],
  number: ['many', 1e308],
  boolean: ['yes', null],
  array: [{ x: 1 }, 'x'],
  object: ['x', [1]],
}

interface Case {
  name: string
  method?: string
  path?: string
  query?: string
  token?: string | null
  body?: string
  contentType?: string
  /** The unchanged sample: it is what every mutation starts from, so it must itself reach the handler. */
  base?: boolean
  /** The status the case must get, when the document says exactly which. */
  expect?: number | undefined
}

function concretePath(op: Operation, override?: { name: string; raw: string }): string {
  return op.path.replace(/\{(\w+)\}/g, (_, name: string) =>
    override?.name === name ? override.raw : idFor(name, op.path),
  )
}

function sampleQuery(op: Operation): Record<string, string> {
  const q: Record<string, string> = {}
  for (const p of op.parameters.filter((x) => x.in === 'query')) {
    const s = deref(p.schema)
    // Optional filters are left out of the base, so each mutation is the one problem in its request.
    if (p.name === 'orgId') q[p.name] = org.id
    else if (s.format === 'date-time') q[p.name] = VALID_TIME
  }
  return q
}

const qs = (q: Record<string, string>, raw?: string) => {
  const parts = Object.entries(q).map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`)
  if (raw) parts.push(raw)
  return parts.length ? `?${parts.join('&')}` : ''
}

function casesFor(op: Operation): Case[] {
  const out: Case[] = []
  const base = baseBody(op)
  const baseQuery = sampleQuery(op)
  const bodyOf = (v: unknown) => JSON.stringify(v)

  if (!op.public) {
    out.push({ name: 'no token', token: null, expect: 401 })
    out.push({ name: 'unknown token', token: 'pbk_0123456789abcdefghijklmnopqrstuv', expect: 401 })
    out.push({ name: 'malformed authorization', token: 'two words', expect: 401 })
  }

  for (const p of op.parameters.filter((x) => x.in === 'path')) {
    for (const raw of ['nul%00inside', '%ED%A0%80', 'x'.repeat(300)]) {
      out.push({ name: `path ${p.name}=${raw.slice(0, 20)}`, path: concretePath(op, { name: p.name, raw }) })
    }
  }

  for (const p of op.parameters.filter((x) => x.in === 'query')) {
    const s = deref(p.schema)
    const rest = Object.fromEntries(Object.entries(baseQuery).filter(([k]) => k !== p.name))
    const raws = [
      'nul%00inside',
      '%ED%A0%80',
      'x'.repeat(262_145),
      'not-a-number',
      '9007199254740991',
      '99999999999999999999',
      '',
    ]
    for (const raw of raws) {
      out.push({ name: `query ${p.name}=${raw.slice(0, 20)}`, query: qs(rest, `${p.name}=${raw}`) })
    }
    out.push({ name: `query ${p.name} twice`, query: qs(rest, `${p.name}=a&${p.name}=b`) })
    out.push({ name: `query name with NUL`, query: qs(baseQuery, `a%00b=${p.name}`) })
    if (s.format === 'date-time') {
      for (const d of DATES_OUT_OF_RANGE) {
        out.push({ name: `query ${p.name}=${d}`, query: qs({ ...rest, [p.name]: d }), expect: 422 })
      }
    }
  }

  if (base === undefined && op.method !== 'GET') {
    // A body the operation does not take is still read by nobody but the guard, and must not hurt.
    // The API's guard refuses these; a vendor-facing route outside /api/v1 (/hooks) takes raw bytes as sent and
    // answers for its own reasons (an unsigned request is a 401), so there only "never 5xx" holds.
    const guarded = op.path.startsWith('/api/v1/') ? 422 : undefined
    out.push({ name: 'unexpected body with NUL', body: bodyOf({ x: 'a\u0000b' }), expect: guarded })
    out.push({ name: 'unexpected body nested 5000 deep', body: deepJson(5000), expect: guarded })
    out.push({ name: 'unexpected malformed body', body: '{"x":' })
  }

  if (base !== undefined) {
    out.push({ name: 'sample body', body: bodyOf(base), base: true })
    out.push({ name: 'malformed JSON', body: '{"name": "x"', expect: 400 })
    out.push({ name: 'JSON with trailing garbage', body: `${bodyOf(base)}}`, expect: 400 })
    out.push({ name: 'not JSON', body: 'name=x', contentType: 'application/x-www-form-urlencoded' })
    for (const whole of ['[]', '"text"', 'null', '42', '[1,2,3]']) {
      out.push({ name: `body ${whole}`, body: whole })
    }
    out.push({ name: 'body nested 5000 deep', body: deepJson(5000), expect: 422 })
    out.push({
      name: 'body array nested 5000 deep',
      body: `${'['.repeat(5000)}${']'.repeat(5000)}`,
      expect: 422,
    })
    out.push({
      name: 'NUL in a top-level key',
      body: bodyOf({ ...(base as object), 'k\u0000': 'v' }),
      expect: 422,
    })

    for (const leaf of leaves(base, op.body)) {
      const at = leaf.path.join('.')
      const t = typeOf(leaf.schema) ?? (typeof leaf.value === 'object' ? 'object' : typeof leaf.value)
      for (const wrong of WRONG_TYPES[Array.isArray(leaf.value) ? 'array' : t] ?? [12345]) {
        out.push({
          name: `${at} = ${JSON.stringify(wrong)}`,
          body: bodyOf(withValue(base, leaf.path, wrong)),
        })
      }
      if (typeof leaf.value === 'string') {
        for (const bad of BAD_STRINGS) {
          const v = withValue(base, leaf.path, bad)
          out.push({ name: `${at} = ${JSON.stringify(bad)}`, body: bodyOf(v), expect: 422 })
        }
        // A quarter-megabyte body per string is costly: the shallow fields stand for the rest.
        if (leaf.path.length <= 2)
          out.push({
            name: `${at} too long`,
            body: bodyOf(withValue(base, leaf.path, 'x'.repeat(262_145))),
            expect: 422,
          })
      }
      if (leaf.schema.format === 'date-time' || leaf.value === VALID_TIME) {
        for (const d of DATES_OUT_OF_RANGE) {
          out.push({ name: `${at} = ${d}`, body: bodyOf(withValue(base, leaf.path, d)), expect: 422 })
        }
      }
      if (leaf.value !== null && typeof leaf.value === 'object' && leaf.path.length === 1) {
        out.push({
          name: `${at} nested 5000 deep`,
          body: bodyOf(withValue(base, leaf.path, 'DEEP')).replace('"DEEP"', deepJson(5000)),
          expect: 422,
        })
      }
      if (leaf.value !== null && typeof leaf.value === 'object') {
        out.push({
          name: `${at} nested 65 deep`,
          body: bodyOf(withValue(base, leaf.path, 'DEEP')).replace('"DEEP"', deepJson(65)),
          expect: 422,
        })
      }
      if (Array.isArray(leaf.value)) {
        const item = leaf.value[0] ?? 'x'
        out.push({
          name: `${at} with 1001 items`,
          body: bodyOf(
            withValue(
              base,
              leaf.path,
              Array.from({ length: 1001 }, () => item),
            ),
          ),
          expect: 422,
        })
      }
      if (leaf.value !== null && typeof leaf.value === 'object' && !Array.isArray(leaf.value)) {
        out.push({
          name: `${at} key with NUL`,
          body: bodyOf(withValue(base, leaf.path, { ...(leaf.value as object), 'bad\u0000key': 1 })),
          expect: 422,
        })
      }
    }
  }
  return out
}

async function send(op: Operation, c: Case) {
  const path = c.path ?? concretePath(op)
  const query = c.query ?? qs(sampleQuery(op))
  const res = await h.request(c.method ?? op.method, `${path}${query}`, {
    token: c.token === undefined ? tokenFor(op) : c.token,
    ...(c.body !== undefined ? { body: c.body } : {}),
    ...(c.contentType ? { headers: { 'content-type': c.contentType } } : {}),
  })
  const text = await res.text()
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    parsed = text
  }
  const mismatch = (await h.conformance()).check(
    c.method ?? op.method,
    path,
    res.status,
    res.headers.get('content-type'),
    parsed,
  )
  return { status: res.status, text, mismatch }
}

/** A 5xx a case got, or not the status it names, described for the failure message. */
function problem(
  op: Operation,
  c: Case,
  r: { status: number; text: string; mismatch: string | undefined },
): string | undefined {
  // Every answer, good or bad, is what the document says it is (issue 19, item 10).
  if (r.mismatch) return `[${c.name}] ${r.mismatch}`
  if (r.status < 500 && (c.expect === undefined || r.status === c.expect)) return undefined
  return `${op.method} ${op.path} [${c.name}] → ${r.status} ${r.text.slice(0, 200)}`
}

describe('every documented operation, sent bad input, answers 4xx, never 5xx', () => {
  it('covers the whole document', () => {
    expect(operations.length).toBeGreaterThanOrEqual(60)
    const names = operations.map((o) => `${o.method} ${o.path}`)
    expect(names).toContain('POST /api/v1/events')
    expect(names).toContain('GET /api/v1/audit-logs')
  })

  for (const op of operations) {
    it(`${op.method} ${op.path}`, async () => {
      const failures: string[] = []
      for (const c of casesFor(op)) {
        const r = await send(op, c)
        const p = problem(op, c, r)
        if (p) failures.push(p)
        if (c.base && r.status >= 300) failures.push(`the sample body is refused: ${r.status} ${r.text}`)
      }

      // Random corruption on top of the fixed cases: any JSON value, with any UTF-16 code units in its strings,
      // put in place of any one value of the sample body or any one query parameter, under any of the tokens.
      const base = baseBody(op)
      const bodyLeaves = base === undefined ? [] : leaves(base, op.body)
      const queryNames = op.parameters.filter((p) => p.in === 'query').map((p) => p.name)
      const junk = fc.jsonValue({ maxDepth: 3, depthSize: 'small' })
      const anyString = fc.string({ unit: 'binary', maxLength: 12 })
      await fc.assert(
        fc.asyncProperty(
          fc.nat(),
          fc.oneof(junk, anyString),
          anyString,
          fc.constantFrom<string | null>(h.systemToken, orgToken, partnerToken, null),
          async (pick, value, queryValue, token) => {
            const leaf = bodyLeaves.length ? bodyLeaves[pick % bodyLeaves.length] : undefined
            const qName = queryNames.length ? queryNames[pick % queryNames.length] : undefined
            const body = leaf ? JSON.stringify(withValue(base, leaf.path, value)) : undefined
            const c: Case = {
              name: `random ${leaf?.path.join('.') ?? ''} ${qName ?? ''}`,
              token,
              ...(body !== undefined ? { body } : {}),
              ...(qName
                ? { query: qs({ ...sampleQuery(op), [qName]: queryValue.replace(/[\ud800-\udfff]/g, 'x') }) }
                : {}),
            }
            const r = await send(op, c)
            const p = problem(op, c, r)
            if (p) failures.push(p)
          },
        ),
        { seed: SEED, numRuns: 6, endOnFailure: true },
      )

      expect(failures).toEqual([])
    })
  }
})
