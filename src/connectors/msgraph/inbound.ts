import { defineInbound } from '../define.ts'
import { InboundError, parseJson, reject, sameBytes } from '../shared/inbound.ts'
import { type GraphCredentials, graphCredentials, graphWrite } from '../shared/microsoft-graph.ts'
import type { ConnectorEnv, InboundOnlyConnector, InboundRegistrar } from '../types.ts'
import { VendorError } from '../vendor-error.ts'

/**
 * Microsoft Graph change notifications (notifications only; a source linked to a `microsoft365` integration has its subscription created with that integration's app credentials). Graph signs nothing;
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

/**
 * How long a subscription Patchbay creates lives, and when it is renewed. Graph caps the lifetime per resource
 * (under 3 days for Outlook messages and events, about 29 days for users and groups); 2 days fits all the
 * common resources, and renewing a day ahead leaves room for a failed renewal to be retried and seen.
 */
const LIFETIME_MS = 2 * 86_400_000
const RENEW_BEFORE_MS = 86_400_000
const CHANGE_TYPES = /^(created|updated|deleted)(,(created|updated|deleted))*$/

const expiry = (env: ConnectorEnv) => new Date(env.clock.now().getTime() + LIFETIME_MS)

function expiresAt(data: unknown, fallback: Date): Date {
  const v =
    data && typeof data === 'object' ? (data as Record<string, unknown>).expirationDateTime : undefined
  const d = typeof v === 'string' ? new Date(v) : fallback
  return Number.isNaN(d.getTime()) ? fallback : d
}

/**
 * A change-notification subscription (`POST /subscriptions`) made with the linked `microsoft365` integration's app
 * credentials, `clientState` = the source's secret; Graph validates the notification URL with the
 * `validationToken` handshake before answering. Renewed with `PATCH /subscriptions/{id}`, removed with DELETE.
 */
const registration: InboundRegistrar<GraphCredentials> = {
  renewBeforeMs: RENEW_BEFORE_MS,
  checkOptions(o) {
    if (typeof o.resource !== 'string' || !o.resource)
      return {
        field: 'registration.resource',
        message: 'the Graph resource to watch is required (e.g. "users")',
      }
    if (o.changeType !== undefined && (typeof o.changeType !== 'string' || !CHANGE_TYPES.test(o.changeType)))
      return {
        field: 'registration.changeType',
        message: 'a comma-separated list of created, updated, deleted',
      }
    return undefined
  },
  async register(creds, req, env) {
    const until = expiry(env)
    const res = await graphWrite(creds, env, 'POST', '/subscriptions', {
      changeType: typeof req.options.changeType === 'string' ? req.options.changeType : 'updated',
      notificationUrl: req.url,
      resource: req.options.resource,
      expirationDateTime: until.toISOString(),
      clientState: req.secret,
    })
    const id = res.data && typeof res.data === 'object' ? (res.data as Record<string, unknown>).id : undefined
    if (typeof id !== 'string' || !id)
      throw new VendorError('Microsoft Graph created the subscription but answered without its id', 502)
    return { vendorId: id, expiresAt: expiresAt(res.data, until) }
  },
  async renew(creds, vendorId, env) {
    const until = expiry(env)
    const res = await graphWrite(creds, env, 'PATCH', `/subscriptions/${encodeURIComponent(vendorId)}`, {
      expirationDateTime: until.toISOString(),
    })
    return { expiresAt: expiresAt(res.data, until) }
  },
  async unregister(creds, vendorId, env) {
    try {
      await graphWrite(creds, env, 'DELETE', `/subscriptions/${encodeURIComponent(vendorId)}`)
    } catch (err) {
      if (err instanceof VendorError && err.status === 404) return
      throw err
    }
  },
}

export const msgraph: InboundOnlyConnector = {
  id: 'msgraph',
  // The registration receives the linked microsoft365 integration's credentials: parsed by that connector's parser.
  inbound: defineInbound(graphCredentials, {
    integrationProvider: 'microsoft365',
    registration,
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
  }),
}
