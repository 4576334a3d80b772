import { z } from 'zod'
import type { ResourceItem, ResourceKind } from '../../resources/kinds.ts'
import type { CredentialSchema } from '../../vault/mask.ts'
import { credentialParser, defineConnector, missingCredential } from '../define.ts'
import { isoDate, overrideBase, toOrigin, verifyBy } from '../shared/credentials.ts'
import { decodeCursor, encodeCursor } from '../shared/cursor.ts'
import { arr, expectObject, type Json, obj, str, withQuery } from '../shared/json.ts'
import { accountKey, checkFilters, offeredKind, oneOf, pageSize } from '../shared/resource-filters.ts'
import type {
  Connector,
  ConnectorAction,
  ConnectorEnv,
  PageOf,
  ResourceKindInfo,
  ResourceOperations,
  ResourceQuery,
} from '../types.ts'
import { VendorError, VendorRefusal } from '../vendor-error.ts'
import { callVendor, sensitiveValues } from '../vendor-http.ts'

/**
 * UniFi, through two APIs that authenticate alike (an `X-API-KEY` header) but live in different places:
 *
 * - the cloud **Site Manager API** (https://developer.ui.com/site-manager-api/) at `https://api.ui.com/v1`, with
 *   a key from https://unifi.ui.com/settings/api-keys: the account's hosts (consoles), sites and devices, paged by
 *   `pageSize`/`nextToken`. Its documented limit is 10,000 requests a minute per account, kept in the env's shared
 *   budget when there is one.
 * - one console's **Network Integration API** at `<console>/proxy/network/integration/v1`, with a key from the
 *   console's Network application (Settings > Control Plane > Integrations): its sites, and per site the adopted
 *   devices and connected clients, paged by `offset`/`limit` (at most 200).
 *
 * Consoles usually present a self-signed certificate. Verification is never switched off: the certificate's
 * SHA-256 fingerprint, given at setup, is pinned, and a console presenting any other certificate is refused.
 * One integration holds a Site Manager key, one console, or both; a second console is a second integration.
 */
const SITE_MANAGER = 'UniFi Site Manager'
const CONSOLE = 'UniFi console'
const VENDOR = 'UniFi'
const DEFAULT_SITE_MANAGER = 'https://api.ui.com'
const CONSOLE_PATH = '/proxy/network/integration/v1'
const MAX_PAGE = 200
/** The Site Manager API's documented limit for its GA endpoints. */
const SITE_MANAGER_BUDGET = { limit: 10_000, windowMs: 60_000 }

export const credentialSchema = {
  siteManagerApiKey: {
    type: 'string',
    sensitive: true,
    required: false,
    description:
      'Site Manager API key (https://unifi.ui.com/settings/api-keys): hosts, sites and devices of every console on the UI account.',
  },
  consoleUrl: {
    type: 'url',
    sensitive: false,
    destination: true,
    required: false,
    description:
      "The console's address, e.g. https://203.0.113.10 or https://unifi.example.com:11443 (" +
      `${CONSOLE_PATH} is appended). A private address must be allowed by PATCHBAY_ALLOWED_TARGET_CIDRS.`,
  },
  networkApiKey: {
    type: 'string',
    sensitive: true,
    required: false,
    description:
      "The console's Network API key (UniFi Network > Settings > Control Plane > Integrations): its sites, devices and clients.",
  },
  consoleCertSha256: {
    type: 'string',
    sensitive: false,
    destination: true,
    required: false,
    pattern: '^\\s*([0-9A-Fa-f]{2}:?){31}[0-9A-Fa-f]{2}\\s*$',
    description:
      "SHA-256 fingerprint of the console's own (self-signed) certificate, e.g. from `openssl s_client -connect <console>:443 " +
      '| openssl x509 -noout -fingerprint -sha256`. Only that certificate is then accepted. Leave empty when the ' +
      'console has a certificate from a public authority.',
  },
  baseUrl: {
    type: 'url',
    sensitive: false,
    destination: true,
    required: false,
    description:
      'Calls this host instead of https://api.ui.com for the Site Manager API (a proxy, a test stand-in).',
  },
} satisfies CredentialSchema

/**
 * The stored credentials as this connector reads them, parsed once at its edge (define.ts). Every field is
 * optional: which APIs are configured is checked where they are used (`consoleOf`, `requireSiteManager`).
 */
const credentials = credentialParser(credentialSchema, missingCredential(VENDOR))
type Creds = z.infer<typeof credentials.schema>

/** Both APIs' errors: Site Manager `{httpStatusCode, traceId, message}`, Network `{statusCode, statusName, code, message}`. */
function errorText(body: unknown): string | undefined {
  const b = obj(body)
  const message = str(b?.message)
  if (!message) return undefined
  return str(b?.code) ? `${message} (${str(b?.code)})` : message
}

interface Console {
  api: string
  key: string
  pin: string | undefined
}

function siteManagerKey(creds: Creds): string | undefined {
  return creds.siteManagerApiKey
}

function consoleOf(creds: Creds): Console | undefined {
  const url = creds.consoleUrl
  const key = creds.networkApiKey
  if (!url && !key) return undefined
  if (!url || !key)
    throw new VendorError(
      `${VENDOR}: a console needs both consoleUrl and networkApiKey; one of them is missing`,
      400,
    )
  const u = toOrigin(url)
  if (!u) throw new VendorError(`${VENDOR}: consoleUrl "${url}" is not a URL`, 400)
  // People paste what the console's API page shows, with or without the integration path.
  const path = u.pathname.replace(/\/+$/, '').replace(/\/proxy\/network\/integration(\/v1)?$/, '')
  return {
    api: `${u.protocol}//${u.host}${path}${CONSOLE_PATH}`,
    key,
    pin: creds.consoleCertSha256,
  }
}

function requireSiteManager(creds: Creds, what: string): string {
  const key = siteManagerKey(creds)
  if (!key) throw new VendorError(`${VENDOR}: ${what} need the Site Manager API key (siteManagerApiKey)`, 400)
  return key
}

function requireConsole(creds: Creds, what: string): Console {
  const c = consoleOf(creds)
  if (!c) throw new VendorError(`${VENDOR}: ${what} need a console (consoleUrl and networkApiKey)`, 400)
  return c
}

async function siteManagerGet(
  creds: Creds,
  env: ConnectorEnv,
  path: string,
  query: Record<string, string | number | undefined>,
): Promise<Json> {
  const key = requireSiteManager(creds, `${path.replace('/v1/', '')}`)
  const wait = await env.budget?.take(
    accountKey('unifi-site-manager', key),
    SITE_MANAGER_BUDGET.limit,
    SITE_MANAGER_BUDGET.windowMs,
  )
  if (wait && wait > 0)
    throw new VendorError(
      `${SITE_MANAGER}: the account's ${SITE_MANAGER_BUDGET.limit.toLocaleString('en')} requests a minute are spent; ` +
        `try again in ${Math.ceil(wait / 1000)} s`,
      429,
      wait,
    )
  const res = await callVendor(env, {
    vendor: SITE_MANAGER,
    url: withQuery(`${overrideBase(creds) ?? DEFAULT_SITE_MANAGER}${path}`, query),
    headers: { 'x-api-key': key },
    secrets: sensitiveValues(credentialSchema, creds),
    errorText,
  })
  return expectObject(SITE_MANAGER, res.data, `GET ${path}`)
}

async function consoleGet(
  creds: Creds,
  env: ConnectorEnv,
  c: Console,
  path: string,
  query: Record<string, string | number | undefined> = {},
): Promise<Json> {
  try {
    const res = await callVendor(env, {
      vendor: CONSOLE,
      url: withQuery(`${c.api}${path}`, query),
      headers: { 'x-api-key': c.key },
      secrets: sensitiveValues(credentialSchema, creds),
      errorText,
      ...(c.pin ? { pinnedCertSha256: c.pin } : {}),
    })
    return expectObject(CONSOLE, res.data, `GET ${path}`)
  } catch (err) {
    if (err instanceof VendorError && !c.pin && err.status === undefined && /TLS error/.test(err.message)) {
      throw new VendorError(
        `${err.message}. A console with a self-signed certificate needs that certificate's SHA-256 fingerprint in consoleCertSha256`,
      )
    }
    throw err
  }
}

/** One write to the console (or a read answering something other than an object). */
async function consoleCall(
  creds: Creds,
  env: ConnectorEnv,
  c: Console,
  method: 'GET' | 'POST' | 'PUT' | 'DELETE',
  path: string,
  opts: { body?: unknown; timeoutMs?: number | undefined } = {},
) {
  return callVendor(env, {
    vendor: CONSOLE,
    method,
    url: `${c.api}${path}`,
    headers: { 'x-api-key': c.key },
    ...(opts.body !== undefined ? { body: opts.body } : {}),
    ...(opts.timeoutMs ? { timeoutMs: opts.timeoutMs } : {}),
    secrets: sensitiveValues(credentialSchema, creds),
    errorText,
    ...(c.pin ? { pinnedCertSha256: c.pin } : {}),
  })
}

const rows = (v: unknown): Json[] => arr(v).flatMap((r) => (obj(r) ? [obj(r) as Json] : []))

type Source = 'cloud' | 'console'

/** Where sites and devices come from: the filter, else the console when there is one (it knows more), else the cloud. */
function sourceOf(creds: Creds, filter: Record<string, string>, cursor: Json | undefined): Source {
  const chosen = oneOf(VENDOR, 'source', str(cursor?.source) ?? filter.source, ['cloud', 'console'])
  if (chosen) return chosen
  if (consoleOf(creds)) return 'console'
  if (siteManagerKey(creds)) return 'cloud'
  throw new VendorError(
    `${VENDOR}: the connection has neither a Site Manager API key nor a console (consoleUrl, networkApiKey)`,
    400,
  )
}

const KINDS: readonly ResourceKindInfo[] = [
  { kind: 'hosts', description: 'UniFi OS consoles on the UI account (Site Manager API key).' },
  {
    kind: 'sites',
    description: "Network sites: the console's own, or every console's from Site Manager.",
    filters: { source: 'console (the default when a console is configured) or cloud (Site Manager)' },
  },
  {
    kind: 'devices',
    description: 'Adopted UniFi devices (gateways, switches, access points).',
    filters: {
      source: 'console (the default when a console is configured) or cloud (Site Manager)',
      siteId: "console: one site's devices (default: every site's, one after another)",
      hostId: "cloud: one console's devices",
    },
  },
  {
    kind: 'clients',
    description: "Clients connected to the console's networks (wired, wireless, VPN), from the console.",
    filters: { siteId: "One site's clients (default: every site's, one after another)" },
  },
]

async function list<K extends ResourceKind>(
  creds: Creds,
  kind: K,
  query: ResourceQuery,
  env: ConnectorEnv,
): Promise<PageOf<ResourceItem<K>>> {
  const info = offeredKind(VENDOR, KINDS, kind)
  checkFilters(VENDOR, info, query.filter)
  const cursor = decodeCursor<Json>(VENDOR, query.cursor) as Json | undefined
  return (await listKind(creds, kind, query, cursor, env)) as PageOf<ResourceItem<K>>
}

async function listKind(
  creds: Creds,
  kind: ResourceKind,
  query: ResourceQuery,
  cursor: Json | undefined,
  env: ConnectorEnv,
): Promise<PageOf<ResourceItem>> {
  const f = query.filter
  if (kind === 'hosts') return cloudPage(creds, env, '/v1/hosts', query, cursor, {}, (h) => [toHost(h)])
  if (kind === 'clients') return consolePerSite(creds, env, 'clients', query, cursor, toClient)
  const source = sourceOf(creds, f, cursor)
  if (source === 'cloud' && f.siteId)
    throw new VendorError(
      `${VENDOR}: filter siteId applies to the console; use hostId with source=cloud`,
      400,
    )
  if (source === 'console' && f.hostId)
    throw new VendorError(
      `${VENDOR}: filter hostId applies to the cloud; use siteId with source=console`,
      400,
    )
  if (kind === 'sites') {
    if (source === 'cloud')
      return cloudPage(creds, env, '/v1/sites', query, cursor, {}, (s) => {
        const meta = obj(s.meta)
        const id = str(s.siteId) ?? ''
        return [{ id, name: str(meta?.desc) ?? str(meta?.name) ?? id, description: null, raw: s }]
      })
    const c = requireConsole(creds, 'console sites')
    const offset = typeof cursor?.offset === 'number' ? cursor.offset : 0
    const limit = typeof cursor?.limit === 'number' ? cursor.limit : pageSize(query.limit, MAX_PAGE)
    const body = await consoleGet(creds, env, c, '/sites', { offset, limit })
    const data = rows(body.data)
    const total = typeof body.totalCount === 'number' ? body.totalCount : undefined
    const more =
      data.length > 0 && (total !== undefined ? offset + data.length < total : data.length >= limit)
    return {
      items: data.map((s) => ({
        id: str(s.id) ?? '',
        name: str(s.name) ?? str(s.id) ?? '',
        description: null,
        raw: s,
      })),
      next: more ? encodeCursor({ source, offset: offset + data.length, limit }) : undefined,
    }
  }
  if (kind === 'devices') {
    if (source === 'cloud') {
      // Site Manager groups devices by host: `data: [{hostId, hostName, devices: [...]}]`.
      return cloudPage(creds, env, '/v1/devices', query, cursor, { 'hostIds[]': f.hostId }, (group) =>
        rows(group.devices).map((d) => toCloudDevice(d, str(group.hostId) ?? null)),
      )
    }
    return consolePerSite(creds, env, 'devices', query, cursor, toConsoleDevice)
  }
  throw new VendorError(`${VENDOR} offers no "${kind}"`, 400)
}

/** One Site Manager page (`pageSize` ≤ 200, `nextToken`), its rows mapped to items. */
async function cloudPage<T>(
  creds: Creds,
  env: ConnectorEnv,
  path: string,
  query: ResourceQuery,
  cursor: Json | undefined,
  params: Record<string, string | undefined>,
  map: (row: Json) => T[],
): Promise<PageOf<T>> {
  const size = typeof cursor?.size === 'number' ? cursor.size : pageSize(query.limit, MAX_PAGE)
  const body = await siteManagerGet(creds, env, path, {
    ...params,
    pageSize: size,
    nextToken: str(cursor?.token),
  })
  const token = str(body.nextToken)
  return {
    items: rows(body.data).flatMap(map),
    next: token ? encodeCursor({ source: 'cloud', token, size }) : undefined,
  }
}

async function consoleSiteIds(creds: Creds, env: ConnectorEnv, c: Console): Promise<string[]> {
  const ids: string[] = []
  for (let offset = 0; ; ) {
    const body = await consoleGet(creds, env, c, '/sites', { offset, limit: MAX_PAGE })
    const data = rows(body.data)
    ids.push(...data.flatMap((s) => (str(s.id) ? [str(s.id) as string] : [])))
    offset += data.length
    const total = typeof body.totalCount === 'number' ? body.totalCount : 0
    if (data.length === 0 || offset >= total) return ids
  }
}

/**
 * Devices or clients, which the console lists per site: one site's when the filter names it, else every site's in
 * the console's order, the cursor remembering the site and the offset within it.
 */
async function consolePerSite<T>(
  creds: Creds,
  env: ConnectorEnv,
  what: 'devices' | 'clients',
  query: ResourceQuery,
  cursor: Json | undefined,
  map: (row: Json, siteId: string) => T,
): Promise<PageOf<T>> {
  const c = requireConsole(creds, `console ${what}`)
  const everySite = cursor ? cursor.all === true : !query.filter.siteId
  const limit = typeof cursor?.limit === 'number' ? cursor.limit : pageSize(query.limit, MAX_PAGE)
  let offset = typeof cursor?.offset === 'number' ? cursor.offset : 0
  let siteIds: string[] | undefined
  let siteId = str(cursor?.site) ?? query.filter.siteId
  if (!siteId) {
    siteIds = await consoleSiteIds(creds, env, c)
    siteId = siteIds[0]
    offset = 0
    if (!siteId) return { items: [] }
  }
  const body = await consoleGet(creds, env, c, `/sites/${encodeURIComponent(siteId)}/${what}`, {
    offset,
    limit,
  })
  const data = rows(body.data)
  const total = typeof body.totalCount === 'number' ? body.totalCount : undefined
  const items = data.map((r) => map(r, siteId))
  const moreHere =
    data.length > 0 && (total !== undefined ? offset + data.length < total : data.length >= limit)
  if (moreHere)
    return {
      items,
      next: encodeCursor({
        source: 'console',
        all: everySite,
        site: siteId,
        offset: offset + data.length,
        limit,
      }),
    }
  if (!everySite) return { items }
  siteIds ??= await consoleSiteIds(creds, env, c)
  const following = siteIds[siteIds.indexOf(siteId) + 1]
  return {
    items,
    next: following
      ? encodeCursor({ source: 'console', all: true, site: following, offset: 0, limit })
      : undefined,
  }
}

/**
 * A host's `lastSeen` is when it lost its connection to the cloud (`lastConnectionStateChange` while it is not
 * connected); a connected host is being seen now, which the API does not timestamp, so it is null.
 */
function toHost(h: Json): ResourceItem<'hosts'> {
  const state = obj(h.reportedState)
  const id = str(h.id) ?? ''
  const connected = str(state?.state)
  const online = connected === undefined ? null : connected === 'connected'
  return {
    id,
    name: str(state?.name) ?? str(state?.hostname) ?? str(obj(h.userData)?.name) ?? str(h.hardwareId) ?? id,
    ip: str(h.ipAddress) ?? str(state?.ip) ?? null,
    online,
    lastSeen: online === false ? (isoDate(h.lastConnectionStateChange) ?? null) : null,
    raw: h,
  }
}

function toCloudDevice(d: Json, hostId: string | null): ResourceItem<'devices'> {
  const id = str(d.id) ?? ''
  const status = str(d.status)
  return {
    id,
    name: str(d.name) ?? str(d.mac) ?? id,
    hostname: null,
    ip: str(d.ip) ?? null,
    mac: str(d.mac) ?? null,
    os: null,
    site: hostId,
    online: status === undefined ? null : status.toLowerCase() === 'online',
    lastSeen: null,
    raw: d,
  }
}

function toConsoleDevice(d: Json, siteId: string): ResourceItem<'devices'> {
  const id = str(d.id) ?? ''
  const state = str(d.state)
  return {
    id,
    name: str(d.name) ?? str(d.macAddress) ?? id,
    hostname: null,
    ip: str(d.ipAddress) ?? null,
    mac: str(d.macAddress) ?? null,
    os: null,
    site: siteId,
    online: state === undefined ? null : state === 'ONLINE',
    lastSeen: null,
    raw: d,
  }
}

/** The console lists connected clients only, so each is online. */
function toClient(c: Json, siteId: string): ResourceItem<'clients'> {
  const id = str(c.id) ?? ''
  return {
    id,
    name: str(c.name) ?? str(c.macAddress) ?? id,
    hostname: null,
    ip: str(c.ipAddress) ?? null,
    mac: str(c.macAddress) ?? null,
    os: null,
    site: siteId,
    online: true,
    lastSeen: null,
    raw: c,
  }
}

/** One cheap call per configured API: a host from Site Manager, the Network application's version from the console. */
async function verify(creds: Creds, env: ConnectorEnv) {
  return verifyBy(async () => {
    const cloud = siteManagerKey(creds)
    const c = consoleOf(creds)
    if (!cloud && !c)
      throw new VendorError(
        `${VENDOR}: give a Site Manager API key (siteManagerApiKey), a console (consoleUrl and networkApiKey), or both`,
        400,
      )
    const parts: string[] = []
    if (cloud) {
      await siteManagerGet(creds, env, '/v1/hosts', { pageSize: 1 })
      parts.push('Site Manager')
    }
    if (c) {
      const info = await consoleGet(creds, env, c, '/info')
      const version = str(info.applicationVersion)
      parts.push(`Network${version ? ` ${version}` : ''} at ${new URL(c.api).host}`)
    }
    return `UniFi ${parts.join(' and ')}`
  })
}

const resources: ResourceOperations<Creds> = { kinds: KINDS, list }

// ---- actions (the console's Network Integration API; UniFi Network 10.5.66 document) ----
//
// No idempotency keys. A restart is not sent again when the device, read before a retry, is no longer ONLINE
// (it is restarting); a port power-cycle after an attempt that got no answer is sent again (a second cycle of the
// same port). Firewall policies exist from UniFi Network 10.1: every firewall action reads `/v1/info` first and
// refuses an older console; a create is looked up by name before a retry, an update is the same PUT again, and a
// delete that finds the policy gone after an unanswered attempt is done.

const FIREWALL_SINCE = [10, 1] as const

function versionAtLeast(version: string, min: readonly number[]): boolean {
  const parts = version.split('.').map((p) => Number.parseInt(p, 10))
  for (const [i, want] of min.entries()) {
    const got = parts[i] ?? 0
    if (Number.isNaN(got)) return false
    if (got !== want) return got > want
  }
  return true
}

async function firewallSupport(creds: Creds, env: ConnectorEnv) {
  const c = requireConsole(creds, 'firewall policies')
  const info = await consoleGet(creds, env, c, '/info')
  const version = str(info.applicationVersion) ?? 'unknown'
  return { c, version, supported: versionAtLeast(version, FIREWALL_SINCE) }
}

async function requireFirewall(creds: Creds, env: ConnectorEnv): Promise<Console> {
  const f = await firewallSupport(creds, env)
  if (!f.supported)
    throw new VendorRefusal(
      `${CONSOLE}: firewall policies need UniFi Network ${FIREWALL_SINCE.join('.')} or later; this console runs ${f.version}`,
      400,
    )
  return f.c
}

const seg = (v: string) => encodeURIComponent(v)
const idText = z.string().trim().min(1).max(100)
const firewallPreview = async (creds: Creds, env: ConnectorEnv) => {
  const f = await firewallSupport(creds, env)
  return { applicationVersion: f.version, firewallPolicies: f.supported }
}

const policySchema = z
  .object({
    name: z.string().min(1),
    enabled: z.boolean(),
    action: z.object({ type: z.enum(['ALLOW', 'BLOCK', 'REJECT']) }).passthrough(),
    source: z.object({ zoneId: z.uuid() }).passthrough(),
    destination: z.object({ zoneId: z.uuid() }).passthrough(),
    ipProtocolScope: z.object({ ipVersion: z.string() }).passthrough(),
    loggingEnabled: z.boolean(),
  })
  .passthrough()

const restartDevice: ConnectorAction<{ siteId: string; deviceId: string }, Creds> = {
  name: 'restart_device',
  description: 'Restarts an adopted device',
  input: z.strictObject({ siteId: idText, deviceId: idText }),
  needsApproval: true,
  idempotency:
    'No key: before a retry the device is read, and one no longer ONLINE (restarting) is not restarted again.',
  async run(creds, input, env, run) {
    const c = requireConsole(creds, 'device restarts')
    const path = `/sites/${seg(input.siteId)}/devices/${seg(input.deviceId)}`
    if (run.mayHaveRun) {
      const d = await consoleGet(creds, env, c, path)
      if (str(d.state) && d.state !== 'ONLINE')
        return {
          status: 200,
          body: `The device is ${str(d.state)}: already restarting`,
          vendorRef: input.deviceId,
        }
    }
    const res = await consoleCall(creds, env, c, 'POST', `${path}/actions`, {
      body: { action: 'RESTART' },
      timeoutMs: run.timeoutMs,
    })
    return { status: res.status, body: JSON.stringify(res.data ?? null), vendorRef: input.deviceId }
  },
}

const powerCyclePort: ConnectorAction<{ siteId: string; deviceId: string; portIdx: number }, Creds> = {
  name: 'power_cycle_port',
  description: "Power-cycles a switch port's PoE",
  input: z.strictObject({ siteId: idText, deviceId: idText, portIdx: z.number().int().min(0).max(1024) }),
  needsApproval: true,
  idempotency:
    'No key and nothing to read back: an attempt that got no answer is sent again (the port cycles twice).',
  async run(creds, input, env, run) {
    const c = requireConsole(creds, 'port power-cycles')
    const res = await consoleCall(
      creds,
      env,
      c,
      'POST',
      `/sites/${seg(input.siteId)}/devices/${seg(input.deviceId)}/interfaces/ports/${input.portIdx}/actions`,
      { body: { action: 'POWER_CYCLE' }, timeoutMs: run.timeoutMs },
    )
    return {
      status: res.status,
      body: JSON.stringify(res.data ?? null),
      vendorRef: `${input.deviceId}:${input.portIdx}`,
    }
  },
}

type PolicyInput = { siteId: string; policy: z.infer<typeof policySchema> }

const createFirewallPolicy: ConnectorAction<PolicyInput, Creds> = {
  name: 'create_firewall_policy',
  description: 'Creates a firewall policy (UniFi Network 10.1 or later)',
  input: z.strictObject({ siteId: idText, policy: policySchema }),
  needsApproval: true,
  idempotency: 'No key: a retry first lists the site’s firewall policies and takes one with the same name.',
  preview: (creds, _input, env) => firewallPreview(creds, env),
  async run(creds, input, env, run) {
    const c = await requireFirewall(creds, env)
    const path = `/sites/${seg(input.siteId)}/firewall/policies`
    if (run.mayHaveRun) {
      const page = await consoleGet(creds, env, c, path, { limit: 200 })
      const found = rows(page.data).find((p) => p.name === input.policy.name)
      if (found) return { status: 200, body: JSON.stringify({ found }), vendorRef: str(found.id) }
    }
    const res = await consoleCall(creds, env, c, 'POST', path, {
      body: input.policy,
      timeoutMs: run.timeoutMs,
    })
    return { status: res.status, body: JSON.stringify(res.data ?? null), vendorRef: str(obj(res.data)?.id) }
  },
}

const updateFirewallPolicy: ConnectorAction<PolicyInput & { policyId: string }, Creds> = {
  name: 'update_firewall_policy',
  description: 'Replaces a firewall policy (UniFi Network 10.1 or later)',
  input: z.strictObject({ siteId: idText, policyId: idText, policy: policySchema }),
  needsApproval: true,
  idempotency: 'A replacement: sending the same PUT again changes nothing.',
  preview: (creds, _input, env) => firewallPreview(creds, env),
  async run(creds, input, env, run) {
    const c = await requireFirewall(creds, env)
    const res = await consoleCall(
      creds,
      env,
      c,
      'PUT',
      `/sites/${seg(input.siteId)}/firewall/policies/${seg(input.policyId)}`,
      { body: input.policy, timeoutMs: run.timeoutMs },
    )
    return { status: res.status, body: JSON.stringify(res.data ?? null), vendorRef: input.policyId }
  },
}

const deleteFirewallPolicy: ConnectorAction<{ siteId: string; policyId: string }, Creds> = {
  name: 'delete_firewall_policy',
  description: 'Deletes a firewall policy (UniFi Network 10.1 or later)',
  input: z.strictObject({ siteId: idText, policyId: idText }),
  needsApproval: true,
  idempotency: 'A policy already gone (404) after an attempt that got no answer is taken as deleted.',
  preview: (creds, _input, env) => firewallPreview(creds, env),
  async run(creds, input, env, run) {
    const c = await requireFirewall(creds, env)
    try {
      const res = await consoleCall(
        creds,
        env,
        c,
        'DELETE',
        `/sites/${seg(input.siteId)}/firewall/policies/${seg(input.policyId)}`,
        { timeoutMs: run.timeoutMs },
      )
      return { status: res.status, body: JSON.stringify(res.data ?? null), vendorRef: input.policyId }
    } catch (err) {
      if (run.mayHaveRun && err instanceof VendorError && err.status === 404)
        return {
          status: 404,
          body: 'The policy is gone: deleted by an earlier attempt',
          vendorRef: input.policyId,
        }
      throw err
    }
  },
}

export const unifi: Connector = defineConnector(credentials, {
  descriptor: {
    id: 'unifi',
    displayName: 'UniFi',
    category: 'networking',
    capabilities: ['read_resources'],
    credentialSchema,
    docsUrl: 'https://developer.ui.com/site-manager-api/',
  },
  verify,
  probe: verify,
  resources,
  actions: [restartDevice, powerCyclePort, createFirewallPolicy, updateFirewallPolicy, deleteFirewallPolicy],
})
