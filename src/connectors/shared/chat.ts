/**
 * What the chat connectors (Slack, Microsoft Teams, Discord) share: the descriptor and credential schema of a
 * connector whose credential is a webhook URL, the checked webhook target, and the POST that maps a refusal to a
 * NotificationError. Each platform's quirks (URL rules, payloads, error bodies, rate limits) stay in its folder.
 */
import { parseRetryAfter } from '../../net/retry-after.ts'
import type { CredentialSchema } from '../../vault/mask.ts'
import { type CredentialsOf, credentialParser } from '../define.ts'
import type { ConnectorDescriptor, ConnectorEnv, CredentialParser } from '../types.ts'
import {
  callWebhook,
  KEPT_BODY_CHARS,
  refusal,
  resolveWebhookTarget,
  type WebhookResponse,
  type WebhookTarget,
} from './chat-webhook.ts'
import { NotificationError, type SendResult } from './notification.ts'

/** A chat connector's fields: a secret `webhookUrl` (the platform's own rules) and the optional `baseUrl`. */
function chatFields(webhookUrl: { pattern?: string; description: string }) {
  const { pattern, description } = webhookUrl
  return {
    webhookUrl: {
      type: 'url',
      sensitive: true,
      // The secret and the destination at once: a new webhook URL is the secret given again, and the baseUrl
      // override (which swaps its host) cannot change without it.
      destination: true,
      required: true,
      ...(pattern !== undefined ? { pattern } : {}),
      description,
    },
    baseUrl: {
      type: 'url',
      sensitive: false,
      destination: true,
      required: false,
      description:
        "Replaces the webhook URL's scheme and host (and port); its path and query are kept. For a proxy or a stand-in.",
    },
  } as const satisfies CredentialSchema
}

type ChatFields = ReturnType<typeof chatFields>

/** A chat connector's credentials as its functions read them. */
export type ChatCredentials = CredentialsOf<ChatFields>

/** A chat connector's descriptor: its webhook URL rules, category `communication`, `send_notification`. */
export function chatDescriptor(opts: {
  id: string
  displayName: string
  webhookUrl: { pattern?: string; description: string }
  docsUrl: string
}): ConnectorDescriptor & { credentialSchema: ChatFields } {
  return {
    id: opts.id,
    displayName: opts.displayName,
    category: 'communication',
    capabilities: ['send_notification'],
    credentialSchema: chatFields(opts.webhookUrl),
    docsUrl: opts.docsUrl,
  }
}

/** The credential parser of a chat connector: a missing webhook URL is refused as a 400 NotificationError. */
export function chatCredentials(
  descriptor: ConnectorDescriptor & { credentialSchema: ChatFields },
  platform: string,
): CredentialParser<ChatCredentials> {
  return credentialParser(
    descriptor.credentialSchema,
    (field) => new NotificationError(`${platform} ${field} is missing`, 400),
  )
}

/**
 * The webhook to call (see `resolveWebhookTarget`), refused with a 400 NotificationError when `problem` finds
 * fault with the URL as configured.
 */
export function checkedWebhookTarget(
  credentials: ChatCredentials,
  platform: string,
  problem: (webhook: URL) => string | undefined,
): WebhookTarget {
  const t = resolveWebhookTarget(credentials, platform)
  const fault = problem(t.webhook)
  if (fault) throw new NotificationError(fault, 400)
  return t
}

export function isSuccess(res: WebhookResponse): boolean {
  return res.status >= 200 && res.status < 300
}

/** How one platform words its refusals and its rate limits. */
export interface ChatPlatform {
  /** The name every message starts with (`Slack answered 404: …`). */
  name: string
  /** The platform's own error text from a refusal's body, when it is structured; the raw body otherwise. */
  errorText?: (res: WebhookResponse) => string | undefined
  /** The wait a 429 or 503 asks for; the Retry-After header (seconds or an HTTP date) when not set. */
  retryAfter?: (res: WebhookResponse, env: ConnectorEnv) => number | undefined
}

/**
 * POSTs a message payload as JSON. Resolves with a 2xx answer; any other answer rejects with the platform's
 * refusal (`refusal`), carrying the Retry-After of a 429 or 503. Never sleeps or retries.
 */
export async function postMessage(
  env: ConnectorEnv,
  platform: ChatPlatform,
  target: WebhookTarget,
  body: unknown,
  url?: URL,
): Promise<WebhookResponse> {
  const res = await callWebhook(env, platform.name, target, {
    method: 'POST',
    ...(url ? { url } : {}),
    body,
  })
  if (isSuccess(res)) return res
  const retryAfterMs =
    res.status === 429 || res.status === 503
      ? platform.retryAfter
        ? platform.retryAfter(res, env)
        : parseRetryAfter(res.headers['retry-after'], env.clock.now())
      : undefined
  throw refusal(platform.name, res, platform.errorText?.(res), retryAfterMs)
}

/** An accepted message as the engine records it: status, the answer (kept short) and the time it took. */
export function sentResult(res: WebhookResponse): SendResult {
  return { status: res.status, body: res.body.slice(0, KEPT_BODY_CHARS), timeMs: res.timeMs }
}
