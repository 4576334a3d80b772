import { InboundError, parseJson, verifySharedSecret } from '../shared/inbound.ts'
import type { ConnectorInbound } from '../types.ts'

/**
 * Datto RMM monitor webhooks. Datto RMM signs nothing and its body is whatever the admin typed with `[variable]`
 * placeholders, so the secret travels in the URL (`?secret=`) or a header the admin adds. The shared secret is the
 * only check today: re-fetching the alert through the Datto RMM API (the connector in index.ts can read alerts) before
 * trusting it is not wired into the pipeline yet.
 */
const SECRET_PARAMS = ['secret'] as const
const SECRET_HEADERS = ['x-patchbay-secret', 'authorization'] as const

const pick = (o: Record<string, unknown>, ...names: string[]): string | undefined => {
  for (const n of names) {
    const v = o[n]
    if (typeof v === 'string' && v.trim() !== '') return v.trim()
    if (typeof v === 'number') return String(v)
  }
  return undefined
}

/** Datto's priorities (Critical, High, Moderate, Low, Information) → the platform's severities. */
function severityOf(p: string | undefined): 'critical' | 'warning' | 'info' {
  const s = (p ?? '').toLowerCase()
  if (s === 'critical' || s === 'high') return 'critical'
  if (s === 'moderate' || s === 'medium' || s === 'low' || s === 'warning') return 'warning'
  return 'info'
}

const PLACEHOLDER_RE = /^\[[a-z_]+\]$/i

export const dattoRmmInbound: ConnectorInbound = {
  displayName: 'Datto RMM',
  secretStyle: 'token',
  secretParams: SECRET_PARAMS,
  secretHeaders: SECRET_HEADERS,
  verify: (req, ctx) =>
    verifySharedSecret(req, ctx.secrets, { params: SECRET_PARAMS, headers: SECRET_HEADERS }),
  parse(body) {
    const p = parseJson(body)
    if (!p || typeof p !== 'object' || Array.isArray(p))
      throw new InboundError('invalid_payload', 'the body is not a JSON object')
    return p
  },
  normalize(payload, { receivedAt }) {
    const o = payload as Record<string, unknown>
    const alertId = pick(o, 'alertUID', 'alertUid', 'alert_uid', 'alertId')
    if (!alertId) {
      throw new InboundError(
        'invalid_payload',
        'no alert id: put "alertUID": "[alert_uid]" in the webhook body',
      )
    }
    const placeholders = Object.values(o).filter((v) => typeof v === 'string' && PLACEHOLDER_RE.test(v))
    if (placeholders.length > 0 && PLACEHOLDER_RE.test(alertId)) {
      return { events: [], ticketChanges: [], ignored: 'a test send: the [variables] were not filled in' }
    }
    const resolvedRaw = o.resolvedAlert ?? o.resolved
    const resolved =
      resolvedRaw === true || resolvedRaw === 'true' || pick(o, 'status')?.toLowerCase() === 'resolved'
    const message = pick(o, 'alertMessage', 'alert_message', 'message', 'msg')
    const data: Record<string, unknown> = {
      alertId,
      name: pick(o, 'alertCategory', 'category', 'alertType') ?? message ?? 'Datto RMM alert',
      severity: severityOf(pick(o, 'priority', 'severity', 'alertPriority')),
      deviceId: pick(o, 'deviceId', 'device_id', 'deviceUid'),
      hostname: pick(o, 'hostname', 'deviceHostname', 'device_hostname'),
      message,
      site: {
        id: pick(o, 'siteId', 'site_id'),
        name: pick(o, 'siteName', 'dattoSiteDetails', 'site_name'),
      },
      source: 'datto-rmm',
    }
    return {
      events: [
        {
          key: `alert:${alertId}:${resolved ? 'resolved' : 'triggered'}`,
          type: resolved ? 'alert.resolved' : 'alert.triggered',
          occurredAt: receivedAt.toISOString(),
          data,
        },
      ],
      ticketChanges: [],
    }
  },
  setup: (url, secret) => [
    "In Datto RMM: Setup > Integrations > Global Webhooks (or a monitor's Response section) > Webhook.",
    `URL: ${url}?secret=${secret}   (or the URL alone plus a header "X-Patchbay-Secret: ${secret}")`,
    'Alert body: {"alertUID":"[alert_uid]","alertMessage":"[alert_message]","priority":"[alert_priority]","deviceId":"[device_id]","hostname":"[device_hostname]","siteId":"[site_id]","siteName":"[site_name]","resolvedAlert":"false"}',
    'Resolution body: the same with "resolvedAlert":"true".',
  ],
}
