import { parseRetryAfter } from '../../net/retry-after.ts'
import { defineConnector } from '../define.ts'
import {
  type ChatCredentials,
  type ChatPlatform,
  chatCredentials,
  chatDescriptor,
  checkedWebhookTarget,
  isSuccess,
  postMessage,
  sentResult,
} from '../shared/chat.ts'
import {
  callWebhook,
  parseJson,
  refusal,
  type WebhookResponse,
  type WebhookTarget,
} from '../shared/chat-webhook.ts'
import { verifyBy } from '../shared/credentials.ts'
import { type Notification, NotificationError, type SendResult } from '../shared/notification.ts'
import type { Connector, ConnectorEnv, VerifyResult } from '../types.ts'
import { renderDiscordMessage } from './render.ts'

const DISCORD: ChatPlatform = {
  name: 'Discord',
  errorText: discordErrorText,
  retryAfter: discordRetryAfter,
}

export const discordDescriptor = chatDescriptor({
  id: 'discord',
  displayName: 'Discord',
  webhookUrl: {
    pattern: '^https://((canary|ptb)\\.)?discord(app)?\\.com/api(/v\\d+)?/webhooks/\\d+/[^/?]+/?(\\?.*)?$',
    description:
      'Channel webhook URL (https://discord.com/api/webhooks/{id}/{token}). The URL is the credential: anyone who has it can post.',
  },
  docsUrl: 'https://discord.com/developers/docs/resources/webhook#execute-webhook',
})

const DISCORD_HOST_RE = /^((canary|ptb)\.)?discord(app)?\.com$/

export function discordWebhookProblem(webhook: URL): string | undefined {
  if (!DISCORD_HOST_RE.test(webhook.hostname.toLowerCase()))
    return `Discord webhookUrl must be a webhook on discord.com (got host ${webhook.hostname})`
  if (!/^\/api(\/v\d+)?\/webhooks\/\d+\/[^/]+\/?$/.test(webhook.pathname))
    return 'Discord webhookUrl must be a webhook URL (https://discord.com/api/webhooks/{id}/{token})'
  return undefined
}

function target(credentials: ChatCredentials): WebhookTarget {
  return checkedWebhookTarget(credentials, DISCORD.name, discordWebhookProblem)
}

/**
 * `GET` on the webhook URL returns the webhook object and posts nothing
 * (https://discord.com/developers/docs/resources/webhook#get-webhook-with-token). A deleted webhook answers
 * 404 `Unknown Webhook` (10015), a wrong token 401 `Invalid Webhook Token` (50027).
 */
async function verify(credentials: ChatCredentials, env: ConnectorEnv): Promise<VerifyResult> {
  return verifyBy(async () => {
    const t = target(credentials)
    const res = await callWebhook(env, DISCORD.name, t, { method: 'GET' })
    if (!isSuccess(res)) throw refusal(DISCORD.name, res, discordErrorText(res))
    const hook = parseJson(res.body) as Record<string, unknown> | undefined
    if (!hook || typeof hook.id !== 'string') {
      throw new NotificationError('Discord did not answer with a webhook object', res.status)
    }
    const name = typeof hook.name === 'string' ? hook.name : hook.id
    const channel = typeof hook.channel_id === 'string' ? ` in channel ${hook.channel_id}` : ''
    return `Webhook "${name}"${channel}`
  })
}

/**
 * Executes the webhook with `?wait=true`, so Discord answers once the message exists (200 with the message)
 * rather than 204 (https://discord.com/developers/docs/resources/webhook#execute-webhook). Rate limits are 429
 * with a JSON body whose `retry_after` is in seconds (a float), plus Retry-After and X-RateLimit-* headers
 * (https://discord.com/developers/docs/topics/rate-limits#exceeding-a-rate-limit); the body is the most
 * precise, then the headers.
 */
async function send(
  credentials: ChatCredentials,
  message: Notification,
  env: ConnectorEnv,
): Promise<SendResult> {
  const t = target(credentials)
  const url = new URL(t.url)
  url.searchParams.set('wait', 'true')
  const res = await postMessage(env, DISCORD, t, renderDiscordMessage(message), url)
  const result = sentResult(res)
  const posted = parseJson(res.body) as Record<string, unknown> | undefined
  if (posted && typeof posted.id === 'string') result.messageId = posted.id
  const rateLimit = remainingRateLimit(res)
  if (rateLimit) result.rateLimit = rateLimit
  return result
}

export function discordRetryAfter(res: WebhookResponse, env: ConnectorEnv): number | undefined {
  const body = parseJson(res.body) as Record<string, unknown> | undefined
  const seconds = body?.retry_after
  if (typeof seconds === 'number' && Number.isFinite(seconds) && seconds >= 0)
    return Math.ceil(seconds * 1000)
  const header = parseRetryAfter(res.headers['retry-after'], env.clock.now())
  if (header !== undefined) return header
  const resetAfter = Number.parseFloat(res.headers['x-ratelimit-reset-after'] ?? '')
  return Number.isFinite(resetAfter) && resetAfter >= 0 ? Math.ceil(resetAfter * 1000) : undefined
}

function remainingRateLimit(res: WebhookResponse): SendResult['rateLimit'] {
  const remaining = Number.parseInt(res.headers['x-ratelimit-remaining'] ?? '', 10)
  const resetAfter = Number.parseFloat(res.headers['x-ratelimit-reset-after'] ?? '')
  if (!Number.isFinite(remaining) || !Number.isFinite(resetAfter)) return undefined
  return { remaining, resetAfterMs: Math.ceil(resetAfter * 1000) }
}

/**
 * Discord's error body is `{code, message, errors?}`; `errors` nests field paths down to `_errors` lists
 * (https://discord.com/developers/docs/reference#error-messages). Flattened as
 * `Invalid Form Body (50035): embeds.0.title: Must be 256 or fewer in length.`
 */
export function discordErrorText(res: WebhookResponse): string | undefined {
  const body = parseJson(res.body) as Record<string, unknown> | undefined
  if (!body || typeof body.message !== 'string') return undefined
  const code = typeof body.code === 'number' && body.code !== 0 ? ` (${body.code})` : ''
  const details: string[] = []
  collectErrors(body.errors, [], details)
  return `${body.message}${code}${details.length ? `: ${details.join('; ')}` : ''}`
}

function collectErrors(node: unknown, path: string[], out: string[]): void {
  if (!node || typeof node !== 'object' || out.length >= 10) return
  const n = node as Record<string, unknown>
  if (Array.isArray(n._errors)) {
    const messages = n._errors
      .map((e) => (e && typeof e === 'object' ? (e as Record<string, unknown>).message : undefined))
      .filter((m): m is string => typeof m === 'string')
    if (messages.length) out.push(`${path.join('.') || '(body)'}: ${messages.join(' ')}`)
    return
  }
  for (const [key, child] of Object.entries(n)) collectErrors(child, [...path, key], out)
}

export const discord: Connector = defineConnector(chatCredentials(discordDescriptor, DISCORD.name), {
  descriptor: discordDescriptor,
  verify,
  notifications: { send },
  chat: { webhookUrlProblem: discordWebhookProblem },
})
