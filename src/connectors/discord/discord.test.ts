import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { type DiscordStandin, startDiscordStandin } from '../../../test/standins/discord.ts'
import { connectorTestEnv } from '../../../test/standins/env.ts'
import { ManualClock } from '../../lib/clock.ts'
import { notificationFromEvent, testNotification } from '../../notifications/from-event.ts'
import { connector } from '../registry.ts'
import { type Notification, NotificationError } from '../shared/notification.ts'
import type { Credentials } from '../types.ts'
import { discord } from './index.ts'
import { renderDiscordMessage } from './render.ts'

const clock = new ManualClock('2026-02-18T12:00:00.000Z')
const env = connectorTestEnv(clock)
let standin: DiscordStandin

beforeAll(async () => {
  standin = await startDiscordStandin()
})
afterAll(async () => {
  await env.close()
  await standin.close()
})
beforeEach(() => {
  standin.reset()
  standin.rateLimit = { limit: 5, remaining: 4, resetAfter: 1 }
})

const alert: Notification = notificationFromEvent(
  {
    id: 'evt-1',
    type: 'alert.triggered',
    orgId: 'org-1',
    timestamp: '2026-02-18T11:59:00.000Z',
    data: {
      alertId: 'al-1',
      alertName: 'Disk full',
      severity: 'critical',
      deviceId: 'd-1',
      hostname: 'SRV-01',
    },
  },
  { consoleUrl: 'https://console.example.com', orgName: 'Contoso', username: 'Patchbay' },
)

function send(creds: Credentials, n: Notification = alert) {
  const ops = discord.notifications
  if (!ops) throw new Error('no notifications')
  return ops.send(creds, n, env)
}

async function failure(p: Promise<unknown>): Promise<NotificationError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(err).toBeInstanceOf(NotificationError)
  return err as NotificationError
}

describe('Discord descriptor', () => {
  it('is registered as a communication provider whose webhook URL is a secret', () => {
    expect(connector('discord')).toBe(discord)
    expect(discord.descriptor).toMatchObject({
      id: 'discord',
      category: 'communication',
      capabilities: ['send_notification'],
      credentialSchema: {
        webhookUrl: { type: 'url', sensitive: true, required: true },
        baseUrl: { type: 'url', sensitive: false, required: false },
      },
    })
    const pattern = new RegExp(discord.descriptor.credentialSchema.webhookUrl?.pattern ?? '')
    expect(pattern.test(standin.webhook.webhookUrl)).toBe(true)
    expect(pattern.test('https://discordapp.com/api/v10/webhooks/1/abc?thread_id=2')).toBe(true)
    expect(pattern.test('https://discord.com.evil.example/api/webhooks/1/abc')).toBe(false)
  })
})

describe('Discord verify', () => {
  it('reads the webhook object with GET and names it, posting nothing', async () => {
    await expect(discord.verify(standin.credentials(), env)).resolves.toEqual({
      ok: true,
      account: `Webhook "Patchbay alerts" in channel ${standin.webhook.channelId}`,
    })
    expect(standin.requests).toHaveLength(1)
    expect(standin.requests[0]).toMatchObject({
      method: 'GET',
      path: `/api/webhooks/${standin.webhook.id}/${standin.webhook.token}`,
    })
    expect(standin.messages).toHaveLength(0)
  })

  it('works with versioned API paths', async () => {
    const { id, token } = standin.webhook
    const v10 = standin.credentials(`https://discord.com/api/v10/webhooks/${id}/${token}`)
    await expect(discord.verify(v10, env)).resolves.toMatchObject({ ok: true })
  })

  it("reports a deleted webhook or a wrong token in Discord's words, without the token", async () => {
    const deleted = await discord.verify(
      standin.credentials(`https://discord.com/api/webhooks/1/${standin.webhook.token}`),
      env,
    )
    expect(deleted).toEqual({
      ok: false,
      status: 404,
      error: 'Discord answered 404: Unknown Webhook (10015)',
    })
    const wrongToken = await discord.verify(
      standin.credentials(
        `https://discord.com/api/webhooks/${standin.webhook.id}/not-the-token-abcdefghijklmnop`,
      ),
      env,
    )
    expect(wrongToken).toEqual({
      ok: false,
      status: 401,
      error: 'Discord answered 401: Invalid Webhook Token (50027)',
    })
    expect(JSON.stringify([deleted, wrongToken])).not.toContain(standin.webhook.token)
  })

  it('refuses URLs that are not Discord webhooks before calling anything', async () => {
    expect(await discord.verify({ webhookUrl: 'https://discord.com/channels/1/2' }, env)).toEqual({
      ok: false,
      status: 400,
      error: 'Discord webhookUrl must be a webhook URL (https://discord.com/api/webhooks/{id}/{token})',
    })
    expect(await discord.verify({ webhookUrl: 'https://example.com/api/webhooks/1/abc' }, env)).toMatchObject(
      {
        ok: false,
        status: 400,
      },
    )
    expect(standin.requests).toHaveLength(0)
  })
})

describe('Discord send', () => {
  it('executes the webhook with wait=true and the exact body, and reports the message and rate limit', async () => {
    const result = await send(standin.credentials())
    expect(result).toMatchObject({ status: 200, rateLimit: { remaining: 4, resetAfterMs: 1_000 } })
    expect(result.messageId).toMatch(/^\d+$/)
    expect(standin.requests[0]).toMatchObject({
      method: 'POST',
      path: `/api/webhooks/${standin.webhook.id}/${standin.webhook.token}`,
      query: { wait: 'true' },
    })
    expect(standin.messages).toEqual([
      {
        webhookId: standin.webhook.id,
        wait: true,
        body: JSON.parse(JSON.stringify(renderDiscordMessage(alert))),
      },
    ])
    expect(standin.messages[0]?.body).toMatchObject({ username: 'Patchbay', allowed_mentions: { parse: [] } })
  })

  it('keeps a thread_id from the webhook URL', async () => {
    const { id, token } = standin.webhook
    await send(standin.credentials(`https://discord.com/api/webhooks/${id}/${token}?thread_id=42`))
    expect(standin.requests[0]?.query).toEqual({ thread_id: '42', wait: 'true' })
  })

  it('sends a test message', async () => {
    await send(standin.credentials(), testNotification({ orgId: 'org-1', at: clock.now() }))
    const body = standin.messages[0]?.body as {
      content: string
      embeds: { title: string; footer: { text: string } }[]
    }
    expect(body.content).toBe('🔵 [Test] Test notification from Patchbay')
    expect(body.embeds[0]?.footer.text).toBe('Patchbay · test message')
  })

  it('a message far over every limit is cut to fit and accepted', async () => {
    const huge: Notification = {
      ...alert,
      title: 'T'.repeat(1_000),
      text: '*'.repeat(20_000),
      eventType: 'e'.repeat(5_000),
      username: 'u'.repeat(500),
      facts: Array.from({ length: 100 }, (_, i) => ({ name: `n${i}`.repeat(100), value: 'v'.repeat(3_000) })),
    }
    await expect(send(standin.credentials(), huge)).resolves.toMatchObject({ status: 200 })
    expect(standin.rejections).toEqual([])
  })

  it('takes the retry wait from the 429 body, which is more precise than the header', async () => {
    standin.failNext({ status: 429, retryAfter: 2.5 })
    const err = await failure(send(standin.credentials()))
    expect(err).toMatchObject({
      message: 'Discord answered 429: You are being rate limited.',
      status: 429,
      retryAfterMs: 2_500,
    })
    expect(JSON.parse(err.responseBody ?? '')).toEqual({
      message: 'You are being rate limited.',
      retry_after: 2.5,
      global: false,
      code: 0,
    })
    expect(err.retryable).toBe(true)
    expect(standin.requests[0]?.query).toEqual({ wait: 'true' })
  })

  it('falls back to Retry-After, then X-RateLimit-Reset-After', async () => {
    standin.failNext({ status: 429, retryAfter: 7, body: '' })
    standin.failNext({ status: 429, retryAfter: 4.25, body: '', noRetryAfterHeader: true })
    expect((await failure(send(standin.credentials()))).retryAfterMs).toBe(7_000)
    expect((await failure(send(standin.credentials()))).retryAfterMs).toBe(4_250)
  })

  it("flattens Discord's field errors into one sentence", async () => {
    standin.failNext({
      status: 400,
      body: {
        code: 50035,
        errors: {
          embeds: {
            '0': {
              title: {
                _errors: [{ code: 'BASE_TYPE_MAX_LENGTH', message: 'Must be 256 or fewer in length.' }],
              },
            },
          },
        },
        message: 'Invalid Form Body',
      },
    })
    const err = await failure(send(standin.credentials()))
    expect(err.message).toBe(
      'Discord answered 400: Invalid Form Body (50035): embeds.0.title: Must be 256 or fewer in length.',
    )
    expect(err.retryable).toBe(false)
  })

  it('a deleted webhook is permanent, an outage retryable; neither message carries the token', async () => {
    const gone = await failure(
      send(standin.credentials(`https://discord.com/api/webhooks/99/${standin.webhook.token}`)),
    )
    expect(gone).toMatchObject({ status: 404, message: 'Discord answered 404: Unknown Webhook (10015)' })
    expect(gone.retryable).toBe(false)
    standin.failNext({ status: 502 })
    const outage = await failure(send(standin.credentials()))
    expect(outage).toMatchObject({ status: 502, message: 'Discord answered 502: 502: Bad Gateway' })
    expect(outage.retryable).toBe(true)
    expect(`${gone.message}${gone.responseBody}${outage.message}`).not.toContain(standin.webhook.token)
  })

  it('removes the webhook URL and token from error text and kept body', async () => {
    const creds = standin.credentials()
    standin.failNext({ status: 400, body: { message: `bad request for ${creds.webhookUrl}`, code: 0 } })
    const err = await failure(send(creds))
    expect(err.message).toBe('Discord answered 400: bad request for [redacted]')
    expect(err.responseBody).not.toContain(standin.webhook.token)
  })
})
