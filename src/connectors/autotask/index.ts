import { z } from 'zod'
import type { ResourceItem, ResourceKind } from '../../resources/kinds.ts'
import type { CredentialSchema } from '../../vault/mask.ts'
import { credentialParser, defineConnector, missingCredential } from '../define.ts'
import { isoDate, overrideBase, verifyBy } from '../shared/credentials.ts'
import { decodeCursor, encodeCursor } from '../shared/cursor.ts'
import { arr, expectObject, type Json, joinMessages, obj, str, withQuery } from '../shared/json.ts'
import { baseUrlField, namedRefs, psaConnector } from '../shared/psa.ts'
import type {
  Connector,
  ConnectorAction,
  ConnectorEnv,
  ExternalTicket,
  InboundRegistrar,
  NamedRef,
  NewTicket,
  PageOf,
  ResourceKindInfo,
  ResourceOperations,
  TicketOperations,
} from '../types.ts'
import { VendorError, VendorRefusal } from '../vendor-error.ts'
import { callVendor, sensitiveValues } from '../vendor-http.ts'
import { autotaskInbound } from './inbound.ts'

/**
 * Autotask PSA REST API v1.0
 * (https://www.autotask.net/help/developerhelp/Content/APIs/REST/REST_API_Home.htm), authenticated by the
 * `ApiIntegrationCode`, `UserName` and `Secret` headers of an API-only user.
 *
 * - Zones: each database lives in one zone; `zoneInformation?user=` (no authentication) says which REST URL and
 *   which web URL serve the user. The answer is cached for an hour per user.
 * - Picklists: status, priority and queue are integers whose labels differ per database; they come from
 *   `Tickets/entityInformation/fields` (cached ten minutes), so statuses can be given and reported by name.
 * - Queries (`{entity}/query`) take `{filter: [{op, field, value}], MaxRecords, IncludeFields}` and page with
 *   `pageDetails.nextPageUrl`, always in id order; changed tickets are filtered on
 *   `lastTrackedModificationDateTime` and each page is sorted by it.
 * - Notes are created through the parent ticket (`Tickets/{id}/Notes`), as Autotask requires for child entities;
 *   their type and publish values come from `TicketNotes/entityInformation/fields` ("Internal" for internal notes).
 * - Idempotent creation: Patchbay's reference is the ticket's `externalID`, queried before creating.
 * - Autotask answers business-rule refusals (a missing queue, an unknown company) with HTTP 500 and an `errors`
 *   list; the message is passed on verbatim, and the delivery engine treats it as a server error.
 * - Ticket links use Autotask's documented ExecuteCommand URL on the zone's web host.
 */
const VENDOR = 'Autotask'
const DISCOVERY = 'https://webservices.autotask.net/atservicesrest/v1.0/zoneInformation'
const MAX_RECORDS = 500
const ZONE_TTL_MS = 3_600_000
const PICKLIST_TTL_MS = 600_000

export const credentialSchema = {
  username: {
    type: 'string',
    sensitive: false,
    required: true,
    description: 'The API-only user name (an email address); it also finds the zone.',
  },
  secret: { type: 'string', sensitive: true, required: true, description: "The API user's secret." },
  integrationCode: {
    type: 'string',
    sensitive: true,
    required: true,
    description: "The API user's tracking identifier, sent as ApiIntegrationCode.",
  },
  zone: {
    type: 'string',
    sensitive: false,
    destination: true,
    required: false,
    pattern: '^(https://)?webservices\\d*\\.autotask\\.net(/.*)?$',
    description: 'The zone, e.g. webservices5.autotask.net; found from the user name when not given.',
  },
  defaultCompanyId: {
    type: 'string',
    sensitive: false,
    required: false,
    default: '0',
    pattern: '^\\d+$',
    description: 'The company of tickets created without one; 0 is your own company.',
  },
  baseUrl: baseUrlField(
    'Calls this host instead of the zone (a sandbox, a proxy, a test stand-in); /ATServicesRest/V1.0/… is ' +
      'appended, and it is also asked for zoneInformation.',
  ),
} satisfies CredentialSchema

/** The stored credentials as this connector reads them, parsed once at its edge (define.ts). */
const credentials = credentialParser(credentialSchema, missingCredential(VENDOR))
type Creds = z.infer<typeof credentials.schema>

interface Zone {
  /** The REST root, e.g. https://webservices5.autotask.net/ATServicesRest */
  api: string
  /** The web UI, e.g. https://ww5.autotask.net */
  web: string
  name?: string | undefined
}

interface Picklist {
  value: string
  label: string
  isDefault: boolean
  isActive: boolean
}

const zoneCache = new Map<string, { zone: Zone; expires: number }>()
const picklistCache = new Map<string, { fields: Map<string, Picklist[]>; expires: number }>()
const CACHE_LIMIT = 5000

function remember<V>(cache: Map<string, V>, key: string, value: V): void {
  if (cache.size >= CACHE_LIMIT) cache.clear()
  cache.set(key, value)
}

/** Autotask errors: `{errors: ["…"]}` (strings, sometimes objects); ASP.NET's `{Message}` for 401/404/405. */
function errorText(body: unknown): string | undefined {
  const b = obj(body)
  if (!b) return undefined
  const errors = arr(b.errors).map((e) => str(e) ?? str(obj(e)?.message))
  return joinMessages(errors[0] ?? str(b.Message) ?? str(b.message), errors.slice(1))
}

function stripSlash(url: string): string {
  return url.replace(/\/+$/, '')
}

/** A REST root ending in /ATServicesRest, whatever the user typed. */
function restRoot(value: string): string {
  const withScheme = /^https?:\/\//i.test(value) ? value : `https://${value}`
  return `${stripSlash(withScheme).replace(/\/atservicesrest(\/v1\.0)?$/i, '')}/ATServicesRest`
}

/** webservicesN.autotask.net serves the UI at wwN.autotask.net. */
function webFromRest(api: string): string | undefined {
  const m = /^https:\/\/webservices(\d+)\.autotask\.net/i.exec(api)
  return m ? `https://ww${m[1]}.autotask.net` : undefined
}

async function discover(creds: Creds, env: ConnectorEnv, url: string): Promise<Zone> {
  const user = creds.username
  const key = `${url}|${user.toLowerCase()}`
  const now = env.clock.now().getTime()
  const hit = zoneCache.get(key)
  if (hit && hit.expires > now) return hit.zone
  const res = await callVendor(env, {
    vendor: VENDOR,
    url: withQuery(url, { user }),
    secrets: sensitiveValues(credentialSchema, creds),
    errorText,
  })
  const info = expectObject(VENDOR, res.data, 'zoneInformation')
  const api = str(info.url)
  const web = str(info.webUrl)
  if (!api || !web) throw new VendorError(`${VENDOR} could not tell the zone of user ${user}`, 404)
  const zone = { api: restRoot(api), web: stripSlash(web), name: str(info.zoneName) }
  remember(zoneCache, key, { zone, expires: now + ZONE_TTL_MS })
  return zone
}

async function zoneOf(creds: Creds, env: ConnectorEnv): Promise<Zone> {
  const override = overrideBase(creds)
  if (override) {
    const api = restRoot(override)
    const found = await discover(creds, env, `${api}/V1.0/zoneInformation`)
    return { ...found, api }
  }
  const pinned = creds.zone
  if (pinned) {
    const api = restRoot(pinned)
    const web = webFromRest(api)
    if (web) return { api, web }
    return { ...(await discover(creds, env, DISCOVERY)), api }
  }
  return discover(creds, env, DISCOVERY)
}

async function call<T = unknown>(
  creds: Creds,
  env: ConnectorEnv,
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE',
  path: string,
  opts: { body?: unknown; url?: string; refusals?: boolean } = {},
) {
  const zone = await zoneOf(creds, env)
  let listed = false
  return callVendor<T>(env, {
    vendor: VENDOR,
    method,
    url: opts.url ?? `${zone.api}/V1.0${path}`,
    headers: {
      ApiIntegrationCode: creds.integrationCode,
      UserName: creds.username,
      Secret: creds.secret,
    },
    ...(opts.body !== undefined ? { body: opts.body } : {}),
    secrets: sensitiveValues(credentialSchema, creds),
    errorText: (body: unknown) => {
      listed = arr(obj(body)?.errors).length > 0
      return errorText(body)
    },
  }).catch((err: unknown) => {
    // A 500 carrying an `errors` list is a business-rule refusal, not an outage: for a write, final.
    if (opts.refusals && listed && err instanceof VendorError && err.status === 500)
      throw new VendorRefusal(err.message, err.status)
    throw err
  })
}

async function picklists(creds: Creds, env: ConnectorEnv, entity: 'Tickets' | 'TicketNotes') {
  const zone = await zoneOf(creds, env)
  const key = `${zone.api}|${creds.username?.toLowerCase()}|${entity}`
  const now = env.clock.now().getTime()
  const hit = picklistCache.get(key)
  if (hit && hit.expires > now) return hit.fields
  const res = await call(creds, env, 'GET', `/${entity}/entityInformation/fields`)
  const fields = new Map<string, Picklist[]>()
  for (const f of arr(expectObject(VENDOR, res.data, 'the field information').fields)) {
    const o = obj(f)
    const name = str(o?.name)
    if (!name || o?.isPickList !== true) continue
    fields.set(
      name.toLowerCase(),
      arr(o.picklistValues).flatMap((p): Picklist[] => {
        const v = obj(p)
        const value = str(v?.value)
        return value === undefined
          ? []
          : [
              {
                value,
                label: str(v?.label) ?? value,
                isDefault: v?.isDefaultValue === true,
                isActive: v?.isActive !== false,
              },
            ]
      }),
    )
  }
  remember(picklistCache, key, { fields, expires: now + PICKLIST_TTL_MS })
  return fields
}

/** A picklist value by its number or its label. */
function pick(list: Picklist[] | undefined, given: string, what: string): number {
  const g = given.trim()
  const found =
    list?.find((p) => p.value === g) ?? list?.find((p) => p.label.toLowerCase() === g.toLowerCase())
  if (found) return Number(found.value)
  if (!list && /^\d+$/.test(g)) return Number(g)
  const known = list
    ?.filter((p) => p.isActive)
    .map((p) => p.label)
    .join(', ')
  throw new VendorError(`${VENDOR}: "${given}" is not a ticket ${what}${known ? ` (${known})` : ''}`, 400)
}

function defaultOf(list: Picklist[] | undefined): number | undefined {
  const d = list?.find((p) => p.isDefault && p.isActive)
  return d ? Number(d.value) : undefined
}

export function ticketUrl(web: string, id: string): string {
  return withQuery(`${stripSlash(web)}/Autotask/AutotaskExtend/ExecuteCommand.aspx`, {
    Code: 'OpenTicketDetail',
    TicketID: id,
  })
}

function toTicket(zone: Zone, statuses: Picklist[] | undefined, data: unknown): ExternalTicket {
  const t = obj(data)
  const id = str(t?.id)
  if (!t || !id) throw new VendorError(`${VENDOR} answered with a ticket without an id`, 502)
  const status = str(t.status) ?? ''
  return {
    id,
    number: str(t.ticketNumber),
    title: str(t.title),
    status: statuses?.find((s) => s.value === status)?.label ?? (status || 'unknown'),
    url: ticketUrl(zone.web, id),
    updatedAt: isoDate(t.lastTrackedModificationDateTime ?? t.lastActivityDate),
  }
}

async function ticketMapper(creds: Creds, env: ConnectorEnv) {
  const zone = await zoneOf(creds, env)
  const statuses = (await picklists(creds, env, 'Tickets')).get('status')
  return (data: unknown) => toTicket(zone, statuses, data)
}

async function getTicket(creds: Creds, id: string, env: ConnectorEnv): Promise<ExternalTicket> {
  if (!/^\d+$/.test(id)) throw new VendorError(`${VENDOR}: "${id}" is not a ticket id`, 400)
  const res = await call(creds, env, 'GET', `/Tickets/${id}`)
  const item = expectObject(VENDOR, res.data, 'the ticket').item
  // Autotask answers 200 with a null item for a ticket that does not exist (or that the user cannot see).
  if (!obj(item)) throw new VendorError(`${VENDOR}: ticket ${id} was not found`, 404)
  return (await ticketMapper(creds, env))(item)
}

/** One page of a query: the first by POST, the next ones by GET on nextPageUrl (moved onto our REST root). */
async function queryPage(
  creds: Creds,
  env: ConnectorEnv,
  entity: string,
  search: Json,
  next: string | undefined,
): Promise<{ items: unknown[]; next: string | undefined }> {
  let res: Awaited<ReturnType<typeof call>>
  if (next) {
    const zone = await zoneOf(creds, env)
    let target: URL
    try {
      target = new URL(next)
    } catch {
      throw new VendorError(`${VENDOR}: the page cursor is not one this connector issued`, 400)
    }
    const at = target.pathname.search(/\/v1\.0\//i)
    if (at < 0) throw new VendorError(`${VENDOR}: the page cursor is not one this connector issued`, 400)
    res = await call(creds, env, 'GET', '', {
      url: `${zone.api}${target.pathname.slice(at)}${target.search}`,
    })
  } else {
    res = await call(creds, env, 'POST', `/${entity}/query`, { body: { MaxRecords: MAX_RECORDS, ...search } })
  }
  const body = expectObject(VENDOR, res.data, `the ${entity} query`)
  return { items: arr(body.items), next: str(obj(body.pageDetails)?.nextPageUrl) || undefined }
}

const tickets: TicketOperations<Creds> = {
  async createTicket(creds, ticket: NewTicket, env) {
    const toTicketOf = await ticketMapper(creds, env)
    if (ticket.externalRef) {
      const found = await queryPage(
        creds,
        env,
        'Tickets',
        {
          filter: [{ op: 'eq', field: 'externalID', value: ticket.externalRef.slice(0, 50) }],
          MaxRecords: 1,
        },
        undefined,
      )
      if (found.items[0]) return toTicketOf(found.items[0])
    }
    const fields = await picklists(creds, env, 'Tickets')
    const company = ticket.companyId?.trim() || creds.defaultCompanyId || '0'
    if (!/^\d+$/.test(company))
      throw new VendorError(`${VENDOR}: company "${company}" is not a company id`, 400)
    const priority = ticket.priority
      ? pick(fields.get('priority'), ticket.priority, 'priority')
      : defaultOf(fields.get('priority'))
    const body: Json = {
      companyID: Number(company),
      title: ticket.title.slice(0, 255),
      description: ticket.description.slice(0, 8000),
      status: ticket.status
        ? pick(fields.get('status'), ticket.status, 'status')
        : (defaultOf(fields.get('status')) ?? 1),
      priority: priority ?? 2,
    }
    const queue = ticket.queue
      ? pick(fields.get('queueid'), ticket.queue, 'queue')
      : defaultOf(fields.get('queueid'))
    if (queue !== undefined) body.queueID = queue
    if (ticket.externalRef) body.externalID = ticket.externalRef.slice(0, 50)
    const res = await call(creds, env, 'POST', '/Tickets', { body })
    const id = str(expectObject(VENDOR, res.data, 'the new ticket').itemId)
    if (!id) throw new VendorError(`${VENDOR} created a ticket but did not say its id`, 502)
    return getTicket(creds, id, env)
  },

  getTicket,

  async updateStatus(creds, id, status, env) {
    if (!/^\d+$/.test(id)) throw new VendorError(`${VENDOR}: "${id}" is not a ticket id`, 400)
    const value = pick((await picklists(creds, env, 'Tickets')).get('status'), status, 'status')
    await call(creds, env, 'PATCH', '/Tickets', { body: { id: Number(id), status: value } })
    return getTicket(creds, id, env)
  },

  async addNote(creds, id, note, env) {
    if (!/^\d+$/.test(id)) throw new VendorError(`${VENDOR}: "${id}" is not a ticket id`, 400)
    const fields = await picklists(creds, env, 'TicketNotes')
    const publish = fields.get('publish')
    const internal = publish?.find((p) => /internal/i.test(p.label))
    const everyone = publish?.find((p) => /all/i.test(p.label))
    const chosen = note.internal ? internal : everyone
    const title = note.text.split('\n', 1)[0]?.trim().slice(0, 250) || 'Patchbay'
    await call(creds, env, 'POST', `/Tickets/${id}/Notes`, {
      body: {
        ticketID: Number(id),
        title,
        description: note.text.slice(0, 32000),
        noteType: defaultOf(fields.get('notetype')) ?? 1,
        publish: chosen ? Number(chosen.value) : note.internal ? 2 : 1,
      },
    })
  },

  async listCompanies(creds, page, env): Promise<PageOf<NamedRef>> {
    const next = decodeCursor<{ next: string }>(VENDOR, page.cursor)?.next
    const res = await queryPage(
      creds,
      env,
      'Companies',
      { filter: [{ op: 'eq', field: 'isActive', value: true }], IncludeFields: ['id', 'companyName'] },
      next,
    )
    const items = namedRefs(res.items, 'id', 'companyName')
    return { items, next: res.next ? encodeCursor({ next: res.next }) : undefined }
  },

  async listQueues(creds, env) {
    const queues = (await picklists(creds, env, 'Tickets')).get('queueid') ?? []
    return queues.filter((q) => q.isActive).map((q) => ({ id: q.value, name: q.label }))
  },

  async listChangedTickets(creds, opts, env) {
    const next = decodeCursor<{ next: string }>(VENDOR, opts.cursor)?.next
    const filter = opts.since
      ? [{ op: 'gte', field: 'lastTrackedModificationDateTime', value: opts.since.toISOString() }]
      : [{ op: 'gte', field: 'id', value: 0 }]
    const page = await queryPage(creds, env, 'Tickets', { filter }, next)
    const toTicketOf = await ticketMapper(creds, env)
    const items = page.items
      .map(toTicketOf)
      .sort((a, b) => (a.updatedAt ?? '').localeCompare(b.updatedAt ?? '') || Number(a.id) - Number(b.id))
    return { items, next: page.next ? encodeCursor({ next: page.next }) : undefined }
  },
}

async function verify(creds: Creds, env: ConnectorEnv) {
  return verifyBy(async () => {
    const zone = await zoneOf(creds, env)
    const res = await call(creds, env, 'GET', '/Tickets/entityInformation')
    const info = obj(expectObject(VENDOR, res.data, 'Tickets/entityInformation').info)
    if (info && info.canCreate === false) {
      throw new VendorError(`${VENDOR}: the API user cannot create tickets (check its security level)`, 403)
    }
    const user = creds.username
    return zone.name ? `${user} (${zone.name})` : user
  })
}

// ---- resources: companies, resources (people), tickets, through the query API ----

const RESOURCE_KINDS: readonly ResourceKindInfo[] = [
  {
    kind: 'companies',
    description: 'Companies (accounts)',
    filters: { name: 'Company name contains this', active: 'true or false' },
  },
  {
    kind: 'resources',
    description: 'Resources (the PSA’s users and technicians)',
    filters: { active: 'true or false', email: 'Email is exactly this' },
  },
  {
    kind: 'tickets',
    description: 'Tickets, in id order',
    filters: {
      companyId: 'Only this company (its id)',
      status: 'Only this status (its name or number)',
      since: 'Changed at or after this ISO 8601 time',
    },
  },
]

function bool(name: string, value: string): boolean {
  if (value === 'true') return true
  if (value === 'false') return false
  throw new VendorError(`${VENDOR}: the ${name} filter is true or false`, 400)
}

async function listResources<K extends ResourceKind>(
  creds: Creds,
  kind: K,
  q: { cursor?: string | undefined; filter: Record<string, string>; limit: number },
  env: ConnectorEnv,
): Promise<PageOf<ResourceItem<K>>> {
  const info = RESOURCE_KINDS.find((k) => k.kind === kind)
  if (!info) throw new VendorError(`${VENDOR} offers no ${kind}`, 400)
  const f = q.filter
  const unknown = Object.keys(f).filter((n) => !(info.filters && n in info.filters))
  if (unknown.length)
    throw new VendorError(`${VENDOR}: unknown filter ${unknown.join(', ')} for ${kind}`, 400)
  const next = decodeCursor<{ next: string }>(VENDOR, q.cursor)?.next
  const filter: Json[] = []
  const limit = Math.min(Math.max(1, q.limit), MAX_RECORDS)
  const done = (items: ResourceItem[], more: string | undefined): PageOf<ResourceItem<K>> => ({
    items: items as ResourceItem<K>[],
    next: more ? encodeCursor({ next: more }) : undefined,
  })
  if (kind === 'companies') {
    if (f.name) filter.push({ op: 'contains', field: 'companyName', value: f.name })
    if (f.active) filter.push({ op: 'eq', field: 'isActive', value: bool('active', f.active) })
    if (!filter.length) filter.push({ op: 'gte', field: 'id', value: 0 })
    const page = await queryPage(creds, env, 'Companies', { filter, MaxRecords: limit }, next)
    const items = page.items
      .map(obj)
      .flatMap((c) =>
        c && str(c.id) !== undefined
          ? [{ id: str(c.id) as string, name: str(c.companyName) ?? '', raw: c }]
          : [],
      )
    return done(items, page.next)
  }
  if (kind === 'resources') {
    if (f.active) filter.push({ op: 'eq', field: 'isActive', value: bool('active', f.active) })
    if (f.email) filter.push({ op: 'eq', field: 'email', value: f.email })
    if (!filter.length) filter.push({ op: 'gte', field: 'id', value: 0 })
    const page = await queryPage(creds, env, 'Resources', { filter, MaxRecords: limit }, next)
    const items = page.items.map(obj).flatMap((r) => {
      const id = str(r?.id)
      if (!r || id === undefined) return []
      const name = [str(r.firstName), str(r.lastName)].filter(Boolean).join(' ') || str(r.userName) || id
      return [{ id, name, email: str(r.email) ?? null, raw: r }]
    })
    return done(items, page.next)
  }
  if (kind === 'tickets') {
    const statuses = (await picklists(creds, env, 'Tickets')).get('status')
    if (f.companyId) {
      if (!/^\d+$/.test(f.companyId))
        throw new VendorError(`${VENDOR}: the companyId filter is a number`, 400)
      filter.push({ op: 'eq', field: 'companyID', value: Number(f.companyId) })
    }
    if (f.status) filter.push({ op: 'eq', field: 'status', value: pick(statuses, f.status, 'status') })
    if (f.since) {
      const since = isoDate(f.since)
      if (!since) throw new VendorError(`${VENDOR}: the since filter is an ISO 8601 time`, 400)
      filter.push({ op: 'gte', field: 'lastTrackedModificationDateTime', value: since })
    }
    if (!filter.length) filter.push({ op: 'gte', field: 'id', value: 0 })
    const page = await queryPage(creds, env, 'Tickets', { filter, MaxRecords: limit }, next)
    const items = page.items.map(obj).flatMap((t) => {
      const id = str(t?.id)
      if (!t || id === undefined) return []
      const status = str(t.status) ?? ''
      return [
        {
          id,
          number: str(t.ticketNumber) ?? null,
          title: str(t.title) ?? '',
          status: statuses?.find((s) => s.value === status)?.label ?? (status || 'unknown'),
          companyId: str(t.companyID) ?? null,
          updatedAt: isoDate(t.lastTrackedModificationDateTime ?? t.lastActivityDate) ?? null,
          raw: t,
        },
      ]
    })
    return done(items, page.next)
  }
  throw new VendorError(`${VENDOR} offers no ${kind}`, 400)
}

const resources: ResourceOperations<Creds> = { kinds: RESOURCE_KINDS, list: listResources }

const autotaskPsa = psaConnector({
  id: 'autotask',
  displayName: 'Datto Autotask PSA',
  credentialSchema,
  docsUrl: 'https://www.autotask.net/help/developerhelp/Content/APIs/REST/REST_API_Home.htm',
  verify,
  tickets,
})

/** Ticket fields a Patchbay webhook subscribes to: a status change is what the inbound pipeline acts on. */
const WEBHOOK_FIELDS = ['Status', 'Title']

/**
 * The ticket webhook, created through the REST API (`REST_WebhooksEntity.htm`): `TicketWebhooks` with the source's
 * URL, secret and deactivation URL, subscribed to create and update events, then one `Fields` row per subscribed
 * field (Autotask activates a webhook only once it has one). Field ids come from the `fieldID` picklist of
 * `TicketWebhookFields`. A webhook left half-made (a field refused) is deleted before the error is passed on.
 */
const registration: InboundRegistrar<Creds> = {
  async register(creds, req, env) {
    const created = await call<{ itemId?: unknown }>(creds, env, 'POST', '/TicketWebhooks', {
      body: {
        Name: req.name.slice(0, 50),
        WebhookUrl: req.url,
        SecretKey: req.secret,
        DeactivationUrl: req.deactivationUrl,
        IsActive: true,
        IsSubscribedToCreateEvents: true,
        IsSubscribedToUpdateEvents: true,
        IsSubscribedToDeleteEvents: false,
        SendThresholdExceededNotification: false,
      },
    })
    const id = str(obj(created.data)?.itemId)
    if (!id) throw new VendorError(`${VENDOR} created the webhook but answered without its itemId`, 502)
    try {
      const info = await call(creds, env, 'GET', '/TicketWebhookFields/entityInformation/fields')
      const field = arr(expectObject(VENDOR, info.data, 'the webhook field information').fields)
        .map(obj)
        .find((f) => str(f?.name)?.toLowerCase() === 'fieldid')
      const choices = arr(field?.picklistValues).map(obj)
      for (const name of WEBHOOK_FIELDS) {
        const fieldId = str(choices.find((c) => str(c?.label)?.toLowerCase() === name.toLowerCase())?.value)
        if (!fieldId) throw new VendorError(`${VENDOR} offers no ticket webhook field "${name}"`, 502)
        await call(creds, env, 'POST', `/TicketWebhooks/${id}/Fields`, {
          body: {
            WebhookID: Number(id),
            FieldID: Number(fieldId),
            IsSubscribedField: true,
            IsDisplayAlwaysField: false,
          },
        })
      }
    } catch (err) {
      await call(creds, env, 'DELETE', `/TicketWebhooks/${id}`).catch(() => undefined)
      throw err
    }
    return { vendorId: id }
  },
  async unregister(creds, vendorId, env) {
    try {
      await call(creds, env, 'DELETE', `/TicketWebhooks/${encodeURIComponent(vendorId)}`)
    } catch (err) {
      if (err instanceof VendorError && err.status === 404) return
      throw err
    }
  },
}

// ---- actions ----
//
// Autotask takes no idempotency key. A time entry carries `[patchbay:<action id>]` at the end of its internal
// notes (never shown to the customer), and a retry after an attempt that may have reached Autotask first queries
// TimeEntries for it; a note is looked up by its ticket, title and text the same way. A status change is the
// same PATCH again, harmless to repeat. Refusals (HTTP 500 with an `errors` list) fail at once.
// https://www.autotask.net/help/developerhelp/Content/APIs/REST/Entities/TimeEntriesEntity.htm

const ticketId = z.number().int().positive()

const timeEntryInput = z.strictObject({
  ticketId,
  resourceId: z.number().int().positive(),
  roleId: z.number().int().positive(),
  dateWorked: z.iso.date(),
  hoursWorked: z.number().positive().max(24),
  summaryNotes: z.string().trim().min(1).max(32_000),
  internalNotes: z.string().max(30_000).optional(),
})

const noteInput = z.strictObject({
  ticketId,
  title: z.string().trim().min(1).max(250).optional(),
  description: z.string().trim().min(1).max(32_000),
  internal: z.boolean().default(true),
})

const statusInput = z.strictObject({
  ticketId,
  status: z.string().trim().min(1).max(100),
})

function tagOf(key: string): string {
  return `[patchbay:${key}]`
}

async function findOne(creds: Creds, env: ConnectorEnv, entity: string, filter: Json[]) {
  const page = await queryPage(creds, env, entity, { filter, MaxRecords: 1 }, undefined)
  return obj(page.items[0])
}

const addTimeEntry: ConnectorAction<z.infer<typeof timeEntryInput>, Creds> = {
  name: 'add_time_entry',
  description: 'Logs time worked on a ticket by a resource (TimeEntries)',
  input: timeEntryInput,
  needsApproval: false,
  idempotency:
    'No key at Autotask: the internal notes end with [patchbay:<action id>], and a retry first queries ' +
    'TimeEntries of the ticket for it.',
  async run(creds, input, env, run) {
    const tag = tagOf(run.idempotencyKey)
    if (run.mayHaveRun) {
      const found = await findOne(creds, env, 'TimeEntries', [
        { op: 'eq', field: 'ticketID', value: input.ticketId },
        { op: 'contains', field: 'internalNotes', value: tag },
      ])
      if (found) return { status: 200, body: JSON.stringify({ found }), vendorRef: str(found.id) }
    }
    const res = await call(creds, env, 'POST', '/TimeEntries', {
      refusals: true,
      body: {
        ticketID: input.ticketId,
        resourceID: input.resourceId,
        roleID: input.roleId,
        dateWorked: `${input.dateWorked}T00:00:00Z`,
        hoursWorked: input.hoursWorked,
        summaryNotes: input.summaryNotes,
        internalNotes: input.internalNotes ? `${input.internalNotes}\n${tag}` : tag,
      },
    })
    return { status: res.status, body: JSON.stringify(res.data), vendorRef: str(obj(res.data)?.itemId) }
  },
}

const addNote: ConnectorAction<z.infer<typeof noteInput>, Creds> = {
  name: 'add_note',
  description: 'Adds a note to a ticket (internal by default)',
  input: noteInput,
  needsApproval: false,
  idempotency:
    'No key at Autotask: a retry first queries TicketNotes for one with the same ticket, title and text.',
  async run(creds, input, env, run) {
    const title = input.title ?? (input.description.split('\n', 1)[0]?.trim().slice(0, 250) || 'Patchbay')
    if (run.mayHaveRun) {
      const found = await findOne(creds, env, 'TicketNotes', [
        { op: 'eq', field: 'ticketID', value: input.ticketId },
        { op: 'eq', field: 'title', value: title },
        { op: 'eq', field: 'description', value: input.description },
      ])
      if (found) return { status: 200, body: JSON.stringify({ found }), vendorRef: str(found.id) }
    }
    const fields = await picklists(creds, env, 'TicketNotes')
    const publish = fields.get('publish')
    const chosen = input.internal
      ? publish?.find((p) => /internal/i.test(p.label))
      : publish?.find((p) => /all/i.test(p.label))
    const res = await call(creds, env, 'POST', `/Tickets/${input.ticketId}/Notes`, {
      refusals: true,
      body: {
        ticketID: input.ticketId,
        title,
        description: input.description,
        noteType: defaultOf(fields.get('notetype')) ?? 1,
        publish: chosen ? Number(chosen.value) : input.internal ? 2 : 1,
      },
    })
    return { status: res.status, body: JSON.stringify(res.data), vendorRef: str(obj(res.data)?.itemId) }
  },
}

const updateTicketStatus: ConnectorAction<z.infer<typeof statusInput>, Creds> = {
  name: 'update_ticket_status',
  description: "Sets a ticket's status, by its label (e.g. Complete) or picklist value",
  input: statusInput,
  needsApproval: false,
  idempotency: 'Setting the same status again changes nothing: a retry sends the same PATCH.',
  async run(creds, input, env) {
    const value = pick((await picklists(creds, env, 'Tickets')).get('status'), input.status, 'status')
    const res = await call(creds, env, 'PATCH', '/Tickets', {
      refusals: true,
      body: { id: input.ticketId, status: value },
    })
    return { status: res.status, body: JSON.stringify(res.data), vendorRef: String(input.ticketId) }
  },
}

/** The PSA connector, plus its inbound webhooks; Autotask sends status ids, named here through the picklists. */
export const autotask: Connector = defineConnector(credentials, {
  ...autotaskPsa,
  resources,
  actions: [addTimeEntry, addNote, updateTicketStatus],
  inbound: {
    ...autotaskInbound,
    registration,
    async resolveTicketStatus(creds, value, env) {
      const statuses = (await picklists(creds, env, 'Tickets')).get('status')
      return statuses?.find((s) => s.value === value)?.label ?? value
    },
  },
})
