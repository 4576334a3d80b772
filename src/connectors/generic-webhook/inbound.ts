import { InboundError, parseJson, verifyHmacHeader, verifyStandardWebhooks } from '../shared/inbound.ts'
import type { InboundOnlyConnector } from '../types.ts'

/**
 * Any sender that signs with Standard Webhooks (`webhook-id`/`webhook-timestamp`/`webhook-signature`, five minutes'
 * tolerance) or plain `X-Signature: sha256=<hex HMAC-SHA256(secret, raw body)>`. The body is a platform event, as
 * POST /events takes it: `{type, id?, timestamp?, data}`.
 */
export const genericWebhook: InboundOnlyConnector = {
  id: 'generic',
  inbound: {
    displayName: 'Generic webhook',
    secretStyle: 'standard',
    verify(req, ctx) {
      if (req.headers['webhook-signature'] !== undefined)
        return verifyStandardWebhooks(req, ctx.secrets, ctx.now)
      return verifyHmacHeader(req, ctx.secrets, {
        header: 'x-signature',
        prefix: 'sha256=',
        algorithm: 'sha256',
        encoding: 'hex',
      })
    },
    parse(body) {
      const p = parseJson(body)
      if (!p || typeof p !== 'object' || Array.isArray(p))
        throw new InboundError('invalid_payload', 'the body is not a JSON object')
      const o = p as Record<string, unknown>
      if (typeof o.type !== 'string' || o.type === '')
        throw new InboundError('invalid_payload', '"type" is missing')
      if (o.data !== undefined && (typeof o.data !== 'object' || o.data === null || Array.isArray(o.data))) {
        throw new InboundError('invalid_payload', '"data" must be an object')
      }
      return o
    },
    normalize(payload) {
      const o = payload as Record<string, unknown>
      return {
        events: [
          {
            key: typeof o.id === 'string' && o.id ? `id:${o.id}` : 'event',
            type: o.type as string,
            occurredAt: typeof o.timestamp === 'string' ? o.timestamp : undefined,
            data: (o.data as Record<string, unknown> | undefined) ?? {},
          },
        ],
        ticketChanges: [],
      }
    },
    setup: (url, secret) => [
      `URL: ${url}`,
      `Secret: ${secret} — sign with Standard Webhooks, or send X-Signature: sha256=<hex HMAC-SHA256 of the raw body keyed by this secret>.`,
      'Body: {"type": "<event type>", "id": "<optional idempotency key>", "data": {…}}',
    ],
  },
}
