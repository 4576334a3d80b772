import { createHash, timingSafeEqual } from 'node:crypto'
import type { Handler } from 'hono'
import type { AppContext } from '../context.ts'
import type { Metrics } from '../lib/metrics.ts'
import { readOperationalGauges } from '../store/operational-gauges.ts'
import type { AppEnv } from './env.ts'

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest()

/**
 * `GET /metrics`, Prometheus text format, for a scraper holding PATCHBAY_METRICS_TOKEN as a bearer token (not an
 * API key: a scraper needs no tenant's data). Without the setting the endpoint does not exist (404); a missing or
 * wrong token is a 401. The queue gauges are read from the database at each scrape.
 */
export function metricsHandler(ctx: AppContext, metrics: Metrics): Handler<AppEnv> {
  const expected = ctx.config.PATCHBAY_METRICS_TOKEN
  return async (c) => {
    if (!expected) return c.json({ error: `No route for GET ${c.req.path}`, code: 'not_found' }, 404)
    const match = /^Bearer\s+(\S+)\s*$/i.exec(c.req.header('authorization') ?? '')
    // Compared as digests, in constant time, so neither the token nor its length leaks through timing.
    if (!match || !timingSafeEqual(digest(match[1] as string), digest(expected))) {
      return c.json({ error: 'Missing or wrong metrics token', code: 'unauthorized' }, 401, {
        'WWW-Authenticate': 'Bearer realm="metrics"',
      })
    }
    const text = await metrics.render(await readOperationalGauges(ctx.db.orm, ctx.clock.now()))
    return c.body(text, 200, { 'content-type': metrics.contentType })
  }
}
