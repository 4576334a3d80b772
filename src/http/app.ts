import { randomUUID } from 'node:crypto'
import type { OpenAPIHono } from '@hono/zod-openapi'
import type { Context } from 'hono'
import { bodyLimit } from 'hono/body-limit'
import type { AppContext } from '../context.ts'
import { fanouts } from '../delivery/registry.ts'
import { authenticate } from './auth.ts'
import { type AppEnv, router } from './env.ts'
import { ApiError, toErrorResponse } from './errors.ts'
import { InputBoundsError, inputGuard } from './input.ts'
import { renderReferencePage } from './reference-page.ts'
import { actionRoutes, integrationActionRoutes } from './routes/actions.ts'
import { apiKeyRoutes } from './routes/api-keys.ts'
import { auditLogRoutes } from './routes/audit-logs.ts'
import { deliveryRoutes } from './routes/deliveries.ts'
import { eventRoutes, eventTypeRoutes } from './routes/events.ts'
import { healthRoutes } from './routes/health.ts'
import { hookRoutes } from './routes/hooks.ts'
import { integrationSettingsRoutes } from './routes/integration-settings.ts'
import { integrationRoutes } from './routes/integrations.ts'
import { microsoft365OnboardingRoutes } from './routes/onboarding-microsoft365.ts'
import { orgRoutes } from './routes/orgs.ts'
import { partnerRoutes } from './routes/partners.ts'
import { psaRoutes } from './routes/psa.ts'
import { integrationResourceRoutes, providerResourceRoutes } from './routes/resources.ts'
import { routingRuleRoutes } from './routes/routing-rules.ts'
import { webhookEventRoutes } from './routes/webhook-events.ts'
import { webhookSourceRoutes } from './routes/webhook-sources.ts'
import { webhookRoutes } from './routes/webhooks.ts'
import { INPUT_BOUNDS } from './schemas.ts'
import { synthesqErrorResponse, synthesqRouters } from './synthesq.ts'

export const API_PREFIX = '/api/v1'

/** Every resource under /api/v1, by path. The OpenAPI document is built from exactly these. */
function resources(ctx: AppContext): [string, OpenAPIHono<AppEnv>][] {
  return [
    ['/partners', partnerRoutes(ctx)],
    ['/orgs', orgRoutes(ctx)],
    ['/api-keys', apiKeyRoutes(ctx)],
    ['/audit-logs', auditLogRoutes(ctx)],
    ['/events', eventRoutes(ctx, fanouts(ctx))],
    ['/event-types', eventTypeRoutes()],
    ['/webhooks', webhookRoutes(ctx)],
    ['/deliveries', deliveryRoutes(ctx)],
    ['/integrations', integrationSettingsRoutes(ctx)],
    ['/integrations', integrationRoutes(ctx)],
    ['/integrations', integrationResourceRoutes(ctx)],
    ['/integrations', integrationActionRoutes(ctx, fanouts(ctx))],
    ['/actions', actionRoutes(ctx, fanouts(ctx))],
    ['/providers', providerResourceRoutes(ctx)],
    ['/routing-rules', routingRuleRoutes(ctx)],
    ['/psa', psaRoutes(ctx)],
    ['/webhook-sources', webhookSourceRoutes(ctx)],
    ['/webhook-events', webhookEventRoutes(ctx)],
    ['/onboarding', microsoft365OnboardingRoutes(ctx)],
  ]
}

const PUBLIC_PATHS = new Set([`${API_PREFIX}/openapi.json`, `${API_PREFIX}/docs`])

export function createApp(ctx: AppContext): OpenAPIHono<AppEnv> {
  const app = router()

  app.use('*', async (c, next) => {
    const incoming = c.req.header('x-request-id')
    const requestId = incoming && /^[\w.:-]{1,128}$/.test(incoming) ? incoming : randomUUID()
    c.set('requestId', requestId)
    c.set('log', ctx.log.child({ requestId }))
    const started = performance.now()
    await next()
    c.header('x-request-id', requestId)
    c.var.log.debug(
      {
        method: c.req.method,
        path: c.req.path,
        status: c.res.status,
        ms: Math.round(performance.now() - started),
      },
      'request',
    )
  })

  const routers = resources(ctx)
  // The guard runs before any router, so its refusals reach this handler; a SynthesQ route's caller gets them
  // in the SynthesQ shape all the same.
  const synthesqRoutes = routers.flatMap(([path, sub]) =>
    synthesqRouters.has(sub)
      ? sub.routes
          .filter((r) => r.method !== 'ALL')
          .map((r) => {
            const route = `^${API_PREFIX}${path}${r.path}`.replace(/\/$/, '').replace(/:\w+/g, '[^/]+')
            return { method: r.method, pattern: new RegExp(`${route}/?$`) }
          })
      : [],
  )
  const isSynthesq = (c: Context) =>
    synthesqRoutes.some((r) => r.method === c.req.method && r.pattern.test(c.req.path))
  app.onError((err, c) =>
    err instanceof InputBoundsError && isSynthesq(c)
      ? synthesqErrorResponse(err, c, ctx)
      : toErrorResponse(err, c, c.var.log ?? ctx.log),
  )
  app.notFound((c) => c.json({ error: `No route for ${c.req.method} ${c.req.path}`, code: 'not_found' }, 404))

  app.route('/', healthRoutes(ctx))
  app.route('/', hookRoutes(ctx))

  const onTooLarge = (limit: number) => () => {
    throw new ApiError(413, 'payload_too_large', `Request body exceeds ${limit} bytes`)
  }
  const small = bodyLimit({
    maxSize: ctx.config.PATCHBAY_MAX_BODY_BYTES,
    onError: onTooLarge(ctx.config.PATCHBAY_MAX_BODY_BYTES),
  })
  const large = bodyLimit({
    maxSize: ctx.config.PATCHBAY_MAX_BATCH_BODY_BYTES,
    onError: onTooLarge(ctx.config.PATCHBAY_MAX_BATCH_BODY_BYTES),
  })
  app.use(`${API_PREFIX}/*`, (c, next) => (c.req.path.endsWith('/batch') ? large(c, next) : small(c, next)))

  const auth = authenticate(ctx)
  app.use(`${API_PREFIX}/*`, (c, next) => (PUBLIC_PATHS.has(c.req.path) ? next() : auth(c, next)))
  // After authentication, so an unknown caller's body is never even scanned.
  app.use(`${API_PREFIX}/*`, inputGuard())

  for (const [path, sub] of routers) app.route(`${API_PREFIX}${path}`, sub)

  app.openAPIRegistry.registerComponent('securitySchemes', 'bearerAuth', {
    type: 'http',
    scheme: 'bearer',
    description: 'An API key token (`pbk_…`).',
  })
  const docConfig = {
    openapi: '3.1.0',
    info: {
      title: 'Patchbay',
      version: '1',
      description:
        'Multi-tenant integration hub for managed service providers: credentials, verification, routing, ' +
        'signed and retried event delivery, audit.\n\n' +
        `Input bounds (every body, free-form fields included, and every query parameter; 422 naming the field ` +
        `beyond them): strings without NUL or lone surrogates and at most ${INPUT_BOUNDS.maxStringLength} ` +
        `characters, at most ${INPUT_BOUNDS.maxDepth} levels of nesting, at most ${INPUT_BOUNDS.maxItems} ` +
        `items per array or fields per object, date-times in the years ${INPUT_BOUNDS.minYear}–${INPUT_BOUNDS.maxYear}.`,
    },
    security: [{ bearerAuth: [] }],
  }
  app.doc31(`${API_PREFIX}/openapi.json`, docConfig)
  let referenceHtml: string | undefined
  app.get(`${API_PREFIX}/docs`, (c) => {
    referenceHtml ??= renderReferencePage(
      app.getOpenAPI31Document(docConfig) as unknown as Record<string, unknown>,
    )
    return c.html(referenceHtml)
  })

  return app
}
