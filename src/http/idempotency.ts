import { createHash } from 'node:crypto'
import type { MiddlewareHandler } from 'hono'
import type { AppContext } from '../context.ts'
import { metricsOf } from '../lib/metrics.ts'
import {
  claimIdempotencyKey,
  completeIdempotencyKey,
  IDEMPOTENCY_CHANNEL,
  idempotencyTopic,
  releaseIdempotencyKey,
} from '../store/idempotency.ts'
import type { AppEnv } from './env.ts'
import { ApiError } from './errors.ts'

export const IDEMPOTENCY_HEADER = 'idempotency-key'
const KEY_FORMAT = /^[\x21-\x7e]{1,255}$/
/** How long a request holds its key before a repeat may take over (its process died mid-request). */
const LEASE_MS = 5 * 60_000

export interface IdempotencyOptions {
  /** How long a repeat waits for the first request to finish before answering 409. */
  maxWaitMs?: number
  /**
   * How often a waiting repeat reads the key again when no NOTIFY came: only a fallback, for a notification lost
   * while the LISTEN connection reconnects, or a first request whose process died (its lease runs out).
   */
  pollMs?: number
}

/** What a repeat must match: method, path and body, byte for byte. */
export function requestFingerprint(method: string, path: string, body: string): string {
  return createHash('sha256').update(`${method} ${path}\n`).update(body).digest('hex')
}

interface Subscription {
  /** Resolves when the key's topic was notified (since the last call, too) or after `ms`. */
  next(ms: number): Promise<void>
  close(): Promise<void>
}

/**
 * Repeats waiting for their first request, woken by the NOTIFY that completing or releasing a key sends. One
 * LISTEN connection per app, opened when a repeat starts waiting and closed when none waits any more, so an app
 * with no waiting repeat holds no connection for it (and a test database can be dropped).
 */
class Waits {
  readonly #waiters = new Map<string, Set<() => void>>()
  #listening: Promise<(() => Promise<void>) | undefined> | undefined
  #count = 0
  constructor(private readonly ctx: AppContext) {}

  /** Resolves once LISTEN is in place (or could not be: then the repeat only polls). */
  async subscribe(topic: string): Promise<Subscription> {
    let pending = false
    let wake: (() => void) | undefined
    const fn = () => {
      pending = true
      wake?.()
    }
    const set = this.#waiters.get(topic) ?? new Set<() => void>()
    this.#waiters.set(topic, set)
    set.add(fn)
    this.#count++
    this.#listening ??= this.ctx.db
      .listen(IDEMPOTENCY_CHANNEL, (payload) => {
        for (const w of this.#waiters.get(payload) ?? []) w()
      })
      .catch((err: unknown) => {
        this.ctx.log.warn({ err }, 'could not LISTEN for finished idempotent requests; repeats poll only')
        return undefined
      })
    await this.#listening
    return {
      next: (ms) =>
        new Promise<void>((resolve) => {
          const done = () => {
            clearTimeout(timer)
            wake = undefined
            pending = false
            resolve()
          }
          const timer = setTimeout(done, ms)
          wake = done
          if (pending) done()
        }),
      close: async () => {
        set.delete(fn)
        if (!set.size && this.#waiters.get(topic) === set) this.#waiters.delete(topic)
        if (--this.#count > 0) return
        const listening = this.#listening
        this.#listening = undefined
        const stop = await listening
        await stop?.().catch(() => undefined)
      },
    }
  }
}

/**
 * `Idempotency-Key` on POST requests, with Stripe's and Svix's semantics: the first request with a key runs and
 * its response (status and body) is stored; a repeat with the same key, method, path and body within 24 hours gets
 * that response again (header `Idempotent-Replayed: true`) without running; a repeat with anything else is a 422.
 * A repeat arriving while the first still runs waits for it. Keys are per API key, so two callers never see each
 * other's responses. A response that is not final (5xx, 429) is not stored: a retry runs afresh.
 */
export function idempotency(ctx: AppContext, opts: IdempotencyOptions = {}): MiddlewareHandler<AppEnv> {
  const maxWaitMs = opts.maxWaitMs ?? 60_000
  const pollMs = opts.pollMs ?? 1000
  const waits = new Waits(ctx)
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
    let waiting: Subscription | undefined
    let logged = false
    try {
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
        // The first request is still running: wait for its NOTIFY (or, failing that, the next poll).
        const waited = performance.now() - started
        if (waited > maxWaitMs) {
          throw new ApiError(
            409,
            'idempotency_key_in_use',
            'A request with this Idempotency-Key is still being processed; retry later',
          )
        }
        if (!waiting) {
          // Listening first, then reading the key again: a first request finishing in between is not missed.
          waiting = await waits.subscribe(idempotencyTopic(apiKeyId, key))
          continue
        }
        if (!logged) {
          c.var.log.debug({ idempotencyKey: key }, 'waiting for the first request with this Idempotency-Key')
          logged = true
        }
        await waiting.next(Math.max(1, Math.min(pollMs, maxWaitMs - waited)))
      }
    } finally {
      await waiting?.close()
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
