import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { JobService } from '../src/jobs/service.ts'
import { WIRED_JOBS } from '../src/wiring.ts'
import { createHarness, type Harness, seedTenants } from './harness.ts'
import { UniFiStandIn } from './standins/unifi.ts'

/**
 * UniFi Network actions (all need approval) against the console stand-in over pinned HTTPS: restart and port
 * power-cycle sent as the Network Integration API documents them, firewall policy create/update/delete on
 * Network ≥ 10.1 (read from /v1/info, shown in the preview), refused on an older console without a write.
 */
let h: Harness
let t: Awaited<ReturnType<typeof seedTenants>>
let unifi: UniFiStandIn
let integrationId: string
let approverKey: string
let siteId: string
let deviceId: string

const policy = (name: string) => ({
  name,
  enabled: true,
  action: { type: 'BLOCK' },
  source: { zoneId: '11111111-1111-4111-8111-111111111111' },
  destination: { zoneId: '22222222-2222-4222-8222-222222222222' },
  ipProtocolScope: { ipVersion: 'IPV4' },
  loggingEnabled: false,
})

beforeAll(async () => {
  unifi = await new UniFiStandIn().start()
  h = await createHarness({ env: { PATCHBAY_PROBE_INTERVAL_MS: '0' } })
  t = await seedTenants(h)
  approverKey = (
    await h.json('POST', '/api/v1/api-keys', {
      body: { name: 'approver', scope: 'organization', orgId: t.orgA.id },
    })
  ).body.token
  const r = await h.json('POST', '/api/v1/integrations', {
    token: t.orgAToken,
    body: { provider: 'unifi', credentials: unifi.credentials, enabled_capabilities: ['read_resources'] },
  })
  expect(r.status, JSON.stringify(r.body)).toBe(201)
  integrationId = r.body.data.id
  await new JobService(h.ctx, WIRED_JOBS).runDue()
  siteId = unifi.raw.sites[0]?.id as string
  deviceId = unifi.raw.devices[siteId]?.[0]?.id as string
})
afterAll(async () => {
  await h.close()
  await unifi.close()
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
const consoleWrites = () =>
  unifi.requests.filter((q) => q.method !== 'GET' && q.path.startsWith('/proxy/network/integration/v1'))

describe('UniFi actions', () => {
  it('restarts a device and power-cycles a port after approval', async () => {
    const restart = await act('restart_device', { siteId, deviceId })
    const port = await act('power_cycle_port', { siteId, deviceId, portIdx: 4 })
    await h.worker.drain()
    expect(consoleWrites()).toHaveLength(0)
    expect((await approveAndRun(restart.body.id)).status).toBe('completed')
    expect((await approveAndRun(port.body.id)).status).toBe('completed')
    const [r, p] = consoleWrites()
    expect(r?.path).toBe(`/proxy/network/integration/v1/sites/${siteId}/devices/${deviceId}/actions`)
    expect(r?.body).toEqual({ action: 'RESTART' })
    expect(r?.headers['x-api-key']).toBe(unifi.credentials.networkApiKey)
    expect(p?.path).toBe(
      `/proxy/network/integration/v1/sites/${siteId}/devices/${deviceId}/interfaces/ports/4/actions`,
    )
    expect(p?.body).toEqual({ action: 'POWER_CYCLE' })
    expect(unifi.portCycles).toEqual([{ siteId, deviceId, portIdx: 4 }])
  })

  it('creates, updates and deletes a firewall policy on Network 10.1 or later', async () => {
    const create = await act('create_firewall_policy', { siteId, policy: policy('Block guests') })
    expect(create.body.preview).toEqual({
      ok: true,
      vendor: { applicationVersion: '10.5.66', firewallPolicies: true },
    })
    const created = await approveAndRun(create.body.id)
    expect(created.status).toBe('completed')
    const id = created.result.vendorRef
    expect(unifi.firewallPolicies[siteId]?.map((x) => x.name)).toEqual(['Block guests'])

    const update = await act('update_firewall_policy', {
      siteId,
      policyId: id,
      policy: policy('Block guests v2'),
    })
    expect((await approveAndRun(update.body.id)).status).toBe('completed')
    expect(unifi.firewallPolicies[siteId]?.map((x) => x.name)).toEqual(['Block guests v2'])

    const del = await act('delete_firewall_policy', { siteId, policyId: id })
    expect((await approveAndRun(del.body.id)).status).toBe('completed')
    expect(unifi.firewallPolicies[siteId]).toEqual([])
  })

  it('refuses firewall policies on a console older than Network 10.1, without writing', async () => {
    unifi.applicationVersion = '9.4.19'
    const before = consoleWrites().length
    const create = await act('create_firewall_policy', { siteId, policy: policy('Too early') })
    expect(create.body.preview).toEqual({
      ok: true,
      vendor: { applicationVersion: '9.4.19', firewallPolicies: false },
    })
    const failed = await approveAndRun(create.body.id)
    expect(failed.status).toBe('failed')
    expect(failed.error).toContain('need UniFi Network 10.1 or later; this console runs 9.4.19')
    expect(failed.attempts).toHaveLength(1)
    expect(consoleWrites()).toHaveLength(before)
    unifi.applicationVersion = '10.5.66'
  })

  it('fails the console’s refusal with its words', async () => {
    const bad = await act('create_firewall_policy', {
      siteId: 'no-such-site',
      policy: policy('Nowhere'),
    })
    const failed = await approveAndRun(bad.body.id)
    expect(failed.status).toBe('failed')
    expect(failed.attempts[0].vendorStatus).toBe(404)
  })
})
