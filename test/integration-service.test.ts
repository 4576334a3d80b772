import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { IntegrationError } from '../src/integrations/errors.ts'
import {
  findIntegration,
  getIntegration,
  loadCredentials,
  recordSyncState,
  saveIntegration,
  verifyIntegrationNow,
} from '../src/integrations/service.ts'
import { JobService } from '../src/jobs/service.ts'
import type { Actor } from '../src/store/audit.ts'
import { WIRED_JOBS } from '../src/wiring.ts'
import { bearer, type StandIn, startStandIn } from './fixtures/stand-in.ts'
import { createHarness, type Harness, seedTenants } from './harness.ts'

/** The service functions the other doors (Breeze's /psa/connections, /integrations/<provider>) call. */
let h: Harness
let t: Awaited<ReturnType<typeof seedTenants>>
let vendor: StandIn
let good = 'mon_key_for_service_tests'
const actor: Actor = { type: 'system', name: 'test' }

beforeAll(async () => {
  h = await createHarness({ env: { PATCHBAY_PROBE_INTERVAL_MS: '0' } })
  t = await seedTenants(h)
  vendor = await startStandIn((req) =>
    bearer(req) === good ? { status: 202 } : { status: 401, body: { error: 'API key rejected' } },
  )
})
afterAll(async () => {
  await vendor.close()
  await h.close()
})

const monitoring = (apiKey: string, settings: Record<string, unknown>) => ({
  provider: 'generic-monitoring',
  credentials: { endpoint: vendor.url('monitor.test', '/ingest'), apiKey },
  settings,
})

describe('saveIntegration (one integration per provider, settings kept)', () => {
  it('creates the first time, then updates the same integration', async () => {
    const first = await saveIntegration(h.ctx, t.orgA.id, monitoring(good, { metricsEnabled: true }), {
      actor,
    })
    expect(first.created).toBe(true)
    expect(first.integration).toMatchObject({
      status: 'pending_verify',
      enabledCapabilities: ['forward_events'],
      settings: { metricsEnabled: true },
      hasCredentials: true,
      credentials: { endpoint: vendor.url('monitor.test', '/ingest'), apiKey: null },
    })
    await new JobService(h.ctx, WIRED_JOBS).runDue()
    const again = await saveIntegration(
      h.ctx,
      t.orgA.id,
      monitoring(good, { metricsEnabled: false, forwardEvents: ['cpu', 'disk'] }),
      { actor },
    )
    expect(again.created).toBe(false)
    expect(again.integration).toMatchObject({
      id: first.integration.id,
      status: 'active',
      settings: { metricsEnabled: false, forwardEvents: ['cpu', 'disk'] },
    })
    expect((await findIntegration(h.ctx, t.orgA.id, 'generic-monitoring'))?.id).toBe(first.integration.id)
    expect(await findIntegration(h.ctx, t.orgB.id, 'generic-monitoring')).toBeUndefined()
  })
})

describe('verifyIntegrationNow (a saved connection\'s "test" button)', () => {
  it("records the outcome, audits it under the door's action, and moves the status", async () => {
    const { id } = (await findIntegration(h.ctx, t.orgA.id, 'generic-monitoring')) as { id: string }
    const scope = { kind: 'org' as const, orgId: t.orgA.id }
    h.clock.advance(1_000)
    const ok = await verifyIntegrationNow(h.ctx, scope, id, { actor }, { action: 'psa.connection.test' })
    expect(ok.outcome).toMatchObject({ ok: true })
    expect(ok.integration).toMatchObject({ status: 'active', lastTestedAt: h.clock.now() })

    good = 'rotated_elsewhere_123'
    h.clock.advance(1_000)
    const failed = await verifyIntegrationNow(h.ctx, scope, id, { actor }, { action: 'psa.connection.test' })
    expect(failed.outcome).toMatchObject({
      ok: false,
      httpStatus: 401,
      error: 'Monitoring endpoint answered 401: API key rejected',
    })
    expect(failed.integration).toMatchObject({
      status: 'error',
      lastError: { message: 'Monitoring endpoint answered 401: API key rejected', source: 'verification' },
    })
    const audit = await h.json('GET', `/api/v1/audit-logs?targetId=${id}&action=psa.connection.test`)
    expect(audit.body.data.map((a: { summary: { ok: boolean } }) => a.summary.ok)).toEqual([false, true])

    await expect(
      verifyIntegrationNow(h.ctx, { kind: 'org', orgId: t.orgC.id }, id, { actor }),
    ).rejects.toMatchObject({ code: 'not_found' })
  })
})

describe('credentials and sync state', () => {
  it('loads credentials only within the tenant, and records sync progress', async () => {
    const { id } = (await findIntegration(h.ctx, t.orgA.id, 'generic-monitoring')) as { id: string }
    const loaded = await loadCredentials(h.ctx, { kind: 'partner', partnerId: t.partner.id }, id)
    expect(loaded.credentials.apiKey).toBe('mon_key_for_service_tests')
    expect(loaded.connector.descriptor.id).toBe('generic-monitoring')
    const err = await loadCredentials(h.ctx, { kind: 'org', orgId: t.orgC.id }, id).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(IntegrationError)

    await recordSyncState(h.ctx, t.orgA.id, id, { status: 'completed', at: h.clock.now() })
    await recordSyncState(h.ctx, t.orgA.id, id, { status: 'failed', error: 'PSA answered 500' })
    expect(await getIntegration(h.ctx, { kind: 'org', orgId: t.orgA.id }, id)).toMatchObject({
      lastSyncAt: h.clock.now(),
      lastSyncStatus: 'failed',
      lastSyncError: 'PSA answered 500',
    })
  })
})
