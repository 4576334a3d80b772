import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { connectorTestEnv } from '../../../test/standins/env.ts'
import { startTeamsStandin, type TeamsStandin } from '../../../test/standins/teams.ts'
import { ManualClock } from '../../lib/clock.ts'
import { notificationFromEvent } from '../../notifications/from-event.ts'
import { connector } from '../registry.ts'
import { type Notification, NotificationError } from '../shared/notification.ts'
import type { Credentials } from '../types.ts'
import { TEAMS_LEGACY_VERIFY_ERROR, teams, teamsWebhookKind } from './index.ts'
import { renderAdaptiveCard, renderMessageCard } from './render.ts'

const clock = new ManualClock('2026-02-18T12:00:00.000Z')
const env = connectorTestEnv(clock)
let standin: TeamsStandin

beforeAll(async () => {
  standin = await startTeamsStandin()
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

function send(creds: Credentials, n: Notification = alert) {
  const ops = teams.notifications
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

const sig = () => new URL(standin.workflowUrl).searchParams.get('sig') ?? ''

describe('Teams descriptor and URLs', () => {
  it('is registered as a communication provider whose webhook URL is a secret', () => {
    expect(connector('teams')).toBe(teams)
    expect(teams.descriptor).toMatchObject({
      id: 'teams',
      category: 'communication',
      capabilities: ['send_notification'],
      credentialSchema: {
        webhookUrl: { type: 'url', sensitive: true, required: true },
        baseUrl: { type: 'url', sensitive: false, required: false },
      },
    })
  })

  it('tells Workflows URLs from legacy connector URLs by host and path', () => {
    const kind = (u: string) => teamsWebhookKind(new URL(u))
    expect(kind(standin.workflowUrl)).toBe('workflow')
    expect(
      kind(
        'https://abc.12.environment.api.powerplatform.com:443/powerautomate/automations/direct/workflows/f00/triggers/manual/paths/invoke?api-version=1&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=x',
      ),
    ).toBe('workflow')
    expect(kind(standin.legacyUrl)).toBe('legacy')
    expect(kind('https://outlook.office.com/webhook/abc@def/IncomingWebhook/123/456')).toBe('legacy')
    expect(
      kind('https://logic.azure.com.evil.example/workflows/a/triggers/manual/paths/invoke'),
    ).toBeUndefined()
    expect(kind('https://contoso.webhook.office.com/other')).toBeUndefined()
  })
})

describe('Teams verify', () => {
  it('checks a Workflows URL with a GET the trigger refuses, so nothing runs or posts', async () => {
    await expect(teams.verify(standin.credentials('workflow'), env)).resolves.toEqual({ ok: true })
    expect(standin.requests).toHaveLength(1)
    expect(standin.requests[0]).toMatchObject({ method: 'GET', query: { sig: sig(), sv: '1.0' } })
    expect(standin.messages).toHaveLength(0)
  })

  it("reports a wrong signature or a deleted workflow in Microsoft's words, without the signature", async () => {
    const wrongSig = standin.workflowUrl.replace(sig(), 'A'.repeat(43))
    const bad = await teams.verify({ webhookUrl: wrongSig, baseUrl: standin.baseUrl }, env)
    expect(bad).toEqual({
      ok: false,
      status: 401,
      error:
        'Microsoft Teams answered 401: DirectApiInvalidAuthorizationSignature: The provided authorization signature is not valid.',
    })
    const gone = await teams.verify(
      {
        webhookUrl: standin.workflowUrl.replace(/workflows\/[0-9a-f]+/, 'workflows/0000'),
        baseUrl: standin.baseUrl,
      },
      env,
    )
    expect(gone).toEqual({
      ok: false,
      status: 404,
      error: 'Microsoft Teams answered 404: WorkflowNotFound: The workflow could not be found.',
    })
    expect(JSON.stringify([bad, gone])).not.toContain(sig())
  })

  it('says plainly that a legacy connector URL can only be checked by posting, and does not post', async () => {
    await expect(teams.verify(standin.credentials('legacy'), env)).resolves.toEqual({
      ok: false,
      error: TEAMS_LEGACY_VERIFY_ERROR,
    })
    expect(standin.requests).toHaveLength(0)
  })

  it('refuses URLs that are not Teams webhooks, and Workflows URLs without a signature', async () => {
    const other = await teams.verify({ webhookUrl: 'https://example.com/webhook/x' }, env)
    expect(other).toMatchObject({ ok: false, status: 400 })
    expect(!other.ok && other.error).toContain('got host example.com')
    const unsigned = await teams.verify({ webhookUrl: standin.workflowUrl.replace(/&sig=[^&]+/, '') }, env)
    expect(unsigned).toMatchObject({ ok: false, status: 400 })
    expect(!unsigned.ok && unsigned.error).toContain('no sig parameter')
    expect(standin.requests).toHaveLength(0)
  })
})

describe('Teams send', () => {
  it('posts an Adaptive Card envelope to a Workflows URL', async () => {
    const result = await send(standin.credentials('workflow'))
    expect(result).toMatchObject({ status: 202, body: '' })
    expect(standin.messages).toEqual([
      { kind: 'workflow', body: JSON.parse(JSON.stringify(renderAdaptiveCard(alert))) },
    ])
    expect(standin.requests[0]).toMatchObject({ method: 'POST', query: { sig: sig() } })
  })

  it('posts a MessageCard to a legacy connector URL', async () => {
    const result = await send(standin.credentials('legacy'))
    expect(result).toMatchObject({ status: 200, body: '1' })
    expect(standin.messages).toEqual([
      { kind: 'legacy', body: JSON.parse(JSON.stringify(renderMessageCard(alert))) },
    ])
  })

  it('a message far over 28 KB is cut to fit and accepted, on both kinds', async () => {
    const huge: Notification = {
      ...alert,
      title: 'T'.repeat(5_000),
      text: '💥'.repeat(50_000),
      facts: Array.from({ length: 300 }, (_, i) => ({ name: `Metric ${i}`, value: 'ü'.repeat(2_000) })),
    }
    await expect(send(standin.credentials('workflow'), huge)).resolves.toMatchObject({ status: 202 })
    await expect(send(standin.credentials('legacy'), huge)).resolves.toMatchObject({ status: 200 })
    expect(standin.rejections).toEqual([])
    expect(standin.messages.map((m) => m.kind)).toEqual(['workflow', 'legacy'])
  })

  it('surfaces a Workflows 429 with its Retry-After', async () => {
    standin.failNext({ status: 429, retryAfter: 30 })
    const err = await failure(send(standin.credentials('workflow')))
    expect(err).toMatchObject({
      message: 'Microsoft Teams answered 429: TooManyRequests: Stand-in failure 429.',
      status: 429,
      retryAfterMs: 30_000,
    })
    expect(err.retryable).toBe(true)
  })

  it("treats a legacy connector's 200 that reports a failure as that failure", async () => {
    standin.failNext({ status: 429, wrapped: true })
    const throttled = await failure(send(standin.credentials('legacy')))
    expect(throttled.status).toBe(429)
    expect(throttled.retryable).toBe(true)
    expect(throttled.retryAfterMs).toBeUndefined()
    expect(throttled.message).toMatch(
      /^Microsoft Teams answered 200 but reported: Webhook message delivery failed with error: Microsoft Teams endpoint returned HTTP error 429 with ContextId /,
    )
    expect(throttled.responseBody).toContain('returned HTTP error 429')

    standin.removeLegacyChannel()
    const removed = await failure(send(standin.credentials('legacy')))
    expect(removed.status).toBe(400)
    expect(removed.retryable).toBe(false)
    expect(standin.messages).toHaveLength(0)
  })

  it('reports outages as retryable and keeps the signature out of every message', async () => {
    standin.failNext({ status: 502, body: `upstream failed for ${standin.workflowUrl}` })
    const err = await failure(send(standin.credentials('workflow')))
    expect(err).toMatchObject({
      status: 502,
      message: 'Microsoft Teams answered 502: upstream failed for [redacted]',
    })
    expect(err.retryable).toBe(true)
    expect(`${err.message}${err.responseBody}`).not.toContain(sig())
  })
})
