import { createHash, createHmac, timingSafeEqual } from 'node:crypto'
import type { ConnectorEnv } from '../env.ts'

/**
 * Inbound webhooks: what a vendor sends to Patchbay. Each vendor's connector folder has an `inbound.ts` exposing
 * one `InboundOperations` (verification strategy, parser, normalizer); the pipeline in src/inbound runs them and
 * never names a vendor.
 */

/** A request as received: the raw body bytes (never re-serialized), lower-case header names, the query. */
export interface InboundRequest {
  body: Buffer
  headers: Record<string, string>
  query: Record<string, string>
}

/** What verification concluded. `defer`: it needs the network (a signing key); the verify stage finishes it. */
export type VerifyOutcome =
  | { result: 'ok'; how: string }
  | { result: 'reject'; errorClass: string; message: string }
  | { result: 'defer' }

export interface VerifyContext {
  /** The source's current secret, then the previous one while it is still valid. */
  secrets: string[]
  now: Date
  /** The linked integration's non-secret credential fields (site URLs), when the source names one. */
  integration?: { publicCredentials: Record<string, unknown> } | undefined
}

export interface DeferredVerifyContext extends VerifyContext {
  env: ConnectorEnv
  /** Per-process cache (signing keys by URL), owned by the caller. */
  cache: Map<string, { value: string; expires: number }>
}

/** One platform event a vendor request becomes; `key` makes its id stable across retries of the same request. */
export interface NormalizedEvent {
  key: string
  type: string
  occurredAt?: string | undefined
  data: Record<string, unknown>
}

/** A ticket's new status as the PSA reported it, for the matching ticket mapping. */
export interface TicketChange {
  ticketId: string
  status?: string | undefined
  title?: string | undefined
  /** When the vendor says the ticket last changed (ISO 8601), so a late or replayed callback cannot undo a newer one. */
  changedAt?: string | undefined
}

export interface Normalized {
  events: NormalizedEvent[]
  ticketChanges: TicketChange[]
  /** Why nothing came out, when nothing did (a contact callback, a test send with placeholders). */
  ignored?: string | undefined
}

/**
 * A stage failed. `errorClass` keys the suggested fix (src/inbound/analysis.ts); `transient` failures are retried.
 */
export class InboundError extends Error {
  override name = 'InboundError'
  constructor(
    readonly errorClass: string,
    message: string,
    readonly transient = false,
  ) {
    super(message)
  }
}

export interface InboundOperations {
  displayName: string
  /** `standard`: a Standard Webhooks `whsec_` secret; `token`: URL- and header-safe characters only. */
  secretStyle: 'standard' | 'token'
  /** Headers and query parameters that carry the secret; they are removed before the request is stored. */
  secretHeaders?: readonly string[]
  secretParams?: readonly string[]
  /** A request answered at once without storing (Graph's validationToken handshake). */
  handshake?(req: InboundRequest): { status: 200; contentType: string; body: string } | undefined
  verify(req: InboundRequest, ctx: VerifyContext): VerifyOutcome
  /** Finishes a deferred verification (throws InboundError transient for network trouble). */
  verifyDeferred?(req: InboundRequest, ctx: DeferredVerifyContext): Promise<VerifyOutcome>
  /** Body → the vendor's payload, checked. Throws InboundError. */
  parse(body: string): unknown
  /** Payload → platform events and ticket changes. Throws InboundError. */
  normalize(payload: unknown, ctx: { receivedAt: Date }): Normalized
  /** What to paste where in the vendor's admin panel. */
  setup(url: string, secret: string): string[]
}

// --- strategies shared by several vendors ---

/** Constant-time comparison of two byte strings (false when lengths differ, without comparing contents). */
export function sameBytes(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b)
}

export function hmac(algorithm: 'sha1' | 'sha256', key: string | Buffer, body: Buffer): Buffer {
  return createHmac(algorithm, key).update(body).digest()
}

export function sha256(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest()
}

/** Decodes a base64 or hex signature text, or returns undefined for neither. */
export function decodeSignature(text: string, encoding: 'base64' | 'hex'): Buffer | undefined {
  const t = text.trim()
  if (encoding === 'hex')
    return /^[0-9a-f]+$/i.test(t) && t.length % 2 === 0 ? Buffer.from(t, 'hex') : undefined
  return /^[A-Za-z0-9+/]+={0,2}$/.test(t) ? Buffer.from(t, 'base64') : undefined
}

/**
 * A header carrying `<prefix><encoded HMAC of the raw body>` keyed by one of the source's secrets (Autotask's
 * `X-Hook-Signature: sha1=…`, a generic `X-Signature: sha256=…`).
 */
export function verifyHmacHeader(
  req: InboundRequest,
  secrets: string[],
  opts: {
    header: string
    prefix: string
    algorithm: 'sha1' | 'sha256'
    encoding: 'base64' | 'hex'
  },
): VerifyOutcome {
  const raw = req.headers[opts.header]
  if (!raw) return reject('missing_signature', `no ${opts.header} header`)
  if (!raw.toLowerCase().startsWith(opts.prefix)) {
    return reject('malformed_signature', `${opts.header} does not start with "${opts.prefix}"`)
  }
  const given = decodeSignature(raw.slice(opts.prefix.length), opts.encoding)
  if (!given) return reject('malformed_signature', `${opts.header} is not ${opts.encoding}`)
  for (const [i, s] of secrets.entries()) {
    if (sameBytes(given, hmac(opts.algorithm, s, req.body))) {
      return { result: 'ok', how: `${opts.header} (${i === 0 ? 'current' : 'previous'} secret)` }
    }
  }
  return reject(
    'signature_mismatch',
    `${opts.header} does not match the body signed with the source's secret`,
  )
}

/** A shared secret the vendor sends verbatim, in a query parameter or a header (the vendor signs nothing). */
export function verifySharedSecret(
  req: InboundRequest,
  secrets: string[],
  opts: { params: readonly string[]; headers: readonly string[] },
): VerifyOutcome {
  const given = [
    ...opts.params.map((p) => req.query[p]),
    ...opts.headers.map((h) => req.headers[h]?.replace(/^Bearer\s+/i, '')),
  ].find((v): v is string => typeof v === 'string' && v.length > 0)
  if (!given) {
    return reject(
      'missing_secret',
      `no secret in the URL (${opts.params.join(', ')}) or header (${opts.headers.join(', ')})`,
    )
  }
  const g = Buffer.from(given, 'utf8')
  for (const [i, s] of secrets.entries()) {
    if (sameBytes(g, Buffer.from(s, 'utf8')))
      return { result: 'ok', how: `shared secret (${i === 0 ? 'current' : 'previous'})` }
  }
  return reject('signature_mismatch', "the secret sent does not match the source's secret")
}

/** Standard Webhooks (https://www.standardwebhooks.com): `webhook-id`, `webhook-timestamp`, `webhook-signature`. */
export const STANDARD_TOLERANCE_MS = 5 * 60_000

export function verifyStandardWebhooks(req: InboundRequest, secrets: string[], now: Date): VerifyOutcome {
  const id = req.headers['webhook-id']
  const ts = req.headers['webhook-timestamp']
  const sig = req.headers['webhook-signature']
  if (!id || !ts || !sig)
    return reject('missing_signature', 'webhook-id, webhook-timestamp and webhook-signature are required')
  if (!/^\d+$/.test(ts)) return reject('malformed_signature', 'webhook-timestamp is not a number of seconds')
  const skew = Math.abs(now.getTime() - Number(ts) * 1000)
  if (skew > STANDARD_TOLERANCE_MS) {
    return reject(
      'timestamp_out_of_range',
      `webhook-timestamp is ${Math.round(skew / 1000)} s away from now (at most 300 s)`,
    )
  }
  const signed = Buffer.concat([Buffer.from(`${id}.${ts}.`, 'utf8'), req.body])
  const given = sig
    .split(' ')
    .filter((p) => p.startsWith('v1,'))
    .map((p) => decodeSignature(p.slice(3), 'base64'))
    .filter((b): b is Buffer => b !== undefined)
  for (const [i, s] of secrets.entries()) {
    const key = Buffer.from(s.startsWith('whsec_') ? s.slice(6) : s, 'base64')
    const expected = hmac('sha256', key, signed)
    if (given.some((g) => sameBytes(g, expected))) {
      return { result: 'ok', how: `standard-webhooks (${i === 0 ? 'current' : 'previous'} secret)` }
    }
  }
  return reject('signature_mismatch', "no webhook-signature matches the body signed with the source's secret")
}

export function reject(errorClass: string, message: string): VerifyOutcome {
  return { result: 'reject', errorClass, message }
}

/** Parses a JSON body, refusing anything else with a message that says where it broke. */
export function parseJson(body: string): unknown {
  try {
    return JSON.parse(body)
  } catch (err) {
    throw new InboundError('invalid_json', `the body is not JSON: ${(err as Error).message}`)
  }
}

export function origin(value: unknown): string | undefined {
  if (typeof value !== 'string' || !value) return undefined
  try {
    const u = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(value) ? value : `https://${value}`)
    return u.origin
  } catch {
    return undefined
  }
}
