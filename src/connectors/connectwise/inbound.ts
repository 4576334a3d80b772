import { OutboundError, UnsafeUrlError } from '../../net/http-client.ts'
import {
  type DeferredVerifyContext,
  decodeSignature,
  hmac,
  InboundError,
  type InboundOperations,
  type InboundRequest,
  origin,
  parseJson,
  reject,
  sameBytes,
  sha256,
  type VerifyContext,
  type VerifyOutcome,
} from '../shared/inbound.ts'

/**
 * ConnectWise PSA callbacks (`POST /system/callbacks`). The body names a key URL (`Metadata.key_url`); GET it for
 * `{"signing_key": "…"}`, and `x-content-signature` must equal base64(HMAC-SHA256(SHA-256(signing_key), raw body)).
 * The key URL comes from the (unauthenticated) body, so it is fetched only from ConnectWise's cloud hosts or the
 * origin of the linked integration's own site, through the SSRF-guarded client, and the key is cached.
 */
const CLOUD_SUBDOMAINS = new Set([
  'api-au',
  'api-eu',
  'api-na',
  'sandbox-au',
  'sandbox-eu',
  'sandbox-na',
  'na',
  'eu',
  'au',
])
const KEY_CACHE_MS = 60 * 60_000
const SIGNATURE_HEADER = 'x-content-signature'

/** Whether Patchbay may fetch this key URL, and if not, why. Exported for its own tests. */
export function keyUrlProblem(
  keyUrl: unknown,
  integration: VerifyContext['integration'],
): string | undefined {
  if (typeof keyUrl !== 'string' || !keyUrl) return 'Metadata.key_url is missing'
  let u: URL
  try {
    u = new URL(keyUrl)
  } catch {
    return `key_url "${keyUrl}" is not a URL`
  }
  if (u.username || u.password) return 'key_url host not allowed: it carries credentials'
  if (u.hash) return 'key_url host not allowed: it has a fragment'
  const host = u.hostname.toLowerCase()
  const sub = host.endsWith('.myconnectwise.net') ? host.slice(0, -'.myconnectwise.net'.length) : undefined
  if (u.protocol === 'https:' && u.port === '' && sub !== undefined && CLOUD_SUBDOMAINS.has(sub))
    return undefined
  const pub = integration?.publicCredentials ?? {}
  const trusted = [origin(pub.siteUrl), origin(pub.baseUrl)].filter((o): o is string => o !== undefined)
  if (trusted.includes(u.origin)) return undefined
  return `key_url host not allowed: ${u.origin} is neither a ConnectWise cloud host nor the origin of the linked integration's site${
    integration ? '' : ' (no integration is linked)'
  }`
}

function payloadOf(req: InboundRequest): Record<string, unknown> | undefined {
  try {
    const p = JSON.parse(req.body.toString('utf8')) as unknown
    return p && typeof p === 'object' && !Array.isArray(p) ? (p as Record<string, unknown>) : undefined
  } catch {
    return undefined
  }
}

function keyUrlOf(p: Record<string, unknown>): unknown {
  const m = p.Metadata
  return m && typeof m === 'object' ? (m as Record<string, unknown>).key_url : undefined
}

function check(req: InboundRequest, signingKey: string): VerifyOutcome {
  const given = decodeSignature(req.headers[SIGNATURE_HEADER] ?? '', 'base64')
  if (given && sameBytes(given, hmac('sha256', sha256(signingKey), req.body))) {
    return { result: 'ok', how: `${SIGNATURE_HEADER} (key from Metadata.key_url)` }
  }
  return reject(
    'signature_mismatch',
    `${SIGNATURE_HEADER} does not match the body signed with the key at Metadata.key_url`,
  )
}

async function fetchKey(keyUrl: string, ctx: DeferredVerifyContext): Promise<string> {
  let res: Awaited<ReturnType<typeof ctx.env.http.request>>
  try {
    res = await ctx.env.http.request({
      method: 'GET',
      url: keyUrl,
      timeoutMs: 10_000,
      maxResponseBytes: 65_536,
      keepResponseChars: 65_536,
    })
  } catch (err) {
    if (err instanceof UnsafeUrlError)
      throw new InboundError('key_url_not_allowed', `key_url host not allowed: the URL ${err.message}`)
    if (err instanceof OutboundError)
      throw new InboundError('key_fetch_failed', `fetching key_url failed: ${err.message}`, true)
    throw err
  }
  if (res.status >= 500 || res.status === 429) {
    throw new InboundError('key_fetch_failed', `fetching key_url answered ${res.status}`, true)
  }
  if (res.status !== 200)
    throw new InboundError('key_fetch_failed', `fetching key_url answered ${res.status}`)
  let key: unknown
  try {
    key = (JSON.parse(res.body) as Record<string, unknown>).signing_key
  } catch {
    throw new InboundError('key_fetch_failed', 'key_url did not answer JSON')
  }
  if (typeof key !== 'string' || key.length === 0) {
    throw new InboundError('key_fetch_failed', 'key_url answered without a signing_key string')
  }
  return key
}

function ticketStatus(entity: unknown): { status?: string; title?: string; changedAt?: string } {
  let e = entity
  if (typeof e === 'string') {
    try {
      e = JSON.parse(e)
    } catch {
      throw new InboundError('invalid_payload', 'Entity is not JSON')
    }
  }
  if (!e || typeof e !== 'object') return {}
  const o = e as Record<string, unknown>
  const st = o.status && typeof o.status === 'object' ? (o.status as Record<string, unknown>).name : undefined
  // Every ConnectWise model carries `_info.lastUpdated` (see the Ticket model in the vendor's document).
  const info = o._info && typeof o._info === 'object' ? (o._info as Record<string, unknown>) : {}
  const changed = typeof info.lastUpdated === 'string' ? new Date(info.lastUpdated) : undefined
  return {
    ...(typeof st === 'string' ? { status: st } : {}),
    ...(typeof o.summary === 'string' ? { title: o.summary } : {}),
    ...(changed && !Number.isNaN(changed.getTime()) ? { changedAt: changed.toISOString() } : {}),
  }
}

export const connectwiseInbound: InboundOperations = {
  displayName: 'ConnectWise PSA',
  secretStyle: 'token',
  verify(req, ctx) {
    // An unsigned callback is refused before anything is looked up or fetched.
    if (!req.headers[SIGNATURE_HEADER]) return reject('missing_signature', `no ${SIGNATURE_HEADER} header`)
    const p = payloadOf(req)
    if (!p) return reject('invalid_payload', 'the body is not a JSON object, so it names no key_url')
    const keyUrl = keyUrlOf(p)
    const problem = keyUrlProblem(keyUrl, ctx.integration)
    if (problem) return reject('key_url_not_allowed', problem)
    return { result: 'defer' }
  },
  async verifyDeferred(req, ctx) {
    const p = payloadOf(req)
    const keyUrl = p ? keyUrlOf(p) : undefined
    const problem = keyUrlProblem(keyUrl, ctx.integration)
    if (problem) return reject('key_url_not_allowed', problem)
    const url = keyUrl as string
    const now = ctx.now.getTime()
    const cached = ctx.cache.get(url)
    let key = cached && cached.expires > now ? cached.value : undefined
    if (key === undefined) {
      key = await fetchKey(url, ctx)
      ctx.cache.set(url, { value: key, expires: now + KEY_CACHE_MS })
    }
    return check(req, key)
  },
  parse(body) {
    const p = parseJson(body)
    if (!p || typeof p !== 'object' || Array.isArray(p))
      throw new InboundError('invalid_payload', 'the body is not a JSON object')
    const o = p as Record<string, unknown>
    if (typeof o.Type !== 'string') throw new InboundError('invalid_payload', 'Type is missing')
    if (typeof o.ID !== 'number' && typeof o.ID !== 'string')
      throw new InboundError('invalid_payload', 'ID is missing')
    return o
  },
  normalize(payload) {
    const p = payload as Record<string, unknown>
    if (String(p.Type).toLowerCase() !== 'ticket') {
      return {
        events: [],
        ticketChanges: [],
        ignored: `${String(p.Type)} callbacks produce no platform event`,
      }
    }
    const ticketId = String(p.ID)
    const action = String(p.Action ?? 'updated').toLowerCase()
    const { status, title, changedAt } = ticketStatus(p.Entity)
    return {
      events: [
        {
          key: `ticket:${ticketId}:${String(p.MessageId ?? '')}`,
          type: 'psa.ticket.updated',
          data: {
            provider: 'connectwise',
            ticketId,
            action,
            ...(status !== undefined ? { status } : {}),
            ...(title !== undefined ? { title } : {}),
            companyId: p.CompanyId,
            memberId: p.MemberId,
          },
        },
      ],
      ticketChanges: action === 'deleted' ? [] : [{ ticketId, status, title, changedAt }],
    }
  },
  setup: (url) => [
    'In ConnectWise PSA: register a callback (POST /system/callbacks, or System > Setup Tables > Integrator Login > callbacks).',
    `url: ${url}`,
    'type: ticket, level: board (objectId: the board id) or owner; payloadVersion: 2025.1 or later.',
    "ConnectWise signs each callback with a key it publishes at Metadata.key_url; no secret is pasted. Link the source to the ConnectWise integration so a self-hosted site's key URL is allowed.",
  ],
}
