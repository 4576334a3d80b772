import { OutboundError, UnsafeUrlError } from '../../net/http-client.ts'
import type { ConnectorEnv, Credentials } from '../types.ts'
import { fromTransport } from '../vendor-error.ts'
import { NotificationError } from './notification.ts'

/** The engine keeps this much of a response body; so do we. */
export const KEPT_BODY_CHARS = 1_000

export interface WebhookTarget {
  /** The webhook URL as configured: its host and path say which platform and which kind of hook it is. */
  webhook: URL
  /** Where requests go (see `resolveWebhookTarget`). */
  url: URL
  /** Every form of the secret URL that must never appear in a message, log or stored body. */
  secrets: string[]
}

/**
 * The URL to call for a chat webhook. `webhookUrl` is the credential as the platform issued it. `baseUrl`, when
 * set, replaces its scheme, host and port (and adds its own path, if any, in front): with
 * `webhookUrl = https://hooks.slack.com/services/T1/B2/xyz` and `baseUrl = http://slack.test:8080`, requests go
 * to `http://slack.test:8080/services/T1/B2/xyz`. Only the host changes, so the path and query keep their
 * meaning (a proxy or a stand-in sees exactly what the platform would).
 */
export function resolveWebhookTarget(credentials: Credentials, platform: string): WebhookTarget {
  const raw = credentials.webhookUrl
  if (typeof raw !== 'string' || !raw.trim())
    throw new NotificationError(`${platform} webhookUrl is missing`, 400)
  let webhook: URL
  try {
    webhook = new URL(raw.trim())
  } catch {
    throw new NotificationError(`${platform} webhookUrl is not a valid URL`, 400)
  }
  let url = webhook
  const base = credentials.baseUrl
  if (typeof base === 'string' && base.trim()) {
    let b: URL
    try {
      b = new URL(base.trim())
    } catch {
      throw new NotificationError(`${platform} baseUrl is not a valid URL`, 400)
    }
    url = new URL(`${b.origin}${b.pathname.replace(/\/+$/, '')}${webhook.pathname}${webhook.search}`)
  }
  return { webhook, url, secrets: secretForms(raw.trim(), webhook, url) }
}

/**
 * The webhook URL is the credential; its path and query carry the token (Slack's last segment, Discord's token,
 * a Power Automate `sig`). Strip the whole URL, the request URL, the path and every long path segment or query
 * value, raw and percent-encoded.
 */
function secretForms(raw: string, webhook: URL, url: URL): string[] {
  const parts = new Set<string>([raw, webhook.href, url.href, `${webhook.pathname}${webhook.search}`])
  for (const seg of webhook.pathname.split('/')) if (seg.length >= 16) parts.add(decodeSafe(seg))
  for (const [, v] of webhook.searchParams) if (v.length >= 16) parts.add(v)
  const out = new Set<string>()
  for (const p of parts) {
    if (p.length < 4) continue
    out.add(p)
    out.add(encodeURIComponent(p))
  }
  // Longest first, so a whole URL is replaced before a segment inside it.
  return [...out].sort((a, b) => b.length - a.length)
}

function decodeSafe(s: string): string {
  try {
    return decodeURIComponent(s)
  } catch {
    return s
  }
}

export interface WebhookResponse {
  status: number
  headers: Record<string, string>
  /** Secrets removed. */
  body: string
  timeMs: number
  /** Removes the webhook URL's secrets, in every encoded form, from text derived from the body. */
  scrub(text: string): string
}

/**
 * One request to a chat webhook through the guarded client. Any HTTP answer is returned (the caller decides what
 * it means); no answer at all becomes a NotificationError without a status (retryable), a refused URL one with
 * 400 (not retryable). Never sleeps, never retries.
 */
export async function callWebhook(
  env: ConnectorEnv,
  platform: string,
  target: WebhookTarget,
  req: { method: 'GET' | 'POST'; url?: URL; body?: unknown },
): Promise<WebhookResponse> {
  const headers: Record<string, string> = { accept: 'application/json, text/plain;q=0.9, */*;q=0.1' }
  let body: string | undefined
  if (req.body !== undefined) {
    body = JSON.stringify(req.body)
    headers['content-type'] = 'application/json; charset=utf-8'
  }
  try {
    const res = await env.http.request({
      method: req.method,
      url: (req.url ?? target.url).href,
      headers,
      ...(body !== undefined ? { body } : {}),
      // The URL is the credential: the client removes it from the body, headers and its own messages.
      secrets: target.secrets,
      keepResponseChars: 64 * 1024,
      maxResponseBytes: 1_048_576,
    })
    return { status: res.status, headers: res.headers, body: res.body, timeMs: res.timeMs, scrub: res.scrub }
  } catch (err) {
    if (err instanceof UnsafeUrlError)
      throw fromTransport(new NotificationError(`${platform} URL ${err.message}`), err)
    if (err instanceof OutboundError)
      throw fromTransport(new NotificationError(`${platform}: ${err.message}`), err)
    throw err
  }
}

/** A refusal as the platform worded it: `Slack answered 404: channel_not_found`. */
export function refusal(
  platform: string,
  res: WebhookResponse,
  detail: string | undefined,
  retryAfterMs?: number,
): NotificationError {
  const text = res.scrub((detail ?? res.body).trim()).slice(0, 500)
  return new NotificationError(
    `${platform} answered ${res.status}${text ? `: ${text}` : ''}`,
    res.status,
    retryAfterMs,
    res.body.slice(0, KEPT_BODY_CHARS),
  )
}

export function parseJson(text: string): unknown {
  if (!text.trim()) return undefined
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}
