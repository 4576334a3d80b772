import type { z } from 'zod'
import type { CredentialSchema } from '../../vault/mask.ts'
import { credentialParser, defineConnector, missingCredential } from '../define.ts'
import { isoDate, overrideBase, toOrigin, verifyBy } from '../shared/credentials.ts'
import { decodeCursor, encodeCursor } from '../shared/cursor.ts'
import { arr, expectObject, type Json, joinMessages, obj, str, withQuery } from '../shared/json.ts'
import { parseLinkHeader } from '../shared/link-header.ts'
import {
  baseUrlField,
  type CallOptions,
  callAuthorized,
  hasNextPage,
  namedRefs,
  psaConnector,
} from '../shared/psa.ts'
import type {
  Connector,
  ConnectorEnv,
  ExternalTicket,
  InboundRegistrar,
  NamedRef,
  NewTicket,
  PageOf,
  TicketOperations,
} from '../types.ts'
import { VendorError } from '../vendor-error.ts'
import { basicAuth } from '../vendor-http.ts'
import { changeManagement } from './changes.ts'
import { connectwiseInbound } from './inbound.ts'

/**
 * ConnectWise PSA (Manage) REST API 3.0.
 * https://developer.connectwise.com/Products/ConnectWise_PSA/REST
 *
 * Auth is Basic `companyId+publicKey:privateKey` plus a `clientId` header identifying the integration
 * (https://developer.connectwise.com/ClientID). Cloud sites are browsed at `{region}.myconnectwise.net` but the
 * API answers at `api-{region}.myconnectwise.net`; on-premises servers serve both from one host.
 *
 * Idempotent creation: the ticket's `externalXRef` holds Patchbay's reference; createTicket looks it up with
 * `conditions=externalXRef="…"` before creating, so a retried creation returns the ticket made the first time.
 */
const VENDOR = 'ConnectWise'
const API_PATH = '/v4_6_release/apis/3.0'
const PAGE_SIZE = 100
const DEFAULT_SITE = 'https://na.myconnectwise.net'
/**
 * The API version this connector was built against (the vendor document 2026.4). ConnectWise answers a bare
 * `application/json` with the server's newest model, which may change shape under an integration; pinning the
 * version in Accept is what it recommends (https://developer.connectwise.com/Products/ConnectWise_PSA/Versioning).
 */
export const API_VERSION = '2026.4'
const ACCEPT = `application/vnd.connectwise.com+json; version=${API_VERSION}`

export const credentialSchema = {
  companyId: {
    type: 'string',
    sensitive: false,
    required: true,
    description: 'The company identifier typed at the ConnectWise login, e.g. "contoso".',
  },
  publicKey: {
    type: 'string',
    sensitive: true,
    required: true,
    description: "The API member's public key (System > Members > API Members > API Keys).",
  },
  privateKey: {
    type: 'string',
    sensitive: true,
    required: true,
    description: "The API member's private key.",
  },
  clientId: {
    type: 'string',
    sensitive: true,
    required: true,
    pattern: '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$',
    description:
      'The integration clientId from https://developer.connectwise.com/ClientID, sent as a header.',
  },
  siteUrl: {
    type: 'url',
    sensitive: false,
    destination: true,
    required: false,
    default: DEFAULT_SITE,
    description:
      'The site users log in to: https://na|eu|au|aus|za.myconnectwise.net, https://staging.connectwisedev.com, ' +
      'or an on-premises host. Ticket links point here; cloud API calls go to its api- host.',
  },
  baseUrl: baseUrlField(
    "Calls this host instead of the site's API host (a sandbox, a proxy, a test stand-in); " +
      `${API_PATH} is appended.`,
  ),
} satisfies CredentialSchema

/** The stored credentials as this connector reads them. */
const credentials = credentialParser(credentialSchema, missingCredential(VENDOR))
type Creds = z.infer<typeof credentials.schema>

interface Site {
  /** Where people open tickets. */
  ui: string
  /** Where the API is called, without the API path. */
  api: string
}

const CLOUD_HOST_RE = /^(?:api-)?([a-z0-9]+)\.(myconnectwise\.net|connectwisedev\.com)$/

function site(creds: SiteCredentials): Site {
  const raw = creds.siteUrl ?? DEFAULT_SITE
  const u = toOrigin(raw)
  if (!u) throw new VendorError(`${VENDOR}: siteUrl "${raw}" is not a URL`, 400)
  const cloud = CLOUD_HOST_RE.exec(u.hostname.toLowerCase())
  const ui = cloud ? `https://${cloud[1]}.${cloud[2]}` : `${u.protocol}//${u.host}`
  const api = cloud ? `https://api-${cloud[1]}.${cloud[2]}` : ui
  return { ui, api: overrideBase(creds) ?? api }
}

/** What a ticket link needs: the site (or its override) and the company, possibly absent (an empty name). */
type SiteCredentials = Pick<Creds, 'siteUrl' | 'baseUrl'> & { companyId?: string | undefined }

export function ticketUrl(creds: SiteCredentials, id: string | number): string {
  const companyId = creds.companyId ?? ''
  return withQuery(`${site(creds).ui}/v4_6_release/services/system_io/Service/fv_sr100_request.rails`, {
    service_recid: id,
    companyName: companyId,
  })
}

/** ConnectWise errors: `{code, message, errors: [{code, message, resource, field}]}`. */
function errorText(body: unknown): string | undefined {
  const b = obj(body)
  if (!b) return undefined
  return joinMessages(
    str(b.message),
    arr(b.errors).map((e) => str(obj(e)?.message)),
  )
}

async function call<T = unknown>(
  creds: Creds,
  env: ConnectorEnv,
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE',
  path: string,
  opts: CallOptions = {},
) {
  const { companyId, publicKey, privateKey, clientId } = creds
  return callAuthorized<T>(env, {
    vendor: VENDOR,
    method,
    authorization: basicAuth(`${companyId}+${publicKey}`, privateKey),
    headers: { clientId, accept: ACCEPT },
    url: `${site(creds).api}${API_PATH}${path}`,
    ...opts,
    credentialSchema,
    creds,
    errorText,
  })
}

function toTicket(creds: Creds, data: unknown): ExternalTicket {
  const t = expectObject(VENDOR, data, 'a ticket')
  const id = str(t.id)
  if (!id) throw new VendorError(`${VENDOR} answered with a ticket without an id`, 502)
  return {
    id,
    title: str(t.summary),
    status: str(obj(t.status)?.name) ?? 'unknown',
    url: ticketUrl(creds, id),
    updatedAt: isoDate(obj(t._info)?.lastUpdated),
  }
}

/** A reference by id when numeric, else by the given key (`name`, `identifier`). */
function ref(value: string, key: 'name' | 'identifier'): Json {
  return /^\d+$/.test(value) ? { id: Number(value) } : { [key]: value }
}

/** A value inside a conditions string: double-quoted, with quotes and backslashes escaped. */
function quoted(value: string): string {
  return `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`
}

/** ConnectWise compares dates written as `[2026-02-18T12:00:00Z]` (seconds, UTC). */
function cwDate(d: Date): string {
  return `[${d.toISOString().slice(0, 19)}Z]`
}

const tickets: TicketOperations<Creds> = {
  // Ticket.company is required (MODELS.md: "required: summary, company"); without it every POST is a 400.
  companyRequired: true,
  async createTicket(creds, ticket: NewTicket, env) {
    if (ticket.externalRef) {
      const found = await call<unknown[]>(creds, env, 'GET', '/service/tickets', {
        query: { conditions: `externalXRef=${quoted(ticket.externalRef)}`, pageSize: 1 },
      })
      const existing = arr(found.data)[0]
      if (existing) return toTicket(creds, existing)
    }
    const body: Json = {
      // ConnectWise refuses summaries longer than 100 characters.
      summary: ticket.title.slice(0, 100),
      initialDescription: ticket.description,
    }
    if (ticket.queue) body.board = ref(ticket.queue, 'name')
    if (ticket.companyId) body.company = ref(ticket.companyId, 'identifier')
    if (ticket.status) body.status = ref(ticket.status, 'name')
    if (ticket.priority) body.priority = ref(ticket.priority, 'name')
    if (ticket.externalRef) body.externalXRef = ticket.externalRef.slice(0, 100)
    const res = await call(creds, env, 'POST', '/service/tickets', { body })
    return toTicket(creds, res.data)
  },

  async getTicket(creds, id, env) {
    const res = await call(creds, env, 'GET', `/service/tickets/${encodeURIComponent(id)}`)
    return toTicket(creds, res.data)
  },

  async updateStatus(creds, id, status, env) {
    // JSON Patch; a status is named as it appears on the ticket's board (or given by id).
    const res = await call(creds, env, 'PATCH', `/service/tickets/${encodeURIComponent(id)}`, {
      body: [{ op: 'replace', path: 'status', value: ref(status, 'name') }],
    })
    return toTicket(creds, res.data)
  },

  async addNote(creds, id, note, env) {
    // One of the three flags must be set: internal analysis is visible to technicians only.
    await call(creds, env, 'POST', `/service/tickets/${encodeURIComponent(id)}/notes`, {
      body: {
        text: note.text,
        detailDescriptionFlag: !note.internal,
        internalAnalysisFlag: note.internal,
        resolutionFlag: false,
      },
    })
  },

  async listCompanies(creds, page, env): Promise<PageOf<NamedRef>> {
    const n = decodeCursor<{ page: number }>(VENDOR, page.cursor)?.page ?? 1
    const res = await call<unknown[]>(creds, env, 'GET', '/company/companies', {
      query: {
        conditions: 'deletedFlag=false',
        orderBy: 'name asc',
        fields: 'id,identifier,name',
        page: n,
        pageSize: PAGE_SIZE,
      },
    })
    const items = arr(res.data).flatMap((c): NamedRef[] => {
      const o = obj(c)
      const id = str(o?.id)
      return id ? [{ id, name: str(o?.name) ?? str(o?.identifier) ?? id }] : []
    })
    return {
      items,
      next: hasNextPage(res.headers, items.length, PAGE_SIZE) ? encodeCursor({ page: n + 1 }) : undefined,
    }
  },

  async listQueues(creds, env) {
    const boards: NamedRef[] = []
    for (let page = 1; page <= 50; page++) {
      const res = await call<unknown[]>(creds, env, 'GET', '/service/boards', {
        query: {
          conditions: 'inactiveFlag=false',
          orderBy: 'name asc',
          fields: 'id,name',
          page,
          pageSize: 1000,
        },
      })
      const rows = arr(res.data)
      boards.push(...namedRefs(rows))
      if (res.headers.link !== undefined ? !parseLinkHeader(res.headers.link).next : rows.length < 1000) break
    }
    return boards
  },

  async listChangedTickets(creds, opts, env) {
    const cursor = decodeCursor<{ page: number; since: string | null }>(VENDOR, opts.cursor)
    const since = cursor ? cursor.since : opts.since?.toISOString()
    const page = cursor?.page ?? 1
    const res = await call<unknown[]>(creds, env, 'GET', '/service/tickets', {
      query: {
        // Second precision: >= the second `since` falls in, so nothing changed within that second is missed.
        conditions: since ? `lastUpdated>=${cwDate(new Date(since))}` : undefined,
        orderBy: 'lastUpdated asc',
        page,
        pageSize: PAGE_SIZE,
      },
    })
    const items = arr(res.data).map((t) => toTicket(creds, t))
    return {
      items,
      next: hasNextPage(res.headers, items.length, PAGE_SIZE)
        ? encodeCursor({ page: page + 1, since: since ?? null })
        : undefined,
    }
  },
}

async function verify(creds: Creds, env: ConnectorEnv) {
  return verifyBy(async () => {
    const res = await call(creds, env, 'GET', '/system/info')
    const info = expectObject(VENDOR, res.data, '/system/info')
    const version = str(info.version)
    return `${creds.companyId}${version ? ` (ConnectWise PSA ${version})` : ''}`
  })
}

const connectwisePsa = psaConnector<Creds>({
  id: 'connectwise',
  displayName: 'ConnectWise PSA',
  credentialSchema,
  docsUrl: 'https://developer.connectwise.com/Products/ConnectWise_PSA/REST',
  verify,
  tickets,
})

/**
 * A ticket callback (`POST /system/callbacks`, `CallbackEntry`: url, objectId, type, level required): at the `board`
 * level for one board (`objectId` = the board id), or (the default) the `owner` level for every ticket
 * (ConnectWise's convention: objectId 1). ConnectWise signs callbacks with its own key (`Metadata.key_url`), so the source's
 * secret is not sent.
 */
const registration: InboundRegistrar<Creds> = {
  checkOptions(o) {
    if (o.level !== undefined && o.level !== 'board' && o.level !== 'owner')
      return { field: 'registration.level', message: 'ConnectWise callbacks need level "board" or "owner"' }
    if (o.level === 'board' && typeof o.objectId !== 'number')
      return { field: 'registration.objectId', message: 'the board id is required at the board level' }
    return undefined
  },
  async register(creds, req, env) {
    const level = req.options.level === 'board' ? 'board' : 'owner'
    const objectId = typeof req.options.objectId === 'number' ? req.options.objectId : 1
    const res = await call(creds, env, 'POST', '/system/callbacks', {
      body: {
        url: req.url,
        objectId,
        type: 'ticket',
        level,
        description: `Patchbay: ${req.name}`.slice(0, 100),
        inactiveFlag: false,
      },
    })
    const id = str(expectObject(VENDOR, res.data, 'a callback').id)
    if (!id) throw new VendorError(`${VENDOR} created the callback but answered without its id`, 502)
    return { vendorId: id }
  },
  async unregister(creds, vendorId, env) {
    try {
      await call(creds, env, 'DELETE', `/system/callbacks/${encodeURIComponent(vendorId)}`)
    } catch (err) {
      if (err instanceof VendorError && err.status === 404) return
      throw err
    }
  },
}

export const connectwise: Connector = defineConnector(credentials, {
  ...connectwisePsa,
  descriptor: {
    ...connectwisePsa.descriptor,
    capabilities: [...connectwisePsa.descriptor.capabilities, 'change_management'],
  },
  changeManagement: changeManagement(call, ticketUrl),
  inbound: { ...connectwiseInbound, registration },
})
