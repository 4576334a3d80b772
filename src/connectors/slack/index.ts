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
import { callWebhook, refusal, type WebhookTarget } from '../shared/chat-webhook.ts'
import { verifyBy } from '../shared/credentials.ts'
import { type Notification, NotificationError, type SendResult } from '../shared/notification.ts'
import type { Connector, ConnectorEnv, VerifyResult } from '../types.ts'
import { renderSlackMessage } from './render.ts'

const SLACK: ChatPlatform = { name: 'Slack' }

export const slackDescriptor = chatDescriptor({
  id: 'slack',
  displayName: 'Slack',
  webhookUrl: {
    pattern: '^https://hooks\\.slack(-gov)?\\.com/services/[^/]+/[^/]+/[^/?]+/?$',
    description:
      'Incoming webhook URL (https://hooks.slack.com/services/…). The URL is the credential: anyone who has it can post.',
  },
  docsUrl: 'https://api.slack.com/messaging/webhooks',
})

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

function target(credentials: ChatCredentials): WebhookTarget {
  return checkedWebhookTarget(credentials, SLACK.name, slackWebhookProblem)
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
async function verify(credentials: ChatCredentials, env: ConnectorEnv): Promise<VerifyResult> {
  return verifyBy(async () => {
    const t = target(credentials)
    const res = await callWebhook(env, SLACK.name, t, { method: 'POST', body: {} })
    if (res.status === 400 && res.body.trim() === 'no_text') return undefined
    if (isSuccess(res)) {
      throw new NotificationError(
        'Slack accepted an empty message, so this is not a Slack incoming webhook',
        res.status,
      )
    }
    throw refusal(SLACK.name, res, undefined)
  })
}

/**
 * Slack answers 200 `ok`, or a status with a short error string as the body. Rate limits are 429 with
 * Retry-After in seconds (https://api.slack.com/apis/rate-limits, "1 per second" for incoming webhooks).
 */
async function send(
  credentials: ChatCredentials,
  message: Notification,
  env: ConnectorEnv,
): Promise<SendResult> {
  const res = await postMessage(env, SLACK, target(credentials), renderSlackMessage(message))
  return sentResult(res)
}

export const slack: Connector = defineConnector(chatCredentials(slackDescriptor, SLACK.name), {
  descriptor: slackDescriptor,
  verify,
  notifications: { send },
  chat: { webhookUrlProblem: slackWebhookProblem },
})
