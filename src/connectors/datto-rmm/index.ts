import type { z } from 'zod'
import type { ResourceItem, ResourceKind } from '../../resources/kinds.ts'
import type { CredentialSchema } from '../../vault/mask.ts'
import { credentialParser, defineConnector, missingCredential } from '../define.ts'
import { isoDate, overrideBase, verifyBy } from '../shared/credentials.ts'
import { decodeCursor, encodeCursor } from '../shared/cursor.ts'
import { arr, expectObject, type Json, obj, str, withQuery } from '../shared/json.ts'
import { baseUrlField } from '../shared/psa.ts'
import { accountKey } from '../shared/token-cache.ts'
import type {
  Connector,
  ConnectorEnv,
  PageOf,
  ResourceKindInfo,
  ResourceOperations,
  ResourceQuery,
} from '../types.ts'
import { VendorError } from '../vendor-error.ts'
import { basicAuth, callVendor, sensitiveValues } from '../vendor-http.ts'
import { dattoRmmActions } from './actions.ts'
import { dattoRmmInbound } from './inbound.ts'

/**
 * Datto RMM API v2 (https://rmm.datto.com/help/en/Content/2SETUP/APIv2.htm).
 *
 * - Authentication: the API key and secret of an API-enabled user are exchanged for an access token by an OAuth
 *   password grant at `<platform>-api.centrastage.net/auth/oauth/token`, with Datto's published client
 *   `public-client:public`. Tokens last 100 hours; they are cached for their lifetime (env.tokens) and fetched
 *   again once when the API answers 401.
 * - Platforms: every account lives on one of six platforms. When the credential names none, `verify` tries each
 *   and advises the one that accepted the key (the stored destination is never changed behind the user's back);
 *   reads find it the same way and remember it in memory for the process.
 * - Rate limit: 600 requests per 60 seconds per account, kept in env.budget (shared by every Patchbay process);
 *   a spent budget and the vendor's own 429 both surface as a VendorError carrying Retry-After.
 * - Pagination: `page` (from 0) and `max` (at most 250); `pageDetails.nextPageUrl` is the next page.
 */
const VENDOR = 'Datto RMM'
export const PLATFORMS = ['pinotage', 'merlot', 'concord', 'vidal', 'zinfandel', 'syrah'] as const
export const BUDGET = { limit: 600, windowMs: 60_000 } as const
const MAX_PAGE = 250
/** Tokens are dropped this long before Datto says they expire, so none is sent at the edge of its life. */
const TOKEN_MARGIN_MS = 60_000
const DETECTED_LIMIT = 5000

export const credentialSchema = {
  apiKey: {
    type: 'string',
    sensitive: true,
    required: true,
    description: 'The API key of an API-enabled user (Setup > Users > the user > Generate API Keys).',
  },
  apiSecret: { type: 'string', sensitive: true, required: true, description: "That user's API secret key." },
  platform: {
    type: 'string',
    sensitive: false,
    destination: true,
    required: false,
    pattern: `^(${PLATFORMS.join('|')})$`,
    description:
      'Your platform, as in your API URL (e.g. merlot for merlot-api.centrastage.net); found by Test connection ' +
      'when blank.',
  },
  baseUrl: baseUrlField(
    'Calls this host instead of the platform (a proxy, a test stand-in); /api/v2/… is appended.',
  ),
} satisfies CredentialSchema

/** The stored credentials as this connector reads them, parsed once at its edge (define.ts). */
const credentials = credentialParser(credentialSchema, missingCredential(VENDOR))
type Creds = z.infer<typeof credentials.schema>

export interface DattoRmmOptions {
  /** The API host of a platform; Datto's own unless a test points them elsewhere. */
  platformUrl?: (platform: string) => string
}

const realPlatformUrl = (platform: string) => `https://${platform}-api.centrastage.net`

/** Datto's errors: the OAuth server's `{error, error_description}`, the API's `{status, error, path}`. */
function errorText(body: unknown): string | undefined {
  const b = obj(body)
  if (!b) return undefined
  const described = str(b.error_description)
  if (described) return str(b.error) ? `${str(b.error)}: ${described}` : described
  return str(b.message) ?? str(b.error)
}

interface Host {
  url: string
  /** Set when the platform was found by trying each one (the credential names none). */
  detected?: string | undefined
}

export function createDattoRmm(opts: DattoRmmOptions = {}): Connector {
  const platformUrl = opts.platformUrl ?? realPlatformUrl
  /** Platforms found for credentials without one, by account key; in memory, per process. */
  const detected = new Map<string, string>()

  const secrets = (creds: Creds) => sensitiveValues(credentialSchema, creds)

  async function requestToken(creds: Creds, env: ConnectorEnv, base: string) {
    const body = new URLSearchParams({
      grant_type: 'password',
      username: creds.apiKey,
      password: creds.apiSecret,
    }).toString()
    const res = await callVendor(env, {
      vendor: VENDOR,
      method: 'POST',
      url: `${base}/auth/oauth/token`,
      headers: {
        authorization: basicAuth('public-client', 'public'),
        'content-type': 'application/x-www-form-urlencoded',
      },
      body,
      secrets: secrets(creds),
      errorText,
    })
    const data = expectObject(VENDOR, res.data, 'the token request')
    const token = str(data.access_token)
    if (!token) throw new VendorError(`${VENDOR} answered the token request without an access_token`, 502)
    const expiresIn = Number(data.expires_in)
    const lifetime = Number.isFinite(expiresIn) && expiresIn > 0 ? expiresIn * 1000 : 3_600_000
    return { token, expiresAt: env.clock.now().getTime() + Math.max(0, lifetime - TOKEN_MARGIN_MS) }
  }

  function tokenKey(creds: Creds, base: string): string {
    return accountKey('datto-rmm', base, creds.apiKey)
  }

  async function token(creds: Creds, env: ConnectorEnv, base: string, fresh = false): Promise<string> {
    const key = tokenKey(creds, base)
    if (!fresh) {
      const hit = await env.tokens?.get(key)
      if (hit && hit.expiresAt > env.clock.now().getTime()) return hit.token
    }
    const got = await requestToken(creds, env, base)
    await env.tokens?.set(key, got)
    return got.token
  }

  /** Tries every platform's token endpoint; the one that accepts the key is the account's. */
  async function detect(creds: Creds, env: ConnectorEnv): Promise<string> {
    const refusals: string[] = []
    for (const platform of PLATFORMS) {
      const base = platformUrl(platform)
      try {
        const got = await requestToken(creds, env, base)
        await env.tokens?.set(tokenKey(creds, base), got)
        return platform
      } catch (err) {
        // A refusal means "not this platform"; anything else (an outage, a rate limit) is the answer to give.
        if (!(err instanceof VendorError) || (err.status !== 400 && err.status !== 401)) throw err
        refusals.push(err.message)
      }
    }
    throw new VendorError(
      `${VENDOR}: no platform (${PLATFORMS.join(', ')}) accepted the API key and secret${refusals.at(-1) ? `; the last said: ${refusals.at(-1)}` : ''}`,
      401,
    )
  }

  async function host(creds: Creds, env: ConnectorEnv, opts: { redetect?: boolean } = {}): Promise<Host> {
    const override = overrideBase(creds)
    if (override) return { url: override }
    const platform = creds.platform
    if (platform) {
      if (!(PLATFORMS as readonly string[]).includes(platform))
        throw new VendorError(`${VENDOR}: "${platform}" is not a platform (${PLATFORMS.join(', ')})`, 400)
      return { url: platformUrl(platform) }
    }
    const key = accountKey('datto-rmm', creds.apiKey)
    let found = opts.redetect ? undefined : detected.get(key)
    if (!found) {
      found = await detect(creds, env)
      if (detected.size >= DETECTED_LIMIT) detected.clear()
      detected.set(key, found)
    }
    return { url: platformUrl(found), detected: found }
  }

  /** One budgeted API call; a 401 fetches a new token once and tries again. */
  async function api<T = unknown>(
    creds: Creds,
    env: ConnectorEnv,
    base: string,
    pathOrUrl: string,
    init: { method?: 'POST' | 'PUT'; body?: unknown; timeoutMs?: number | undefined } = {},
  ) {
    const url = pathOrUrl.startsWith('/') ? `${base}/api${pathOrUrl}` : pathOrUrl
    const account = accountKey('datto-rmm', base, creds.apiKey)
    const send = async (bearer: string) => {
      const wait = (await env.budget?.take(account, BUDGET.limit, BUDGET.windowMs)) ?? 0
      if (wait > 0) {
        throw new VendorError(
          `${VENDOR}: this account's budget of ${BUDGET.limit} requests per ${BUDGET.windowMs / 1000} s is spent; try again in ${Math.ceil(wait / 1000)} s`,
          429,
          wait,
        )
      }
      return callVendor<T>(env, {
        vendor: VENDOR,
        url,
        ...(init.method ? { method: init.method } : {}),
        ...(init.body !== undefined ? { body: init.body } : {}),
        ...(init.timeoutMs ? { timeoutMs: init.timeoutMs } : {}),
        headers: { authorization: `Bearer ${bearer}` },
        secrets: [...secrets(creds), bearer],
        errorText,
      })
    }
    try {
      return await send(await token(creds, env, base))
    } catch (err) {
      if (!(err instanceof VendorError) || err.status !== 401) throw err
      await env.tokens?.drop(tokenKey(creds, base))
      return send(await token(creds, env, base, true))
    }
  }

  /** Verification looks for the platform afresh; the probe reuses what this process found. */
  async function account(creds: Creds, env: ConnectorEnv, redetect: boolean) {
    const h = await host(creds, env, { redetect })
    const res = await api(creds, env, h.url, '/v2/account')
    const a = expectObject(VENDOR, res.data, 'the account')
    return { host: h, name: str(a.name) ?? str(a.uid) }
  }

  async function verify(creds: Creds, env: ConnectorEnv) {
    let found: Awaited<ReturnType<typeof account>> | undefined
    const result = await verifyBy(async () => {
      found = await account(creds, env, true)
      return found.name
    })
    const platform = found?.host.detected
    if (!result.ok || !platform) return result
    return {
      ...result,
      advice: `The account is on the ${platform} platform (${platformUrl(platform)}): set platform to ${platform}.`,
      suggestedCredentials: { platform },
    }
  }

  const resources = dattoResources({ host, api })
  return defineConnector<Creds>(credentials, {
    descriptor: {
      id: 'datto-rmm',
      displayName: 'Datto RMM',
      category: 'rmm',
      capabilities: ['read_resources'],
      credentialSchema,
      docsUrl: 'https://rmm.datto.com/help/en/Content/2SETUP/APIv2.htm',
    },
    verify,
    probe: (creds, env) => verifyBy(async () => (await account(creds, env, false)).name),
    resources,
    inbound: dattoRmmInbound,
    actions: dattoRmmActions({ host, api }),
  })
}

// ---- resources ----

const KINDS: readonly ResourceKindInfo[] = [
  {
    kind: 'sites',
    description: 'Sites of the account',
    filters: { siteName: 'Sites whose name contains this' },
  },
  {
    kind: 'devices',
    description: 'Devices of the account, or of one site',
    filters: {
      siteId: 'Only this site (its uid)',
      hostname: 'Host name contains this',
      deviceType: 'Device type contains this',
      operatingSystem: 'Operating system contains this',
      siteName: 'Site name contains this',
    },
  },
  {
    kind: 'alerts',
    description: 'Open alerts (or resolved ones), of the account, a site or a device',
    filters: {
      status: 'open (default) or resolved',
      siteId: 'Only this site (its uid)',
      deviceId: 'Only this device (its uid)',
      muted: 'true or false',
    },
  },
  {
    kind: 'device-audit',
    description: "One device's hardware audit",
    filters: { deviceId: 'The device (its uid); required' },
  },
]

const SEVERITY: Record<string, ResourceItem<'alerts'>['severity']> = {
  critical: 'critical',
  high: 'high',
  moderate: 'medium',
  low: 'low',
  information: 'info',
}

const when = (v: unknown) => isoDate(v) ?? null
const text = (v: unknown) => str(v) ?? null

function toSite(s: Json): ResourceItem<'sites'> {
  return {
    id: str(s.uid) ?? str(s.id) ?? '',
    name: str(s.name) ?? '',
    description: text(s.description),
    raw: s,
  }
}

function toDevice(d: Json): ResourceItem<'devices'> {
  return {
    id: str(d.uid) ?? str(d.id) ?? '',
    name: str(d.hostname) ?? str(d.description) ?? str(d.uid) ?? '',
    hostname: text(d.hostname),
    ip: text(d.intIpAddress),
    mac: null,
    os: text(d.operatingSystem),
    site: text(d.siteUid),
    online: typeof d.online === 'boolean' ? d.online : null,
    lastSeen: when(d.lastSeen),
    raw: d,
  }
}

function toAlert(a: Json): ResourceItem<'alerts'> {
  const source = obj(a.alertSourceInfo)
  const context = obj(a.alertContext)
  return {
    id: str(a.alertUid) ?? '',
    status: a.resolved === true ? 'resolved' : 'open',
    severity: SEVERITY[(str(a.priority) ?? '').toLowerCase()] ?? 'info',
    message: str(a.diagnostics) ?? str(context?.['@class']) ?? 'Alert',
    deviceId: text(source?.deviceUid),
    hostname: text(source?.deviceName),
    site: text(source?.siteUid),
    createdAt: when(a.timestamp),
    resolvedAt: when(a.resolvedOn),
    raw: a,
  }
}

function toAudit(deviceId: string, a: Json): ResourceItem<'device-audit'> {
  const system = obj(a.systemInfo)
  return {
    deviceId,
    manufacturer: text(system?.manufacturer),
    model: text(system?.model),
    serialNumber: text(obj(a.bios)?.serialNumber),
    os: null,
    raw: a,
  }
}

/** A uid as Datto issues them, so it can go into a path unescaped. */
function uid(value: string, what: string): string {
  if (!/^[A-Za-z0-9-]{1,64}$/.test(value))
    throw new VendorError(`${VENDOR}: "${value}" is not a ${what} uid`, 400)
  return value
}

function dattoResources(deps: {
  host: (c: Creds, e: ConnectorEnv) => Promise<Host>
  api: <T = unknown>(c: Creds, e: ConnectorEnv, base: string, pathOrUrl: string) => Promise<{ data: T }>
}): ResourceOperations<Creds> {
  /** One page: the first from `path`, the next from the vendor's nextPageUrl, kept on our host. */
  async function page(
    creds: Creds,
    env: ConnectorEnv,
    q: ResourceQuery,
    path: string,
    params: Record<string, string | undefined>,
    listKey: string,
  ): Promise<{ items: Json[]; next?: string | undefined }> {
    const h = await deps.host(creds, env)
    const saved = decodeCursor<{ next: string }>(VENDOR, q.cursor)?.next
    let target: string
    if (saved !== undefined) {
      if (typeof saved !== 'string' || !saved.startsWith('/v2/'))
        throw new VendorError(`${VENDOR}: the page cursor is not one this connector issued`, 400)
      target = saved
    } else {
      target = withQuery(path, { ...params, page: 0, max: Math.min(q.limit, MAX_PAGE) })
    }
    const res = await deps.api(creds, env, h.url, target)
    const body = expectObject(VENDOR, res.data, `the ${listKey} page`)
    const items = arr(body[listKey])
      .map(obj)
      .filter((x): x is Json => !!x)
    const nextUrl = str(obj(body.pageDetails)?.nextPageUrl)
    let next: string | undefined
    if (nextUrl) {
      let u: URL
      try {
        u = new URL(nextUrl)
      } catch {
        throw new VendorError(`${VENDOR} answered a nextPageUrl that is not a URL`, 502)
      }
      const at = u.pathname.indexOf('/v2/')
      if (at < 0) throw new VendorError(`${VENDOR} answered a nextPageUrl outside the API`, 502)
      next = encodeCursor({ next: `${u.pathname.slice(at)}${u.search}` })
    }
    return { items, next }
  }

  async function list<K extends ResourceKind>(
    creds: Creds,
    kind: K,
    q: ResourceQuery,
    env: ConnectorEnv,
  ): Promise<PageOf<ResourceItem<K>>> {
    const f = q.filter
    const known = KINDS.find((k) => k.kind === kind)
    if (!known) throw new VendorError(`${VENDOR} offers no ${kind}`, 400)
    const unknown = Object.keys(f).filter((n) => !(known.filters && n in known.filters))
    if (unknown.length)
      throw new VendorError(`${VENDOR}: unknown filter ${unknown.join(', ')} for ${kind}`, 400)
    switch (kind) {
      case 'sites': {
        const p = await page(creds, env, q, '/v2/account/sites', { siteName: f.siteName }, 'sites')
        return { items: p.items.map(toSite) as ResourceItem<K>[], next: p.next }
      }
      case 'devices': {
        const path = f.siteId ? `/v2/site/${uid(f.siteId, 'site')}/devices` : '/v2/account/devices'
        const params = {
          hostname: f.hostname,
          deviceType: f.deviceType,
          operatingSystem: f.operatingSystem,
          siteName: f.siteId ? undefined : f.siteName,
        }
        const p = await page(creds, env, q, path, params, 'devices')
        return { items: p.items.map(toDevice) as ResourceItem<K>[], next: p.next }
      }
      case 'alerts': {
        const status = f.status ?? 'open'
        if (status !== 'open' && status !== 'resolved')
          throw new VendorError(`${VENDOR}: the status filter is open or resolved, not "${status}"`, 400)
        if (f.muted !== undefined && f.muted !== 'true' && f.muted !== 'false')
          throw new VendorError(`${VENDOR}: the muted filter is true or false`, 400)
        if (f.siteId && f.deviceId)
          throw new VendorError(`${VENDOR}: filter alerts by siteId or by deviceId, not both`, 400)
        const scope = f.deviceId
          ? `/v2/device/${uid(f.deviceId, 'device')}`
          : f.siteId
            ? `/v2/site/${uid(f.siteId, 'site')}`
            : '/v2/account'
        const p = await page(creds, env, q, `${scope}/alerts/${status}`, { muted: f.muted }, 'alerts')
        return { items: p.items.map(toAlert) as ResourceItem<K>[], next: p.next }
      }
      case 'device-audit': {
        if (!f.deviceId) throw new VendorError(`${VENDOR}: device-audit needs the deviceId filter`, 400)
        const id = uid(f.deviceId, 'device')
        const h = await deps.host(creds, env)
        const res = await deps.api(creds, env, h.url, `/v2/audit/device/${id}`)
        const audit = expectObject(VENDOR, res.data, 'the device audit')
        return { items: [toAudit(id, audit)] as ResourceItem<K>[] }
      }
      default:
        throw new VendorError(`${VENDOR} offers no ${kind}`, 400)
    }
  }

  return { kinds: KINDS, list }
}

export const dattoRmm = createDattoRmm()
