import { createRoute, z } from '@hono/zod-openapi'
import { bodyLimit } from 'hono/body-limit'
import type { AppContext } from '../../context.ts'
import { receive } from '../../inbound/receive.ts'
import { markDeactivated } from '../../inbound/sources.ts'
import { router } from '../env.ts'
import { ApiError, errorResponses, errorSchema } from '../errors.ts'
import { json } from './shared.ts'

/**
 * `POST /hooks/<hookId>`: where vendors send their events. Outside /api/v1 and its API keys: the unguessable hook id
 * finds the source, and the vendor's signature (or shared secret) authenticates the request.
 */
export function hookRoutes(ctx: AppContext) {
  const app = router()
  const limit = ctx.config.PATCHBAY_INBOUND_MAX_BODY_BYTES
  const route = createRoute({
    method: 'post',
    path: '/hooks/{hookId}',
    tags: ['Webhook sources'],
    summary: 'Receive a vendor webhook (the source URL)',
    description:
      'No API key: the source is found by its URL and the request authenticated by the vendor’s signature or the ' +
      'shared secret. Answers 202 once stored; the pipeline runs in the background. Microsoft Graph’s ' +
      '`validationToken` handshake is answered 200 with the token as text/plain.',
    security: [],
    request: {
      params: z.object({
        hookId: z
          .string()
          .max(100)
          .openapi({ param: { name: 'hookId', in: 'path' } }),
      }),
    },
    middleware: [
      bodyLimit({
        maxSize: limit,
        onError: () => {
          throw new ApiError(413, 'payload_too_large', `Request body exceeds ${limit} bytes`)
        },
      }),
    ] as const,
    responses: {
      200: { description: 'Handshake answer', content: { 'text/plain': { schema: z.string() } } },
      202: json(z.object({ id: z.uuid(), status: z.literal('received') }), 'Stored; processing follows'),
      401: json(errorSchema, 'The signature (or shared secret) does not hold; the body was not stored'),
      429: json(errorSchema, 'Too many rejected requests for this source this minute; see Retry-After'),
      ...errorResponses(404, 413),
    },
  })
  app.openapi(route, async (c) => {
    const body = Buffer.from(await c.req.arrayBuffer())
    const headers: Record<string, string> = {}
    c.req.raw.headers.forEach((v, k) => {
      headers[k.toLowerCase()] = v
    })
    const query = Object.fromEntries(new URL(c.req.url).searchParams)
    const out = await receive(ctx, c.req.param('hookId'), { body, headers, query })
    switch (out.kind) {
      case 'not_found':
        return c.json({ error: 'No webhook source at this URL', code: 'not_found' }, 404)
      case 'handshake':
        // text/plain with nosniff: the token is echoed verbatim, and must never be read as markup.
        return c.text(out.body, 200, { 'x-content-type-options': 'nosniff' })
      case 'accepted':
        return c.json({ id: out.id, status: 'received' as const }, 202)
      case 'rejected':
        return c.json({ error: `Signature check failed: ${out.message}`, code: 'invalid_signature' }, 401)
      case 'rate_limited':
        c.header('retry-after', String(out.retryAfterS))
        return c.json({ error: 'Too many rejected requests for this source', code: 'rate_limited' }, 429)
    }
  })

  /**
   * The deactivation URL Patchbay gives Autotask with the webhook it registers: Autotask calls it when it turns the
   * webhook off (too many failed callouts). The unguessable hook id is the only credential, as for the hook itself;
   * all it can do is mark the registration deactivated, which the source shows.
   */
  const deactivated = createRoute({
    method: 'post',
    path: '/hooks/{hookId}/deactivated',
    tags: ['Webhook sources'],
    summary: 'The vendor deactivated the webhook Patchbay registered',
    security: [],
    request: {
      params: z.object({
        hookId: z
          .string()
          .max(100)
          .openapi({ param: { name: 'hookId', in: 'path' } }),
      }),
    },
    responses: {
      200: json(z.object({ status: z.literal('deactivated') }), 'Recorded on the source'),
      ...errorResponses(404),
    },
  })
  app.openapi(deactivated, async (c) => {
    if (!(await markDeactivated(ctx, c.req.valid('param').hookId)))
      return c.json({ error: 'No registered webhook source at this URL', code: 'not_found' }, 404)
    return c.json({ status: 'deactivated' as const }, 200)
  })
  return app
}
