import { parseRetryAfter } from '../../net/retry-after.ts'
import { type Notification, NotificationError, type SendResult } from '../../notifications/types.ts'
import {
  callWebhook,
  KEPT_BODY_CHARS,
  refusal,
  resolveWebhookTarget,
  type WebhookTarget,
} from '../../notifications/webhook.ts'
import type { Connector, ConnectorDescriptor, ConnectorEnv, Credentials, VerifyResult } from '../types.ts'
import { renderSlackMessage } from './render.ts'

const SLACK = 'Slack'

export const slackDescriptor: ConnectorDescriptor = {
  id: 'slack',
  displayName: 'Slack',
  category: 'communication',
  capabilities: ['send_notification'],
  credentialSchema: {
    webhookUrl: {
      type: 'url',
      sensitive: true,
      required: true,
      pattern: '^https://hooks\\.slack(-gov)?\\.com/services/[^/]+/[^/]+/[^/?]+/?$',
      description:
        'Incoming webhook URL (https://hooks.slack.com/services/…). The URL is the credential: anyone who has it can post.',
    },
    baseUrl: {
      type: 'url',
      sensitive: false,
      required: false,
      description:
        "Replaces the webhook URL's scheme and host (and port); its path and query are kept. For a proxy or a stand-in.",
    },
  },
  docsUrl: 'https://api.slack.com/messaging/webhooks',
}

const SLACK_HOSTS = new Set(['hooks.slack.com', 'hooks.slack-gov.com'])

/**
 * Only incoming webhooks (`/services/T…/B…/token`) take a message payload; Workflow Builder webhooks
 * (`/workflows/…`, `/triggers/…`) take arbitrary variables and would post nothing useful.
 */
export function slackWebhookProblem(webhook: URL): string | undefined {
  if (!SLACK_HOSTS.has(webhook.hostname.toLowerCase()))
    return `Slack webhookUrl must be an incoming webhook on hooks.slack.com (got host ${webhook.hostname})`
  if (!/^\/services\/[^/]+\/[^/]+\/[^/]+\/?$/.test(webhook.pathname))
    return 'Slack webhookUrl must be an incoming webhook URL (https://hooks.slack.com/services/…)'
  return undefined
}

function target(credentials: Credentials): WebhookTarget {
  const t = resolveWebhookTarget(credentials, SLACK)
  const problem = slackWebhookProblem(t.webhook)
  if (problem) throw new NotificationError(problem, 400)
  return t
}

/**
 * Slack has no read endpoint for an incoming webhook, but it checks the URL before the payload: an empty
 * payload to a live URL is refused with 400 `no_text` and posts nothing, while a revoked or mistyped URL is
 * refused with 403 `invalid_token` or 404 `no_service` / `channel_not_found`, and an archived channel with 410
 * `channel_is_archived`. Error strings:
 * https://api.slack.com/changelog/2016-05-17-changes-to-errors-for-incoming-webhooks; `no_text` for a payload
 * without text on a working URL: https://gitlab.com/gitlab-org/gitlab/-/issues/332611; `invalid_token` (403)
 * and `no_service`: https://github.com/gueils/whales/issues/38, https://github.com/slackapi/slack-github-action/issues/249.
 */
async function verify(credentials: Credentials, env: ConnectorEnv): Promise<VerifyResult> {
  try {
    const t = target(credentials)
    const res = await callWebhook(env, SLACK, t, { method: 'POST', body: {} })
    if (res.status === 400 && res.body.trim() === 'no_text') return { ok: true }
    if (res.status >= 200 && res.status < 300) {
      return {
        ok: false,
        status: res.status,
        error: 'Slack accepted an empty message, so this is not a Slack incoming webhook',
      }
    }
    return { ok: false, status: res.status, error: refusal(SLACK, res, undefined).message }
  } catch (err) {
    if (err instanceof NotificationError) {
      return { ok: false, error: err.message, ...(err.status !== undefined ? { status: err.status } : {}) }
    }
    throw err
  }
}

/**
 * Slack answers 200 `ok`, or a status with a short error string as the body. Rate limits are 429 with
 * Retry-After in seconds (https://api.slack.com/apis/rate-limits, "1 per second" for incoming webhooks).
 */
async function send(credentials: Credentials, message: Notification, env: ConnectorEnv): Promise<SendResult> {
  const t = target(credentials)
  const res = await callWebhook(env, SLACK, t, { method: 'POST', body: renderSlackMessage(message) })
  if (res.status >= 200 && res.status < 300) {
    return { status: res.status, body: res.body.slice(0, KEPT_BODY_CHARS), timeMs: res.timeMs }
  }
  const retryAfterMs =
    res.status === 429 || res.status === 503
      ? parseRetryAfter(res.headers['retry-after'], env.clock.now())
      : undefined
  throw refusal(SLACK, res, undefined, retryAfterMs)
}

export const slack: Connector = {
  descriptor: slackDescriptor,
  verify,
  notifications: { send },
}
