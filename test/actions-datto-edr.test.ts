import { beforeAll, describe, expect, it } from 'vitest'
import { actionsFixture } from './actions-fixture.ts'
import type { Harness } from './harness.ts'
import { DattoEdrStandIn } from './standins/datto-edr.ts'

/**
 * Datto EDR host isolation (approval) against the stand-in: the agent shown in the preview, nothing sent before
 * approval, then a scan of the target with only the Host Isolation (or Restore) extension, as the vendor's
 * PowerShell module sends it; an unknown host refused at once without a scan.
 */
const fx = actionsFixture('datto-edr', {
  standIn: async () => {
    const edr = await new DattoEdrStandIn().start()
    // The stand-in runs on the wall clock; keep its token valid past today.
    edr.tokenExpiresAt = new Date('2100-01-01T00:00:00Z')
    return edr
  },
  credentials: (edr) => edr.credentials,
  // Approvals here expire after two hours instead of the default day.
  env: { PATCHBAY_ACTION_APPROVAL_TTL_MS: String(2 * 3_600_000) },
})
let h: Harness
let edr: DattoEdrStandIn
beforeAll(() => {
  h = fx.h
  edr = fx.standIn
})
const { act, approveAndRun } = fx

describe('Datto EDR actions', () => {
  it('isolates a host after approval, then restores it', async () => {
    const isolate = await act('isolate_host', { target: 'WS-001' })
    expect(isolate.status).toBe(202)
    expect(isolate.body.expiresAt).toBe(new Date(h.clock.now().getTime() + 2 * 3_600_000).toISOString())
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

  it('fails the scan’s refusal with Datto EDR’s words, and sends it again by hand', async () => {
    const r = await act('isolate_host', { target: 'WS-001' })
    edr.failNext(400, {
      path: '/api/targets/scan',
      body: {
        error: { statusCode: 400, name: 'Error', message: 'Target WS-001 is busy', code: 'TARGET_BUSY' },
      },
    })
    const scans = edr.scans.length
    const failed = await approveAndRun(r.body.id)
    expect(failed.status).toBe('failed')
    expect(failed.error).toContain('Target WS-001 is busy (TARGET_BUSY)')
    expect(failed.attempts).toHaveLength(1)
    expect(failed.attempts[0]).toMatchObject({ outcome: 'failed', vendorStatus: 400 })
    expect(edr.scans.length).toBe(scans)

    const retry = await h.json('POST', `/api/v1/actions/${r.body.id}/retry`, { token: fx.t.orgAToken })
    expect(retry.status).toBe(202)
    await h.worker.drain()
    const done = await fx.get(r.body.id)
    expect(done.status).toBe('completed')
    expect(done.attempts.map((a: { vendorStatus: number }) => a.vendorStatus)).toEqual([400, 200])
    expect(edr.scans.length).toBe(scans + 1)
  })

  it('sends none of its actions before approval, nor after a rejection or expiry; the requester cannot approve', async () => {
    await fx.neverSentUnapproved(
      [
        { action: 'isolate_host', input: { target: 'WS-001' } },
        { action: 'restore_host', input: { target: 'WS-001' } },
      ],
      () => edr.requests.filter((r) => r.method === 'POST' && r.path === '/api/targets/scan').length,
    )
    // Expired at the configured two hours (the helper moved the clock just past them), not the default day.
    const expired = await h.json('GET', '/api/v1/actions?status=expired&limit=100', { token: fx.t.orgAToken })
    for (const a of expired.body.data as { createdAt: string; expiresAt: string }[])
      expect(Date.parse(a.expiresAt) - Date.parse(a.createdAt)).toBe(2 * 3_600_000)
    expect(expired.body.data).toHaveLength(2)
  })
})
