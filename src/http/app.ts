import { randomUUID } from 'node:crypto'
import type { OpenAPIHono } from '@hono/zod-openapi'
import type { Context } from 'hono'
import { bodyLimit } from 'hono/body-limit'
import { matchedRoutes } from 'hono/route'
import { consoleRoutes } from '../console/routes.tsx'
import type { AppContext } from '../context.ts'
import { metricsOf } from '../lib/metrics.ts'
import { authenticate } from './auth.ts'
import { type AppEnv, router } from './env.ts'
import { envelopeErrorResponse, envelopeRouters } from './envelope.ts'
import { ApiError, toErrorResponse } from './errors.ts'
import { idempotency } from './idempotency.ts'
import { InputBoundsError, inputGuard } from './input.ts'
import { withExamples } from './openapi-examples.ts'
import { rateLimit } from './rate-limit.ts'
import { REFERENCE_SCRIPT_PATH, referenceScript, renderReferencePage } from './reference-page.ts'
import { actionRoutes, integrationActionRoutes } from './routes/actions/index.ts'
import { apiKeyRoutes } from './routes/api-keys/index.ts'
import { auditLogRoutes } from './routes/audit-logs.ts'
import { changeRoutes, deviceRoutes } from './routes/changes/index.ts'
import { deliveryRoutes } from './routes/deliveries.ts'
import { eventRoutes, eventTypeRoutes } from './routes/events.ts'
import { healthRoutes } from './routes/health.ts'
import { hookRoutes } from './routes/hooks.ts'
import { integrationSettingsRoutes } from './routes/integration-settings/index.ts'
import { integrationRoutes } from './routes/integrations/index.ts'
import { metricsRoutes } from './routes/metrics.ts'
import { microsoft365OnboardingRoutes } from './routes/onboarding-microsoft365.ts'
import { orgRoutes } from './routes/orgs.ts'
import { partnerRoutes } from './routes/partners.ts'
import { psaRoutes } from './routes/psa/index.ts'
import { integrationResourceRoutes, providerResourceRoutes } from './routes/resources/index.ts'
import { routingRuleRoutes } from './routes/routing-rules.ts'
import { webhookEventRoutes } from './routes/webhook-events.ts'
import { webhookSourceRoutes } from './routes/webhook-sources.ts'
import { webhookRoutes } from './routes/webhooks/index.ts'
import { INPUT_BOUNDS } from './schemas.ts'

export const API_PREFIX = '/api/v1'

/** Every resource under /api/v1, by path. The OpenAPI document is built from exactly these. */
function resources(ctx: AppContext): [string, OpenAPIHono<AppEnv>][] {
  return [
    ['/partners', partnerRoutes(ctx)],
    ['/orgs', orgRoutes(ctx)],
    ['/api-keys', apiKeyRoutes(ctx)],
    ['/audit-logs', auditLogRoutes(ctx)],
    ['/events', eventRoutes(ctx, ctx.fanouts)],
    ['/event-types', eventTypeRoutes()],
    ['/webhooks', webhookRoutes(ctx)],
    ['/deliveries', deliveryRoutes(ctx)],
    ['/integrations', integrationSettingsRoutes(ctx)],
    ['/integrations', integrationRoutes(ctx)],
    ['/integrations', integrationResourceRoutes(ctx)],
    ['/integrations', integrationActionRoutes(ctx, ctx.fanouts)],
    ['/actions', actionRoutes(ctx, ctx.fanouts)],
    ['/providers', providerResourceRoutes(ctx)],
    ['/routing-rules', routingRuleRoutes(ctx)],
    ['/psa', psaRoutes(ctx)],
    ['/changes', changeRoutes(ctx, ctx.fanouts)],
    ['/devices', deviceRoutes(ctx)],
    ['/webhook-sources', webhookSourceRoutes(ctx)],
    ['/webhook-events', webhookEventRoutes(ctx)],
    ['/onboarding', microsoft365OnboardingRoutes(ctx)],
  ]
}

const PUBLIC_PATHS = new Set([`${API_PREFIX}/openapi.json`, `${API_PREFIX}/docs`, REFERENCE_SCRIPT_PATH])

/**
 * The route pattern that answered (`/api/v1/webhooks/:id`), never the raw path, so metrics and logs group by
 * route without one series per id; `unmatched` when no route did (404s of unknown paths).
 */
function routeOf(c: Context): string {
  const r = matchedRoutes(c)[c.req.routeIndex]
  return r && r.method !== 'ALL' ? r.path : 'unmatched'
}

interface OpenApiDocument extends Record<string, unknown> {
  paths?: Record<
    string,
    Record<
      string,
      {
        security?: unknown[]
        requestBody?: unknown
        parameters?: unknown[]
        responses?: Record<string, unknown>
      }
    >
  >
}

/** Answers every operation can give that no route declares itself, described once here. */
const COMMON_RESPONSES = {
  body: {
    '400': 'Malformed JSON in the request body',
    '413': 'The request body is larger than the configured limit',
    '415': 'The request body is not `application/json`',
  },
  // The input guard's bounds (see the description above) apply to every body and every query parameter.
  bounded: { '422': 'Beyond the input bounds, or failed validation; names the fields' },
  secured: {
    '401': 'Missing, unknown or revoked API key',
    '429': 'Over the API key’s rate-limit budget (see `Retry-After`)',
  },
} as const

/**
 * The document with the answers the middleware gives (a malformed body, a missing key, a spent budget) listed on
 * every operation they can reach, in that operation's own error shape (SynthesQ routes answer theirs): a client
 * validating responses against the document must find every status it can get (issue 19, item 10).
 */
function withCommonResponses(doc: OpenApiDocument): OpenApiDocument {
  const errorRef = { content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } }
  for (const ops of Object.values(doc.paths ?? {})) {
    for (const [method, op] of Object.entries(ops)) {
      if (!op.responses) op.responses = {}
      const responses = op.responses
      const own = Object.entries(responses).find(([s]) => s.startsWith('4'))?.[1] as
        | { content?: unknown }
        | undefined
      const shape = own?.content ? { content: own.content } : errorRef
      const add = (table: Record<string, string>) => {
        for (const [status, description] of Object.entries(table))
          responses[status] ??= { description, ...shape }
      }
      if (op.requestBody) add(COMMON_RESPONSES.body)
      // A body is scanned even where none is expected; path parameters are bounded like query parameters.
      if (op.requestBody || op.parameters?.length || method !== 'get') add(COMMON_RESPONSES.bounded)
      if (!(Array.isArray(op.security) && op.security.length === 0)) add(COMMON_RESPONSES.secured)
    }
  }
  return doc
}

export function createApp(ctx: AppContext): OpenAPIHono<AppEnv> {
  const app = router()
  const metrics = metricsOf(ctx)

  app.use('*', async (c, next) => {
    const incoming = c.req.header('x-request-id')
    const requestId = incoming && /^[\w.:-]{1,128}$/.test(incoming) ? incoming : randomUUID()
    c.set('requestId', requestId)
    c.set('log', ctx.log.child({ requestId }))
    const started = performance.now()
    await next()
    c.header('x-request-id', requestId)
    const seconds = (performance.now() - started) / 1000
    const route = routeOf(c)
    const status = c.res.status
    metrics.httpRequests.inc({ method: c.req.method, route, status })
    metrics.httpDuration.observe({ method: c.req.method, route }, seconds)
    // One line per request at the default level (info); the request id is bound to the logger above. The route
    // pattern, not the path: an inbound hook's path is its secret address (/hooks/<id>).
    c.var.log.info({ method: c.req.method, route, status, ms: Math.round(seconds * 1000) }, 'request')
  })

  app.route('/', metricsRoutes(ctx, metrics))

  const routers = resources(ctx)
  // The guard runs before any router, so its refusals reach this handler; a SynthesQ route's caller gets them
  // in the SynthesQ shape all the same.
  // Every route of every router in registration order, so the one Hono dispatches to (the first that matches)
  // decides: `/integrations/psa` is a Breeze door even though SynthesQ's `/integrations/:id` matches it too.
  const routePatterns = routers.flatMap(([path, sub]) =>
    sub.routes
      .filter((r) => r.method !== 'ALL')
      .map((r) => {
        const route = `^${API_PREFIX}${path}${r.path}`.replace(/\/$/, '').replace(/:\w+/g, '[^/]+')
        return { method: r.method, pattern: new RegExp(`${route}/?$`), envelope: envelopeRouters.has(sub) }
      }),
  )
  const answersInEnvelope = (c: Context) =>
    routePatterns.find((r) => r.method === c.req.method && r.pattern.test(c.req.path))?.envelope === true
  // Refusals before the router (the guard's bounds, authentication) reach a SynthesQ caller in its own shape.
  const beforeRouter = (err: unknown) =>
    err instanceof InputBoundsError || (err instanceof ApiError && err.status === 401)
  app.onError((err, c) =>
    beforeRouter(err) && answersInEnvelope(c)
      ? envelopeErrorResponse(err, c, ctx)
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
  const limit = rateLimit(ctx, API_PREFIX)
  app.use(`${API_PREFIX}/*`, (c, next) => (PUBLIC_PATHS.has(c.req.path) ? next() : auth(c, next)))
  app.use(`${API_PREFIX}/*`, (c, next) => (PUBLIC_PATHS.has(c.req.path) ? next() : limit(c, next)))
  // After authentication, so an unknown caller's body is never even scanned.
  app.use(`${API_PREFIX}/*`, inputGuard())
  // After the guard, so a key is only ever stored for a request that passed it.
  const idempotent = idempotency(ctx)
  app.use(`${API_PREFIX}/*`, (c, next) => (PUBLIC_PATHS.has(c.req.path) ? next() : idempotent(c, next)))

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
        `items per array or fields per object, date-times in the years ${INPUT_BOUNDS.minYear}–${INPUT_BOUNDS.maxYear}.\n\n` +
        'Rate limits: every API key has a budget per minute for event ingest (`POST /events`, `/events/batch`) and ' +
        'one for everything else; each answer carries the IETF `RateLimit-Policy` and `RateLimit` headers, and a ' +
        'request over the budget gets 429 with `Retry-After` (seconds).\n\n' +
        'Idempotency: any POST may carry an `Idempotency-Key` header (1–255 visible ASCII characters). A repeat ' +
        'with the same key, path and body within 24 hours gets the stored response (status and body, with ' +
        '`Idempotent-Replayed: true`) without running again; with another body or path, 422 ' +
        '`idempotency_key_reused`; while the first is still running, the repeat waits for it. Keys are per API key.',
    },
    security: [{ bearerAuth: [] }],
  }
  let document: Record<string, unknown> | undefined
  const documentOf = () => {
    document ??= withExamples(
      withCommonResponses(app.getOpenAPI31Document(docConfig) as unknown as OpenApiDocument),
    )
    return document
  }
  app.get(`${API_PREFIX}/openapi.json`, (c) => c.json(documentOf()))
  let referenceHtml: string | undefined
  app.get(`${API_PREFIX}/docs`, (c) => {
    referenceHtml ??= renderReferencePage(documentOf())
    return c.html(referenceHtml)
  })
  app.get(REFERENCE_SCRIPT_PATH, async (c) => {
    c.header('content-type', 'text/javascript; charset=utf-8')
    c.header('cache-control', 'public, max-age=86400')
    return c.body(await referenceScript())
  })

  // The operator console at `/`: pages built from in-process calls to the routes above (see src/console).
  app.route(
    '/',
    consoleRoutes(ctx, (path, init, env) => app.request(path, init, env)),
  )

  return app
}
