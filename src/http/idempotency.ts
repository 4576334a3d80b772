import { createHash } from 'node:crypto'
import type { MiddlewareHandler } from 'hono'
import type { AppContext } from '../context.ts'
import { metricsOf } from '../lib/metrics.ts'
import { claimIdempotencyKey, completeIdempotencyKey, releaseIdempotencyKey } from '../store/idempotency.ts'
import type { AppEnv } from './env.ts'
import { ApiError } from './errors.ts'

export const IDEMPOTENCY_HEADER = 'idempotency-key'
const KEY_FORMAT = /^[\x21-\x7e]{1,255}$/
/** How long a request holds its key before a repeat may take over (its process died mid-request). */
const LEASE_MS = 5 * 60_000

export interface IdempotencyOptions {
  /** How long a repeat waits for the first request to finish before answering 409. */
  maxWaitMs?: number
}

/** What a repeat must match: method, path and body, byte for byte. */
export function requestFingerprint(method: string, path: string, body: string): string {
  return createHash('sha256').update(`${method} ${path}\n`).update(body).digest('hex')
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/**
 * `Idempotency-Key` on POST requests, with Stripe's and Svix's semantics: the first request with a key runs and
 * its response (status and body) is stored; a repeat with the same key, method, path and body within 24 hours gets
 * that response again (header `Idempotent-Replayed: true`) without running; a repeat with anything else is a 422.
 * A repeat arriving while the first still runs waits for it. Keys are per API key, so two callers never see each
 * other's responses. A response that is not final (5xx, 429) is not stored: a retry runs afresh.
 */
export function idempotency(ctx: AppContext, opts: IdempotencyOptions = {}): MiddlewareHandler<AppEnv> {
  const maxWaitMs = opts.maxWaitMs ?? 60_000
  return async (c, next) => {
    const key = c.req.header(IDEMPOTENCY_HEADER)
    if (c.req.method !== 'POST' || key === undefined) return next()
    if (!KEY_FORMAT.test(key)) {
      throw ApiError.invalid('Idempotency-Key', 'must be 1 to 255 visible ASCII characters')
    }
    const apiKeyId = c.var.principal.keyId
    const body = await c.req.text()
    const requestHash = requestFingerprint(c.req.method, c.req.path, body)
    const started = performance.now()
    let delay = 10
    for (;;) {
      const claim = await claimIdempotencyKey(ctx.db.orm, {
        apiKeyId,
        key,
        requestHash,
        now: ctx.clock.now(),
        leaseMs: LEASE_MS,
      })
      if (claim.kind === 'mismatch') {
        throw new ApiError(
          422,
          'idempotency_key_reused',
          'This Idempotency-Key was already used for a different request (method, path or body); use a new key',
        )
      }
      if (claim.kind === 'done') {
        metricsOf(ctx).idempotentReplays.inc()
        const headers: Record<string, string> = { 'idempotent-replayed': 'true' }
        if (claim.response.contentType) headers['content-type'] = claim.response.contentType
        const { status, body: stored } = claim.response
        return stored === '' ? c.body(null, status as 204, headers) : c.body(stored, status as 200, headers)
      }
      if (claim.kind === 'owner') break
      // The first request is still running: wait for it, checking less often as time goes on.
      if (performance.now() - started > maxWaitMs) {
        throw new ApiError(
          409,
          'idempotency_key_in_use',
          'A request with this Idempotency-Key is still being processed; retry later',
        )
      }
      if (delay === 10)
        c.var.log.debug({ idempotencyKey: key }, 'waiting for the first request with this Idempotency-Key')
      await sleep(delay)
      delay = Math.min(delay * 2, 250)
    }
    let final = false
    try {
      await next()
      const res = c.res
      if (res.status < 500 && res.status !== 429) {
        await completeIdempotencyKey(ctx.db.orm, {
          apiKeyId,
          key,
          response: {
            status: res.status,
            contentType: res.headers.get('content-type'),
            body: await res.clone().text(),
          },
        })
        final = true
      }
    } finally {
      if (!final) await releaseIdempotencyKey(ctx.db.orm, { apiKeyId, key })
    }
  }
}
