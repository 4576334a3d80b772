// What a new user tripped over (issue 19): each item has its own test here or beside the feature it concerns.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createHarness, type Harness, seedTenants } from './harness.ts'
import { type SlackStandin, startSlackStandin } from './standins/slack.ts'

let h: Harness
let t: Awaited<ReturnType<typeof seedTenants>>
let slack: SlackStandin
beforeAll(async () => {
  h = await createHarness()
  t = await seedTenants(h)
  slack = await startSlackStandin()
})
afterAll(async () => {
  await slack.close()
  await h.close()
})

describe('delivery recovery filters', () => {
  it('refuses an unknown target type with 422 instead of queueing nothing', async () => {
    const res = await h.json('POST', '/api/v1/deliveries/retry', {
      token: t.orgAToken,
      body: { targetType: 'bogus' },
    })
    expect(res.status).toBe(422)
    expect(res.body.details).toEqual([{ path: 'targetType', message: expect.stringContaining('webhook') }])
    const list = await h.json('GET', '/api/v1/deliveries?targetType=bogus', { token: t.orgAToken })
    expect(list.status).toBe(422)
    for (const kind of ['webhook', 'psa', 'notification', 'monitoring', 'ticketing']) {
      const ok = await h.json('POST', '/api/v1/deliveries/retry', {
        token: t.orgAToken,
        body: { targetType: kind },
      })
      expect(ok.status, kind).toBe(202)
    }
  })
})

describe('events without data', () => {
  it('are documented as optional, and stored and shown with data: {}', async () => {
    const doc = (await h.json('GET', '/api/v1/openapi.json')).body
    const event = doc.components.schemas.Event
    expect(event.required).not.toContain('data')
    expect(event.properties.data.description).toContain('data: {}')
    const res = await h.json('POST', '/api/v1/events', {
      token: t.orgAToken,
      body: { type: 'device.online', id: 'no-data' },
    })
    expect(res.status).toBe(202)
    const hook = await h.json('POST', '/api/v1/webhooks', {
      token: t.orgAToken,
      body: { name: 'h', url: 'https://receiver.test/x', events: ['device.online'] },
    })
    expect(hook.status).toBe(201)
    await h.json('POST', '/api/v1/events', {
      token: t.orgAToken,
      body: { type: 'device.online', id: 'no-data-2' },
    })
    const [d] = (await h.json('GET', `/api/v1/webhooks/${hook.body.id}/deliveries`, { token: t.orgAToken }))
      .body.data
    expect(d).toMatchObject({ eventId: 'no-data-2', payload: {} })
  })
})

describe('chat channels created through POST /integrations', () => {
  it("get the chat doors' default notifyOn (critical and warning alerts), unless they say otherwise", async () => {
    const viaIntegrations = await h.json('POST', '/api/v1/integrations', {
      token: t.orgAToken,
      body: {
        provider: 'slack',
        name: 'ops',
        enabled_capabilities: ['send_notification'],
        credentials: slack.credentials(slack.addWebhook()),
      },
    })
    expect(viaIntegrations.status, JSON.stringify(viaIntegrations.body)).toBe(201)
    expect(viaIntegrations.body.data.settings).toEqual({ notifyOn: ['alert.critical', 'alert.warning'] })
    const viaDoor = await h.json('POST', '/api/v1/integrations/slack', {
      token: t.orgAToken,
      body: slack.credentials(slack.addWebhook()),
    })
    expect(viaDoor.status, JSON.stringify(viaDoor.body)).toBe(200)
    expect(viaDoor.body.data.notifyOn).toEqual(['alert.critical', 'alert.warning'])
    const chosen = await h.json('POST', '/api/v1/integrations', {
      token: t.orgAToken,
      body: {
        provider: 'slack',
        name: 'quiet',
        enabled_capabilities: ['send_notification'],
        credentials: slack.credentials(slack.addWebhook()),
        settings: { notifyOn: [] },
      },
    })
    expect(chosen.body.data.settings).toEqual({ notifyOn: [] })
  })
})
