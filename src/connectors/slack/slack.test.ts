import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { connectorTestEnv } from '../../../test/standins/env.ts'
import { type SlackStandin, startSlackStandin } from '../../../test/standins/slack.ts'
import { ManualClock } from '../../lib/clock.ts'
import { notificationFromEvent } from '../../notifications/from-event.ts'
import { connector } from '../registry.ts'
import { type Notification, NotificationError } from '../shared/notification.ts'
import { slack } from './index.ts'
import { renderSlackMessage } from './render.ts'

const clock = new ManualClock('2026-02-18T12:00:00.000Z')
const env = connectorTestEnv(clock)
let standin: SlackStandin

beforeAll(async () => {
  standin = await startSlackStandin()
})
afterAll(async () => {
  await env.close()
  await standin.close()
})
beforeEach(() => standin.reset())

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
  { consoleUrl: 'https://console.example.com', orgName: 'Contoso' },
)

/** Runs `fn`, which must fail, and returns the NotificationError. */
async function failure(fn: () => Promise<unknown>): Promise<NotificationError> {
  const err = await fn().then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(err).toBeInstanceOf(NotificationError)
  return err as NotificationError
}

describe('Slack descriptor', () => {
  it('is registered as a communication provider whose webhook URL is a secret', () => {
    expect(connector('slack')).toBe(slack)
    expect(slack.descriptor).toMatchObject({
      id: 'slack',
      category: 'communication',
      capabilities: ['send_notification'],
      credentialSchema: {
        webhookUrl: { type: 'url', sensitive: true, required: true },
        baseUrl: { type: 'url', sensitive: false, required: false },
      },
    })
    expect(
      new RegExp(slack.descriptor.credentialSchema.webhookUrl?.pattern ?? '').test(standin.hook.webhookUrl),
    ).toBe(true)
  })
})

describe('Slack verify', () => {
  it('accepts a live hook by the no_text answer to an empty payload, posting nothing', async () => {
    await expect(slack.verify(standin.credentials(), env)).resolves.toEqual({ ok: true })
    expect(standin.requests).toHaveLength(1)
    expect(standin.requests[0]).toMatchObject({
      method: 'POST',
      path: `/services/${standin.hook.team}/${standin.hook.id}/${standin.hook.token}`,
      body: {},
    })
    expect(standin.messages).toHaveLength(0)
  })

  it("reports a revoked or unknown hook in Slack's words, without the URL", async () => {
    const hook = standin.addWebhook()
    standin.revoke(hook)
    const revoked = await slack.verify(standin.credentials(hook), env)
    expect(revoked).toEqual({ ok: false, status: 403, error: 'Slack answered 403: invalid_token' })

    const unknown = await slack.verify(
      standin.credentials('https://hooks.slack.com/services/T000/B000/nosuchtokennosuchtoken'),
      env,
    )
    expect(unknown).toEqual({ ok: false, status: 404, error: 'Slack answered 404: no_service' })
    expect(JSON.stringify([revoked, unknown])).not.toContain(hook.token)
  })

  it('refuses URLs that are not Slack incoming webhooks before calling anything', async () => {
    const notSlack = await slack.verify({ webhookUrl: 'https://example.com/services/a/b/c' }, env)
    expect(notSlack).toEqual({
      ok: false,
      status: 400,
      error: 'Slack webhookUrl must be an incoming webhook on hooks.slack.com (got host example.com)',
    })
    const workflow = await slack.verify({ webhookUrl: 'https://hooks.slack.com/workflows/T1/A1/1/abc' }, env)
    expect(workflow).toMatchObject({ ok: false, status: 400 })
    expect(await slack.verify({}, env)).toEqual({
      ok: false,
      status: 400,
      error: 'Slack webhookUrl is missing',
    })
    expect(standin.requests).toHaveLength(0)
  })

  it('says what went wrong when Slack cannot be reached, without the URL', async () => {
    const closed = await startSlackStandin()
    const creds = closed.credentials()
    await closed.close()
    const result = await slack.verify(creds, env)
    expect(result.ok).toBe(false)
    expect(result).not.toHaveProperty('status')
    expect(!result.ok && result.error).toMatch(/^Slack: Connection refused by 127\.0\.0\.1:\d+$/)
  })

  it('refuses a baseUrl outside the address policy', async () => {
    const result = await slack.verify({ ...standin.credentials(), baseUrl: 'http://10.1.2.3' }, env)
    expect(result).toEqual({
      ok: false,
      failure: 'blocked',
      error: 'Slack URL resolves to a private address (10.1.2.3)',
    })
  })
})

describe('Slack send', () => {
  it('posts the Block Kit message, exactly, as JSON', async () => {
    const send = slack.notifications?.send
    if (!send) throw new Error('no send')
    const result = await send(standin.credentials(), alert, env)
    expect(result).toMatchObject({ status: 200, body: 'ok' })
    expect(standin.messages).toEqual([{ hook: standin.hook.id, body: renderSlackMessage(alert) }])
    expect(standin.requests[0]?.headers['content-type']).toBe('application/json; charset=utf-8')
    expect(standin.messages[0]?.body).toMatchObject({
      text: '🔴 Critical alert: Disk full on SRV-01\nA monitoring rule has fired a new alert.',
    })
  })

  it('passes channel and username overrides through for legacy hooks', async () => {
    await slack.notifications?.send(
      standin.credentials(),
      { ...alert, channel: '#noc', username: 'Patchbay' },
      env,
    )
    expect(standin.messages[0]?.body).toMatchObject({ channel: '#noc', username: 'Patchbay' })
  })

  it('a message far over every limit is cut to fit and accepted', async () => {
    const huge: Notification = {
      ...alert,
      title: 'T'.repeat(1_000),
      text: 'x'.repeat(100_000),
      facts: Array.from({ length: 800 }, (_, i) => ({ name: `Metric ${i}`, value: 'v'.repeat(3_000) })),
    }
    await expect(slack.notifications?.send(standin.credentials(), huge, env)).resolves.toMatchObject({
      status: 200,
    })
    expect(standin.rejections).toEqual([])
    expect(standin.messages).toHaveLength(1)
  })

  it('surfaces a 429 with its Retry-After in milliseconds, and does not wait', async () => {
    standin.failNext({ status: 429, retryAfter: 30 })
    const err = await failure(
      () => slack.notifications?.send(standin.credentials(), alert, env) as Promise<unknown>,
    )
    expect(err).toMatchObject({
      message: 'Slack answered 429: rate_limited',
      status: 429,
      retryAfterMs: 30_000,
      responseBody: 'rate_limited',
    })
    expect(err.retryable).toBe(true)
    expect(standin.messages).toHaveLength(0)
  })

  it('reads an HTTP-date Retry-After against the injected clock', async () => {
    standin.failNext({ status: 429, headers: { 'retry-after': 'Wed, 18 Feb 2026 12:01:30 GMT' } })
    const err = await failure(
      () => slack.notifications?.send(standin.credentials(), alert, env) as Promise<unknown>,
    )
    expect(err.retryAfterMs).toBe(90_000)
  })

  it('reports permanent refusals verbatim and not retryable; outages retryable', async () => {
    standin.failNext({ status: 404 })
    standin.failNext({ status: 410 })
    standin.failNext({ status: 500 })
    const send = () => slack.notifications?.send(standin.credentials(), alert, env) as Promise<unknown>
    const notFound = await failure(send)
    expect(notFound).toMatchObject({ message: 'Slack answered 404: channel_not_found', status: 404 })
    expect(notFound.retryable).toBe(false)
    const archived = await failure(send)
    expect(archived).toMatchObject({ message: 'Slack answered 410: channel_is_archived', status: 410 })
    const outage = await failure(send)
    expect(outage).toMatchObject({
      message: 'Slack answered 500: rollup_error',
      status: 500,
      retryAfterMs: undefined,
    })
    expect(outage.retryable).toBe(true)
  })

  it('removes the webhook URL and token from error text and kept body', async () => {
    const creds = standin.credentials()
    standin.failNext({
      status: 400,
      body: `invalid_payload: could not post to ${creds.webhookUrl} (token ${standin.hook.token})`,
    })
    const err = await failure(() => slack.notifications?.send(creds, alert, env) as Promise<unknown>)
    expect(err.message).toBe(
      'Slack answered 400: invalid_payload: could not post to [redacted] (token [redacted])',
    )
    expect(err.responseBody).toBe('invalid_payload: could not post to [redacted] (token [redacted])')
    expect(err.message).not.toContain(standin.hook.token)
  })

  it('refuses to send to a URL that is not a Slack incoming webhook', async () => {
    const err = await failure(
      () =>
        slack.notifications?.send(
          { webhookUrl: 'https://evil.example.com/x' },
          alert,
          env,
        ) as Promise<unknown>,
    )
    expect(err).toMatchObject({ status: 400, message: expect.stringContaining('hooks.slack.com') })
    expect(err.retryable).toBe(false)
  })
})
