import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { defaultRegistry } from '../src/connectors/registry.ts'
import type { AppContext } from '../src/context.ts'
import { DeliveryWorker } from '../src/delivery/worker.ts'
import { createApp } from '../src/http/app.ts'
import { ManualClock } from '../src/lib/clock.ts'
import { createLogger } from '../src/lib/logger.ts'
import { AddressPolicy } from '../src/net/address-policy.ts'
import { HttpClient } from '../src/net/http-client.ts'
import { type Database, openServed } from '../src/store/db.ts'
import { generateKeyRing } from '../src/vault/keyring.ts'
import { Vault } from '../src/vault/vault.ts'
import { transports, wire } from '../src/wiring.ts'
import { type StandIn, startStandIn } from './fixtures/stand-in.ts'
import { createHarness, type Harness, loopbackResolver } from './harness.ts'
import { ConnectWiseStandIn } from './standins/connectwise.ts'
import { type SlackStandin, startSlackStandin } from './standins/slack.ts'
import { TicketingStandIn } from './standins/ticketing.ts'

const TK_KEY = 'tk_restart_0123456789abcdef'
const MON_KEY = 'mon_restart_0123456789abcdef'

const ring = generateKeyRing('restart')
let h: Harness
let slack: SlackStandin
let tk: TicketingStandIn
let cw: ConnectWiseStandIn
let monitor: StandIn

beforeAll(async () => {
  h = await createHarness({ ring })
  slack = await startSlackStandin()
  tk = await new TicketingStandIn({ apiKey: TK_KEY }).start()
  cw = await new ConnectWiseStandIn().start()
  monitor = await startStandIn(() => ({ status: 202, body: {} }))
})
afterAll(async () => {
  await Promise.all([slack.close(), tk.close(), cw.close(), monitor.close()])
  await h.close()
})

/** A second Patchbay over the same database: its own context, vault (same key ring), HTTP client, app and worker. */
function restarted(db: Database) {
  const clock = new ManualClock(h.clock.now())
  const ctx: AppContext = wire({
    config: h.ctx.config,
    db,
    vault: new Vault(ring),
    clock,
    log: createLogger('silent'),
    http: new HttpClient({
      policy: AddressPolicy.fromSetting(h.ctx.config.PATCHBAY_ALLOWED_TARGET_CIDRS),
      resolver: loopbackResolver,
      clock,
      dnsCacheMs: 0,
    }),
    connectors: defaultRegistry,
  })
  const app = createApp(ctx)
  const request = async (method: string, path: string, body?: unknown) => {
    const res = await app.request(path, {
      method,
      headers: { authorization: `Bearer ${h.systemToken}`, 'content-type': 'application/json' },
      ...(body ? { body: JSON.stringify(body) } : {}),
    })
    // biome-ignore lint/suspicious/noExplicitAny: tests read response bodies loosely and assert on them
    return { status: res.status, body: (await res.json()) as any }
  }
  return { ctx, request, worker: new DeliveryWorker(ctx, transports(ctx)) }
}

describe('after a restart', () => {
  it('every door’s settings are still there, sealed credentials open, and events still reach them', async () => {
    const org = (await h.json('POST', '/api/v1/orgs', { body: { name: 'Restart Co' } })).body.id as string
    const put = async (method: string, path: string, body: Record<string, unknown>) => {
      const res = await h.json(method, `/api/v1/integrations/${path}`, { body: { orgId: org, ...body } })
      expect(res.status, JSON.stringify(res.body)).toBe(200)
    }
    await put('POST', 'slack', { ...slack.credentials(), notifyOn: ['alert.critical'], channel: '#noc' })
    await put('PUT', 'monitoring', {
      endpoint: monitor.url('monitoring.test', '/ingest'),
      apiKey: MON_KEY,
      forwardEvents: ['cpu'],
    })
    await put('POST', 'ticketing', { apiUrl: tk.apiUrl, apiKey: TK_KEY, projectKey: 'OPS', autoCreate: true })
    await put('POST', 'psa', { provider: 'connectwise', credentials: cw.credentials })
    const before = await Promise.all(
      ['communication', 'monitoring', 'ticketing', 'psa'].map(
        async (p) => (await h.json('GET', `/api/v1/integrations/${p}?orgId=${org}`)).body,
      ),
    )

    // A fresh connection pool to the same database, as a restarted process opens.
    const db = openServed({ url: h.database.url, poolSize: 2 })
    try {
      const next = restarted(db)
      const after = await Promise.all(
        ['communication', 'monitoring', 'ticketing', 'psa'].map(
          async (p) => (await next.request('GET', `/api/v1/integrations/${p}?orgId=${org}`)).body,
        ),
      )
      expect(after).toEqual(before)
      expect(after[0].data.slack).toMatchObject({ channel: '#noc', notifyOn: ['alert.critical'] })
      expect(after[1]).toMatchObject({ apiKey: `****${MON_KEY.slice(-4)}`, forwardEvents: ['cpu'] })
      expect(after[2]).toMatchObject({ projectKey: 'OPS', autoCreate: true })
      expect(after[3]).toMatchObject({ provider: 'connectwise', hasCredentials: true })

      const batch = await next.request('POST', '/api/v1/events/batch', {
        events: [
          { orgId: org, type: 'alert.triggered', data: { alertId: 'al-r1', severity: 'critical' } },
          { orgId: org, type: 'device.telemetry', data: { deviceId: 'd1', cpu: { usagePercent: 50 } } },
        ],
      })
      expect(batch.body.deliveriesQueued).toBe(3)
      expect(await next.worker.drain()).toBe(3)
      expect(slack.messages).toHaveLength(1)
      expect(tk.tickets).toHaveLength(1)
      expect(monitor.requests.at(-1)?.headers.authorization).toBe(`Bearer ${MON_KEY}`)
      const test = await next.request('POST', '/api/v1/integrations/psa/test', { orgId: org })
      expect(test.body).toMatchObject({ success: true })
      await next.ctx.http.close()
    } finally {
      if (db !== h.ctx.db) await db.close()
    }
  })
})
