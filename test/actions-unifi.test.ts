import { beforeAll, describe, expect, it } from 'vitest'
import { actionsFixture } from './actions-fixture.ts'
import type { Harness } from './harness.ts'
import { UniFiStandIn } from './standins/unifi.ts'

/**
 * UniFi Network actions (all need approval) against the console stand-in over pinned HTTPS: restart and port
 * power-cycle sent as the Network Integration API documents them, firewall policy create/update/delete on
 * Network ≥ 10.1 (read from /v1/info, shown in the preview), refused on an older console without a write.
 */
const policy = (name: string) => ({
  name,
  enabled: true,
  action: { type: 'BLOCK' },
  source: { zoneId: '11111111-1111-4111-8111-111111111111' },
  destination: { zoneId: '22222222-2222-4222-8222-222222222222' },
  ipProtocolScope: { ipVersion: 'IPV4' },
  loggingEnabled: false,
})

const fx = actionsFixture('unifi', {
  standIn: () => new UniFiStandIn().start(),
  credentials: (unifi) => unifi.credentials,
})
let h: Harness
let unifi: UniFiStandIn
let siteId: string
let deviceId: string
beforeAll(() => {
  h = fx.h
  unifi = fx.standIn
  siteId = unifi.raw.sites[0]?.id as string
  deviceId = unifi.raw.devices[siteId]?.[0]?.id as string
})
const { act, approveAndRun } = fx
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

  it('fails the console’s refusal with its words, and sends it again by hand once fixed', async () => {
    const bad = await act('create_firewall_policy', { siteId, policy: policy('Block guests again') })
    // A policy of that name exists already: the console's 400 names it.
    unifi.firewallPolicies[siteId]?.push({ ...policy('Block guests again'), id: 'existing-policy' })
    const failed = await approveAndRun(bad.body.id)
    expect(failed.status).toBe('failed')
    expect(failed.attempts).toHaveLength(1)
    expect(failed.attempts[0]).toMatchObject({ outcome: 'failed', vendorStatus: 400 })
    expect(failed.error).toContain('A firewall policy named Block guests again already exists')
    const writes = consoleWrites().length

    unifi.firewallPolicies[siteId] = (unifi.firewallPolicies[siteId] ?? []).filter(
      (x) => x.id !== 'existing-policy',
    )
    const retry = await h.json('POST', `/api/v1/actions/${bad.body.id}/retry`, { token: fx.t.orgAToken })
    expect(retry.status).toBe(202)
    await h.worker.drain()
    const done = await fx.get(bad.body.id)
    expect(done.status).toBe('completed')
    expect(done.attempts.map((a: { vendorStatus: number }) => a.vendorStatus)).toEqual([400, 201])
    expect(consoleWrites()).toHaveLength(writes + 1)
    expect(unifi.firewallPolicies[siteId]?.map((x) => x.name)).toEqual(['Block guests again'])

    const nowhere = await act('delete_firewall_policy', { siteId: 'no-such-site', policyId: 'x' })
    const gone = await approveAndRun(nowhere.body.id)
    expect(gone.status).toBe('failed')
    expect(gone.attempts[0].vendorStatus).toBe(404)
    expect(gone.error).toContain('Not found')
    unifi.firewallPolicies[siteId] = []
  })

  it('writes once when the console’s answer is lost: a retry looks before writing again', async () => {
    // Restart: the device, read before the retry, is RESTARTING; it is not restarted again.
    const device = unifi.raw.devices[siteId]?.[2] as { id: string; state: string }
    expect(device.state).toBe('ONLINE')
    const restart = await act('restart_device', { siteId, deviceId: device.id })
    expect((await fx.approve(restart.body.id)).status).toBe(202)
    unifi.dropNextAnswer({ method: 'POST', path: /\/actions$/ })
    const before = consoleWrites().length
    await h.worker.drain()
    expect(device.state).toBe('RESTARTING')
    h.clock.advance(600_000)
    await h.worker.drain()
    expect(consoleWrites()).toHaveLength(before + 1)
    const restarted = await fx.get(restart.body.id)
    expect(restarted.status).toBe('completed')
    expect(restarted.attempts.map((a: { vendorStatus: number }) => a.vendorStatus)).toEqual([504, 200])

    // Create: the retry lists the site's policies and takes the one with the same name.
    const create = await act('create_firewall_policy', { siteId, policy: policy('Lost answer') })
    expect((await fx.approve(create.body.id)).status).toBe(202)
    unifi.dropNextAnswer({ method: 'POST', path: /firewall\/policies$/ })
    await h.worker.drain()
    expect(unifi.firewallPolicies[siteId]?.map((x) => x.name)).toEqual(['Lost answer'])
    h.clock.advance(600_000)
    await h.worker.drain()
    const created = await fx.get(create.body.id)
    expect(created.status).toBe('completed')
    expect(created.result.vendorRef).toBe(unifi.firewallPolicies[siteId]?.[0]?.id)
    expect(unifi.firewallPolicies[siteId]).toHaveLength(1)
    expect(consoleWrites()).toHaveLength(before + 2)

    // Delete: the policy gone on the retry (404) is what the first attempt did.
    const del = await act('delete_firewall_policy', { siteId, policyId: created.result.vendorRef })
    expect((await fx.approve(del.body.id)).status).toBe(202)
    unifi.dropNextAnswer({ method: 'DELETE' })
    await h.worker.drain()
    expect(unifi.firewallPolicies[siteId]).toEqual([])
    h.clock.advance(600_000)
    await h.worker.drain()
    const deleted = await fx.get(del.body.id)
    expect(deleted.status).toBe('completed')
    expect(deleted.attempts.map((a: { vendorStatus: number }) => a.vendorStatus)).toEqual([504, 404])
  })

  it('sends none of its actions before approval, nor after a rejection or expiry; the requester cannot approve', async () => {
    await fx.neverSentUnapproved(
      [
        { action: 'restart_device', input: { siteId, deviceId } },
        { action: 'power_cycle_port', input: { siteId, deviceId, portIdx: 2 } },
        { action: 'create_firewall_policy', input: { siteId, policy: policy('Never') } },
        {
          action: 'update_firewall_policy',
          input: { siteId, policyId: 'policy-1', policy: policy('Never either') },
        },
        { action: 'delete_firewall_policy', input: { siteId, policyId: 'policy-1' } },
      ],
      () => consoleWrites().length,
    )
  })
})
