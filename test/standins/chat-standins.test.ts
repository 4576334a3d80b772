/**
 * The chat stand-ins are only worth something if they refuse what the platforms refuse. These send them bodies
 * the real services reject and check the answers.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ManualClock } from '../../src/lib/clock.ts'
import { AddressPolicy } from '../../src/net/address-policy.ts'
import { HttpClient } from '../../src/net/http-client.ts'
import { type DiscordStandin, startDiscordStandin } from './discord.ts'
import { type SlackStandin, startSlackStandin } from './slack.ts'
import { startTeamsStandin, type TeamsStandin } from './teams.ts'

const http = new HttpClient({
  policy: new AddressPolicy(['127.0.0.0/8']),
  resolver: async (host) => (host.endsWith('.test') ? ['127.0.0.1'] : []),
  clock: new ManualClock(),
  dnsCacheMs: 0,
})
let slack: SlackStandin
let discord: DiscordStandin
let teams: TeamsStandin

beforeAll(async () => {
  ;[slack, discord, teams] = await Promise.all([
    startSlackStandin(),
    startDiscordStandin(),
    startTeamsStandin(),
  ])
})
afterAll(async () => {
  await http.close()
  await Promise.all([slack.close(), discord.close(), teams.close()])
})

/** The stand-in URL for a real-looking webhook URL (what a connector's baseUrl does). */
function via(base: string, webhookUrl: string, extraQuery = ''): string {
  const u = new URL(webhookUrl)
  return `${base}${u.pathname}${u.search}${extraQuery}`
}

async function post(url: string, body: unknown, method = 'POST') {
  const res = await http.request({
    method,
    url,
    headers: { 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  })
  return { status: res.status, body: res.body, headers: res.headers }
}

describe('Slack stand-in', () => {
  const url = () => via(slack.baseUrl, slack.hook.webhookUrl)
  const header = (text: string) => ({ blocks: [{ type: 'header', text: { type: 'plain_text', text } }] })

  it('accepts text or blocks and answers ok', async () => {
    expect(await post(url(), { text: 'hi' })).toMatchObject({ status: 200, body: 'ok' })
    expect(await post(url(), header('h'.repeat(150)))).toMatchObject({ status: 200, body: 'ok' })
  })

  it("refuses what Slack refuses, with Slack's error strings", async () => {
    expect(await post(url(), {})).toMatchObject({ status: 400, body: 'no_text' })
    expect(await post(url(), 'not json')).toMatchObject({ status: 400, body: 'invalid_payload' })
    expect(await post(url(), header('h'.repeat(151)))).toMatchObject({ status: 400, body: 'invalid_blocks' })
    expect(
      await post(url(), { blocks: Array.from({ length: 51 }, () => ({ type: 'divider' })) }),
    ).toMatchObject({
      status: 400,
      body: 'invalid_blocks',
    })
    const fields = Array.from({ length: 11 }, () => ({ type: 'mrkdwn', text: 'x' }))
    expect(await post(url(), { blocks: [{ type: 'section', fields }] })).toMatchObject({
      body: 'invalid_blocks',
    })
    expect(
      await post(url(), { blocks: [{ type: 'section', text: { type: 'mrkdwn', text: 'x'.repeat(3_001) } }] }),
    ).toMatchObject({ body: 'invalid_blocks' })
    expect(await post(url(), { text: 'x'.repeat(40_001) })).toMatchObject({
      status: 400,
      body: 'msg_too_long',
    })
    const bad = via(slack.baseUrl, slack.hook.webhookUrl.replace(slack.hook.token, 'wrong-token'))
    expect(await post(bad, { text: 'hi' })).toMatchObject({ status: 403, body: 'invalid_token' })
  })
})

describe('Discord stand-in', () => {
  const url = (q = '') => via(discord.baseUrl, discord.webhook.webhookUrl, q)

  it('answers 204, or 200 with the message when asked to wait', async () => {
    expect(await post(url(), { content: 'hi' })).toMatchObject({ status: 204 })
    const waited = await post(url('?wait=true'), { embeds: [{ title: 't' }] })
    expect(waited.status).toBe(200)
    expect(JSON.parse(waited.body)).toMatchObject({
      webhook_id: discord.webhook.id,
      embeds: [{ title: 't' }],
    })
    expect(waited.headers['x-ratelimit-limit']).toBe('5')
  })

  it('refuses what the official document refuses, in Discord’s error format', async () => {
    const tooLong = await post(url(), { content: 'c'.repeat(2_001) })
    expect(tooLong.status).toBe(400)
    expect(JSON.parse(tooLong.body)).toEqual({
      code: 50035,
      errors: {
        content: { _errors: [{ code: 'BASE_TYPE_MAX_LENGTH', message: 'Must be 2000 or fewer in length.' }] },
      },
      message: 'Invalid Form Body',
    })
    const elevenEmbeds = await post(url(), { embeds: Array.from({ length: 11 }, () => ({ title: 't' })) })
    expect(JSON.parse(elevenEmbeds.body).errors.embeds._errors[0].message).toBe(
      'Must be 10 or fewer in length.',
    )
    const fields = Array.from({ length: 26 }, () => ({ name: 'n', value: 'v' }))
    expect((await post(url(), { embeds: [{ fields }] })).status).toBe(400)
    expect((await post(url(), { embeds: [{ color: 16_777_216 }] })).status).toBe(400)
    const total = await post(url(), {
      embeds: [{ description: 'd'.repeat(4_000) }, { description: 'd'.repeat(2_001) }],
    })
    expect(JSON.parse(total.body).errors.embeds._errors[0].message).toBe(
      'Embed size exceeds maximum size of 6000',
    )
    expect(JSON.parse((await post(url(), { content: '' })).body)).toEqual({
      message: 'Cannot send an empty message',
      code: 50006,
    })
  })
})

describe('Teams stand-in', () => {
  const workflow = () => via(teams.baseUrl, teams.workflowUrl)
  const legacy = () => via(teams.baseUrl, teams.legacyUrl)
  const card = (content: Record<string, unknown>) => ({
    type: 'message',
    attachments: [{ contentType: 'application/vnd.microsoft.card.adaptive', content }],
  })

  it('accepts an Adaptive Card envelope with 202 and a MessageCard with 1', async () => {
    const ok = await post(
      workflow(),
      card({ type: 'AdaptiveCard', version: '1.4', body: [{ type: 'TextBlock', text: 'hi' }] }),
    )
    expect(ok).toMatchObject({ status: 202, body: '' })
    expect(await post(legacy(), { '@type': 'MessageCard', summary: 's' })).toMatchObject({
      status: 200,
      body: '1',
    })
  })

  it('refuses wrong envelopes, methods and sizes as Logic Apps and the connector do', async () => {
    const wrong = await post(workflow(), { type: 'message', attachments: [{ contentType: 'text/plain' }] })
    expect(wrong.status).toBe(400)
    expect(JSON.parse(wrong.body).error.code).toBe('TriggerInputSchemaMismatch')
    const get = await post(workflow(), undefined, 'GET')
    expect(JSON.parse(get.body)).toEqual({
      error: {
        code: 'TriggerRequestMethodNotValid',
        message: "The HTTP method for this request is not valid: expected 'Post' and actual 'GET'.",
      },
    })
    const big = card({
      type: 'AdaptiveCard',
      version: '1.4',
      body: [{ type: 'TextBlock', text: 'x'.repeat(29_000) }],
    })
    expect((await post(workflow(), big)).status).toBe(413)
    expect(await post(legacy(), { '@type': 'MessageCard', title: 't' })).toMatchObject({
      status: 400,
      body: 'Summary or Text is required.',
    })
  })
})
