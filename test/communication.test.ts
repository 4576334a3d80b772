import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { TEAMS_LEGACY_VERIFY_ERROR } from '../src/connectors/teams/index.ts'
import { ingestEvents } from '../src/delivery/ingest.ts'
import { createIntegration } from '../src/integrations/service.ts'
import { JobService } from '../src/jobs/service.ts'
import { newId } from '../src/lib/ids.ts'
import { matchesNotifyOn } from '../src/notifications/notify-on.ts'
import { fanouts, WIRED_JOBS } from '../src/wiring.ts'
import { storedPlainText } from './fixtures/stored-text.ts'
import { createHarness, type Harness, seedTenants } from './harness.ts'
import { type DiscordStandin, executeWebhookProblems, startDiscordStandin } from './standins/discord.ts'
import { type SlackStandin, startSlackStandin } from './standins/slack.ts'
import { startTeamsStandin, type TeamsStandin } from './standins/teams.ts'

const CONSOLE = 'https://console.patchbay.example'
const PROBE_INTERVAL = 5 * 60_000

let h: Harness
let t: Awaited<ReturnType<typeof seedTenants>>
let jobs: JobService
let slack: SlackStandin
let teams: TeamsStandin
let discord: DiscordStandin
/** Every response body the API sent in this file, to check no webhook URL ever appears in one. */
const responses: string[] = []

beforeAll(async () => {
  h = await createHarness({
    env: {
      PATCHBAY_CONSOLE_URL: CONSOLE,
      PATCHBAY_PROBE_INTERVAL_MS: String(PROBE_INTERVAL),
      PATCHBAY_PROBE_FAILURE_THRESHOLD: '1',
    },
  })
  t = await seedTenants(h)
  jobs = new JobService(h.ctx, WIRED_JOBS)
  slack = await startSlackStandin()
  teams = await startTeamsStandin()
  discord = await startDiscordStandin()
})
afterAll(async () => {
  await Promise.all([slack.close(), teams.close(), discord.close()])
  await h.close()
})

// Each test gets an organization of its own, so channels from one test never receive another's events.
let org: { id: string; token: string }
beforeEach(async () => {
  slack.reset()
  teams.reset()
  discord.reset()
  const created = await h.json('POST', '/api/v1/orgs', { body: { name: 'Contoso', partnerId: t.partner.id } })
  const key = await h.json('POST', '/api/v1/api-keys', {
    body: { name: 'org', scope: 'organization', orgId: created.body.id },
  })
  org = { id: created.body.id, token: key.body.token }
})

// biome-ignore lint/suspicious/noExplicitAny: tests read response bodies loosely and assert on them
async function call(method: string, path: string, body?: unknown, token?: string): Promise<any> {
  const res = await h.json(method, path, { token: token ?? org.token, ...(body ? { body } : {}) })
  responses.push(JSON.stringify(res.body ?? null))
  return res
}

async function configure(provider: string, body: Record<string, unknown>) {
  const res = await call('POST', `/api/v1/integrations/${provider}`, body)
  expect(res.status, JSON.stringify(res.body)).toBe(200)
  return res.body
}

async function emit(type: string, data: Record<string, unknown>) {
  const res = await call('POST', '/api/v1/events', { type, data })
  expect(res.status).toBe(202)
  return res.body as { id: string; deliveriesQueued: number }
}

async function deliveries(query = '') {
  const res = await call('GET', `/api/v1/deliveries?targetType=notification${query}`)
  expect(res.status).toBe(200)
  return res.body.data as Array<Record<string, unknown>>
}

const critical = {
  alertId: 'al-1001',
  alertName: 'CPU above 95%',
  severity: 'critical',
  deviceId: 'dev-42',
  hostname: 'WORKSTATION-01',
  message: 'CPU has been above 95% for 10 minutes.',
}

describe('test messages', () => {
  it('Slack: saves the settings, posts a real test message and reports it; the URL stays sealed', async () => {
    const creds = slack.credentials()
    const res = await configure('slack', {
      ...creds,
      channel: '#breeze-alerts',
      username: 'Breeze RMM',
      notifyOn: ['alert.critical', 'alert.warning', 'device.offline'],
      test: true,
    })
    expect(res).toMatchObject({
      success: true,
      message: 'slack test notification sent.',
      data: {
        webhookUrl: `https://hooks.slack.com/****${slack.hook.token.slice(-4)}`,
        channel: '#breeze-alerts',
        username: 'Breeze RMM',
        notifyOn: ['alert.critical', 'alert.warning', 'device.offline'],
        status: 'active',
        needsTestMessage: false,
      },
      test: { ok: true, error: null, vendorStatus: 200 },
    })
    expect(slack.messages).toHaveLength(1)
    const posted = slack.messages[0]?.body as { text: string; channel: string; username: string }
    expect(posted.text).toContain('[Test] Test notification from Patchbay')
    expect(posted).toMatchObject({ channel: '#breeze-alerts', username: 'Breeze RMM' })
    expect(JSON.stringify(res)).not.toContain(slack.hook.token)
    const audit = await call('GET', `/api/v1/audit-logs?orgId=${org.id}`, undefined, h.systemToken)
    expect(audit.body.data.map((a: { action: string }) => a.action)).toEqual(
      expect.arrayContaining(['integration.create', 'integration.test_message']),
    )
    // The queued background verification is superseded by the message that arrived.
    await jobs.runDue()
    const again = await call('GET', '/api/v1/integrations/communication')
    expect(again.body.data.slack).toMatchObject({ status: 'active', lastError: null })
    expect(slack.messages).toHaveLength(1)
  })

  it('Slack: a refused test message reports the platform’s error verbatim, without the URL', async () => {
    const creds = slack.credentials()
    slack.failNext({ status: 404, body: 'channel_not_found' })
    const res = await configure('slack', { ...creds, test: true })
    expect(res).toMatchObject({
      success: false,
      message: 'Slack answered 404: channel_not_found',
      data: { status: 'error', lastError: 'Slack answered 404: channel_not_found' },
      test: { ok: false, vendorStatus: 404, retryable: false },
    })
    expect(slack.messages).toHaveLength(0)
    // A revoked hook: Slack's own refusal, and never the token.
    const other = slack.addWebhook()
    slack.revoke(other)
    const revoked = await configure('slack', { webhookUrl: other.webhookUrl, test: true })
    expect(revoked).toMatchObject({ success: false, message: 'Slack answered 403: invalid_token' })
    expect(JSON.stringify(revoked)).not.toContain(other.token)
  })

  it('Teams Workflows: an Adaptive Card test message arrives', async () => {
    const res = await configure('teams', { ...teams.credentials('workflow'), test: true })
    expect(res).toMatchObject({ success: true, data: { status: 'active', needsTestMessage: false } })
    expect(teams.messages).toHaveLength(1)
    expect(teams.messages[0]).toMatchObject({ kind: 'workflow', body: { type: 'message' } })
    expect(JSON.stringify(res)).not.toContain(new URL(teams.workflowUrl).searchParams.get('sig'))
    teams.failNext({ status: 502, body: JSON.stringify({ error: { code: 'BadGateway', message: 'Down.' } }) })
    const failed = await configure('teams', { test: true })
    expect(failed).toMatchObject({
      success: false,
      message: 'Microsoft Teams answered 502: BadGateway: Down.',
      test: { ok: false, vendorStatus: 502, retryable: true },
    })
  })

  it('Teams legacy connector: only a test message verifies it, and neither verification nor probes undo that', async () => {
    const creds = teams.credentials('legacy')
    const saved = await configure('teams', creds)
    expect(saved.data.needsTestMessage).toBe(true)
    expect(saved.message).toContain('send "test": true to verify it')
    await jobs.runDue()
    const unverified = await call('GET', '/api/v1/integrations/communication')
    expect(unverified.body.data.teams).toMatchObject({
      status: 'error',
      lastError: TEAMS_LEGACY_VERIFY_ERROR,
    })
    expect(teams.requests).toHaveLength(0)

    const tested = await configure('teams', { test: true })
    expect(tested).toMatchObject({
      success: true,
      data: { status: 'active', lastError: null, needsTestMessage: false },
    })
    expect(teams.messages).toEqual([
      { kind: 'legacy', body: expect.objectContaining({ '@type': 'MessageCard' }) },
    ])

    // Probes run for an hour (one failure would be enough to fail it here): they never post, and keep it active.
    // The clock moves a minute at a time, the probe sweep's own pace, so every probe slot is met.
    for (let i = 0; i < 60; i++) {
      h.clock.advance(60_000)
      await jobs.runDue()
    }
    const later = await call('GET', '/api/v1/integrations/communication')
    expect(later.body.data.teams).toMatchObject({ status: 'active', lastError: null })
    expect(teams.requests).toHaveLength(1)
    const health = await call('GET', `/api/v1/integrations/status?orgId=${org.id}`, undefined, h.systemToken)
    const item = health.body.data.integrations.find((i: { provider: string }) => i.provider === 'teams')
    expect(item).toMatchObject({ health: 'connected', status: 'active' })
    expect(item.history.length).toBeGreaterThanOrEqual(11)
    expect(item.history.every((p: { ok: boolean }) => p.ok)).toBe(true)
  })

  it('Discord: an embed test message arrives in the shape Discord documents', async () => {
    const res = await configure('discord', { ...discord.credentials(), username: 'Breeze', test: true })
    expect(res).toMatchObject({ success: true, test: { ok: true, vendorStatus: 200 } })
    expect(discord.messages).toHaveLength(1)
    const body = discord.messages[0]?.body as { username: string; embeds: unknown[] }
    expect(executeWebhookProblems(body)).toEqual([])
    expect(body.username).toBe('Breeze')
    expect(body.embeds).toHaveLength(1)
    expect(JSON.stringify(res)).not.toContain(discord.webhook.token)
  })
})

describe('settings', () => {
  it('GET /communication: every provider in one object, 404 when none, masked URLs', async () => {
    expect((await call('GET', '/api/v1/integrations/communication')).status).toBe(404)
    await configure('slack', { ...slack.credentials(), channel: '#ops' })
    await configure('discord', { ...discord.credentials(), notifyOn: ['device.offline'] })
    const res = await call('GET', '/api/v1/integrations/communication')
    expect(res.status).toBe(200)
    expect(Object.keys(res.body.data).sort()).toEqual(['discord', 'slack'])
    expect(res.body.data.slack).toMatchObject({
      webhookUrl: expect.stringMatching(/^https:\/\/hooks\.slack\.com\/\*\*\*\*.{4}$/),
      channel: '#ops',
      notifyOn: ['alert.critical', 'alert.warning'],
      status: 'pending_verify',
    })
    expect(res.body.data.discord.notifyOn).toEqual(['device.offline'])
    // Partner keys name the organization; another partner's key cannot see it.
    const viaPartner = await call(
      'GET',
      `/api/v1/integrations/communication?orgId=${org.id}`,
      undefined,
      t.partnerToken,
    )
    expect(viaPartner.body).toEqual(res.body)
    const noOrg = await call('GET', '/api/v1/integrations/communication', undefined, t.partnerToken)
    expect(noOrg).toMatchObject({ status: 400, body: { error: 'Organization context required' } })
    const other = await call(
      'GET',
      `/api/v1/integrations/communication?orgId=${org.id}`,
      undefined,
      t.otherPartnerToken,
    )
    expect(other.status).toBe(404)
  })

  it('updates in place: absent fields are kept, null clears, the masked URL keeps the stored one', async () => {
    const first = await configure('slack', {
      ...slack.credentials(),
      channel: '#a',
      username: 'Bot',
      notifyOn: ['*'],
    })
    const second = await configure('slack', { webhookUrl: first.data.webhookUrl, channel: null })
    expect(second.data).toMatchObject({ id: first.data.id, channel: null, username: 'Bot', notifyOn: ['*'] })
    expect(second.data.webhookUrl).toBe(first.data.webhookUrl)
    const audit = await call(
      'GET',
      `/api/v1/audit-logs?orgId=${org.id}&action=integration.update`,
      undefined,
      h.systemToken,
    )
    expect(audit.body.data).toHaveLength(1)
    expect(audit.body.data[0].summary).toMatchObject({ changed: ['settings'] })
  })

  it('refuses bad input with 422 naming the field, and saves nothing', async () => {
    const unknown = await call('POST', '/api/v1/integrations/slack', {
      ...slack.credentials(),
      notifyOn: ['alert.critical', 'alert.exploded'],
    })
    expect(unknown.status).toBe(422)
    expect(unknown.body.details).toEqual([
      { path: 'notifyOn.1', message: expect.stringContaining('Unknown event type "alert.exploded"') },
    ])
    const noUrl = await call('POST', '/api/v1/integrations/discord', { notifyOn: ['*'] })
    expect(noUrl.status).toBe(422)
    expect(noUrl.body.details).toEqual([{ path: 'webhookUrl', message: 'The webhookUrl field is required.' }])
    const wrongHost = await call('POST', '/api/v1/integrations/slack', {
      webhookUrl: discord.credentials().webhookUrl,
    })
    expect(wrongHost.status).toBe(422)
    expect(wrongHost.body.details[0].path).toBe('webhookUrl')
    expect(JSON.stringify(wrongHost.body)).not.toContain(discord.webhook.token)
    const teamsWrong = await call('POST', '/api/v1/integrations/teams', {
      webhookUrl: 'https://example.com/hook',
    })
    expect(teamsWrong.status).toBe(422)
    expect(teamsWrong.body.details[0]).toMatchObject({ path: 'webhookUrl' })
    const extra = await call('POST', '/api/v1/integrations/slack', { ...slack.credentials(), color: 'red' })
    expect(extra.status).toBe(422)
    expect(extra.body.details).toEqual([{ path: 'color', message: 'Unknown field' }])
    expect((await call('GET', '/api/v1/integrations/communication')).status).toBe(404)
  })
})

describe('notifications', () => {
  it('a critical alert reaches only the channels whose notifyOn asks for it, shaped per platform', async () => {
    await configure('slack', { ...slack.credentials(), notifyOn: ['alert.critical'] })
    await configure('teams', { ...teams.credentials('workflow'), notifyOn: ['alert.warning'] })
    await configure('discord', { ...discord.credentials(), notifyOn: ['device.offline', 'alert.info'] })

    const event = await emit('alert.triggered', critical)
    expect(event.deliveriesQueued).toBe(1)
    expect(await h.worker.drain()).toBe(1)
    expect(slack.messages).toHaveLength(1)
    expect(teams.messages).toHaveLength(0)
    expect(discord.messages).toHaveLength(0)
    const msg = slack.messages[0]?.body as { text: string; blocks: Array<Record<string, unknown>> }
    const blocks = JSON.stringify(msg.blocks)
    expect(msg.text).toContain('Critical alert: CPU above 95% on WORKSTATION-01')
    for (const piece of ['*Severity*\\nCritical', 'WORKSTATION-01 (dev-42)', '*Alert*\\nCPU above 95%'])
      expect(blocks).toContain(piece)
    expect(blocks).toContain(`${CONSOLE}/alerts/al-1001`)
    expect(blocks).toContain(`<!date^${Math.floor(h.clock.now().getTime() / 1000)}^`)

    await emit('alert.escalated', { ...critical, severity: 'warning' })
    await emit('device.offline', { deviceId: 'dev-42', hostname: 'WORKSTATION-01' })
    await emit('alert.triggered', { ...critical, severity: 'info', alertId: 'al-1002' })
    await emit('device.online', { deviceId: 'dev-42' })
    expect(await h.worker.drain()).toBe(3)
    expect(slack.messages).toHaveLength(1)
    expect(teams.messages).toHaveLength(1)
    const card = JSON.stringify(teams.messages[0]?.body)
    expect(card).toContain('AdaptiveCard')
    expect(card).toContain(`${CONSOLE}/alerts/al-1001`)
    expect(discord.messages).toHaveLength(2)
    for (const m of discord.messages) expect(executeWebhookProblems(m.body)).toEqual([])
    expect(discord.messages[0]?.wait).toBe(true)

    const history = await deliveries()
    expect(history).toHaveLength(4)
    for (const d of history) expect(d).toMatchObject({ status: 'delivered', targetType: 'notification' })
  })

  it('cuts oversized alerts to each platform’s limits instead of failing them', async () => {
    await configure('slack', { ...slack.credentials(), notifyOn: ['*'] })
    await configure('teams', { ...teams.credentials('workflow'), notifyOn: ['*'] })
    await configure('discord', { ...discord.credentials(), notifyOn: ['*'] })
    const huge: Record<string, unknown> = {
      ...critical,
      alertName: 'A'.repeat(600),
      hostname: 'H'.repeat(300),
      message: 'Line of output. '.repeat(5_000),
    }
    for (let i = 0; i < 30; i++) huge[`detail${i}`] = 'x'.repeat(1_500)
    await emit('alert.triggered', huge)
    expect(await h.worker.drain()).toBe(3)
    expect([slack.rejections, teams.rejections, discord.rejections]).toEqual([[], [], []])
    expect([slack.messages.length, teams.messages.length, discord.messages.length]).toEqual([1, 1, 1])
    for (const m of discord.messages) expect(executeWebhookProblems(m.body)).toEqual([])
    for (const d of await deliveries()) expect(d.status).toBe('delivered')
  })

  it('a disabled channel gets nothing; a legacy Teams channel gets a MessageCard', async () => {
    const s = await configure('slack', { ...slack.credentials(), notifyOn: ['*'] })
    await configure('teams', { ...teams.credentials('legacy'), notifyOn: ['alert.*'], test: true })
    teams.reset()
    const off = await call('POST', `/api/v1/integrations/${s.data.id}/disable`)
    expect(off.status).toBe(200)
    await emit('alert.triggered', critical)
    await h.worker.drain()
    expect(slack.messages).toHaveLength(0)
    expect(teams.messages).toHaveLength(1)
    expect(teams.messages[0]).toMatchObject({ kind: 'legacy', body: { '@type': 'MessageCard' } })
  })

  it('honours Slack’s 429 Retry-After exactly: not a moment before', async () => {
    await configure('slack', { ...slack.credentials(), notifyOn: ['alert.critical'] })
    slack.failNext({ status: 429, retryAfter: 30 })
    await emit('alert.triggered', critical)
    expect(await h.worker.drain()).toBe(1)
    const [waiting] = await deliveries()
    expect(waiting).toMatchObject({
      status: 'retrying',
      responseStatus: 429,
      errorMessage: 'Slack answered 429: rate_limited',
      nextAttemptAt: new Date(h.clock.now().getTime() + 30_000).toISOString(),
    })
    h.clock.advance(29_999)
    expect(await h.worker.drain()).toBe(0)
    expect(slack.messages).toHaveLength(0)
    h.clock.advance(1)
    expect(await h.worker.drain()).toBe(1)
    expect(slack.messages).toHaveLength(1)
    const [done] = await deliveries()
    expect(done).toMatchObject({ status: 'delivered', attempt: 2 })
  })

  it('honours Discord’s retry_after (seconds, fractional) to the millisecond', async () => {
    await configure('discord', { ...discord.credentials(), notifyOn: ['device.offline'] })
    discord.failNext({ status: 429, retryAfter: 2.5 })
    await emit('device.offline', { deviceId: 'dev-1' })
    await h.worker.drain()
    const [waiting] = await deliveries()
    expect(waiting?.nextAttemptAt).toBe(new Date(h.clock.now().getTime() + 2_500).toISOString())
    h.clock.advance(2_499)
    expect(await h.worker.drain()).toBe(0)
    h.clock.advance(1)
    expect(await h.worker.drain()).toBe(1)
    expect(discord.messages).toHaveLength(1)
  })

  it('a refusing endpoint leaves a failed delivery, which is retried on request and then delivered', async () => {
    const s = await configure('slack', { ...slack.credentials(), notifyOn: ['alert.critical'] })
    slack.failNext({ status: 404, body: 'channel_not_found' })
    await emit('alert.triggered', critical)
    await h.worker.drain()
    const [failed] = await deliveries('&status=failed')
    expect(failed).toMatchObject({
      status: 'failed',
      targetId: s.data.id,
      responseStatus: 404,
      responseBody: 'channel_not_found',
      errorMessage: 'Slack answered 404: channel_not_found',
      attempt: 1,
    })
    const retry = await call('POST', '/api/v1/deliveries/retry', {
      targetType: 'notification',
      targetId: s.data.id,
    })
    expect(retry).toMatchObject({ status: 202, body: { queued: 1 } })
    expect(await h.worker.drain()).toBe(1)
    expect(slack.messages).toHaveLength(1)
    const delivered = await deliveries('&status=delivered')
    expect(delivered).toEqual([expect.objectContaining({ retryOf: failed?.id })])
  })

  it('outages are retried with backoff and dead-lettered when exhausted', async () => {
    await configure('teams', { ...teams.credentials('workflow'), notifyOn: ['alert.critical'] })
    for (let i = 0; i < 6; i++) teams.failNext({ status: 503 })
    await emit('alert.triggered', critical)
    for (const wait of [0, 1_000, 2_000, 4_000, 8_000, 16_000]) {
      h.clock.advance(wait)
      expect(await h.worker.drain()).toBe(1)
    }
    const [dead] = await deliveries()
    expect(dead).toMatchObject({ status: 'failed', attempt: 6, responseStatus: 503 })
    expect(String(dead?.errorMessage)).toContain('gave up after 6 attempts')
    expect(teams.messages).toHaveLength(0)
  })
})

describe('notifyOn in SQL and in TypeScript', () => {
  it('the fan-out selects exactly the channels matchesNotifyOn selects', async () => {
    const lists = [
      ['alert.critical'],
      ['alert.warning', 'device.offline'],
      ['alert.info'],
      ['alert.*'],
      ['*'],
      ['device.*'],
      ['alert.resolved', 'alert.critical'],
      [],
      ['remote.session.*'],
    ]
    const ids: { id: string; notifyOn: string[] }[] = []
    for (const [i, notifyOn] of lists.entries()) {
      const hook = slack.addWebhook()
      const created = await createIntegration(
        h.ctx,
        org.id,
        {
          provider: 'slack',
          name: `channel ${i}`,
          credentials: slack.credentials(hook),
          settings: { notifyOn },
        },
        { actor: { type: 'system', name: 'test' } },
      )
      ids.push({ id: created.id, notifyOn })
    }
    const events = [
      { type: 'alert.triggered', data: { severity: 'critical' } },
      { type: 'alert.triggered', data: { severity: ' Warning ' } },
      { type: 'alert.escalated', data: { severity: 'info' } },
      { type: 'alert.escalated', data: {} },
      { type: 'alert.resolved', data: { severity: 'critical' } },
      { type: 'alert.acknowledged', data: { severity: 'critical' } },
      { type: 'device.offline', data: { severity: 'warning' } },
      { type: 'remote.session.started', data: {} },
      { type: 'alert.triggered', data: { severity: 3 } },
    ]
    const now = h.clock.now()
    const stored = events.map((e) => ({ ...e, id: newId(now.getTime()), orgId: org.id, occurredAt: now }))
    await ingestEvents(h.ctx.db, fanouts(h.ctx), stored, now)
    const rows = await h.ctx.db.query<{ target_id: string; event_id: string }>(
      `SELECT target_id, event_id FROM deliveries WHERE org_id = $1 AND target_type = 'notification'`,
      [org.id],
    )
    const got = new Set(rows.map((r) => `${r.target_id}/${r.event_id}`))
    const expected = new Set<string>()
    for (const e of stored)
      for (const c of ids) if (matchesNotifyOn(c.notifyOn, e)) expected.add(`${c.id}/${e.id}`)
    expect(got).toEqual(expected)
    expect(expected.size).toBeGreaterThan(15)
  })
})

describe('secrets', () => {
  it('no webhook URL or token appears in any response, log line or audit entry', async () => {
    const tokens = [
      slack.hook.token,
      discord.webhook.token,
      new URL(teams.workflowUrl).searchParams.get('sig') ?? '',
    ]
    const legacyPath = new URL(teams.legacyUrl).pathname
    const haystacks = {
      responses: responses.join('\n'),
      logs: h.logs.join('\n'),
      stored: await storedPlainText(h),
    }
    expect(haystacks.stored).toContain('integration.test_message')
    for (const [where, text] of Object.entries(haystacks)) {
      for (const secret of [...tokens, legacyPath, slack.hook.webhookUrl, discord.webhook.webhookUrl])
        expect(text.includes(secret), `${where} contains a secret`).toBe(false)
    }
  })
})
