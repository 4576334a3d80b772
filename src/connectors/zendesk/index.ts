import type { z } from 'zod'
import type { CredentialSchema } from '../../vault/mask.ts'
import { credentialParser, defineConnector, missingCredential } from '../define.ts'
import { isoDate, overrideBase, verifyBy } from '../shared/credentials.ts'
import { decodeCursor, encodeCursor } from '../shared/cursor.ts'
import { arr, expectObject, type Json, joinMessages, obj, str } from '../shared/json.ts'
import { baseUrlField, type CallOptions, callAuthorized, namedRefs, psaConnector } from '../shared/psa.ts'
import type {
  Connector,
  ConnectorEnv,
  ExternalTicket,
  NamedRef,
  NewTicket,
  TicketOperations,
} from '../types.ts'
import { VendorError } from '../vendor-error.ts'
import { basicAuth } from '../vendor-http.ts'

/**
 * Zendesk Support API v2 (https://developer.zendesk.com/api-reference/ticketing/introduction/), API-token auth:
 * Basic `{email}/token:{apiToken}`.
 *
 * - `/users/me` is allowed for anonymous users: with credentials Zendesk does not accept it answers 200 with an
 *   anonymous user (id null), so verify checks who answered, not only the status.
 * - Internal notes are private comments added through a ticket update (`comment: {body, public: false}`).
 * - Idempotent creation: Patchbay's reference is the ticket's `external_id`; createTicket lists
 *   `/tickets?external_id=…` first.
 * - Changed tickets come from the cursor-based incremental export, which requires an admin and a start_time at
 *   least a minute in the past
 *   (https://developer.zendesk.com/api-reference/ticketing/ticket-management/incremental_exports/).
 */
const VENDOR = 'Zendesk'
const PAGE_SIZE = 100

export const credentialSchema = {
  subdomain: {
    type: 'string',
    sensitive: false,
    destination: true,
    required: true,
    pattern: '^[A-Za-z0-9][A-Za-z0-9-]*(\\.zendesk\\.com)?$',
    description: 'The account subdomain: "acme" for https://acme.zendesk.com.',
  },
  email: {
    type: 'string',
    sensitive: false,
    required: true,
    description: 'The email of the agent (an admin, for ticket sync) the API token acts as.',
  },
  apiToken: {
    type: 'string',
    sensitive: true,
    required: true,
    description: 'An API token (Admin Center > Apps and integrations > Zendesk API).',
  },
  baseUrl: baseUrlField(
    'Calls this host instead of https://{subdomain}.zendesk.com (a proxy, a test stand-in).',
  ),
} satisfies CredentialSchema

/** The stored credentials as this connector reads them, parsed once at its edge (define.ts). */
const credentials = credentialParser(credentialSchema, missingCredential(VENDOR))
type Creds = z.infer<typeof credentials.schema>

function origin(creds: Pick<Creds, 'subdomain'>): string {
  const sub = creds.subdomain.replace(/^https?:\/\//i, '').replace(/\.zendesk\.com\/?.*$/i, '')
  if (!/^[A-Za-z0-9][A-Za-z0-9-]*$/.test(sub)) {
    throw new VendorError(`${VENDOR}: subdomain "${sub}" is not a Zendesk subdomain`, 400)
  }
  return `https://${sub.toLowerCase()}.zendesk.com`
}

export function ticketUrl(creds: Pick<Creds, 'subdomain'>, id: string): string {
  return `${origin(creds)}/agent/tickets/${id}`
}

/**
 * Zendesk errors: `{error: "RecordInvalid", description, details: {field: [{description}]}}`, or
 * `{error: "Couldn't authenticate you"}`, or `{error: {title, message}}`.
 */
function errorText(body: unknown): string | undefined {
  const b = obj(body)
  if (!b) return undefined
  const e = b.error
  const main = str(b.description) ?? str(e) ?? str(obj(e)?.message) ?? str(obj(e)?.title)
  const details = Object.values(obj(b.details) ?? {}).flatMap((list) =>
    arr(list).map((d) => str(obj(d)?.description)),
  )
  return joinMessages(main, details)
}

async function call<T = unknown>(
  creds: Creds,
  env: ConnectorEnv,
  method: 'GET' | 'POST' | 'PUT',
  path: string,
  opts: CallOptions = {},
) {
  const email = creds.email
  const token = creds.apiToken
  return callAuthorized<T>(env, {
    vendor: VENDOR,
    method,
    authorization: basicAuth(`${email}/token`, token),
    url: `${overrideBase(creds) ?? origin(creds)}${path}`,
    ...opts,
    credentialSchema,
    creds,
    errorText,
  })
}

function toTicket(creds: Creds, data: unknown): ExternalTicket {
  const t = obj(data)
  const id = str(t?.id)
  if (!t || !id) throw new VendorError(`${VENDOR} answered with a ticket without an id`, 502)
  return {
    id,
    title: str(t.subject),
    status: str(t.status) ?? 'unknown',
    url: ticketUrl(creds, id),
    updatedAt: isoDate(t.updated_at),
  }
}

function ticketOf(creds: Creds, data: unknown): ExternalTicket {
  return toTicket(creds, expectObject(VENDOR, data, 'a ticket request').ticket)
}

/** Every page of a cursor-paginated list (`page[size]`, `meta.has_more`, `meta.after_cursor`). */
async function allPages(creds: Creds, env: ConnectorEnv, path: string, key: string): Promise<Json[]> {
  const rows: Json[] = []
  let after: string | undefined
  for (let guard = 0; guard < 100; guard++) {
    const res = await call(creds, env, 'GET', path, {
      query: { 'page[size]': PAGE_SIZE, 'page[after]': after },
    })
    const page = expectObject(VENDOR, res.data, path)
    for (const r of arr(page[key])) if (obj(r)) rows.push(obj(r) as Json)
    after = str(obj(page.meta)?.after_cursor)
    if (obj(page.meta)?.has_more !== true || !after) break
  }
  return rows
}

async function groupId(creds: Creds, env: ConnectorEnv, queue: string): Promise<number> {
  if (/^\d+$/.test(queue)) return Number(queue)
  const groups = await allPages(creds, env, '/api/v2/groups', 'groups')
  const found = groups.find((g) => str(g.name)?.toLowerCase() === queue.toLowerCase())
  const id = str(found?.id)
  if (!id) throw new VendorError(`${VENDOR}: there is no group named "${queue}"`, 400)
  return Number(id)
}

const tickets: TicketOperations<Creds> = {
  async createTicket(creds, ticket: NewTicket, env) {
    if (ticket.externalRef) {
      const res = await call(creds, env, 'GET', '/api/v2/tickets', {
        query: { external_id: ticket.externalRef },
      })
      const existing = arr(obj(res.data)?.tickets)[0]
      if (existing) return toTicket(creds, existing)
    }
    const body: Json = { subject: ticket.title, comment: { body: ticket.description || ticket.title } }
    if (ticket.externalRef) body.external_id = ticket.externalRef
    if (ticket.priority) body.priority = ticket.priority
    if (ticket.status) body.status = ticket.status
    if (ticket.queue) body.group_id = await groupId(creds, env, ticket.queue)
    if (ticket.companyId) {
      if (!/^\d+$/.test(ticket.companyId)) {
        throw new VendorError(`${VENDOR}: organization "${ticket.companyId}" is not an organization id`, 400)
      }
      body.organization_id = Number(ticket.companyId)
    }
    const res = await call(creds, env, 'POST', '/api/v2/tickets', { body: { ticket: body } })
    return ticketOf(creds, res.data)
  },

  async getTicket(creds, id, env) {
    return ticketOf(creds, (await call(creds, env, 'GET', `/api/v2/tickets/${encodeURIComponent(id)}`)).data)
  },

  async updateStatus(creds, id, status, env) {
    const res = await call(creds, env, 'PUT', `/api/v2/tickets/${encodeURIComponent(id)}`, {
      body: { ticket: { status: status.trim().toLowerCase() } },
    })
    return ticketOf(creds, res.data)
  },

  async addNote(creds, id, note, env) {
    await call(creds, env, 'PUT', `/api/v2/tickets/${encodeURIComponent(id)}`, {
      body: { ticket: { comment: { body: note.text, public: !note.internal } } },
    })
  },

  async listCompanies(creds, page, env) {
    const after = decodeCursor<{ after: string }>(VENDOR, page.cursor)?.after
    const res = await call(creds, env, 'GET', '/api/v2/organizations', {
      query: { 'page[size]': PAGE_SIZE, 'page[after]': after },
    })
    const body = expectObject(VENDOR, res.data, 'the organizations')
    const items = namedRefs(arr(body.organizations))
    const next = str(obj(body.meta)?.after_cursor)
    return {
      items,
      next: obj(body.meta)?.has_more === true && next ? encodeCursor({ after: next }) : undefined,
    }
  },

  async listQueues(creds, env) {
    const groups = await allPages(creds, env, '/api/v2/groups', 'groups')
    return groups.flatMap((g): NamedRef[] => {
      const id = str(g.id)
      return id && g.deleted !== true ? [{ id, name: str(g.name) ?? id }] : []
    })
  },

  async listChangedTickets(creds, opts, env) {
    const cursor = decodeCursor<{ cursor: string }>(VENDOR, opts.cursor)?.cursor
    let query: Record<string, string | number>
    if (cursor) query = { cursor }
    else {
      // The export refuses start times within the last minute.
      const latest = env.clock.now().getTime() - 60_000
      const since = Math.min(opts.since?.getTime() ?? 0, latest)
      query = { start_time: Math.max(0, Math.floor(since / 1000)) }
    }
    const res = await call(creds, env, 'GET', '/api/v2/incremental/tickets/cursor', { query })
    const page = expectObject(VENDOR, res.data, 'the incremental export')
    const after = str(page.after_cursor)
    return {
      items: arr(page.tickets).map((t) => toTicket(creds, t)),
      next: page.end_of_stream !== true && after ? encodeCursor({ cursor: after }) : undefined,
    }
  },
}

async function verify(creds: Creds, env: ConnectorEnv) {
  return verifyBy(async () => {
    const res = await call(creds, env, 'GET', '/api/v2/users/me')
    const user = obj(expectObject(VENDOR, res.data, '/users/me').user)
    if (!user || user.id === null || user.id === undefined) {
      throw new VendorError(
        `${VENDOR} did not accept the credentials: /api/v2/users/me answered as an anonymous user ` +
          '(check the email, the API token, and that token access is enabled)',
        401,
      )
    }
    const role = str(user.role)
    if (role === 'end-user') {
      throw new VendorError(
        `${VENDOR}: ${str(user.email) ?? 'this user'} is an end user; tickets need an agent`,
        403,
      )
    }
    return `${str(user.name) ?? str(user.email)} <${str(user.email) ?? creds.email}> (${role})`
  })
}

export const zendesk: Connector = defineConnector(
  credentials,
  psaConnector<Creds>({
    id: 'zendesk',
    displayName: 'Zendesk',
    credentialSchema,
    docsUrl: 'https://developer.zendesk.com/api-reference/ticketing/introduction/',
    verify,
    tickets,
  }),
)
