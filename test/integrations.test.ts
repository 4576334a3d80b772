import { eq } from 'drizzle-orm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadCredentials } from '../src/integrations/service.ts'
import { JobService } from '../src/jobs/service.ts'
import { integrations } from '../src/store/schema/integrations.ts'
import { generateKeyRing } from '../src/vault/keyring.ts'
import { rotateKeys } from '../src/vault/rotate.ts'
import { SEALED_COLUMNS } from '../src/vault/sealed-columns.ts'
import { keyIdOf, Vault } from '../src/vault/vault.ts'
import { WIRED_JOBS } from '../src/wiring.ts'
import { bearer, type StandIn, startStandIn } from './fixtures/stand-in.ts'
import { createHarness, type Harness, seedTenants } from './harness.ts'

let h: Harness
let t: Awaited<ReturnType<typeof seedTenants>>
let jobs: JobService
/** A ticketing API: GET /api answers 200 to a valid bearer key, 403 otherwise. */
let tickets: StandIn
/** A monitoring ingest endpoint: POST /ingest answers 202 to a valid bearer key. */
let monitor: StandIn
const ticketKeys = new Set(['tk_live_first_8a7b6c'])
const MONITOR_KEY = 'mon_live_4d5e6f7a8b'

beforeAll(async () => {
  // Health probes have their own test file; here they would only add vendor calls between the steps.
  h = await createHarness({ env: { PATCHBAY_PROBE_INTERVAL_MS: '0' } })
  t = await seedTenants(h)
  jobs = new JobService(h.ctx, WIRED_JOBS)
  tickets = await startStandIn((req) => {
    if (req.method !== 'GET' || req.path !== '/api') return { status: 404, body: { message: 'Not found' } }
    const key = bearer(req)
    return key && ticketKeys.has(key)
      ? { status: 200, body: { ok: true } }
      : { status: 403, body: { message: 'The API token is invalid or has been revoked' } }
  })
  monitor = await startStandIn((req) =>
    req.method === 'POST' && req.path === '/ingest' && bearer(req) === MONITOR_KEY
      ? { status: 202, body: { accepted: true } }
      : { status: 401, body: { error: 'Unauthorized: unknown API key' } },
  )
})
afterAll(async () => {
  await tickets.close()
  await monitor.close()
  await h.close()
})

const API = '/api/v1/integrations'

function ticketing(apiKey: string, extra: Record<string, unknown> = {}) {
  return {
    provider: 'generic-ticketing',
    credentials: { apiUrl: tickets.url('tickets.test', '/api'), apiKey, projectKey: 'OPS' },
    enabled_capabilities: ['create_ticket', 'add_ticket_note'],
    ...extra,
  }
}

async function auditActions(targetId: string): Promise<string[]> {
  const r = await h.json('GET', `/api/v1/audit-logs?targetId=${targetId}&limit=100`)
  return (r.body.data as { action: string }[]).map((a) => a.action).reverse()
}

describe('scenario 1: setting up a provider for the first time', () => {
  let id: string
  it('lists the provider as available and not yet configured', async () => {
    const r = await h.json('GET', `${API}/providers`, { token: t.orgAToken })
    expect(r.status).toBe(200)
    expect(r.body).toMatchObject({ success: true, message: 'Providers retrieved successfully', meta: {} })
    const provider = r.body.data.find((p: { name: string }) => p.name === 'generic-ticketing')
    expect(provider).toEqual({
      name: 'generic-ticketing',
      display_name: 'Ticketing endpoint',
      category: 'ticketing',
      capabilities: ['create_ticket', 'update_ticket_status', 'add_ticket_note'],
      // No "one of these groups" rule: its one key is required on its own.
      credential_rules: [],
      credential_schema: {
        apiUrl: {
          type: 'url',
          sensitive: false,
          destination: true,
          required: true,
          description: expect.any(String),
        },
        apiKey: {
          type: 'string',
          sensitive: true,
          destination: false,
          required: true,
          description: expect.any(String),
        },
        projectKey: {
          type: 'string',
          sensitive: false,
          destination: false,
          required: false,
          description: expect.any(String),
        },
      },
      is_configured: false,
      actions: [],
    })
  })

  it('creates it pending verification, with the secret masked, before calling the vendor', async () => {
    const before = tickets.requests.length
    const r = await h.json('POST', API, {
      token: t.orgAToken,
      body: ticketing('tk_live_first_8a7b6c', {
        metadata: { environment: 'production', account_label: 'Primary' },
      }),
    })
    expect(r.status).toBe(201)
    expect(r.body).toMatchObject({
      success: true,
      message: 'Integration configured successfully',
      meta: {},
      data: {
        provider: 'generic-ticketing',
        display_name: 'Ticketing endpoint',
        category: 'ticketing',
        status: 'pending_verify',
        is_default: true,
        enabled_capabilities: ['create_ticket', 'add_ticket_note'],
        credentials: { apiUrl: tickets.url('tickets.test', '/api'), apiKey: null, projectKey: 'OPS' },
        metadata: { environment: 'production', account_label: 'Primary' },
        verified_at: null,
        created_at: '2026-02-18T12:00:00.000Z',
      },
    })
    id = r.body.data.id
    expect(tickets.requests.length).toBe(before)
    const providers = await h.json('GET', `${API}/providers`, { token: t.orgAToken })
    expect(
      providers.body.data.find((p: { name: string }) => p.name === 'generic-ticketing').is_configured,
    ).toBe(true)
  })

  it('verifies in the background with a real authenticated call, then is active', async () => {
    h.clock.advance(2_000)
    const summary = await jobs.runDue()
    expect(summary.kinds).toContain('integration.verify')
    const call = tickets.requests.at(-1)
    expect(call).toMatchObject({ method: 'GET', path: '/api' })
    expect(call?.headers.authorization).toBe('Bearer tk_live_first_8a7b6c')
    const r = await h.json('GET', `${API}/${id}`, { token: t.orgAToken })
    expect(r.body.data).toMatchObject({ status: 'active', verified_at: '2026-02-18T12:00:02.000Z' })
    expect(r.body.data.metadata).toEqual({ environment: 'production', account_label: 'Primary' })
  })

  it('routes to it once a rule points at it', async () => {
    const rule = await h.json('POST', '/api/v1/routing-rules', {
      token: t.orgAToken,
      body: { capability: 'create_ticket', integration_id: id, is_default: true, priority: 100 },
    })
    expect(rule).toMatchObject({
      status: 201,
      body: { success: true, data: { integration_id: id, is_default: true } },
    })
    const e = await h.json('POST', '/api/v1/routing-rules/evaluate', {
      token: t.orgAToken,
      body: { capability: 'create_ticket' },
    })
    expect(e.body.data).toMatchObject({ integration: { id }, via: 'default_rule', error: null })
    expect(await auditActions(id)).toEqual(['integration.create', 'integration.verified'])
  })
})

describe('scenario 2: rotating credentials', () => {
  it('re-verifies the new credentials in place; the id and the rules pointing at it stay', async () => {
    const created = await h.json('POST', API, {
      token: t.partnerToken,
      body: { orgId: t.orgB.id, ...ticketing('tk_live_first_8a7b6c') },
    })
    const id = created.body.data.id
    h.clock.advance(1_000)
    await jobs.runDue()
    const rule = await h.json('POST', '/api/v1/routing-rules', {
      body: { orgId: t.orgB.id, capability: 'create_ticket', integration_id: id, is_default: true },
    })
    const stored = async () =>
      (await h.ctx.db.orm.select().from(integrations).where(eq(integrations.id, id)))[0]
    const sealedBefore = (await stored())?.credentials

    ticketKeys.add('tk_live_second_1f2e3d')
    h.clock.advance(60_000)
    const patched = await h.json('PATCH', `${API}/${id}`, {
      token: t.partnerToken,
      body: { credentials: { apiKey: 'tk_live_second_1f2e3d' }, metadata: { rotated_at: '2026-02-18' } },
    })
    expect(patched.status).toBe(200)
    expect(patched.body).toMatchObject({
      success: true,
      message: 'Integration updated successfully',
      data: { id, status: 'pending_verify', verified_at: null, metadata: { rotated_at: '2026-02-18' } },
    })
    expect((await stored())?.credentials).not.toBe(sealedBefore)

    h.clock.advance(1_000)
    await jobs.runDue()
    expect(tickets.requests.at(-1)?.headers.authorization).toBe('Bearer tk_live_second_1f2e3d')
    const after = await h.json('GET', `${API}/${id}`, { token: t.partnerToken })
    expect(after.body.data).toMatchObject({ id, status: 'active' })
    // Partial update: the fields not given were kept.
    const { credentials } = await loadCredentials(h.ctx, { kind: 'org', orgId: t.orgB.id }, id)
    expect(credentials).toEqual({
      apiUrl: tickets.url('tickets.test', '/api'),
      apiKey: 'tk_live_second_1f2e3d',
      projectKey: 'OPS',
    })
    const ruleNow = await h.json('GET', `/api/v1/routing-rules/${rule.body.data.id}`)
    expect(ruleNow.body.data.integration_id).toBe(id)

    // Sending the same credentials again changes nothing and verifies nothing.
    const calls = tickets.requests.length
    const same = await h.json('PATCH', `${API}/${id}`, {
      token: t.partnerToken,
      body: { credentials: { apiKey: 'tk_live_second_1f2e3d' } },
    })
    expect(same.body.data.status).toBe('active')
    await jobs.runDue()
    expect(tickets.requests.length).toBe(calls)
    expect(await auditActions(id)).toEqual([
      'integration.create',
      'integration.verified',
      'integration.update',
      'integration.verified',
    ])
  })
})

describe('rejected credentials', () => {
  it("end in error with the vendor's message in metadata, and a corrected key recovers", async () => {
    const created = await h.json('POST', API, {
      token: t.orgAToken,
      body: {
        provider: 'generic-monitoring',
        credentials: { endpoint: monitor.url('monitor.test', '/ingest'), apiKey: 'mon_live_typo_000000' },
        enabled_capabilities: ['forward_events'],
      },
    })
    const id = created.body.data.id
    const calls = monitor.requests.length
    const summary = await jobs.runDue()
    expect(summary).toMatchObject({ completed: 1, retrying: 0, failed: 0 })
    expect(monitor.requests.length).toBe(calls + 1)
    const r = await h.json('GET', `${API}/${id}`, { token: t.orgAToken })
    expect(r.body.data.status).toBe('error')
    expect(r.body.data.metadata).toEqual({
      last_error: 'Monitoring endpoint answered 401: Unauthorized: unknown API key',
      last_error_at: h.clock.now().toISOString(),
      last_error_source: 'verification',
    })
    const audit = await h.json(
      'GET',
      `/api/v1/audit-logs?targetId=${id}&action=integration.verification_failed`,
    )
    expect(audit.body.data[0].summary).toMatchObject({
      ok: false,
      statusBefore: 'pending_verify',
      statusAfter: 'error',
      httpStatus: 401,
      error: 'Monitoring endpoint answered 401: Unauthorized: unknown API key',
    })

    // Routing never selects it.
    await h.json('POST', '/api/v1/routing-rules', {
      token: t.orgAToken,
      body: { capability: 'forward_events', integration_id: id },
    })
    const e = await h.json('POST', '/api/v1/routing-rules/evaluate', {
      token: t.orgAToken,
      body: { capability: 'forward_events' },
    })
    expect(e.body.data).toMatchObject({ integration: null, error: 'no_active_provider' })
    expect(e.body.data.trace[0].reason).toContain('is error')

    const fixed = await h.json('PATCH', `${API}/${id}`, {
      token: t.orgAToken,
      body: { credentials: { apiKey: MONITOR_KEY } },
    })
    expect(fixed.body.data).toMatchObject({ status: 'pending_verify', metadata: {} })
    await jobs.runDue()
    const ok = await h.json('GET', `${API}/${id}`, { token: t.orgAToken })
    expect(ok.body.data).toMatchObject({ status: 'active', metadata: {} })
  })
})

describe('transient vendor failures', () => {
  it('stay pending_verify with the error noted, and are retried after Retry-After', async () => {
    const vendor = await startStandIn(() => ({
      status: 503,
      body: { message: 'Down for maintenance' },
      headers: { 'retry-after': '90' },
    }))
    try {
      const created = await h.json('POST', API, {
        body: {
          orgId: t.orgB.id,
          provider: 'generic-monitoring',
          credentials: { endpoint: vendor.url('flaky.test', '/ingest') },
          enabled_capabilities: ['forward_events'],
        },
      })
      const id = created.body.data.id
      expect(await jobs.runDue()).toMatchObject({ retrying: 1, completed: 0 })
      const pending = await h.json('GET', `${API}/${id}`)
      expect(pending.body.data.status).toBe('pending_verify')
      expect(pending.body.data.metadata.last_error).toBe(
        'Monitoring endpoint answered 503: Down for maintenance (will retry)',
      )
      h.clock.advance(89_000)
      expect((await jobs.runDue()).kinds).not.toContain('integration.verify')
      expect(vendor.requests).toHaveLength(1)
      vendor.respond(() => ({ status: 204 }))
      h.clock.advance(1_000)
      expect(await jobs.runDue()).toMatchObject({ completed: 1 })
      const active = await h.json('GET', `${API}/${id}`)
      expect(active.body.data).toMatchObject({ status: 'active', metadata: {} })
    } finally {
      await vendor.close()
    }
  })

  it('end in error after the last attempt', async () => {
    const vendor = await startStandIn(() => ({ status: 500, body: { message: 'Internal error' } }))
    try {
      const created = await h.json('POST', API, {
        body: {
          orgId: t.orgB.id,
          provider: 'generic-monitoring',
          name: 'always down',
          credentials: { endpoint: vendor.url('down.test', '/ingest') },
          enabled_capabilities: ['forward_events'],
        },
      })
      const id = created.body.data.id
      // 4 attempts, 30 s, 60 s and 120 s apart.
      for (const wait of [0, 30_000, 60_000, 120_000]) {
        h.clock.advance(wait)
        await jobs.runDue()
      }
      expect(vendor.requests).toHaveLength(4)
      const r = await h.json('GET', `${API}/${id}`)
      expect(r.body.data).toMatchObject({ status: 'error' })
      expect(r.body.data.metadata.last_error).toBe('Monitoring endpoint answered 500: Internal error')
      h.clock.advance(3_600_000)
      await jobs.runDue()
      expect(vendor.requests).toHaveLength(4)
    } finally {
      await vendor.close()
    }
  })
})

describe('a slow vendor', () => {
  it('does not hold up the verification of other integrations', async () => {
    const slow = await startStandIn(() => ({ status: 202 }))
    try {
      const org = (
        await h.json('POST', '/api/v1/orgs', { body: { name: 'Slow Co', partnerId: t.partner.id } })
      ).body
      const slowOne = await h.json('POST', API, {
        body: {
          orgId: org.id,
          provider: 'generic-monitoring',
          credentials: { endpoint: slow.url('slow.test', '/ingest') },
          enabled_capabilities: ['forward_events'],
        },
      })
      h.clock.advance(1)
      const fastOne = await h.json('POST', API, {
        body: { orgId: org.id, ...ticketing('tk_live_first_8a7b6c') },
      })
      const held = slow.hold()
      const fastDone = new Promise<void>((resolve) => {
        const off = jobs.runner.onSettled((job) => {
          if ((job.payload as { integrationId: string }).integrationId === fastOne.body.data.id) {
            off()
            resolve()
          }
        })
      })
      const run = jobs.runDue()
      await held.arrived
      await fastDone
      // The slow vendor has not answered yet; the fast one is already active.
      expect((await h.json('GET', `${API}/${fastOne.body.data.id}`)).body.data.status).toBe('active')
      expect((await h.json('GET', `${API}/${slowOne.body.data.id}`)).body.data.status).toBe('pending_verify')
      held.release({ status: 202 })
      await run
      expect((await h.json('GET', `${API}/${slowOne.body.data.id}`)).body.data.status).toBe('active')
    } finally {
      await slow.close()
    }
  })
})

describe('disable and activate', () => {
  it('disabling takes an integration out of routing; activating restores it without calling the vendor', async () => {
    const org = (await h.json('POST', '/api/v1/orgs', { body: { name: 'Toggle Co' } })).body
    const created = await h.json('POST', API, {
      body: { orgId: org.id, ...ticketing('tk_live_first_8a7b6c') },
    })
    const id = created.body.data.id
    h.clock.advance(1_000)
    await jobs.runDue()
    await h.json('POST', '/api/v1/routing-rules', {
      body: { orgId: org.id, capability: 'create_ticket', integration_id: id, is_default: true },
    })
    h.clock.advance(1_000)
    const disabled = await h.json('POST', `${API}/${id}/disable`)
    expect(disabled).toMatchObject({
      status: 200,
      body: { success: true, message: 'Integration disabled successfully', data: { id, status: 'inactive' } },
    })
    const none = await h.json('POST', '/api/v1/routing-rules/evaluate', {
      body: { orgId: org.id, capability: 'create_ticket' },
    })
    expect(none.body.data.integration).toBeNull()

    const calls = tickets.requests.length
    h.clock.advance(1_000)
    const activated = await h.json('POST', `${API}/${id}/activate`)
    expect(activated.body).toMatchObject({
      message: 'Integration activated successfully',
      data: { status: 'active' },
    })
    await jobs.runDue()
    expect(tickets.requests.length).toBe(calls)
    const back = await h.json('POST', '/api/v1/routing-rules/evaluate', {
      body: { orgId: org.id, capability: 'create_ticket' },
    })
    expect(back.body.data.integration.id).toBe(id)
    expect(await auditActions(id)).toEqual([
      'integration.create',
      'integration.verified',
      'integration.disable',
      'integration.activate',
    ])
  })

  it('activating an integration in error verifies it again', async () => {
    const org = (await h.json('POST', '/api/v1/orgs', { body: { name: 'Error Co' } })).body
    const created = await h.json('POST', API, {
      body: { orgId: org.id, ...ticketing('tk_live_unknown_000') },
    })
    const id = created.body.data.id
    await jobs.runDue()
    expect((await h.json('GET', `${API}/${id}`)).body.data.status).toBe('error')
    ticketKeys.add('tk_live_unknown_000')
    const activated = await h.json('POST', `${API}/${id}/activate`)
    expect(activated.body.data.status).toBe('pending_verify')
    await jobs.runDue()
    expect((await h.json('GET', `${API}/${id}`)).body.data.status).toBe('active')
  })
})

describe('deleting', () => {
  it('is soft, erases the credentials, and says which routing rules lost their target', async () => {
    const org = (await h.json('POST', '/api/v1/orgs', { body: { name: 'Delete Co' } })).body
    const a = (await h.json('POST', API, { body: { orgId: org.id, ...ticketing('tk_live_first_8a7b6c') } }))
      .body.data
    const b = (
      await h.json('POST', API, {
        body: { orgId: org.id, ...ticketing('tk_live_first_8a7b6c', { name: 'Backup' }) },
      })
    ).body.data
    await jobs.runDue()
    const primary = await h.json('POST', '/api/v1/routing-rules', {
      body: {
        orgId: org.id,
        capability: 'create_ticket',
        integration_id: a.id,
        fallback_integration_id: b.id,
      },
    })
    h.clock.advance(1000)
    const backupRule = await h.json('POST', '/api/v1/routing-rules', {
      body: { orgId: org.id, capability: 'add_ticket_note', integration_id: b.id },
    })
    const deleted = await h.json('DELETE', `${API}/${b.id}`)
    expect(deleted.status).toBe(200)
    expect(deleted.body.success).toBe(true)
    expect(deleted.body.message).toContain('Integration deleted successfully')
    expect(deleted.body.data.affected_routing_rules).toEqual([
      { id: primary.body.data.id, capability: 'create_ticket', role: 'fallback' },
      { id: backupRule.body.data.id, capability: 'add_ticket_note', role: 'integration' },
    ])
    expect((await h.json('GET', `${API}/${b.id}`)).status).toBe(404)
    const list = await h.json('GET', `${API}?orgId=${org.id}`)
    expect(list.body.data.map((i: { id: string }) => i.id)).toEqual([a.id])
    const [row] = await h.ctx.db.orm.select().from(integrations).where(eq(integrations.id, b.id))
    expect(row?.deletedAt).not.toBeNull()
    expect(row?.credentials).toBeNull()
    const e = await h.json('POST', '/api/v1/routing-rules/evaluate', {
      body: { orgId: org.id, capability: 'add_ticket_note' },
    })
    expect(e.body.data.integration).toBeNull()
    expect(e.body.data.trace[0].reason).toContain('was deleted')
    // A new instance may take the deleted one's name.
    const again = await h.json('POST', API, {
      body: { orgId: org.id, ...ticketing('tk_live_first_8a7b6c', { name: 'Backup' }) },
    })
    expect(again.status).toBe(201)
  })
})

describe('key rotation', () => {
  it('re-encrypts integration credentials; they still open under the new key alone', async () => {
    const org = (await h.json('POST', '/api/v1/orgs', { body: { name: 'Rotate Co' } })).body
    const created = await h.json('POST', API, {
      body: { orgId: org.id, ...ticketing('tk_live_first_8a7b6c') },
    })
    const id = created.body.data.id
    const next = generateKeyRing('next')
    const both = new Vault({ activeId: 'next', keys: new Map([...next.keys, ...h.ctx.vault.ring.keys]) })
    const result = await rotateKeys(h.ctx.db.orm, both, SEALED_COLUMNS)
    expect(result.rotated).toBeGreaterThan(0)
    const [row] = await h.ctx.db.orm.select().from(integrations).where(eq(integrations.id, id))
    expect(keyIdOf(row?.credentials ?? '')).toBe('next')
    const onlyNext = { ...h.ctx, vault: new Vault(next) }
    const { credentials } = await loadCredentials(onlyNext, { kind: 'org', orgId: org.id }, id)
    expect(credentials.apiKey).toBe('tk_live_first_8a7b6c')
    // Back under the harness's key, so nothing after this test depends on its order.
    const back = new Vault({ activeId: h.ctx.vault.ring.activeId, keys: both.ring.keys })
    await rotateKeys(h.ctx.db.orm, back, SEALED_COLUMNS)
  })
})
