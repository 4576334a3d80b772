import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { JobService } from '../src/jobs/service.ts'
import { WIRED_JOBS } from '../src/wiring.ts'
import { alertData, automationSettings, newOrg } from './fixtures/psa.ts'
import { createHarness, type Harness, seedTenants } from './harness.ts'
import type { RecordedRequest, Reply } from './standins/standin.ts'
import { ZendeskStandIn } from './standins/zendesk.ts'

/**
 * Syncs page through the vendor's changed tickets with the cursor saved after each page: a rate limit in the
 * middle reschedules the job by Retry-After and the next attempt carries on from the saved cursor.
 */
const EXPORT = '/api/v2/incremental/tickets/cursor'

/** Zendesk, rate-limiting the next N export pages that continue from a cursor (not the first page). */
class FlakyZendesk extends ZendeskStandIn {
  limitCursorPages = 0
  protected override handle(req: RecordedRequest): Reply {
    if (this.limitCursorPages > 0 && req.path === EXPORT && req.query.has('cursor')) {
      this.limitCursorPages--
      const reply = this.errorReply(429)
      return { ...reply, headers: { ...reply.headers, 'retry-after': '90' } }
    }
    return super.handle(req)
  }
}

let h: Harness
let t: Awaited<ReturnType<typeof seedTenants>>
let jobs: JobService
let zd: FlakyZendesk
let org: { id: string; token: string }
let id: string
const API = '/api/v1/psa/connections'

beforeAll(async () => {
  h = await createHarness({
    env: { PATCHBAY_PROBE_INTERVAL_MS: '0', PATCHBAY_PSA_SYNC_INTERVAL_MS: String(15 * 60_000) },
  })
  t = await seedTenants(h)
  jobs = new JobService(h.ctx, WIRED_JOBS)
  zd = await new FlakyZendesk({ clock: h.clock, exportPageSize: 2 }).start()
  org = await newOrg(h, t.partner.id, 'Sync')
})
afterAll(async () => {
  await zd.close()
  await h.close()
})

// biome-ignore lint/suspicious/noExplicitAny: response bodies are read loosely and asserted on
async function api(method: string, path: string, body?: unknown): Promise<any> {
  return h.json(method, path, { token: org.token, ...(body !== undefined ? { body } : {}) })
}

async function syncJobs() {
  return h.ctx.db.query<{ status: string; run_at: Date; attempts: number; last_error: string | null }>(
    `SELECT status, run_at, attempts, last_error FROM jobs WHERE kind = 'psa.sync' ORDER BY created_at`,
  )
}

describe('sync', () => {
  it('resumes from the saved cursor after a rate limit, rescheduled by Retry-After', async () => {
    const created = await api('POST', API, {
      provider: 'zendesk',
      name: 'Zendesk',
      credentials: zd.credentials,
      settings: automationSettings('zendesk', zd),
    })
    id = created.body.id
    expect((await api('POST', `${API}/${id}/test`)).body.success).toBe(true)
    for (let i = 1; i <= 5; i++) {
      await api('POST', '/api/v1/events', { type: 'alert.triggered', data: alertData(`sync-${i}`) })
    }
    await h.worker.drain()
    expect(zd.tickets()).toHaveLength(5)
    h.clock.advance(2 * 60_000)
    for (const ticket of zd.tickets()) zd.setStatus(ticket.id, zd.statuses.inProgress)
    h.clock.advance(60_000)

    zd.resetRequests()
    zd.limitCursorPages = 1
    expect((await api('POST', `${API}/${id}/sync`)).status).toBe(202)
    await jobs.runDue()
    const interrupted = await api('GET', `${API}/${id}`)
    expect(interrupted.body).toMatchObject({
      lastSyncStatus: 'running',
      lastSync: {
        status: 'running',
        error: expect.stringContaining('Number of allowed API requests per minute exceeded'),
        counts: { pages: 1, ticketsListed: 2, mappingsUpdated: 2 },
      },
    })
    const [job] = await syncJobs()
    expect(job).toMatchObject({ status: 'pending', attempts: 1 })
    expect(new Date(job?.run_at as Date).toISOString()).toBe(
      new Date(h.clock.now().getTime() + 90_000).toISOString(),
    )
    const exports = () => zd.requests.filter((r) => r.path === EXPORT)
    expect(exports()).toHaveLength(2)
    const stoppedAt = exports()[1]?.query.get('cursor')

    h.clock.advance(89_999)
    expect((await jobs.runDue()).kinds).not.toContain('psa.sync')
    h.clock.advance(1)
    expect((await jobs.runDue()).kinds).toContain('psa.sync')
    const resumed = exports().slice(2)
    expect(resumed[0]?.query.get('cursor')).toBe(stoppedAt)
    expect(resumed.every((r) => !r.query.has('start_time'))).toBe(true)
    const done = await api('GET', `${API}/${id}`)
    expect(done.body).toMatchObject({
      lastSyncStatus: 'completed',
      lastSyncError: null,
      lastSyncAt: h.clock.now().toISOString(),
      lastSync: {
        trigger: 'manual',
        status: 'completed',
        error: null,
        counts: { pages: 3, ticketsListed: 5, mappingsUpdated: 5, mappingsChecked: 0 },
      },
    })
    const tickets = await api('GET', `${API}/${id}/tickets`)
    expect(tickets.body.data.map((x: { status: string }) => x.status)).toEqual(Array(5).fill('open'))
    expect((await syncJobs())[0]?.status).toBe('completed')
  })

  it('fetches mapped tickets the change listing did not show, and counts those the vendor lost', async () => {
    h.clock.advance(10 * 60_000)
    const gone = zd.raw.tickets.splice(0, 1)[0]
    zd.resetRequests()
    await api('POST', `${API}/${id}/sync`)
    await jobs.runDue()
    const done = await api('GET', `${API}/${id}`)
    expect(done.body.lastSync).toMatchObject({
      status: 'completed',
      counts: { mappingsChecked: 1, ticketsMissing: 1 },
    })
    expect(zd.requests.map((r) => r.path)).toContain(`/api/v2/tickets/${gone?.id}`)
  })

  it("fails with the vendor's message when the vendor refuses", async () => {
    h.clock.advance(60_000)
    zd.failNext(401, { path: EXPORT })
    await api('POST', `${API}/${id}/sync`)
    await jobs.runDue()
    const failed = await api('GET', `${API}/${id}`)
    expect(failed.body).toMatchObject({
      lastSyncStatus: 'failed',
      lastSyncError: expect.stringContaining("Couldn't authenticate you"),
      lastSync: { status: 'failed', error: expect.stringContaining("Couldn't authenticate you") },
    })
    expect((await syncJobs()).at(-1)?.status).toBe('failed')
  })

  it('is scheduled for connections with mapped tickets unless autoSync is off', async () => {
    h.clock.advance(15 * 60_000)
    let ran = await jobs.runDue()
    expect(ran.kinds).toEqual(expect.arrayContaining(['psa.sync-sweep', 'psa.sync']))
    expect((await api('GET', `${API}/${id}`)).body.lastSync).toMatchObject({
      trigger: 'scheduled',
      status: 'completed',
    })
    await api('PATCH', `${API}/${id}`, {
      settings: { ...automationSettings('zendesk', zd), autoSync: false },
    })
    h.clock.advance(15 * 60_000)
    ran = await jobs.runDue()
    expect(ran.kinds).toContain('psa.sync-sweep')
    expect(ran.kinds).not.toContain('psa.sync')
    // A manual sync still works.
    expect((await api('POST', `${API}/${id}/sync`)).body.status).toBe('queued')
    expect((await jobs.runDue()).kinds).toContain('psa.sync')
  })
})
