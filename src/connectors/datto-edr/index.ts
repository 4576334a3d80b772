import { z } from 'zod'
import type { ResourceItem, ResourceKind } from '../../resources/kinds.ts'
import type { CredentialSchema } from '../../vault/mask.ts'
import { credentialParser, defineConnector, missingCredential } from '../define.ts'
import { isoDate, overrideBase, toOrigin } from '../shared/credentials.ts'
import { decodeCursor, encodeCursor } from '../shared/cursor.ts'
import { arr, type Json, obj, str, withQuery } from '../shared/json.ts'
import { checkFilters, offeredKind, oneOf, pageSize } from '../shared/resource-filters.ts'
import type {
  Connector,
  ConnectorAction,
  ConnectorEnv,
  PageOf,
  ResourceKindInfo,
  ResourceOperations,
  ResourceQuery,
  VerifyResult,
} from '../types.ts'
import { failedVerify, VendorError, VendorRefusal } from '../vendor-error.ts'
import { callVendor, sensitiveValues } from '../vendor-http.ts'

/**
 * Datto EDR (formerly Infocyte HUNT). Datto publishes no API reference; what follows is what the vendor's own
 * PowerShell module does (https://github.com/Infocyte/PowershellTools, "Datto EDR Powershell Module"):
 *
 * - each tenant has its own host, `https://<instance>.infocyte.com`, and the API is LoopBack's under `/api/<Model>`
 *   (`Version`, `AlertDetails`, `Agents`);
 * - the API token (64 characters, made in the console under the user's profile or Admin > API tokens) goes in an
 *   `Authorization` header (the module's `Invoke-ICAPI`) or an `access_token` query parameter (its `Get-ICAPI`);
 *   the header keeps it out of URLs and logs;
 * - lists take a LoopBack `filter` query parameter, JSON `{where, order, limit, skip}`, at most 1000 rows a call;
 * - alerts are open until archived (`where: {archived: false}` is the module's default).
 *
 * Tokens expire a year after they are made and Datto offers no call that says when, so the connection records the
 * expiry the console showed (`tokenExpiresAt`); verify and the probe report it, with a warning from 30 days before.
 */
const VENDOR = 'Datto EDR'
const MAX_PAGE = 1000
const WARN_BEFORE_MS = 30 * 86_400_000

export const credentialSchema = {
  instance: {
    type: 'string',
    sensitive: false,
    destination: true,
    required: true,
    description:
      'The tenant\'s instance name, the part before .infocyte.com (e.g. "contoso" for https://contoso.infocyte.com), or that URL.',
  },
  apiToken: {
    type: 'string',
    sensitive: true,
    required: true,
    description:
      'An API token from the Datto EDR console (Admin > API Tokens, or your profile). It expires after a year.',
  },
  tokenExpiresAt: {
    type: 'string',
    sensitive: false,
    required: false,
    pattern: '^\\d{4}-\\d{2}-\\d{2}(T[0-9:.]+(Z|[+-]\\d{2}:?\\d{2})?)?$',
    description:
      'When the token expires, as the console shows it (YYYY-MM-DD, a year after it was made). The status page warns 30 days ahead.',
  },
  baseUrl: {
    type: 'url',
    sensitive: false,
    destination: true,
    required: false,
    description: "Calls this host instead of the instance's (a proxy, a test stand-in); /api is appended.",
  },
} satisfies CredentialSchema

/** The stored credentials as this connector reads them, parsed once at its edge (define.ts). */
const credentials = credentialParser(credentialSchema, missingCredential(VENDOR))
type Creds = z.infer<typeof credentials.schema>

const INSTANCE_RE = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/i

/** `https://<instance>.infocyte.com`, from a bare instance name, its host name or its URL. */
function origin(creds: Creds): string {
  const override = overrideBase(creds)
  if (override) return override
  const raw = creds.instance
  if (INSTANCE_RE.test(raw)) return `https://${raw.toLowerCase()}.infocyte.com`
  const u = toOrigin(raw)
  const host = u?.hostname.toLowerCase()
  if (!u || !host?.endsWith('.infocyte.com') || !INSTANCE_RE.test(host.slice(0, -'.infocyte.com'.length)))
    throw new VendorError(
      `${VENDOR}: instance "${raw}" is neither an instance name nor an https://<instance>.infocyte.com URL`,
      400,
    )
  return `https://${host}`
}

/** LoopBack's errors: `{error: {statusCode, name, message, code}}`. */
function errorText(body: unknown): string | undefined {
  const e = obj(obj(body)?.error)
  const message = str(e?.message)
  if (!message) return undefined
  return str(e?.code) ? `${message} (${str(e?.code)})` : message
}

function tokenExpiry(creds: Creds): Date | undefined {
  const raw = creds.tokenExpiresAt
  if (!raw) return undefined
  const at = isoDate(/^\d{4}-\d{2}-\d{2}$/.test(raw) ? `${raw}T00:00:00Z` : raw)
  if (!at) throw new VendorError(`${VENDOR}: tokenExpiresAt "${raw}" is not a date`, 400)
  return new Date(at)
}

async function get(creds: Creds, env: ConnectorEnv, model: string, filter?: Json): Promise<unknown> {
  const token = creds.apiToken
  const url = `${origin(creds)}/api/${model}`
  try {
    const res = await callVendor(env, {
      vendor: VENDOR,
      url: filter ? withQuery(url, { filter: JSON.stringify(filter) }) : url,
      headers: { authorization: token },
      secrets: sensitiveValues(credentialSchema, creds),
      errorText,
    })
    return res.data
  } catch (err) {
    const expired = tokenExpiry(creds)
    if (err instanceof VendorError && err.status === 401 && expired && expired <= env.clock.now()) {
      throw new VendorError(
        `${err.message} — the API token expired on ${expired.toISOString().slice(0, 10)}; make a new one in the Datto EDR console and save it with its new expiry`,
        401,
      )
    }
    throw err
  }
}

/** The token's expiry as verify reports it: the date, and a warning once it is 30 days away or past. */
function expiryNotes(
  creds: Creds,
  env: ConnectorEnv,
): Pick<VerifyResult & { ok: true }, 'expiresAt' | 'warning'> {
  const at = tokenExpiry(creds)
  if (!at) return {}
  const left = at.getTime() - env.clock.now().getTime()
  const day = at.toISOString().slice(0, 10)
  if (left <= 0)
    return {
      expiresAt: at.toISOString(),
      warning: `The Datto EDR API token's recorded expiry (${day}) has passed; make a new token and save it with its new expiry`,
    }
  if (left <= WARN_BEFORE_MS) {
    const days = Math.ceil(left / 86_400_000)
    return {
      expiresAt: at.toISOString(),
      warning: `The Datto EDR API token expires on ${day}, in ${days} day${days === 1 ? '' : 's'}: make a new one in the console and save it here before then`,
    }
  }
  return { expiresAt: at.toISOString() }
}

/** `GET /api/Version`, the module's own connection test, and the token's expiry. */
async function verify(creds: Creds, env: ConnectorEnv): Promise<VerifyResult> {
  try {
    const data = await get(creds, env, 'Version')
    const version = str(obj(data)?.version) ?? (typeof data === 'string' ? data.trim() : undefined)
    const host = new URL(origin(creds)).host
    return {
      ok: true,
      account: `Datto EDR ${host}${version ? ` (${version})` : ''}`,
      ...expiryNotes(creds, env),
    }
  } catch (err) {
    if (!(err instanceof VendorError)) throw err
    return failedVerify(err)
  }
}

const KINDS: readonly ResourceKindInfo[] = [
  {
    kind: 'alerts',
    description: 'Detections on the tenant, open until archived in the console.',
    filters: {
      status: 'open (the default: not archived), archived, or all',
      hostname: "One endpoint's alerts",
    },
  },
  {
    kind: 'agents',
    description: 'Endpoints with the Datto EDR agent installed.',
    filters: { hostname: 'The agent on this host name' },
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
  const cursor = decodeCursor<{ skip: number; limit: number }>(VENDOR, query.cursor)
  const skip = typeof cursor?.skip === 'number' ? cursor.skip : 0
  const limit =
    typeof cursor?.limit === 'number' ? pageSize(cursor.limit, MAX_PAGE) : pageSize(query.limit, MAX_PAGE)
  const where: Json = {}
  if (query.filter.hostname) where.hostname = query.filter.hostname
  if (kind === 'alerts') {
    const status = oneOf(VENDOR, 'status', query.filter.status, ['open', 'archived', 'all']) ?? 'open'
    if (status !== 'all') where.archived = status === 'archived'
  }
  const model = kind === 'alerts' ? 'AlertDetails' : 'Agents'
  const data = await get(creds, env, model, {
    where,
    order: 'id ASC',
    limit,
    skip,
  })
  if (!Array.isArray(data))
    throw new VendorError(`${VENDOR} answered GET /api/${model} with something other than a list`, 502)
  const rows = arr(data).flatMap((r) => (obj(r) ? [obj(r) as Json] : []))
  const items = rows.map((r) => (kind === 'alerts' ? toAlert(r) : toAgent(r)))
  return {
    items: items as ResourceItem<K>[],
    // LoopBack says nothing about what follows; a full page may have more behind it.
    next: rows.length >= limit ? encodeCursor({ skip: skip + rows.length, limit }) : undefined,
  }
}

type Severity = ResourceItem<'alerts'>['severity']

/**
 * Datto EDR rates a finding by `threatName` (Blacklist, Bad, Suspicious, Low Risk, Unknown, Good) and
 * `threatWeight` (0–10); the name decides when present, the weight otherwise.
 */
function severity(a: Json): Severity {
  const byName: Record<string, Severity> = {
    blacklist: 'critical',
    bad: 'high',
    suspicious: 'medium',
    'low risk': 'low',
    unknown: 'low',
    good: 'info',
  }
  const named = byName[(str(a.threatName) ?? '').toLowerCase()]
  if (named) return named
  const w =
    typeof a.threatWeight === 'number'
      ? a.threatWeight
      : typeof a.threatScore === 'number'
        ? a.threatScore
        : 0
  return w >= 9 ? 'critical' : w >= 7 ? 'high' : w >= 4 ? 'medium' : w >= 1 ? 'low' : 'info'
}

function toAlert(a: Json): ResourceItem<'alerts'> {
  const archived = a.archived === true
  const what = [str(a.type), str(a.name)].filter(Boolean).join(' ')
  return {
    id: str(a.id) ?? '',
    status: archived ? 'resolved' : 'open',
    severity: severity(a),
    message: [str(a.threatName), what || str(a.flagName)].filter(Boolean).join(': ') || 'Alert',
    deviceId: str(a.hostId) ?? str(a.agentId) ?? null,
    hostname: str(a.hostname) ?? null,
    site: str(a.targetGroupName) ?? null,
    createdAt: isoDate(a.createdOn) ?? null,
    resolvedAt: archived ? (isoDate(a.archivedOn) ?? null) : null,
    raw: a,
  }
}

/** An agent counts as online while Datto EDR calls it Active; `heartbeat` is its last check-in. */
function toAgent(a: Json): ResourceItem<'agents'> {
  const id = str(a.id) ?? ''
  const status = str(a.status)
  return {
    id,
    name: str(a.hostname) ?? str(a.name) ?? id,
    hostname: str(a.hostname) ?? null,
    ip: str(a.ip) ?? null,
    mac: str(a.mac) ?? null,
    os: str(a.osVersion) ?? str(a.os) ?? null,
    site: str(a.locationName) ?? str(a.organizationName) ?? null,
    online: status === undefined ? null : status.toLowerCase() === 'active',
    lastSeen: isoDate(a.heartbeat) ?? null,
    raw: a,
  }
}

const resources: ResourceOperations<Creds> = { kinds: KINDS, list }

// ---- actions: host isolation through the response extensions ----
//
// As the vendor's PowerShell module does it (Invoke-ICResponse → Invoke-ICScanTarget): the extension is found by
// name (`GET /api/extensions`, where name), then `POST /api/targets/scan` with `{target, targetGroup: {name:
// "OnDemand"}, options}` whose options turn every collection off and list the extension (`{id, args, order}`).
// The target's agent is read first (`GET /api/Agents`): an unknown or inactive host is refused at once, where the
// API would answer a 5xx. Isolation is a state: a repeat after an unanswered attempt leaves the host isolated
// (restored), so no look-up is needed.

const ISOLATE = 'Host Isolation'
const RESTORE = 'Host Isolation Restore'
const SCAN_OFF = {
  process: false,
  module: false,
  driver: false,
  memory: false,
  account: false,
  artifact: false,
  autostart: false,
  application: false,
  installed: false,
  hook: false,
  network: false,
  events: false,
}

async function post(creds: Creds, env: ConnectorEnv, model: string, body: unknown, timeoutMs?: number) {
  const res = await callVendor(env, {
    vendor: VENDOR,
    method: 'POST',
    url: `${origin(creds)}/api/${model}`,
    headers: { authorization: creds.apiToken },
    body,
    ...(timeoutMs ? { timeoutMs } : {}),
    secrets: sensitiveValues(credentialSchema, creds),
    errorText,
  })
  return res
}

async function agentOf(creds: Creds, env: ConnectorEnv, target: string) {
  const found = arr(
    await get(creds, env, 'Agents', { where: { or: [{ hostname: target }, { ip: target }] }, limit: 1 }),
  )
  return obj(found[0])
}

function isolationAction(
  name: string,
  extension: string,
  description: string,
): ConnectorAction<{ target: string }, Creds> {
  return {
    name,
    description,
    input: z.strictObject({ target: z.string().trim().min(1).max(255) }),
    needsApproval: true,
    idempotency: `Isolation is a state: after an unanswered attempt the "${extension}" extension runs again, harmlessly.`,
    async preview(creds, input, env) {
      const agent = await agentOf(creds, env, input.target)
      return agent
        ? { agent: { id: agent.id, hostname: agent.hostname, ip: agent.ip, status: agent.status } }
        : { agent: null, warning: `No agent for ${input.target}` }
    },
    async run(creds, input, env, run) {
      const agent = await agentOf(creds, env, input.target)
      if (agent?.status !== 'Active')
        throw new VendorRefusal(`${VENDOR}: no active agent for ${input.target}; nothing was sent`, 404)
      const ext = obj(arr(await get(creds, env, 'extensions', { where: { name: extension }, limit: 1 }))[0])
      const extId = str(ext?.id)
      if (!extId) throw new VendorRefusal(`${VENDOR}: this instance has no "${extension}" extension`, 404)
      const res = await post(
        creds,
        env,
        'targets/scan',
        {
          target: input.target,
          targetGroup: { name: 'OnDemand' },
          options: { ...SCAN_OFF, extensions: [{ id: extId, args: {}, order: 0 }] },
        },
        run.timeoutMs,
      )
      return {
        status: res.status,
        body: JSON.stringify(res.data ?? null),
        vendorRef: str(obj(res.data)?.scanTaskId),
      }
    },
  }
}

export const dattoEdr: Connector = defineConnector(credentials, {
  descriptor: {
    id: 'datto-edr',
    displayName: 'Datto EDR',
    category: 'security',
    capabilities: ['read_resources'],
    credentialSchema,
    docsUrl: 'https://github.com/Infocyte/PowershellTools/tree/master/Datto%20EDR%20Powershell%20Module',
  },
  verify,
  probe: verify,
  resources,
  actions: [
    isolationAction(
      'isolate_host',
      ISOLATE,
      'Isolates a host from the network (the Host Isolation extension)',
    ),
    isolationAction(
      'restore_host',
      RESTORE,
      "Ends a host's isolation (the Host Isolation Restore extension)",
    ),
  ],
})
