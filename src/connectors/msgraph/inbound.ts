import { InboundError, parseJson, reject, sameBytes } from '../shared/inbound.ts'
import type { InboundOnlyConnector } from '../types.ts'

/**
 * Microsoft Graph change notifications (inbound only: Patchbay has no Graph integration yet). Graph signs nothing;
 * each notification carries the subscription's `clientState`, which must equal the source's secret. Before a
 * subscription is created Graph POSTs `?validationToken=…`, answered at once with the decoded token as text/plain.
 */
function notifications(body: unknown): Record<string, unknown>[] | undefined {
  if (!body || typeof body !== 'object') return undefined
  const v = (body as Record<string, unknown>).value
  if (!Array.isArray(v) || v.length === 0) return undefined
  return v.every((n) => n && typeof n === 'object' && !Array.isArray(n))
    ? (v as Record<string, unknown>[])
    : undefined
}

/** `#Microsoft.Graph.Message` → `message`; else the last collection of the resource path, singular. */
export function resourceKind(n: Record<string, unknown>): string {
  const rd =
    n.resourceData && typeof n.resourceData === 'object' ? (n.resourceData as Record<string, unknown>) : {}
  const t = rd['@odata.type']
  if (typeof t === 'string' && t.includes('.')) return (t.split('.').pop() as string).toLowerCase()
  const segments = String(n.resource ?? '')
    .replace(/^\/+/, '')
    .split('/')
    .filter((s) => s.length > 0)
  const collections = segments.filter((_, i) => i % 2 === 0).map((s) => s.replace(/\(.*\)$/, ''))
  const last = (collections.at(-1) ?? 'unknown').toLowerCase()
  return last.endsWith('s') ? last.slice(0, -1) : last
}

export const msgraph: InboundOnlyConnector = {
  id: 'msgraph',
  inbound: {
    displayName: 'Microsoft Graph',
    secretStyle: 'token',
    handshake(req) {
      const token = req.query.validationToken
      if (token === undefined) return undefined
      return { status: 200, contentType: 'text/plain; charset=utf-8', body: token }
    },
    verify(req, ctx) {
      let body: unknown
      try {
        body = JSON.parse(req.body.toString('utf8'))
      } catch {
        return reject('invalid_payload', 'the body is not JSON')
      }
      const list = notifications(body)
      if (!list) return reject('invalid_payload', 'the body has no "value" array of notifications')
      const secrets = ctx.secrets.map((s) => Buffer.from(s, 'utf8'))
      for (const [i, n] of list.entries()) {
        const given = typeof n.clientState === 'string' ? Buffer.from(n.clientState, 'utf8') : undefined
        if (!given || !secrets.some((s) => sameBytes(given, s))) {
          return reject('client_state_mismatch', `value[${i}].clientState does not equal the source's secret`)
        }
      }
      return { result: 'ok', how: 'clientState of every notification' }
    },
    parse(body) {
      const list = notifications(parseJson(body))
      if (!list) throw new InboundError('invalid_payload', 'the body has no "value" array of notifications')
      return list
    },
    normalize(payload) {
      const list = payload as Record<string, unknown>[]
      return {
        events: list.map((n, i) => {
          const rd =
            n.resourceData && typeof n.resourceData === 'object'
              ? (n.resourceData as Record<string, unknown>)
              : {}
          const changeType =
            String(n.changeType ?? '')
              .split(',')[0]
              ?.trim() ?? ''
          return {
            key: `${i}:${String(n.subscriptionId ?? '')}:${String(rd.id ?? n.resource ?? '')}:${changeType}`,
            type: `m365.${resourceKind(n)}.${changeType}`,
            data: {
              subscriptionId: n.subscriptionId,
              tenantId: n.tenantId,
              changeType,
              resource: n.resource,
              resourceId: rd.id,
              odataType: rd['@odata.type'],
            },
          }
        }),
        ticketChanges: [],
      }
    },
    setup: (url, secret) => [
      'Create a Microsoft Graph subscription (POST https://graph.microsoft.com/v1.0/subscriptions):',
      `notificationUrl: ${url}`,
      `clientState: ${secret}`,
      'Patchbay answers the validationToken handshake itself; renew the subscription before expirationDateTime.',
    ],
  },
}
