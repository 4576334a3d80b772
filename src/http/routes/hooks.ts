import { Hono } from 'hono'
import { bodyLimit } from 'hono/body-limit'
import type { AppContext } from '../../context.ts'
import { receive } from '../../inbound/receive.ts'
import type { AppEnv } from '../env.ts'
import { ApiError } from '../errors.ts'

/**
 * `POST /hooks/<hookId>`: where vendors send their events. Outside /api/v1 and its API keys: the unguessable hook id
 * finds the source, and the vendor's signature (or shared secret) authenticates the request.
 */
export function hookRoutes(ctx: AppContext) {
  const app = new Hono<AppEnv>()
  const limit = ctx.config.PATCHBAY_INBOUND_MAX_BODY_BYTES
  app.post(
    '/hooks/:hookId',
    bodyLimit({
      maxSize: limit,
      onError: () => {
        throw new ApiError(413, 'payload_too_large', `Request body exceeds ${limit} bytes`)
      },
    }),
    async (c) => {
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
          return c.body(out.body, 200, {
            'content-type': out.contentType,
            'x-content-type-options': 'nosniff',
          })
        case 'accepted':
          return c.json({ id: out.id, status: 'received' }, 202)
        case 'rejected':
          return c.json({ error: `Signature check failed: ${out.message}`, code: 'invalid_signature' }, 401)
        case 'rate_limited':
          c.header('retry-after', String(out.retryAfterS))
          return c.json({ error: 'Too many rejected requests for this source', code: 'rate_limited' }, 429)
      }
    },
  )
  return app
}
