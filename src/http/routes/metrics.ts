import { createRoute, z } from '@hono/zod-openapi'
import type { AppContext } from '../../context.ts'
import type { Metrics } from '../../lib/metrics.ts'
import { router } from '../env.ts'
import { errorSchema } from '../errors.ts'
import { metricsHandler } from '../metrics.ts'

export function metricsRoutes(ctx: AppContext, metrics: Metrics) {
  const app = router()
  const handler = metricsHandler(ctx, metrics)
  app.openapi(
    createRoute({
      method: 'get',
      path: '/metrics',
      tags: ['Health'],
      summary: 'Prometheus metrics',
      description:
        'Prometheus text format (0.0.4): deliveries by target kind and outcome, attempt latency per kind, queue ' +
        'depth and the age of the oldest due delivery, open circuits, jobs waiting, inbound events by status, probe ' +
        'outcomes per provider, HTTP requests by route and status. Authenticated by PATCHBAY_METRICS_TOKEN as a ' +
        'bearer token, not an API key; without that setting this endpoint answers 404. See README, Metrics.',
      security: [{ metricsToken: [] }],
      responses: {
        200: { description: 'The metrics', content: { 'text/plain': { schema: z.string() } } },
        401: {
          description: 'Missing or wrong metrics token',
          content: { 'application/json': { schema: errorSchema } },
        },
        404: {
          description: 'PATCHBAY_METRICS_TOKEN is not set',
          content: { 'application/json': { schema: errorSchema } },
        },
      },
    }),
    // The handler answers text, 401 or 404 itself; it is shared with a worker's metrics-only server.
    (c, next) => handler(c, next) as never,
  )
  app.openAPIRegistry.registerComponent('securitySchemes', 'metricsToken', {
    type: 'http',
    scheme: 'bearer',
    description: 'PATCHBAY_METRICS_TOKEN (not an API key).',
  })
  return app
}
