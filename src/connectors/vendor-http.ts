import { OutboundError, UnsafeUrlError } from '../net/http-client.ts'
import { parseRetryAfter } from '../net/retry-after.ts'
import type { CredentialSchema } from '../vault/mask.ts'
import type { ConnectorEnv, Credentials } from './types.ts'
import { fromTransport, VendorError } from './vendor-error.ts'

export interface VendorCall {
  /** Who is being called, for messages: "ConnectWise", "Jira". */
  vendor: string
  method?: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE'
  url: string
  headers?: Record<string, string>
  /** Serialised as JSON unless a string. */
  body?: unknown
  /**
   * Secret values (the sensitive credential fields) to strip from any text that leaves this function, besides
   * what the request itself carried (every header value, credential-named query parameters), which the HTTP
   * client strips anyway.
   */
  secrets: readonly unknown[]
  /** Headers whose values are not credentials (an idempotency key), so the vendor's echo of them stays readable. */
  publicHeaders?: readonly string[]
  /** Pulls the vendor's human message out of an error body; falls back to the raw body. */
  errorText?: (body: unknown, raw: string) => string | undefined
  timeoutMs?: number
  /** The SHA-256 fingerprint of the only certificate the vendor's host may present (see OutboundRequest). */
  pinnedCertSha256?: string
}

export interface VendorResponse<T> {
  status: number
  headers: Record<string, string>
  /** Parsed JSON as the vendor sent it; a body that is not JSON comes as text, with what was sent removed. */
  data: T
  /** Removes what the request sent (credentials, in every encoded form) from text derived from `data`. */
  scrub(text: string): string
}

/**
 * One call to a vendor's REST API. 2xx bodies are parsed as JSON (or returned as text); anything else becomes a
 * VendorError carrying the vendor's own message, with every credential value removed, and Retry-After for 429
 * and 503. Nothing here sleeps or retries: a delivery is rescheduled by the engine, an interactive test reports
 * the rate limit to the user.
 */
export async function callVendor<T = unknown>(
  env: ConnectorEnv,
  call: VendorCall,
): Promise<VendorResponse<T>> {
  const headers: Record<string, string> = { accept: 'application/json', ...call.headers }
  let body: string | undefined
  if (call.body !== undefined) {
    body = typeof call.body === 'string' ? call.body : JSON.stringify(call.body)
    headers['content-type'] ??= 'application/json'
  }
  let res: Awaited<ReturnType<ConnectorEnv['http']['request']>>
  try {
    res = await env.http.request({
      method: call.method ?? 'GET',
      url: call.url,
      headers,
      ...(body !== undefined ? { body } : {}),
      ...(call.timeoutMs ? { timeoutMs: call.timeoutMs } : {}),
      secrets: call.secrets,
      ...(call.publicHeaders ? { publicHeaders: call.publicHeaders } : {}),
      // Connectors read data from 2xx JSON; error bodies come back scrubbed of everything this request sent.
      rawSuccessBody: true,
      ...(call.pinnedCertSha256 !== undefined ? { pinnedCertSha256: call.pinnedCertSha256 } : {}),
      keepResponseChars: 8 * 1_048_576,
      keepErrorChars: 256 * 1024,
      maxResponseBytes: 32 * 1_048_576,
    })
  } catch (err) {
    // The client has scrubbed its messages of what this request sent.
    // No vendor answered, so there is no vendor status: the error says what failed instead.
    if (err instanceof UnsafeUrlError)
      throw fromTransport(new VendorError(`${call.vendor} URL ${err.message}`), err)
    if (err instanceof OutboundError)
      throw fromTransport(new VendorError(`${call.vendor}: ${err.message}`), err)
    throw err
  }
  const scrub = res.scrub
  const parsed = parseBody(res.body, res.headers['content-type'])
  if (res.status >= 200 && res.status < 300) {
    // Text that is not JSON is only ever quoted (in "answered with something other than JSON"), never read.
    const data = typeof parsed === 'string' ? scrub(parsed) : parsed
    return { status: res.status, headers: res.headers, data: data as T, scrub }
  }
  const detail =
    (call.errorText?.(parsed, res.body) ?? defaultErrorText(parsed) ?? res.body.slice(0, 500).trim()) || ''
  const retryAfterMs =
    res.status === 429 || res.status === 503
      ? parseRetryAfter(res.headers['retry-after'], env.clock.now())
      : undefined
  const sentence = `${call.vendor} answered ${res.status}${detail ? `: ${detail}` : ''}`
  // Again after parsing: JSON escapes (`\u0041`, `\/`) can hide a secret in the raw body the client scrubbed.
  throw new VendorError(scrub(sentence), res.status, retryAfterMs)
}

function parseBody(text: string, contentType: string | undefined): unknown {
  if (!text) return undefined
  if (contentType?.includes('json') || /^[[{]/.test(text.trimStart())) {
    try {
      return JSON.parse(text)
    } catch {
      return text
    }
  }
  return text
}

/** The usual places vendors put their message. */
function defaultErrorText(body: unknown): string | undefined {
  if (typeof body === 'string') return body.slice(0, 500).trim() || undefined
  if (!body || typeof body !== 'object') return undefined
  const b = body as Record<string, unknown>
  const pick = (v: unknown): string | undefined => {
    if (typeof v === 'string' && v) return v
    if (v && typeof v === 'object' && typeof (v as Record<string, unknown>).message === 'string') {
      return (v as Record<string, string>).message
    }
    return undefined
  }
  const errors = Array.isArray(b.errors)
    ? (b.errors as unknown[]).map(pick).filter(Boolean).join('; ')
    : undefined
  return pick(b.message) ?? pick(b.error) ?? (errors || undefined) ?? pick(b.description) ?? pick(b.detail)
}

/** The values of a connector's sensitive credential fields, for `VendorCall.secrets`. */
export function sensitiveValues(schema: CredentialSchema, credentials: Credentials): unknown[] {
  return Object.entries(schema)
    .filter(([, f]) => f.sensitive)
    .map(([name]) => credentials[name])
}

export function basicAuth(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`, 'utf8').toString('base64')}`
}

/** A base URL without its trailing slash; `override` (the credential's `baseUrl`) wins when given. */
export function baseUrl(defaultBase: string, override: unknown): string {
  const base = typeof override === 'string' && override.trim() ? override.trim() : defaultBase
  return base.replace(/\/+$/, '')
}
