import type { MiddlewareHandler } from 'hono'
import type { AppContext } from '../context.ts'
import { metricsOf } from '../lib/metrics.ts'
import { takeFromWindow } from '../store/request-budget.ts'
import type { AppEnv } from './env.ts'
import { ApiError, errorBody } from './errors.ts'

export const RATE_LIMIT_WINDOW_MS = 60_000

export type RateLimitBucket = 'ingest' | 'configuration'

/** Event ingest is budgeted apart from everything else, so a busy sender never locks its operators out. */
export function bucketOf(method: string, path: string, apiPrefix: string): RateLimitBucket {
  if (method !== 'POST') return 'configuration'
  const p = path.replace(/\/+$/, '')
  return p === `${apiPrefix}/events` || p === `${apiPrefix}/events/batch` ? 'ingest' : 'configuration'
}

/**
 * Per-API-key rate limits: a fixed one-minute window per key and bucket, counted with one upsert in the shared
 * database, so the budget holds across every API process. Every answer carries the IETF `RateLimit-Policy` and
 * `RateLimit` headers (draft-ietf-httpapi-ratelimit-headers: `"<bucket>";q=<quota>;w=<window s>` and
 * `"<bucket>";r=<remaining>;t=<s until reset>`); a request over the budget gets 429 with `Retry-After` as well.
 */
export function rateLimit(ctx: AppContext, apiPrefix: string): MiddlewareHandler<AppEnv> {
  const windowS = RATE_LIMIT_WINDOW_MS / 1000
  return async (c, next) => {
    const bucket = bucketOf(c.req.method, c.req.path, apiPrefix)
    const own = c.var.keyRateLimits?.[bucket] ?? null
    const quota =
      own ??
      (bucket === 'ingest' ? ctx.config.PATCHBAY_RATE_LIMIT_INGEST : ctx.config.PATCHBAY_RATE_LIMIT_CONFIG)
    const now = ctx.clock.now().getTime()
    const { used, windowStartMs } = await takeFromWindow(
      ctx.db.orm,
      `api:${c.var.principal.keyId}:${bucket}`,
      quota,
      RATE_LIMIT_WINDOW_MS,
      now,
    )
    const resetS = Math.max(1, Math.ceil((windowStartMs + RATE_LIMIT_WINDOW_MS - now) / 1000))
    const headers = {
      'RateLimit-Policy': `"${bucket}";q=${quota};w=${windowS}`,
      RateLimit: `"${bucket}";r=${Math.max(0, quota - used)};t=${resetS}`,
    }
    if (used > quota) {
      metricsOf(ctx).rateLimited.inc({ bucket })
      const err = new ApiError(
        429,
        'rate_limited',
        `Rate limit exceeded: this API key may make ${quota} ${bucket} requests per minute; retry in ${resetS} s`,
      )
      return c.json(errorBody(err), 429, { ...headers, 'Retry-After': String(resetS) })
    }
    await next()
    for (const [name, value] of Object.entries(headers)) c.header(name, value)
    return undefined
  }
}
