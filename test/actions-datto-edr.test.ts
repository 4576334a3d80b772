import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { JobService } from '../src/jobs/service.ts'
import { WIRED_JOBS } from '../src/wiring.ts'
import { createHarness, type Harness, seedTenants } from './harness.ts'
import { DattoEdrStandIn } from './standins/datto-edr.ts'

/**
 * Datto EDR host isolation (approval) against the stand-in: the agent shown in the preview, nothing sent before
 * approval, then a scan of the target with only the Host Isolation (or Restore) extension, as the vendor's
 * PowerShell module sends it; an unknown host refused at once without a scan.
 */
let h: Harness
let t: Awaited<ReturnType<typeof seedTenants>>
let edr: DattoEdrStandIn
let integrationId: string
let approverKey: string

beforeAll(async () => {
  edr = await new DattoEdrStandIn().start()
  // The stand-in runs on the wall clock; keep its token valid past today.
  edr.tokenExpiresAt = new Date('2100-01-01T00:00:00Z')
  h = await createHarness({ env: { PATCHBAY_PROBE_INTERVAL_MS: '0' } })
  t = await seedTenants(h)
  approverKey = (
    await h.json('POST', '/api/v1/api-keys', {
      body: { name: 'approver', scope: 'organization', orgId: t.orgA.id },
    })
  ).body.token
  const r = await h.json('POST', '/api/v1/integrations', {
    token: t.orgAToken,
    body: { provider: 'datto-edr', credentials: edr.credentials, enabled_capabilities: ['read_resources'] },
  })
  expect(r.status, JSON.stringify(r.body)).toBe(201)
  integrationId = r.body.data.id
  await new JobService(h.ctx, WIRED_JOBS).runDue()
})
afterAll(async () => {
  await h.close()
  await edr.close()
})

const act = (action: string, input: unknown) =>
  h.json('POST', `/api/v1/integrations/${integrationId}/actions`, {
    token: t.orgAToken,
    body: { action, input },
  })
async function approveAndRun(id: string) {
  expect((await h.json('POST', `/api/v1/actions/${id}/approve`, { token: approverKey })).status).toBe(202)
  await h.worker.drain()
  return (await h.json('GET', `/api/v1/actions/${id}`, { token: t.orgAToken })).body
}

describe('Datto EDR actions', () => {
  it('isolates a host after approval, then restores it', async () => {
    const isolate = await act('isolate_host', { target: 'WS-001' })
    expect(isolate.status).toBe(202)
    expect(isolate.body.preview, JSON.stringify(isolate.body.preview)).toHaveProperty('ok', true)
    expect(isolate.body.preview.vendor.agent).toMatchObject({ id: 'agent-001', hostname: 'WS-001' })
    await h.worker.drain()
    expect(edr.scans).toHaveLength(0)
    const done = await approveAndRun(isolate.body.id)
    expect(done.status).toBe('completed')
    expect(done.result.vendorRef).toBe('task-1')
    expect(edr.scans[0]).toMatchObject({
      target: 'WS-001',
      targetGroup: { name: 'OnDemand' },
      options: {
        process: false,
        memory: false,
        extensions: [{ id: edr.extensions[0]?.id, args: {}, order: 0 }],
      },
    })
    const scan = edr.requests.find((r) => r.method === 'POST' && r.path === '/api/targets/scan')
    expect(scan?.headers.authorization).toBe(edr.credentials.apiToken)
    expect(edr.raw.agents[0]?.isolated).toBe(true)

    const restore = await act('restore_host', { target: 'WS-001' })
    expect((await approveAndRun(restore.body.id)).status).toBe('completed')
    expect(edr.raw.agents[0]?.isolated).toBe(false)
    expect((edr.scans[1]?.options as { extensions: { id: string }[] } | undefined)?.extensions[0]?.id).toBe(
      edr.extensions[1]?.id,
    )
  })

  it('refuses a host without an active agent at once, sending no scan', async () => {
    const before = edr.scans.length
    const r = await act('isolate_host', { target: 'NO-SUCH-HOST' })
    expect(r.body.preview.vendor).toEqual({ agent: null, warning: 'No agent for NO-SUCH-HOST' })
    const failed = await approveAndRun(r.body.id)
    expect(failed.status).toBe('failed')
    expect(failed.error).toContain('no active agent for NO-SUCH-HOST')
    expect(failed.attempts).toHaveLength(1)
    expect(edr.scans.length).toBe(before)
  })
})
