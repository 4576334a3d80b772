import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { newId } from '../src/lib/ids.ts'
import { webhooks } from '../src/store/schema/delivery.ts'
import { HOSTILE_TARGETS, hostileResolver } from './fixtures/hostile-targets.ts'
import { createHarness, type Harness } from './harness.ts'
import { Receiver } from './standins/receiver.ts'

/** DNS the tests can change: the hostile table, `*.test` → loopback, plus whatever a test sets. */
const dns: Record<string, string[]> = {}
const hostile = hostileResolver()
const resolver = async (host: string) => dns[host] ?? (host.endsWith('.test') ? ['127.0.0.1'] : hostile(host))

describe('SSRF: with no exempt ranges', () => {
  let h: Harness
  let org: { id: string; token: string }
  beforeAll(async () => {
    h = await createHarness({ env: { PATCHBAY_ALLOWED_TARGET_CIDRS: '' }, resolver })
    const o = await h.json('POST', '/api/v1/orgs', { body: { name: 'o' } })
    const k = await h.json('POST', '/api/v1/api-keys', {
      body: { name: 'k', scope: 'organization', orgId: o.body.id },
    })
    org = { id: o.body.id, token: k.body.token }
  })
  afterAll(() => h.close())

  it(`refuses all ${HOSTILE_TARGETS.length} hostile targets at creation and at update`, async () => {
    expect(HOSTILE_TARGETS.length).toBeGreaterThanOrEqual(30)
    dns['ok.example.com'] = ['93.184.216.34']
    const good = await h.json('POST', '/api/v1/webhooks', {
      token: org.token,
      body: { name: 'ok', url: 'https://ok.example.com/hook', events: ['*'] },
    })
    expect(good.status).toBe(201)
    for (const target of HOSTILE_TARGETS) {
      const created = await h.json('POST', '/api/v1/webhooks', {
        token: org.token,
        body: { name: 'x', url: target.url, events: ['*'] },
      })
      expect({ url: target.url, status: created.status, code: created.body.code }).toEqual({
        url: target.url,
        status: 422,
        code: created.body.code === 'validation_failed' ? 'validation_failed' : 'invalid_url',
      })
      expect(created.body.error).toMatch(/^Invalid (webhook URL|request body)/)
      const updated = await h.json('PATCH', `/api/v1/webhooks/${good.body.id}`, {
        token: org.token,
        body: { url: target.url },
      })
      expect({ url: target.url, status: updated.status }).toEqual({ url: target.url, status: 422 })
    }
    const list = await h.json('GET', '/api/v1/webhooks', { token: org.token })
    expect(list.body.data.map((w: { url: string }) => w.url)).toEqual(['https://ok.example.com/hook'])
    await h.json('DELETE', `/api/v1/webhooks/${good.body.id}`, { token: org.token })
  })

  it('refuses them at delivery time too, without a request, if one is stored anyway', async () => {
    // Rows written behind the API's back (an old version, a restored backup): the worker re-checks every attempt.
    const now = h.clock.now()
    const ids: string[] = []
    for (const target of HOSTILE_TARGETS) {
      const id = newId()
      ids.push(id)
      await h.ctx.db.orm.insert(webhooks).values({
        id,
        orgId: org.id,
        name: target.why,
        url: target.url,
        events: ['device.offline'],
        headers: [],
        createdAt: now,
        updatedAt: now,
      })
    }
    const ev = await h.json('POST', '/api/v1/events', { token: org.token, body: { type: 'device.offline' } })
    expect(ev.body.deliveriesQueued).toBe(HOSTILE_TARGETS.length)
    await h.worker.drain()
    for (const [i, id] of ids.entries()) {
      const d = await h.json('GET', `/api/v1/webhooks/${id}/deliveries`, { token: org.token })
      const [delivery] = d.body.data
      expect({
        url: HOSTILE_TARGETS[i]?.url,
        status: delivery.status,
        attempt: delivery.attempt,
        response: delivery.responseStatus,
      }).toEqual({
        url: HOSTILE_TARGETS[i]?.url,
        status: 'failed',
        attempt: 1,
        response: null,
      })
      expect(delivery.errorMessage).toMatch(/^Unsafe webhook URL: /)
    }
  })
})

describe('SSRF: DNS that changes after creation', () => {
  let h: Harness
  let rx: Receiver
  beforeAll(async () => {
    h = await createHarness({ resolver })
    rx = await new Receiver('flip.test').start()
  })
  afterAll(async () => {
    await rx.stop()
    await h.close()
  })

  it('is refused at the next attempt once it points at a private address', async () => {
    const o = await h.json('POST', '/api/v1/orgs', { body: { name: 'o' } })
    const w = await h.json('POST', '/api/v1/webhooks', {
      body: { orgId: o.body.id, name: 'flip', url: rx.url('/hook'), events: ['device.offline'] },
    })
    expect(w.status).toBe(201)
    await h.json('POST', '/api/v1/events', { body: { orgId: o.body.id, type: 'device.offline' } })
    await h.worker.drain()
    expect(rx.received).toHaveLength(1)

    dns['flip.test'] = ['192.168.10.20']
    h.clock.advance(1)
    await h.json('POST', '/api/v1/events', { body: { orgId: o.body.id, type: 'device.offline' } })
    await h.worker.drain()
    expect(rx.received).toHaveLength(1)
    const [latest] = (await h.json('GET', `/api/v1/webhooks/${w.body.id}/deliveries`)).body.data
    expect(latest).toMatchObject({
      status: 'failed',
      errorMessage: 'Unsafe webhook URL: resolves to a private address (192.168.10.20)',
    })
  })
})
