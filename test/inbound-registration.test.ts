import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { INBOUND_SCHEDULES, inboundRenewJob } from '../src/inbound/jobs.ts'
import { JobService } from '../src/jobs/service.ts'
import { WIRED_JOBS } from '../src/wiring.ts'
import { automationSettings, newOrg } from './fixtures/psa.ts'
import { createHarness, type Harness, seedTenants } from './harness.ts'
import { type GraphStandIn, startGraph } from './standins/graph.ts'
import { AutotaskStandIn, ConnectWiseStandIn } from './standins/index.ts'
import {
  MicrosoftDirectory,
  type MicrosoftLoginStandIn,
  type MsTenant,
  startMicrosoftLogin,
} from './standins/microsoft-login.ts'

/**
 * Registering a webhook source at the vendor: Autotask's ticket webhook (secret, deactivation URL, fields),
 * ConnectWise's ticket callback, Microsoft Graph's subscription (with the validationToken handshake answered by the
 * app itself, and the renewal job on the injected clock); removal on delete; vendor errors verbatim, secrets
 * scrubbed.
 */
const PUBLIC_URL = 'https://patchbay.example.com'
const DAY = 86_400_000

let h: Harness
let t: Awaited<ReturnType<typeof seedTenants>>
let at: AutotaskStandIn
let cw: ConnectWiseStandIn
let dir: MicrosoftDirectory
let login: MicrosoftLoginStandIn
let graph: GraphStandIn
let tenant: MsTenant
let org: { id: string; token: string }
const APP = randomUUID()
const APP_SECRET = 'Gr4ph~app-secret-never-shown'

beforeAll(async () => {
  h = await createHarness({
    env: {
      PATCHBAY_PROBE_INTERVAL_MS: '0',
      PATCHBAY_PSA_SYNC_INTERVAL_MS: '0',
      PATCHBAY_PUBLIC_URL: PUBLIC_URL,
    },
  })
  t = await seedTenants(h)
  at = await new AutotaskStandIn({ clock: h.clock }).start()
  cw = await new ConnectWiseStandIn({ clock: h.clock }).start()
  dir = new MicrosoftDirectory(h.clock)
  tenant = dir.addTenant({ id: randomUUID(), domain: 'contoso.onmicrosoft.com', name: 'Contoso' })
  dir.addApp({ appId: APP, secret: APP_SECRET, homeTenant: tenant.id })
  login = await startMicrosoftLogin(dir)
  graph = await startGraph(dir)
  // Graph's handshake reaches Patchbay's public URL; here that is the app itself.
  graph.notify = async (url, init) => {
    const u = new URL(url)
    expect(u.origin).toBe(PUBLIC_URL)
    return h.app.request(`${u.pathname}${u.search}`, init)
  }
})
afterAll(async () => {
  await at.close()
  await cw.close()
  await Promise.all([login.close(), graph.close()])
  await h.close()
})

let n = 0
beforeEach(async () => {
  org = await newOrg(h, t.partner.id, `Registration ${++n}`)
  at.refuseWebhooks = undefined
})

// biome-ignore lint/suspicious/noExplicitAny: response bodies are read loosely and asserted on
async function api(method: string, p: string, body?: unknown): Promise<any> {
  return h.json(method, p, { token: org.token, ...(body !== undefined ? { body } : {}) })
}

async function connectPsa(provider: 'connectwise' | 'autotask') {
  const s = provider === 'connectwise' ? cw : at
  const r = await api('POST', '/api/v1/psa/connections', {
    provider,
    name: provider,
    credentials: s.credentials,
    settings: automationSettings(provider, s),
  })
  expect(r.status, JSON.stringify(r.body)).toBe(201)
  return r.body.id as string
}

async function connectM365() {
  const r = await api('POST', '/api/v1/integrations', {
    provider: 'microsoft365',
    credentials: {
      tenantId: tenant.id,
      clientId: APP,
      clientSecret: APP_SECRET,
      loginBaseUrl: login.baseUrl,
      baseUrl: graph.baseUrl,
    },
    enabled_capabilities: ['read_resources'],
  })
  expect(r.status, JSON.stringify(r.body)).toBe(201)
  return r.body.data.id as string
}

async function create(body: Record<string, unknown>) {
  const r = await api('POST', '/api/v1/webhook-sources', { name: 'Tickets', ...body })
  expect(r.status, JSON.stringify(r.body)).toBe(201)
  return r.body
}

describe('Autotask: the ticket webhook', () => {
  it('is created with the secret, the URL, the deactivation URL and the Status and Title fields', async () => {
    const integrationId = await connectPsa('autotask')
    const s = await create({ provider: 'autotask', integrationId, name: 'Autotask tickets' })
    expect(s.registration).toEqual({
      status: 'registered',
      vendorId: expect.any(String),
      expiresAt: null,
      error: null,
    })
    const w = at.raw.webhooks.find((x) => String(x.id) === s.registration.vendorId)
    expect(w).toEqual({
      id: Number(s.registration.vendorId),
      name: 'Autotask tickets',
      webhookUrl: s.url,
      secretKey: s.secret,
      deactivationUrl: `${s.url}/deactivated`,
      isActive: true,
      isSubscribedToCreateEvents: true,
      isSubscribedToUpdateEvents: true,
      isSubscribedToDeleteEvents: false,
      fields: [
        { fieldID: 4, isSubscribedField: true, isDisplayAlwaysField: false },
        { fieldID: 5, isSubscribedField: true, isDisplayAlwaysField: false },
      ],
    })
    expect(s.url.startsWith(`${PUBLIC_URL}/hooks/`)).toBe(true)
    expect(s.setup[0]).toBe(
      `Patchbay registered this webhook at the vendor (id ${s.registration.vendorId}); nothing to paste. By hand, if needed:`,
    )

    // Autotask calls the deactivation URL: the source says so.
    const off = await h.app.request(new URL(w?.deactivationUrl as string).pathname, { method: 'POST' })
    expect(off.status).toBe(200)
    const got = await api('GET', `/api/v1/webhook-sources/${s.id}`)
    expect(got.body.registration.status).toBe('deactivated')
    expect((await h.app.request('/hooks/not-a-source/deactivated', { method: 'POST' })).status).toBe(404)
    expect(got.body.registration.error).toMatch(/deactivated/)

    // The registration is removed with the integration that made it, so that one cannot be swapped.
    const swap = await api('PATCH', `/api/v1/webhook-sources/${s.id}`, { integrationId: null })
    expect(swap.status).toBe(422)
    expect(swap.body.error).toContain('delete the source and create it again')
    // Registering again replaces the webhook at Autotask.
    const again = await api('POST', `/api/v1/webhook-sources/${s.id}/register`)
    expect(again.status).toBe(200)
    expect(again.body.registration.status).toBe('registered')
    expect(again.body.registration.vendorId).not.toBe(s.registration.vendorId)
    expect(at.raw.webhooks.map((x) => String(x.id))).toEqual([again.body.registration.vendorId])

    const del = await api('DELETE', `/api/v1/webhook-sources/${s.id}`)
    expect(del.body).toEqual({ message: 'Webhook source deleted', id: s.id, registrationRemoved: true })
    expect(at.raw.webhooks).toEqual([])
  })

  it('shows a refusal verbatim with the secret scrubbed, and a retry registers', async () => {
    const integrationId = await connectPsa('autotask')
    at.refuseWebhooks = 'The WebhookUrl host could not be reached'
    const s = await create({ provider: 'autotask', integrationId })
    expect(s.registration.status).toBe('failed')
    expect(s.registration.vendorId).toBeNull()
    expect(s.registration.error).toBe(
      'Autotask answered 500: The WebhookUrl host could not be reached (SecretKey [redacted])',
    )
    expect(JSON.stringify(s.registration)).not.toContain(s.secret)
    expect(at.raw.webhooks).toEqual([])
    at.refuseWebhooks = undefined
    const again = await api('POST', `/api/v1/webhook-sources/${s.id}/register`)
    expect(again.body.registration).toMatchObject({ status: 'registered', error: null })
    expect(at.raw.webhooks.at(-1)?.secretKey).toBe(s.secret)
    await api('DELETE', `/api/v1/webhook-sources/${s.id}`)
  })

  it('a source without an integration is manual; register then says why not', async () => {
    const s = await create({ provider: 'autotask' })
    expect(s.registration).toEqual({ status: 'manual', vendorId: null, expiresAt: null, error: null })
    expect(s.setup.join('\n')).toContain(s.secret)
    const r = await api('POST', `/api/v1/webhook-sources/${s.id}/register`)
    expect(r.status).toBe(422)
    expect(r.body.error).toContain('integrationId')
    const d = await create({ provider: 'datto-rmm' })
    expect(d.registration.status).toBe('manual')
    const dr = await api('POST', `/api/v1/webhook-sources/${d.id}/register`)
    expect(dr.status).toBe(422)
    expect(dr.body.error).toContain('Patchbay registers nothing at datto-rmm')
  })
})

describe('ConnectWise: the ticket callback', () => {
  it('needs the board id at the board level, creates the board callback, and removes it on delete', async () => {
    const integrationId = await connectPsa('connectwise')
    const bad = await api('POST', '/api/v1/webhook-sources', {
      provider: 'connectwise',
      integrationId,
      name: 'x',
      registration: { level: 'board' },
    })
    expect(bad.status).toBe(422)
    expect(bad.body.error).toContain('registration.objectId')
    // register: false links the integration without registering (the callback was made by hand).
    const own = await create({ provider: 'connectwise', integrationId, registration: { register: false } })
    expect(own.registration.status).toBe('manual')
    expect(cw.raw.callbacks.some((c) => c.url === own.url)).toBe(false)
    const board = cw.raw.boards[0]?.id as number
    const s = await create({
      provider: 'connectwise',
      integrationId,
      name: 'Service board',
      registration: { level: 'board', objectId: board },
    })
    expect(s.registration).toMatchObject({ status: 'registered', error: null })
    const cb = cw.raw.callbacks.find((c) => String(c.id) === s.registration.vendorId)
    expect(cb).toEqual({
      id: Number(s.registration.vendorId),
      url: s.url,
      objectId: board,
      type: 'ticket',
      level: 'board',
      description: 'Patchbay: Service board',
      inactiveFlag: false,
    })
    const del = await api('DELETE', `/api/v1/webhook-sources/${s.id}`)
    expect(del.body.registrationRemoved).toBe(true)
    expect(cw.raw.callbacks.find((c) => c.id === cb?.id)).toBeUndefined()
  })

  it('an unknown board is refused verbatim; a vendor failure on delete still deletes the source', async () => {
    const integrationId = await connectPsa('connectwise')
    const s = await create({
      provider: 'connectwise',
      integrationId,
      registration: { level: 'board', objectId: 999_999 },
    })
    expect(s.registration.status).toBe('failed')
    expect(s.registration.error).toBe(
      'ConnectWise answered 400: callbackEntry object is invalid: Board 999999 not found',
    )
    const owner = await create({ provider: 'connectwise', integrationId })
    expect(cw.raw.callbacks.find((c) => String(c.id) === owner.registration.vendorId)).toMatchObject({
      level: 'owner',
      objectId: 1,
    })
    cw.failNext(503)
    const del = await api('DELETE', `/api/v1/webhook-sources/${owner.id}`)
    expect(del.status).toBe(200)
    expect(del.body.registrationRemoved).toBe(false)
    expect(del.body.registrationError).toMatch(/^ConnectWise answered 503/)
    expect((await api('GET', `/api/v1/webhook-sources/${owner.id}`)).status).toBe(404)
  })
})

describe('Microsoft Graph: the subscription', () => {
  it('is created with clientState after the handshake, renewed before expiry, and a failed renewal shows', async () => {
    const integrationId = await connectM365()
    const wrong = await api('POST', '/api/v1/webhook-sources', {
      provider: 'msgraph',
      integrationId: await connectPsa('autotask'),
      name: 'x',
      registration: { resource: 'users' },
    })
    expect(wrong.status).toBe(422)
    expect(wrong.body.error).toContain('not microsoft365')
    const noResource = await api('POST', '/api/v1/webhook-sources', {
      provider: 'msgraph',
      integrationId,
      name: 'x',
    })
    expect(noResource.status).toBe(422)
    expect(noResource.body.error).toContain('registration.resource')

    const created = h.clock.now().getTime()
    const s = await create({ provider: 'msgraph', integrationId, registration: { resource: 'users' } })
    expect(s.registration).toEqual({
      status: 'registered',
      vendorId: expect.any(String),
      expiresAt: new Date(created + 2 * DAY).toISOString(),
      error: null,
    })
    const sub = graph.subscriptions.get(s.registration.vendorId)
    expect(sub).toMatchObject({
      changeType: 'updated',
      notificationUrl: s.url,
      resource: 'users',
      clientState: s.secret,
      expirationDateTime: new Date(created + 2 * DAY).toISOString(),
    })

    const renewals = new JobService(h.ctx, {
      ...WIRED_JOBS,
      schedules: INBOUND_SCHEDULES.filter((x) => x.job === inboundRenewJob),
    })
    // Not yet within a day of expiry: untouched.
    h.clock.advance(DAY / 2)
    await renewals.runDue()
    expect(graph.subscriptions.get(s.registration.vendorId)?.expirationDateTime).toBe(
      new Date(created + 2 * DAY).toISOString(),
    )
    // Within a day of expiry: renewed for two more days from now.
    h.clock.advance(DAY / 2 + 60 * 60_000)
    const renewedAt = h.clock.now().getTime()
    await renewals.runDue()
    expect(graph.subscriptions.get(s.registration.vendorId)?.expirationDateTime).toBe(
      new Date(renewedAt + 2 * DAY).toISOString(),
    )
    const got = await api('GET', `/api/v1/webhook-sources/${s.id}`)
    expect(got.body.registration.expiresAt).toBe(new Date(renewedAt + 2 * DAY).toISOString())

    // The subscription vanished at Graph: the next renewal fails, and the source says so.
    graph.subscriptions.delete(s.registration.vendorId)
    h.clock.advance(DAY + 60 * 60_000)
    await renewals.runDue()
    const failed = await api('GET', `/api/v1/webhook-sources/${s.id}`)
    expect(failed.body.registration).toMatchObject({
      status: 'failed',
      vendorId: s.registration.vendorId,
      error: 'renewal failed: Microsoft Graph answered 404: ResourceNotFound: The object was not found.',
    })
    // Once past its expiry, renewing is pointless: the source says to register again.
    const lapsed = new Date(renewedAt + 2 * DAY).toISOString()
    h.clock.advance(DAY)
    await renewals.runDue()
    expect((await api('GET', `/api/v1/webhook-sources/${s.id}`)).body.registration).toMatchObject({
      status: 'failed',
      error: `the registration expired at ${lapsed}; register again`,
    })
    // Registering again creates a new subscription; deleting the source removes it.
    const again = await api('POST', `/api/v1/webhook-sources/${s.id}/register`)
    expect(again.body.registration.status).toBe('registered')
    expect(graph.subscriptions.has(again.body.registration.vendorId)).toBe(true)
    const del = await api('DELETE', `/api/v1/webhook-sources/${s.id}`)
    expect(del.body.registrationRemoved).toBe(true)
    expect(graph.subscriptions.has(again.body.registration.vendorId)).toBe(false)
  })

  it('fails with Graph’s validation error when the notification URL does not answer the handshake', async () => {
    const integrationId = await connectM365()
    const notify = graph.notify
    graph.notify = async (url, init) => {
      const u = new URL(url)
      return h.app.request(`/hooks/not-a-source${u.search}`, init)
    }
    try {
      const s = await create({ provider: 'msgraph', integrationId, registration: { resource: 'users' } })
      expect(s.registration.status).toBe('failed')
      expect(s.registration.error).toBe(
        'Microsoft Graph answered 400: ValidationError: Subscription validation request failed. Notification ' +
          'endpoint must respond with 200 OK to validation request (the endpoint answered 404).',
      )
    } finally {
      graph.notify = notify
    }
  })
})
