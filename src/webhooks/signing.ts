import { createHmac, createSecretKey, type KeyObject, randomBytes } from 'node:crypto'

export type SignatureScheme = 'breeze' | 'standard-webhooks'

const keys = new Map<string, KeyObject>()

/** HMAC keys made once per secret: deriving one from a string on every delivery shows at high rates. */
function keyOf(secret: string): KeyObject {
  let key = keys.get(secret)
  if (!key) {
    if (keys.size > 10_000) keys.clear()
    key = createSecretKey(Buffer.from(secret, 'utf8'))
    keys.set(secret, key)
  }
  return key
}

/**
 * The Breeze scheme, exactly as documented: `X-Breeze-Signature: sha256=<hex HMAC-SHA256(secret, timestamp + "." +
 * body)>`, the secret used as UTF-8 text, the timestamp (milliseconds) repeated in X-Breeze-Signature-Timestamp.
 */
export function breezeHeaders(opts: {
  body: string
  secret: string | null
  deliveryId: string
  eventId: string
  eventType: string
  nowMs: number
}): Record<string, string> {
  const ts = String(opts.nowMs)
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'user-agent': 'Breeze-Webhooks/1.0',
    'x-breeze-delivery-id': opts.deliveryId,
    'x-breeze-event-id': opts.eventId,
    'x-breeze-event-type': opts.eventType,
    'x-breeze-timestamp': ts,
  }
  if (opts.secret) {
    const sig = createHmac('sha256', keyOf(opts.secret)).update(`${ts}.${opts.body}`).digest('hex')
    headers['x-breeze-signature'] = `sha256=${sig}`
    headers['x-breeze-signature-timestamp'] = ts
  }
  return headers
}

/**
 * Standard Webhooks (https://www.standardwebhooks.com/): `webhook-signature: v1,<base64 HMAC-SHA256(key,
 * id.timestamp.body)>` with the key being the base64 part of a `whsec_` secret and the timestamp in seconds.
 * During a rotation both secrets sign, space-separated, so receivers on either secret verify.
 */
export function standardHeaders(opts: {
  body: string
  secrets: string[]
  messageId: string
  nowMs: number
}): Record<string, string> {
  const ts = String(Math.floor(opts.nowMs / 1000))
  const content = `${opts.messageId}.${ts}.${opts.body}`
  const signatures = opts.secrets.map(
    (s) => `v1,${createHmac('sha256', standardKey(s)).update(content).digest('base64')}`,
  )
  return {
    'content-type': 'application/json',
    'user-agent': 'Breeze-Webhooks/1.0',
    'webhook-id': opts.messageId,
    'webhook-timestamp': ts,
    'webhook-signature': signatures.join(' '),
  }
}

const WHSEC_RE = /^whsec_([A-Za-z0-9+/]+={0,2})$/

export function standardKey(secret: string): Buffer {
  const m = WHSEC_RE.exec(secret)
  return Buffer.from(m ? (m[1] as string) : secret, 'base64')
}

/** A Standard Webhooks secret is `whsec_` and base64 of 24 to 64 random bytes. */
export function isStandardSecret(secret: string): boolean {
  const m = WHSEC_RE.exec(secret)
  if (!m) return false
  const n = Buffer.from(m[1] as string, 'base64').length
  return n >= 24 && n <= 64
}

export function generateStandardSecret(): string {
  return `whsec_${randomBytes(24).toString('base64')}`
}

/** Header names a webhook's custom headers may not set: they carry the signature or describe the body. */
export function isReservedHeader(name: string): boolean {
  const n = name.toLowerCase()
  return (
    n.startsWith('x-breeze-') ||
    n.startsWith('webhook-') ||
    [
      'content-type',
      'content-length',
      'host',
      'transfer-encoding',
      'connection',
      'content-encoding',
      'user-agent',
    ].includes(n)
  )
}
