import { eq, inArray } from 'drizzle-orm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { probeOffsetMs } from '../src/integrations/health.ts'
import { JobService } from '../src/jobs/service.ts'
import { integrationProbes, integrations } from '../src/store/schema/integrations.ts'
import { WIRED_JOBS } from '../src/wiring.ts'
import { type StandIn, startStandIn } from './fixtures/stand-in.ts'
import { createHarness, type Harness } from './harness.ts'

const INTERVAL = 5 * 60_000
const API = '/api/v1/integrations'

let h: Harness
let jobs: JobService
let vendor: StandIn
/** Paths of the stand-in that are down (answer 503). */
const down = new Set<string>()

beforeAll(async () => {
  h = await createHarness({
    env: { PATCHBAY_PROBE_INTERVAL_MS: String(INTERVAL), PATCHBAY_PROBE_FAILURE_THRESHOLD: '3' },
  })
  jobs = new JobService(h.ctx, WIRED_JOBS)
  vendor = await startStandIn((req) =>
    down.has(req.path)
      ? { status: 503, body: { error: `Service unavailable (${req.path})` } }
      : { status: 202, body: { accepted: true } },
  )
})
afterAll(async () => {
  await vendor.close()
  await h.close()
})

async function newOrg(name: string): Promise<string> {
  return (await h.json('POST', '/api/v1/orgs', { body: { name } })).body.id
}

async function monitoring(orgId: string, path: string): Promise<string> {
  const r = await h.json('POST', API, {
    body: {
      orgId,
      provider: 'generic-monitoring',
      name: path,
      credentials: { endpoint: vendor.url('monitor.test', path) },
      enabled_capabilities: ['forward_events'],
    },
  })
  expect(r.status).toBe(201)
  return r.body.data.id
}

function heartbeats(path: string): number {
  return vendor.requests.filter(
    (r) => r.path === path && (r.json as { type?: string })?.type === 'patchbay.heartbeat',
  ).length
}

async function status(orgId: string) {
  const r = await h.json('GET', `${API}/status?orgId=${orgId}`)
  expect(r.status).toBe(200)
  return r.body.data
}

/** Moves the clock one probe interval on, running whatever falls due on the way (every 30 s). */
async function oneInterval(): Promise<void> {
  for (let i = 0; i < INTERVAL / 30_000; i++) {
    h.clock.advance(30_000)
    await jobs.runDue()
  }
}

describe('probe scheduling', () => {
  it('probes every active integration once per interval, each at its own offset', async () => {
    const org = await newOrg('Spread Co')
    const paths = ['/a', '/b', '/c', '/d', '/e', '/f'].map((p) => `/spread${p}`)
    const ids: string[] = []
    for (const p of paths) ids.push(await monitoring(org, p))
    await jobs.runDue()
    const start = h.clock.now().getTime()
    const rows = await h.ctx.db.orm.select().from(integrations).where(inArray(integrations.id, ids))
    const slots = new Map(rows.map((r) => [r.id, r.nextProbeAt?.getTime() as number]))
    for (const r of rows) {
      expect(r.status).toBe('active')
      const slot = slots.get(r.id) as number
      // The first slot after the next sweep (a minute on).
      expect(slot).toBeGreaterThan(start + 60_000)
      expect(slot).toBeLessThanOrEqual(start + 60_000 + INTERVAL)
      expect((slot - probeOffsetMs(r.id, INTERVAL)) % INTERVAL).toBe(0)
    }
    expect(new Set(slots.values()).size).toBe(ids.length)

    // Step through the first slots: each integration is probed once, in the 30 s step containing its slot.
    const probedAt = new Map<string, number>()
    for (let i = 0; i < (60_000 + INTERVAL) / 30_000; i++) {
      h.clock.advance(30_000)
      await jobs.runDue()
      const now = h.clock.now().getTime()
      paths.forEach((p, k) => {
        if (heartbeats(p) === 1 && !probedAt.has(ids[k] as string)) probedAt.set(ids[k] as string, now)
      })
    }
    for (const [k, p] of paths.entries()) {
      expect(heartbeats(p)).toBe(1)
      const slot = slots.get(ids[k] as string) as number
      const at = probedAt.get(ids[k] as string) as number
      expect(at).toBeGreaterThanOrEqual(slot)
      expect(at - slot).toBeLessThan(30_000)
    }
    expect(new Set(probedAt.values()).size).toBeGreaterThan(1)

    await oneInterval()
    for (const p of paths) expect(heartbeats(p)).toBe(2)
    const history = await h.ctx.db.orm
      .select()
      .from(integrationProbes)
      .where(eq(integrationProbes.integrationId, ids[0] as string))
      .orderBy(integrationProbes.probedAt)
    expect(history).toHaveLength(2)
    expect((history[1]?.probedAt.getTime() as number) - (history[0]?.probedAt.getTime() as number)).toBe(
      INTERVAL,
    )
  })

  it('does not probe disabled or unverified integrations', async () => {
    const org = await newOrg('Quiet Co')
    const off = await monitoring(org, '/quiet/off')
    await jobs.runDue()
    await h.json('POST', `${API}/${off}/disable`)
    down.add('/quiet/unverified')
    await monitoring(org, '/quiet/unverified')
    await oneInterval()
    expect(heartbeats('/quiet/off')).toBe(0)
    expect(heartbeats('/quiet/unverified')).toBe(0)
    down.delete('/quiet/unverified')
  })
})

describe('failures past the threshold', () => {
  it('move an integration to error, and the next success restores it', async () => {
    const org = await newOrg('Outage Co')
    const id = await monitoring(org, '/outage')
    await jobs.runDue()
    await h.json('POST', '/api/v1/routing-rules', {
      body: { orgId: org, capability: 'forward_events', integration_id: id, is_default: true },
    })
    await oneInterval()
    expect((await status(org)).summary).toMatchObject({ connected: 1, needs_attention: 0 })

    down.add('/outage')
    await oneInterval()
    let s = await status(org)
    expect(s.integrations[0]).toMatchObject({
      status: 'active',
      health: 'needs_attention',
      consecutive_failures: 1,
    })
    expect(s.integrations[0].latest_probe).toMatchObject({
      ok: false,
      vendor_status: 503,
      error: 'Monitoring endpoint answered 503: Service unavailable (/outage)',
    })
    await oneInterval()
    expect((await status(org)).integrations[0]).toMatchObject({ status: 'active', consecutive_failures: 2 })
    await oneInterval()
    s = await status(org)
    expect(s.integrations[0]).toMatchObject({
      status: 'error',
      health: 'needs_attention',
      consecutive_failures: 3,
    })
    const detail = await h.json('GET', `${API}/${id}`)
    expect(detail.body.data.metadata).toMatchObject({
      last_error: 'Monitoring endpoint answered 503: Service unavailable (/outage)',
      last_error_source: 'probe',
    })
    const routed = await h.json('POST', '/api/v1/routing-rules/evaluate', {
      body: { orgId: org, capability: 'forward_events' },
    })
    expect(routed.body.data.integration).toBeNull()

    // Still probed while in error, so that it can recover on its own.
    await oneInterval()
    expect((await status(org)).integrations[0]).toMatchObject({ status: 'error', consecutive_failures: 4 })
    down.delete('/outage')
    await oneInterval()
    s = await status(org)
    expect(s.integrations[0]).toMatchObject({
      status: 'active',
      health: 'connected',
      consecutive_failures: 0,
    })
    expect((await h.json('GET', `${API}/${id}`)).body.data.metadata).toEqual({})
    const audit = await h.json('GET', `/api/v1/audit-logs?targetId=${id}&action=integration.health.*`)
    expect(
      audit.body.data.map((a: { action: string; actorType: string }) => [a.action, a.actorType]),
    ).toEqual([
      ['integration.health.restored', 'system:health-probe'],
      ['integration.health.failed', 'system:health-probe'],
    ])
  })
})

describe('status page', () => {
  it('marks flapping integrations, keeps a rolling 24-hour history and counts each bucket', async () => {
    const org = await newOrg('Flaky Co')
    const flaky = await monitoring(org, '/flaky')
    const steady = await monitoring(org, '/steady')
    const disabled = await monitoring(org, '/disabled')
    await jobs.runDue()
    await h.json('POST', `${API}/${disabled}/disable`)
    // A new integration's first probe slot falls within one probe interval after the next sweep (a minute away),
    // at an offset set by its id: past that minute, each interval below holds exactly one probe of each of them.
    h.clock.advance(60_000)
    await jobs.runDue()

    // Fails every other probe: never three in a row, so never `error`, but flapping.
    for (let i = 0; i < 6; i++) {
      if (i % 2 === 0) down.add('/flaky')
      else down.delete('/flaky')
      await oneInterval()
    }
    await monitoring(org, '/pending')
    let s = await status(org)
    const byId = (id: string) => s.integrations.find((x: { id: string }) => x.id === id)
    expect(byId(flaky)).toMatchObject({
      status: 'active',
      flapping: true,
      health: 'needs_attention',
      uptime_24h: 0.5,
    })
    expect(byId(flaky).history.map((p: { ok: boolean }) => p.ok)).toEqual([
      false,
      true,
      false,
      true,
      false,
      true,
    ])
    expect(byId(steady)).toMatchObject({ flapping: false, health: 'connected', uptime_24h: 1 })
    expect(s.summary).toEqual({ connected: 1, needs_attention: 1, disconnected: 2, total: 4 })
    expect(s).toMatchObject({ probe_interval_ms: INTERVAL, failure_threshold: 3 })

    // The window rolls: once the first probe is more than 24 hours old it leaves the history.
    await h.json('POST', `${API}/${flaky}/disable`)
    await h.json('POST', `${API}/${steady}/disable`)
    const first = new Date(byId(flaky).history[0].probed_at).getTime()
    h.clock.set(new Date(first + 24 * 60 * 60_000))
    s = await status(org)
    expect(byId(flaky).history).toHaveLength(6)
    h.clock.set(new Date(first + 24 * 60 * 60_000 + 1))
    s = await status(org)
    expect(byId(flaky).history).toHaveLength(5)
    // Four changes in the last five probes: still flapping.
    expect(byId(flaky).flapping).toBe(true)

    // Probes older than the window (plus an hour) are pruned.
    h.clock.set(new Date(first + 26 * 60 * 60_000))
    await jobs.runDue()
    const kept = await h.ctx.db.orm
      .select()
      .from(integrationProbes)
      .where(eq(integrationProbes.integrationId, flaky))
    expect(kept).toHaveLength(0)
    s = await status(org)
    expect(byId(flaky)).toMatchObject({ latest_probe: null, history: [], flapping: false, uptime_24h: null })
  })
})
