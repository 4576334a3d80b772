import type { z } from 'zod'
import type { ResourceItem, ResourceKind } from '../../resources/kinds.ts'
import type { CredentialSchema } from '../../vault/mask.ts'
import { credentialParser, defineConnector, missingCredential } from '../define.ts'
import { isoDate, overrideBase, verifyBy } from '../shared/credentials.ts'
import { decodeCursor, encodeCursor } from '../shared/cursor.ts'
import { arr, expectObject, type Json, joinMessages, obj, str, withQuery } from '../shared/json.ts'
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
import { callVendor, sensitiveValues } from '../vendor-http.ts'

/**
 * IT Glue API (https://api.itglue.com/developer/), JSON:API, authenticated by the `x-api-key` header.
 *
 * - Read-only, by construction: the only request this connector can make is a GET (see `get`). IT Glue is
 *   documentation Patchbay reads and never writes.
 * - Passwords: metadata only. A password's value comes back only from the single-password endpoint or with
 *   `show_password=true`; neither is ever requested, and a `password` attribute is dropped from anything
 *   returned, whatever the server sends.
 * - Regions: accounts live on the US, EU or AU server. A blank API Base URL means "find it": verify tries each
 *   server and advises the URL to save for EU and AU accounts (US accounts need none), never changing what is
 *   stored; reads find it the same way and remember it in memory for the process.
 * - Rate limit: 3000 requests per 5 minutes per API key, kept in env.budget across processes; IT Glue's own 429
 *   comes back with Retry-After.
 * - Pagination: `page[number]` and `page[size]` (≤ 1000); `meta.next-page` says whether there is another.
 */
const VENDOR = 'IT Glue'
export const REGIONS = {
  us: 'https://api.itglue.com',
  eu: 'https://api.eu.itglue.com',
  au: 'https://api.au.itglue.com',
} as const
export type Region = keyof typeof REGIONS
export const BUDGET = { limit: 3000, windowMs: 300_000 } as const
const MAX_PAGE = 1000
const DETECTED_LIMIT = 5000

export const credentialSchema = {
  apiKey: {
    type: 'string',
    sensitive: true,
    required: true,
    description: 'An API key (Account > Settings > API Keys); a read-only key is enough and advised.',
  },
  baseUrl: baseUrlField(
    'The API Base URL: https://api.eu.itglue.com for EU accounts, https://api.au.itglue.com for AU accounts; ' +
      'blank for US accounts (Test connection finds the server of a blank one and advises the URL).',
  ),
} satisfies CredentialSchema

/** The stored credentials as this connector reads them, parsed once at its edge (define.ts). */
const credentials = credentialParser(credentialSchema, missingCredential(VENDOR))
type Creds = z.infer<typeof credentials.schema>

export interface ItGlueOptions {
  /** The servers to look for an account on; IT Glue's own unless a test points them elsewhere. */
  regions?: Record<Region, string>
}

/** JSON:API errors: `{errors: [{status, title, detail}]}`. */
function errorText(body: unknown): string | undefined {
  const b = obj(body)
  if (!b) return undefined
  const errors = arr(b.errors).map((e) => {
    const o = obj(e)
    const title = str(o?.title)
    const detail = str(o?.detail)
    return title && detail && title !== detail ? `${title}: ${detail}` : (detail ?? title)
  })
  return joinMessages(errors[0], errors.slice(1)) ?? str(b.message) ?? str(b.error)
}

export function createItGlue(opts: ItGlueOptions = {}): Connector {
  const regions = opts.regions ?? REGIONS
  const detected = new Map<string, Region>()

  /** The one way this connector reaches IT Glue: a GET, budgeted. */
  async function get<T = unknown>(creds: Creds, env: ConnectorEnv, base: string, path: string) {
    const apiKey = creds.apiKey
    const wait =
      (await env.budget?.take(accountKey('itglue', base, apiKey), BUDGET.limit, BUDGET.windowMs)) ?? 0
    if (wait > 0) {
      throw new VendorError(
        `${VENDOR}: this API key's budget of ${BUDGET.limit} requests per ${BUDGET.windowMs / 60_000} minutes is spent; try again in ${Math.ceil(wait / 1000)} s`,
        429,
        wait,
      )
    }
    return callVendor<T>(env, {
      vendor: VENDOR,
      method: 'GET',
      url: `${base}${path}`,
      headers: { 'x-api-key': apiKey, accept: 'application/vnd.api+json' },
      secrets: sensitiveValues(credentialSchema, creds),
      errorText,
    })
  }

  const cheap = '/organizations?page%5Bsize%5D=1'

  async function detect(creds: Creds, env: ConnectorEnv): Promise<Region> {
    let last: string | undefined
    for (const region of Object.keys(regions) as Region[]) {
      try {
        await get(creds, env, regions[region], cheap)
        return region
      } catch (err) {
        // An unknown key on this server means "not here"; anything else (an outage, a rate limit) is the answer.
        if (!(err instanceof VendorError) || (err.status !== 401 && err.status !== 403)) throw err
        last = err.message
      }
    }
    throw new VendorError(
      `${VENDOR}: no server (US, EU, AU) accepted the API key${last ? `; the last said: ${last}` : ''}`,
      401,
    )
  }

  async function base(
    creds: Creds,
    env: ConnectorEnv,
    redetect = false,
  ): Promise<{ url: string; region?: Region | undefined; checked: boolean }> {
    const override = overrideBase(creds)
    if (override) return { url: override, checked: false }
    const key = accountKey('itglue', creds.apiKey)
    let region = redetect ? undefined : detected.get(key)
    const checked = region === undefined
    if (!region) {
      region = await detect(creds, env)
      if (detected.size >= DETECTED_LIMIT) detected.clear()
      detected.set(key, region)
    }
    return { url: regions[region], region, checked }
  }

  async function verify(creds: Creds, env: ConnectorEnv) {
    let region: Region | undefined
    const result = await verifyBy(async () => {
      const b = await base(creds, env, true)
      region = b.region
      // Detection already made the cheap authenticated call; a stored URL gets its own.
      if (!b.checked) await get(creds, env, b.url, cheap)
      return undefined
    })
    if (!result.ok || !region || region === 'us') return result
    const url = regions[region]
    return {
      ...result,
      advice: `The account is on IT Glue's ${region.toUpperCase()} server: set the API Base URL to ${url}.`,
      suggestedCredentials: { baseUrl: url },
    }
  }

  async function probe(creds: Creds, env: ConnectorEnv) {
    return verifyBy(async () => {
      const b = await base(creds, env)
      if (!b.checked) await get(creds, env, b.url, cheap)
      return undefined
    })
  }

  return defineConnector(credentials, {
    descriptor: {
      id: 'itglue',
      displayName: 'IT Glue',
      category: 'documentation',
      capabilities: ['read_resources'],
      credentialSchema,
      docsUrl: 'https://api.itglue.com/developer/',
    },
    verify,
    probe,
    resources: itGlueResources((c, e) => base(c, e), get),
  })
}

// ---- resources ----

const orgFilter = { organizationId: 'Only this organization (its id)' }
const KINDS: readonly ResourceKindInfo[] = [
  {
    kind: 'organizations',
    description: 'Organizations (customers)',
    filters: { name: 'Name is exactly this' },
  },
  {
    kind: 'configurations',
    description: 'Configurations (devices and other configuration items)',
    filters: { ...orgFilter, name: 'Name is exactly this', serialNumber: 'Serial number is this' },
  },
  { kind: 'contacts', description: 'Contacts', filters: { ...orgFilter, name: 'Name is exactly this' } },
  {
    kind: 'passwords',
    description: 'Password entries, metadata only: a password value is never fetched',
    filters: { ...orgFilter, name: 'Name is exactly this' },
  },
]

const FILTERS: Record<string, string> = {
  organizationId: 'filter[organization_id]',
  name: 'filter[name]',
  serialNumber: 'filter[serial_number]',
}

const text = (v: unknown) => str(v) ?? null

/** A JSON:API resource's attributes with its id; `password` never survives, whatever the server sent. */
function attributes(r: Json): { id: string; a: Json; raw: Json } {
  const { password: _value, ...a } = obj(r.attributes) ?? {}
  return { id: str(r.id) ?? '', a, raw: { ...r, attributes: a } }
}

function toItem(kind: ResourceKind, r: Json): ResourceItem {
  const { id, a, raw } = attributes(r)
  const organizationId = text(a['organization-id'])
  switch (kind) {
    case 'organizations':
      return { id, name: str(a.name) ?? '', raw }
    case 'configurations':
      return {
        id,
        name: str(a.name) ?? '',
        organizationId,
        hostname: text(a.hostname),
        ip: text(a['primary-ip']),
        serialNumber: text(a['serial-number']),
        raw,
      }
    case 'contacts': {
      const emails = arr(a['contact-emails']).map(obj)
      const email = emails.find((e) => e?.primary === true) ?? emails[0]
      const name = str(a.name) ?? [str(a['first-name']), str(a['last-name'])].filter(Boolean).join(' ').trim()
      return { id, name, email: text(email?.value), organizationId, raw }
    }
    case 'passwords':
      return {
        id,
        name: str(a.name) ?? '',
        username: text(a.username),
        url: text(a.url),
        organizationId,
        updatedAt: isoDate(a['updated-at']) ?? null,
        raw,
      }
    default:
      throw new VendorError(`${VENDOR} offers no ${kind}`, 400)
  }
}

function itGlueResources(
  base: (c: Creds, e: ConnectorEnv) => Promise<{ url: string }>,
  get: <T = unknown>(c: Creds, e: ConnectorEnv, base: string, path: string) => Promise<{ data: T }>,
): ResourceOperations {
  async function list<K extends ResourceKind>(
    creds: Creds,
    kind: K,
    q: ResourceQuery,
    env: ConnectorEnv,
  ): Promise<PageOf<ResourceItem<K>>> {
    const known = KINDS.find((k) => k.kind === kind)
    if (!known) throw new VendorError(`${VENDOR} offers no ${kind}`, 400)
    const params: Record<string, string | number> = {}
    for (const [name, value] of Object.entries(q.filter)) {
      const param = FILTERS[name]
      if (!param || !(known.filters && name in known.filters))
        throw new VendorError(`${VENDOR}: unknown filter ${name} for ${kind}`, 400)
      if (name === 'organizationId' && !/^\d+$/.test(value))
        throw new VendorError(`${VENDOR}: the organizationId filter is a number`, 400)
      params[param] = value
    }
    const cursor = decodeCursor<{ page: number; size: number }>(VENDOR, q.cursor)
    const number = cursor?.page ?? 1
    const size = cursor?.size ?? Math.min(q.limit, MAX_PAGE)
    if (!Number.isInteger(number) || number < 1 || !Number.isInteger(size) || size < 1 || size > MAX_PAGE)
      throw new VendorError(`${VENDOR}: the page cursor is not one this connector issued`, 400)
    const b = await base(creds, env)
    const path = withQuery(`/${kind}`, { ...params, 'page[number]': number, 'page[size]': size, sort: 'id' })
    const res = await get(creds, env, b.url, path)
    const body = expectObject(VENDOR, res.data, `the ${kind} page`)
    const items = arr(body.data)
      .map(obj)
      .filter((x): x is Json => !!x)
      .map((r) => toItem(kind, r) as ResourceItem<K>)
    const nextPage = Number(obj(body.meta)?.['next-page'])
    const next =
      Number.isInteger(nextPage) && nextPage > number ? encodeCursor({ page: nextPage, size }) : undefined
    return { items, next }
  }
  return { kinds: KINDS, list }
}

export const itGlue = createItGlue()
