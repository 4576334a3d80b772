import { beforeAll, describe, expect, it } from 'vitest'
import { RECONCILE_AFTER_MS, reconcileActions } from '../src/actions/service.ts'
import { createDattoRmm } from '../src/connectors/datto-rmm/index.ts'
import { allConnectors, createRegistry } from '../src/connectors/registry.ts'
import { DeliveryWorker } from '../src/delivery/worker.ts'
import { JobService } from '../src/jobs/service.ts'
import { fanouts, transports, WIRED_JOBS } from '../src/wiring.ts'
import { actionsFixture, type Tenants } from './actions-fixture.ts'
import type { Harness } from './harness.ts'
import { DattoRmmStandIn } from './standins/datto-rmm.ts'
import { Receiver } from './standins/receiver.ts'

/**
 * Actions and approvals on a running app, against the Datto RMM stand-in: input validated, an action needing
 * approval never sent before a second key approves it and sent once after (also when the worker dies
 * mid-attempt), never when rejected or expired, the requester's key refused, the partner rule, a vendor refusal
 * failed with the vendor's words and retried by hand, Retry-After honoured, events and audit.
 */
let rmm: DattoRmmStandIn
const fx = actionsFixture('datto-rmm', {
  // The Datto RMM connector, pointed at the stand-in's platform (read when a request is made, after it starts).
  connectors: () =>
    createRegistry([
      ...allConnectors().filter((c) => c.descriptor.id !== 'datto-rmm'),
      createDattoRmm({ platformUrl: (p) => rmm.platformUrl(p) }),
    ]),
  standIn: () => new DattoRmmStandIn({ platform: 'merlot' }).start(),
  credentials: (s) => s.credentials,
  approverName: 'org a second',
})
let h: Harness
let t: Tenants
let secondOrgKey: string
let integrationId: string
beforeAll(() => {
  h = fx.h
  t = fx.t
  rmm = fx.standIn
  secondOrgKey = fx.approverKey
  integrationId = fx.integrationId
})

const quickJob = (deviceUid = 'dev-0001') => ({
  action: 'run_quick_job',
  input: {
    deviceUid,
    jobName: 'Clear temp',
    componentUid: 'comp-clear-temp',
    variables: [{ name: 'olderThanDays', value: '7' }],
  },
})

const quickJobs = () => rmm.requests.filter((r) => r.method === 'PUT' && r.path.endsWith('/quickjob'))

async function request(body: unknown, token = t.orgAToken) {
  return h.json('POST', `/api/v1/integrations/${integrationId}/actions`, { token, body })
}

async function eventsOf(actionId: string) {
  const rows = await h.ctx.db.query<{ type: string }>(
    // One test clock time for all of them: ordered by the lifecycle instead.
    `SELECT type FROM events WHERE data->>'actionId' = $1
     ORDER BY created_at, array_position(ARRAY['action.requested', 'action.approved', 'action.rejected',
       'action.expired', 'action.completed', 'action.failed'], type)`,
    [actionId],
  )
  return rows.map((r) => r.type)
}

async function auditOf(actionId: string) {
  const rows = await h.ctx.db.query<{ action: string }>(
    `SELECT action FROM audit_logs WHERE target_type = 'action' AND target_id = $1
     ORDER BY created_at, array_position(ARRAY['action.request', 'action.approve', 'action.reject',
       'action.expire', 'action.retry', 'action.complete', 'action.fail'], action)`,
    [actionId],
  )
  return rows.map((r) => r.action)
}

describe('declared actions', () => {
  it('lists each provider’s actions with the input as JSON Schema', async () => {
    const r = await h.json('GET', `/api/v1/integrations/providers?orgId=${t.orgA.id}`)
    expect(r.status).toBe(200)
    const rmmProvider = r.body.data.find((p: { name: string }) => p.name === 'datto-rmm')
    const job = rmmProvider.actions.find((a: { name: string }) => a.name === 'run_quick_job')
    expect(job.needs_approval).toBe(true)
    expect(job.input_schema.type).toBe('object')
    expect(job.input_schema.required).toEqual(expect.arrayContaining(['deviceUid', 'componentUid']))
    expect(rmmProvider.actions.find((a: { name: string }) => a.name === 'resolve_alert').needs_approval).toBe(
      false,
    )
    expect(r.body.data.find((p: { name: string }) => p.name === 'itglue').actions).toEqual([])
  })

  it('lists the issue’s actions for every vendor, with approval, preview and how each is sent once', async () => {
    const r = await h.json('GET', `/api/v1/integrations/providers?orgId=${t.orgA.id}`)
    type Declared = {
      name: string
      description: string
      needs_approval: boolean
      has_preview: boolean
      idempotency: string
      input_schema: { type: string; properties: Record<string, unknown> }
    }
    const of = (provider: string) =>
      Object.fromEntries(
        (r.body.data.find((p: { name: string }) => p.name === provider).actions as Declared[]).map((a) => [
          a.name,
          [a.needs_approval, a.has_preview],
        ]),
      )
    // [needs approval, has a preview]
    expect(of('datto-rmm')).toEqual({ run_quick_job: [true, false], resolve_alert: [false, false] })
    expect(of('datto-edr')).toEqual({ isolate_host: [true, true], restore_host: [true, true] })
    expect(of('pax8')).toEqual({
      place_order: [true, true],
      change_subscription_quantity: [true, false],
      cancel_subscription: [true, false],
    })
    expect(of('unifi')).toEqual({
      restart_device: [true, false],
      power_cycle_port: [true, false],
      create_firewall_policy: [true, true],
      update_firewall_policy: [true, true],
      delete_firewall_policy: [true, true],
    })
    expect(of('microsoft365')).toEqual({
      create_user: [true, true],
      disable_user: [true, true],
      assign_licenses: [true, true],
    })
    expect(of('autotask')).toEqual({
      add_time_entry: [false, false],
      add_note: [false, false],
      update_ticket_status: [false, false],
    })
    expect(of('itglue')).toEqual({})
    for (const p of r.body.data as { name: string; actions: Declared[] }[])
      for (const a of p.actions) {
        expect(a.description.length, `${p.name} ${a.name}`).toBeGreaterThan(0)
        expect(a.idempotency.length, `${p.name} ${a.name}`).toBeGreaterThan(0)
        expect(a.input_schema.type, `${p.name} ${a.name}`).toBe('object')
        expect(Object.keys(a.input_schema.properties).length, `${p.name} ${a.name}`).toBeGreaterThan(0)
      }
  })

  it('refuses bad input with 422 naming the fields, and an unknown action', async () => {
    const bad = await request({ action: 'run_quick_job', input: { deviceUid: 'dev 1', extra: 1 } })
    expect(bad.status).toBe(422)
    const paths = bad.body.details.map((d: { path: string }) => d.path)
    expect(paths).toEqual(expect.arrayContaining(['input.deviceUid', 'input.componentUid', 'input.extra']))
    const unknown = await request({ action: 'reboot_everything', input: {} })
    expect(unknown.status).toBe(422)
    expect(unknown.body.details[0].path).toBe('action')
    expect(unknown.body.error).toContain('run_quick_job')
    const rows = await h.ctx.db.query(`SELECT 1 FROM actions WHERE action = 'reboot_everything'`)
    expect(rows).toHaveLength(0)
  })
})

describe('approval', () => {
  it('waits for a second key, then sends exactly once as the vendor documents it', async () => {
    const before = quickJobs().length
    const r = await request(quickJob())
    expect(r.status).toBe(202)
    expect(r.body.status).toBe('pending_approval')
    expect(r.body.expiresAt).toBe('2026-02-19T12:00:00.000Z')
    const id = r.body.id

    await h.worker.drain()
    expect(quickJobs()).toHaveLength(before)

    const own = await h.json('POST', `/api/v1/actions/${id}/approve`, { token: t.orgAToken })
    expect(own.status).toBe(403)
    expect(own.body.error).toContain('requested')
    await h.worker.drain()
    expect(quickJobs()).toHaveLength(before)

    const ok = await h.json('POST', `/api/v1/actions/${id}/approve`, { token: secondOrgKey })
    expect(ok.status).toBe(202)
    expect(ok.body.status).toBe('queued')
    expect(ok.body.approvedBy).not.toBeNull()

    await h.worker.drain()
    await h.worker.drain()
    const sent = quickJobs().slice(before)
    expect(sent).toHaveLength(1)
    expect(sent[0]?.path).toBe('/api/v2/device/dev-0001/quickjob')
    expect(sent[0]?.headers.authorization).toMatch(/^Bearer rmm-token-/)
    expect(sent[0]?.body).toEqual({
      jobName: `Clear temp [patchbay:${id}]`,
      jobComponent: { componentUid: 'comp-clear-temp', variables: [{ name: 'olderThanDays', value: '7' }] },
    })

    const got = await h.json('GET', `/api/v1/actions/${id}`, { token: t.orgAToken })
    expect(got.body.status).toBe('completed')
    expect(got.body.result.vendorRef).toMatch(/^job-/)
    expect(got.body.attempts).toHaveLength(1)
    expect(got.body.attempts[0]).toMatchObject({ outcome: 'completed', vendorStatus: 200 })
    expect(got.body.attempts[0].vendorBody).toContain('"status":"active"')

    expect(got.body.approvedBy).toBe(ok.body.approvedBy)
    expect(got.body.approvedBy).not.toBe(got.body.requestedBy)
    expect(got.body.approvedAt).toBe(h.clock.now().toISOString())
    const again = await h.json('POST', `/api/v1/actions/${id}/approve`, { token: t.partnerToken })
    expect(again.status).toBe(409)
    expect(await eventsOf(id)).toEqual(['action.requested', 'action.approved', 'action.completed'])
    expect(await auditOf(id)).toEqual(['action.request', 'action.approve', 'action.complete'])
  })

  it('refuses a key of its scope the requester made, or one made from it: one holder would approve their own request', async () => {
    const mint = async (token: string, name: string, scope = 'organization') => {
      const k = await h.json('POST', '/api/v1/api-keys', {
        token,
        body: scope === 'partner' ? { name, scope } : { name, scope, orgId: t.orgA.id },
      })
      expect(k.status, JSON.stringify(k.body)).toBe(201)
      return k.body.token as string
    }
    const child = await mint(t.orgAToken, 'made by the requester')
    const grandchild = await mint(child, 'made by that one')
    const before = quickJobs().length
    const r = await request(quickJob())
    for (const token of [child, grandchild]) {
      const refused = await h.json('POST', `/api/v1/actions/${r.body.id}/approve`, { token })
      expect(refused.status).toBe(403)
      expect(refused.body.error).toContain('made by the API key that requested')
    }
    await h.worker.drain()
    expect(quickJobs()).toHaveLength(before)
    // The requester's own maker (here the system key that made it) is another pair of eyes.
    const ok = await h.json('POST', `/api/v1/actions/${r.body.id}/approve`)
    expect(ok.status).toBe(202)
    await h.worker.drain()
    expect(quickJobs()).toHaveLength(before + 1)

    // A partner's request: a partner key it made is refused; its customer's key, which it made too, may approve.
    const colleague = await mint(t.partnerToken, 'partner key made by the partner', 'partner')
    const customer = await mint(t.partnerToken, 'customer key made by the partner')
    const byPartner = await request(quickJob(), t.partnerToken)
    expect(byPartner.status).toBe(202)
    const sameScope = await h.json('POST', `/api/v1/actions/${byPartner.body.id}/approve`, {
      token: colleague,
    })
    expect(sameScope.status).toBe(403)
    const narrower = await h.json('POST', `/api/v1/actions/${byPartner.body.id}/approve`, { token: customer })
    expect(narrower.status).toBe(202)
    await h.worker.drain()
    expect(quickJobs()).toHaveLength(before + 2)
  })

  it('never sends a rejected action', async () => {
    const before = quickJobs().length
    const r = await request(quickJob())
    const rej = await h.json('POST', `/api/v1/actions/${r.body.id}/reject`, {
      token: secondOrgKey,
      body: { reason: 'Not during business hours' },
    })
    expect(rej.status).toBe(200)
    expect(rej.body).toMatchObject({ status: 'rejected', rejectReason: 'Not during business hours' })
    const late = await h.json('POST', `/api/v1/actions/${r.body.id}/approve`, { token: secondOrgKey })
    expect(late.status).toBe(409)
    await h.worker.drain()
    expect(quickJobs()).toHaveLength(before)
    expect(await eventsOf(r.body.id)).toEqual(['action.requested', 'action.rejected'])
    expect(await auditOf(r.body.id)).toEqual(['action.request', 'action.reject'])
    const noReason = await h.json('POST', `/api/v1/actions/${r.body.id}/reject`, {
      token: secondOrgKey,
      body: {},
    })
    expect(noReason.status).toBe(422)
  })

  it('never sends an expired action: refused at approval, and swept by the job', async () => {
    const before = quickJobs().length
    const a = await request(quickJob())
    const b = await request(quickJob())
    h.clock.advance(24 * 3_600_000 + 1)
    const late = await h.json('POST', `/api/v1/actions/${a.body.id}/approve`, { token: secondOrgKey })
    expect(late.status).toBe(409)
    expect(late.body.error).toContain('expired')
    expect((await h.json('GET', `/api/v1/actions/${a.body.id}`)).body.status).toBe('expired')
    const { expireActions } = await import('../src/actions/service.ts')
    expect(await expireActions(h.ctx)).toBe(1)
    expect((await h.json('GET', `/api/v1/actions/${b.body.id}`)).body.status).toBe('expired')
    await h.worker.drain()
    expect(quickJobs()).toHaveLength(before)
    expect(await auditOf(a.body.id)).toEqual(['action.request', 'action.expire'])
    // Both lapsed approvals are announced, whether the late approval or the sweep found them, once each.
    expect(await eventsOf(a.body.id)).toEqual(['action.requested', 'action.expired'])
    expect(await eventsOf(b.body.id)).toEqual(['action.requested', 'action.expired'])
    expect(await expireActions(h.ctx)).toBe(0)
    expect(await eventsOf(b.body.id)).toEqual(['action.requested', 'action.expired'])
  })

  it('lets an organization require a partner or system key to approve', async () => {
    const set = await h.json('PUT', '/api/v1/actions/settings', {
      token: t.partnerToken,
      body: { orgId: t.orgA.id, approverScope: 'partner' },
    })
    expect(set.status).toBe(200)
    const byOrg = await h.json('PUT', '/api/v1/actions/settings', {
      token: t.orgAToken,
      body: { approverScope: 'any' },
    })
    expect(byOrg.status).toBe(403)
    const r = await request(quickJob())
    const refused = await h.json('POST', `/api/v1/actions/${r.body.id}/approve`, { token: secondOrgKey })
    expect(refused.status).toBe(403)
    const other = await h.json('POST', `/api/v1/actions/${r.body.id}/approve`, { token: t.otherPartnerToken })
    expect(other.status).toBe(404)
    const ok = await h.json('POST', `/api/v1/actions/${r.body.id}/approve`, { token: t.partnerToken })
    expect(ok.status).toBe(202)
    await h.worker.drain()
    expect((await h.json('GET', `/api/v1/actions/${r.body.id}`)).body.status).toBe('completed')
    await h.json('PUT', '/api/v1/actions/settings', {
      token: t.partnerToken,
      body: { orgId: t.orgA.id, approverScope: 'any' },
    })
  })
})

describe('execution', () => {
  it('runs an action needing no approval at once', async () => {
    const r = await request({ action: 'resolve_alert', input: { alertUid: 'alert-open-1' } })
    expect(r.status).toBe(202)
    expect(r.body.status).toBe('queued')
    await h.worker.drain()
    const resolves = rmm.requests.filter((q) => q.method === 'POST' && q.path.endsWith('/resolve'))
    expect(resolves.map((q) => q.path)).toEqual(['/api/v2/alert/alert-open-1/resolve'])
    expect(rmm.alerts.find((a) => a.alertUid === 'alert-open-1')?.resolved).toBe(true)
    expect((await h.json('GET', `/api/v1/actions/${r.body.id}`)).body.status).toBe('completed')
  })

  it('fails a vendor refusal with the vendor’s words, and retries it by hand', async () => {
    const jobsBefore = rmm.jobs.length
    const r = await request({ action: 'resolve_alert', input: { alertUid: 'alert-missing' } })
    await h.worker.drain()
    const failed = await h.json('GET', `/api/v1/actions/${r.body.id}`)
    expect(failed.body.status).toBe('failed')
    expect(failed.body.error).toContain('Not Found')
    expect(failed.body.attempts[0]).toMatchObject({ outcome: 'failed', vendorStatus: 404 })
    expect(await eventsOf(r.body.id)).toEqual(['action.requested', 'action.failed'])

    // The alert turns up at the vendor; a retry by hand sends it again.
    rmm.alerts.push({
      ...(rmm.alerts[0] as (typeof rmm.alerts)[number]),
      alertUid: 'alert-missing',
      resolved: false,
    })
    const retry = await h.json('POST', `/api/v1/actions/${r.body.id}/retry`)
    expect(retry.status).toBe(202)
    await h.worker.drain()
    const done = await h.json('GET', `/api/v1/actions/${r.body.id}`)
    expect(done.body.status).toBe('completed')
    expect(done.body.attempts.map((a: { outcome: string }) => a.outcome)).toEqual(['failed', 'completed'])
    expect(rmm.jobs.length).toBe(jobsBefore)
    const twice = await h.json('POST', `/api/v1/actions/${r.body.id}/retry`)
    expect(twice.status).toBe(409)
    expect((await auditOf(r.body.id)).sort()).toEqual(
      ['action.request', 'action.fail', 'action.retry', 'action.complete'].sort(),
    )
    expect((await eventsOf(r.body.id)).sort()).toEqual(
      ['action.requested', 'action.failed', 'action.completed'].sort(),
    )
  })

  it('honours Retry-After', async () => {
    const r = await request(quickJob('dev-0002'))
    await h.json('POST', `/api/v1/actions/${r.body.id}/approve`, { token: secondOrgKey })
    rmm.failNext(429, { retryAfter: 120, path: /quickjob/ })
    const before = quickJobs().length
    await h.worker.drain()
    expect(quickJobs()).toHaveLength(before + 1)
    expect((await h.json('GET', `/api/v1/actions/${r.body.id}`)).body.status).toBe('running')
    h.clock.advance(60_000)
    await h.worker.drain()
    expect(quickJobs()).toHaveLength(before + 1)
    h.clock.advance(61_000)
    await h.worker.drain()
    expect(quickJobs()).toHaveLength(before + 2)
    const done = await h.json('GET', `/api/v1/actions/${r.body.id}`)
    expect(done.body.status).toBe('completed')
    expect(done.body.attempts.map((a: { vendorStatus: number }) => a.vendorStatus)).toEqual([429, 200])
  })

  it('resolves an alert once when Datto’s answer is lost: the retry reads the alert first', async () => {
    rmm.alerts.push({
      ...(rmm.alerts[0] as (typeof rmm.alerts)[number]),
      alertUid: 'alert-open-3',
      resolved: false,
    })
    const resolves = () => rmm.requests.filter((q) => q.method === 'POST' && q.path.endsWith('/resolve'))
    const r = await request({ action: 'resolve_alert', input: { alertUid: 'alert-open-3' } })
    rmm.dropNextAnswer({ method: 'POST', path: /\/resolve$/ })
    const before = resolves().length
    await h.worker.drain()
    expect(rmm.alerts.find((a) => a.alertUid === 'alert-open-3')?.resolved).toBe(true)
    expect((await h.json('GET', `/api/v1/actions/${r.body.id}`)).body.status).toBe('running')
    h.clock.advance(600_000)
    await h.worker.drain()
    expect(resolves()).toHaveLength(before + 1)
    const read = rmm.requests.filter((q) => q.method === 'GET' && q.path === '/api/v2/alert/alert-open-3')
    expect(read).toHaveLength(1)
    const done = (await h.json('GET', `/api/v1/actions/${r.body.id}`)).body
    expect(done.status).toBe('completed')
    expect(done.result.body).toBe('The alert was already resolved')
  })

  it('sends once when the worker dies mid-attempt: the retry finds the job instead of creating another', async () => {
    const r = await request(quickJob('dev-0003'))
    await h.json('POST', `/api/v1/actions/${r.body.id}/approve`, { token: secondOrgKey })
    const jobsBefore = rmm.jobs.length
    rmm.quickJobDelayMs = 400
    const doomed = new DeliveryWorker(h.ctx, transports(h.ctx), { leaseMs: 1000 })
    const abandoned = doomed.drain()
    const deadline = Date.now() + 10_000
    while (rmm.jobs.length === jobsBefore && Date.now() < deadline)
      await new Promise((ok) => setTimeout(ok, 5))
    expect(rmm.jobs.length).toBe(jobsBefore + 1)
    // The first worker is gone as far as the database knows: its lease runs out and another worker takes over.
    h.clock.advance(1001)
    await h.worker.drain()
    rmm.quickJobDelayMs = 0
    await abandoned
    expect(rmm.jobs.length).toBe(jobsBefore + 1)
    const got = await h.json('GET', `/api/v1/actions/${r.body.id}`)
    expect(got.body.status).toBe('completed')
    expect(got.body.attempts).toHaveLength(2)
    const lookups = rmm.requests.filter((q) => q.path === '/api/v2/activity-logs')
    expect(lookups.at(-1)?.query.get('searchQuery')).toBe(`"[patchbay:${r.body.id}]"`)
  })
})

describe('events', () => {
  it('are in the catalog, and a webhook subscribed to action.* carries each change with its data', async () => {
    const types = await h.json('GET', '/api/v1/event-types', { token: t.orgAToken })
    expect(types.status).toBe(200)
    const listed = types.body.data.map((e: { type: string }) => e.type)
    expect(listed).toEqual(
      expect.arrayContaining([
        'action.requested',
        'action.approved',
        'action.rejected',
        'action.completed',
        'action.failed',
        'action.expired',
      ]),
    )
    const receiver = await new Receiver().start()
    try {
      const hook = await h.json('POST', '/api/v1/webhooks', {
        token: t.orgAToken,
        body: {
          name: 'approvals in chat',
          url: receiver.url('/actions'),
          secret: 'action-events-signing-secret',
          events: ['action.*'],
        },
      })
      expect(hook.status, JSON.stringify(hook.body)).toBe(201)
      const asked = await request(quickJob('dev-0001'))
      const refused = await request(quickJob('dev-0002'))
      const failing = await request({ action: 'resolve_alert', input: { alertUid: 'alert-nowhere' } })
      const lapsing = await request(quickJob('dev-0003'))
      await h.worker.drain()
      await h.json('POST', `/api/v1/actions/${refused.body.id}/reject`, {
        token: secondOrgKey,
        body: { reason: 'Wrong device' },
      })
      await h.json('POST', `/api/v1/actions/${asked.body.id}/approve`, { token: secondOrgKey })
      await h.worker.drain()
      h.clock.advance(24 * 3_600_000 + 1)
      const { expireActions } = await import('../src/actions/service.ts')
      expect(await expireActions(h.ctx)).toBeGreaterThanOrEqual(1)
      await h.worker.drain()
      await h.worker.drain()
      const got = receiver.received.map(
        (r) => JSON.parse(r.body) as { type: string; data: Record<string, unknown> },
      )
      const of = (id: string) => got.filter((e) => e.data.actionId === id).map((e) => e.type)
      expect(of(asked.body.id).sort()).toEqual(['action.approved', 'action.completed', 'action.requested'])
      expect(of(refused.body.id).sort()).toEqual(['action.rejected', 'action.requested'])
      expect(of(failing.body.id).sort()).toEqual(['action.failed', 'action.requested'])
      expect(of(lapsing.body.id).sort()).toEqual(['action.expired', 'action.requested'])
      expect(got.find((e) => e.type === 'action.expired')?.data).toMatchObject({
        actionId: lapsing.body.id,
        action: 'run_quick_job',
        status: 'expired',
      })
      const requested = got.find((e) => e.type === 'action.requested' && e.data.actionId === asked.body.id)
      expect(requested?.data).toMatchObject({
        action: 'run_quick_job',
        status: 'pending_approval',
        needsApproval: true,
        expiresAt: asked.body.expiresAt,
        input: { deviceUid: 'dev-0001', componentUid: 'comp-clear-temp' },
      })
      const rejected = got.find((e) => e.type === 'action.rejected')
      expect(rejected?.data.reason).toBe('Wrong device')
      expect(got.find((e) => e.type === 'action.failed')?.data.error).toContain('Not Found')
      expect(
        (await h.json('DELETE', `/api/v1/webhooks/${hook.body.id}`, { token: t.orgAToken })).status,
      ).toBe(200)
    } finally {
      await receiver.stop()
    }
  })
})

describe('the reconciling sweep', () => {
  it('settles an action left running after its delivery finished, once, with the usual event and audit', async () => {
    const ok = await request({ action: 'resolve_alert', input: { alertUid: 'alert-open-2' } })
    const bad = await request({ action: 'resolve_alert', input: { alertUid: 'alert-gone' } })
    expect([ok.status, bad.status]).toEqual([202, 202])
    // A worker that died between recording each delivery's final outcome (and taking it off the queue) and
    // updating the action: the vendor's answer is on the action, which is still `running`, without its event.
    const at = h.clock.now()
    await h.ctx.db.query(
      `UPDATE actions SET status = 'running', result_status = 200, result_body = '{}', updated_at = $2
       WHERE id = $1`,
      [ok.body.id, at],
    )
    await h.ctx.db.query(`UPDATE actions SET status = 'running', updated_at = $2 WHERE id = $1`, [
      bad.body.id,
      at,
    ])
    await h.ctx.db.query(
      `UPDATE deliveries SET status = 'delivered', attempts = 1, response_status = 200, delivered_at = $2,
         updated_at = $2
       WHERE id = (SELECT delivery_id FROM actions WHERE id = $1)`,
      [ok.body.id, at],
    )
    await h.ctx.db.query(
      `UPDATE deliveries SET status = 'failed', attempts = 1, response_status = 404,
         error_message = 'Datto RMM answered 404: alert not found', updated_at = $2
       WHERE id = (SELECT delivery_id FROM actions WHERE id = $1)`,
      [bad.body.id, at],
    )
    await h.ctx.db.query(
      'DELETE FROM delivery_queue WHERE id IN (SELECT delivery_id FROM actions WHERE id = ANY($1))',
      [[ok.body.id, bad.body.id]],
    )
    const status = async (id: string) => (await h.json('GET', `/api/v1/actions/${id}`)).body
    const jobs = new JobService(h.ctx, WIRED_JOBS)
    // Within the grace the worker that finished a delivery would settle its action itself: the sweep leaves it.
    h.clock.advance(60_000)
    await jobs.runDue()
    expect((await status(ok.body.id)).status).toBe('running')
    expect(await eventsOf(ok.body.id)).toEqual(['action.requested'])

    h.clock.advance(RECONCILE_AFTER_MS)
    await jobs.runDue()
    const done = await status(ok.body.id)
    expect(done.status).toBe('completed')
    expect(done.completedAt).toBe(h.clock.now().toISOString())
    expect(await eventsOf(ok.body.id)).toEqual(['action.requested', 'action.completed'])
    expect(await auditOf(ok.body.id)).toEqual(['action.request', 'action.complete'])
    const failed = await status(bad.body.id)
    expect(failed.status).toBe('failed')
    expect(failed.error).toBe('Datto RMM answered 404: alert not found')
    expect(await eventsOf(bad.body.id)).toEqual(['action.requested', 'action.failed'])
    expect(await auditOf(bad.body.id)).toEqual(['action.request', 'action.fail'])

    // Exactly once: later sweeps (and a direct one) find nothing left to settle.
    h.clock.advance(60_000)
    await jobs.runDue()
    expect(await reconcileActions(h.ctx, fanouts(h.ctx))).toBe(0)
    expect(await eventsOf(ok.body.id)).toEqual(['action.requested', 'action.completed'])
    expect(await auditOf(ok.body.id)).toEqual(['action.request', 'action.complete'])
    expect(await eventsOf(bad.body.id)).toEqual(['action.requested', 'action.failed'])
    expect(await auditOf(bad.body.id)).toEqual(['action.request', 'action.fail'])
  })
})

describe('listing', () => {
  it('filters by status, integration, action, requester and time, with cursor paging', async () => {
    const completed = await h.json('GET', '/api/v1/actions?status=completed&limit=2', { token: t.orgAToken })
    expect(completed.status).toBe(200)
    expect(completed.body.data).toHaveLength(2)
    expect(completed.body.data.every((a: { status: string }) => a.status === 'completed')).toBe(true)
    const next = await h.json(
      'GET',
      `/api/v1/actions?status=completed&limit=2&cursor=${completed.body.next}`,
      {
        token: t.orgAToken,
      },
    )
    expect(next.body.data.length).toBeGreaterThan(0)
    const seen = new Set(completed.body.data.map((a: { id: string }) => a.id))
    expect(next.body.data.some((a: { id: string }) => seen.has(a.id))).toBe(false)
    const resolves = await h.json('GET', '/api/v1/actions?action=resolve_alert', { token: t.orgAToken })
    expect(resolves.body.data.length).toBeGreaterThan(0)
    expect(resolves.body.data.every((a: { action: string }) => a.action === 'resolve_alert')).toBe(true)

    type Listed = { id: string; integrationId: string; requestedBy: string; createdAt: string }
    const list = async (query: string, token = t.orgAToken): Promise<Listed[]> => {
      const r = await h.json('GET', `/api/v1/actions?limit=100&${query}`, { token })
      expect(r.status, JSON.stringify(r.body)).toBe(200)
      return r.body.data
    }
    // One action asked by the second key, on a second integration of the same organization.
    const second = await h.json('POST', '/api/v1/integrations', {
      token: t.orgAToken,
      body: {
        provider: 'datto-rmm',
        name: 'second rmm',
        credentials: rmm.credentials,
        enabled_capabilities: ['read_resources'],
      },
    })
    expect(second.status, JSON.stringify(second.body)).toBe(201)
    h.clock.advance(60_000)
    const byOther = await h.json('POST', `/api/v1/integrations/${second.body.data.id}/actions`, {
      token: secondOrgKey,
      body: { action: 'resolve_alert', input: { alertUid: 'alert-resolved-1' } },
    })
    expect(byOther.status).toBe(202)
    const all = await list('')
    expect(all.map((a) => a.id)).toContain(byOther.body.id)

    const onSecond = await list(`integrationId=${second.body.data.id}`)
    expect(onSecond.map((a) => a.id)).toEqual([byOther.body.id])
    const onFirst = await list(`integrationId=${integrationId}`)
    expect(onFirst.length).toBe(all.length - 1)
    expect(onFirst.every((a) => a.integrationId === integrationId)).toBe(true)

    const requester = byOther.body.requestedBy as string
    expect((await list(`requester=${requester}`)).map((a) => a.id)).toEqual([byOther.body.id])
    const first = onFirst.at(-1)?.requestedBy as string
    const byFirst = await list(`requester=${first}`)
    expect(byFirst.length).toBeGreaterThan(1)
    expect(byFirst.map((a) => a.id)).toEqual(all.filter((a) => a.requestedBy === first).map((a) => a.id))

    // from is inclusive, to exclusive: a window of one millisecond holds just the last one.
    const at = byOther.body.createdAt as string
    const justThen = await list(`from=${at}&to=${new Date(Date.parse(at) + 1).toISOString()}`)
    expect(justThen.map((a) => a.id)).toEqual([byOther.body.id])
    const before = await list(`to=${at}`)
    expect(before.length).toBe(all.length - 1)
    expect(before.every((a) => a.createdAt < at)).toBe(true)
    const combined = await list(`status=completed&integrationId=${integrationId}&action=run_quick_job`)
    expect(combined.length).toBeGreaterThan(0)
    expect(combined.every((a) => a.integrationId === integrationId)).toBe(true)
    const other = await h.json('GET', '/api/v1/actions', { token: t.orgCToken })
    expect(other.body.data).toEqual([])
    const future = await h.json('GET', '/api/v1/actions?from=2030-01-01T00:00:00Z', { token: t.orgAToken })
    expect(future.body.data).toEqual([])
    const bad = await h.json('GET', '/api/v1/actions?cursor=nonsense', { token: t.orgAToken })
    expect(bad.status).toBe(422)
  })
})
