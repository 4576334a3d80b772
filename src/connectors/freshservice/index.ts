import type { z } from 'zod'
import type { CredentialSchema } from '../../vault/mask.ts'
import { credentialParser, defineConnector, missingCredential } from '../define.ts'
import { isoDate, overrideBase, toOrigin, verifyBy } from '../shared/credentials.ts'
import { decodeCursor, encodeCursor } from '../shared/cursor.ts'
import { arr, expectObject, type Json, joinMessages, obj, str } from '../shared/json.ts'
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
  NamedRef,
  NewTicket,
  TicketOperations,
} from '../types.ts'
import { VendorError } from '../vendor-error.ts'
import { basicAuth } from '../vendor-http.ts'

/**
 * Freshservice API v2 (https://api.freshservice.com/), Basic auth with the API key as the user name and `X` as the
 * password.
 *
 * - Statuses and priorities are numbers: status 2 Open, 3 Pending, 4 Resolved, 5 Closed; priority 1 Low,
 *   2 Medium, 3 High, 4 Urgent. Both are accepted by number or by name.
 * - A ticket needs a requester: the connection's requesterEmail, else the API key's own agent.
 * - Departments are the companies; agent groups the queues.
 * - Listing tickets returns only those created in the last 30 days unless `updated_since` is given, so the
 *   changed-tickets list always sends it. The list is ordered by creation, not by change; each page is sorted by
 *   update time.
 * - Freshservice has no field for an external reference, so creation is not idempotent at the vendor;
 *   Patchbay's own ticket mapping is the guard against duplicates.
 */
const VENDOR = 'Freshservice'
const PAGE_SIZE = 100

export const credentialSchema = {
  domain: {
    type: 'string',
    sensitive: false,
    destination: true,
    required: true,
    description: 'The helpdesk domain: "acme" or "acme.freshservice.com", or a custom domain.',
  },
  apiKey: {
    type: 'string',
    sensitive: true,
    required: true,
    description: "An agent's API key (Profile settings > Your API Key).",
  },
  requesterEmail: {
    type: 'string',
    sensitive: false,
    required: false,
    pattern: '^[^@\\s]+@[^@\\s]+$',
    description: "The requester of tickets Patchbay creates; defaults to the API key's agent.",
  },
  baseUrl: baseUrlField(
    'Calls this host instead of the helpdesk domain (a proxy, a test stand-in); /api/v2/… is appended.',
  ),
} satisfies CredentialSchema

/** The stored credentials as this connector reads them, parsed once at its edge (define.ts). */
const credentials = credentialParser(credentialSchema, missingCredential(VENDOR))
type Creds = z.infer<typeof credentials.schema>

export const STATUSES: Readonly<Record<string, string>> = {
  '2': 'Open',
  '3': 'Pending',
  '4': 'Resolved',
  '5': 'Closed',
}
const PRIORITIES: Readonly<Record<string, string>> = { '1': 'Low', '2': 'Medium', '3': 'High', '4': 'Urgent' }

function origin(creds: Pick<Creds, 'domain'>): string {
  const raw = creds.domain
  const u = toOrigin(/[.:/]/.test(raw) ? raw : `${raw}.freshservice.com`)
  if (!u) throw new VendorError(`${VENDOR}: domain "${raw}" is not a domain`, 400)
  return `https://${u.host.toLowerCase()}`
}

export function ticketUrl(creds: Pick<Creds, 'domain'>, id: string): string {
  return `${origin(creds)}/a/tickets/${id}`
}

/** A status or priority by number or by name. */
function code(table: Readonly<Record<string, string>>, value: string, what: string): number {
  const v = value.trim()
  if (table[v]) return Number(v)
  const found = Object.entries(table).find(([, label]) => label.toLowerCase() === v.toLowerCase())
  if (!found)
    throw new VendorError(
      `${VENDOR}: "${value}" is not a ticket ${what} (${Object.values(table).join(', ')})`,
      400,
    )
  return Number(found[0])
}

/**
 * Freshservice errors: `{description: "Validation failed", errors: [{field, message, code}]}`, or
 * `{code, message}`.
 */
function errorText(body: unknown): string | undefined {
  const b = obj(body)
  if (!b) return undefined
  const details = arr(b.errors).map((e) => {
    const o = obj(e)
    const message = str(o?.message)
    const field = str(o?.field)
    return message && field ? `${field}: ${message}` : message
  })
  return joinMessages(str(b.description) ?? str(b.message), details)
}

async function call<T = unknown>(
  creds: Creds,
  env: ConnectorEnv,
  method: 'GET' | 'POST' | 'PUT',
  path: string,
  opts: CallOptions = {},
) {
  const key = creds.apiKey
  return callAuthorized<T>(env, {
    vendor: VENDOR,
    method,
    authorization: basicAuth(key, 'X'),
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
  const status = str(t.status) ?? ''
  return {
    id,
    title: str(t.subject),
    status: STATUSES[status] ?? (status || 'unknown'),
    url: ticketUrl(creds, id),
    updatedAt: isoDate(t.updated_at),
  }
}

function ticketOf(creds: Creds, data: unknown): ExternalTicket {
  return toTicket(creds, expectObject(VENDOR, data, 'a ticket request').ticket)
}

/** Plain text as the HTML Freshservice keeps descriptions and notes in. */
function html(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/\r?\n/g, '<br>')
}

async function page(
  creds: Creds,
  env: ConnectorEnv,
  path: string,
  key: string,
  n: number,
  query: Record<string, string | number | undefined> = {},
) {
  const res = await call(creds, env, 'GET', path, { query: { ...query, per_page: PAGE_SIZE, page: n } })
  const rows = arr(expectObject(VENDOR, res.data, path)[key])
  // The Link header announces a next page; without one, a full page may still be followed by more.
  return { rows, next: hasNextPage(res.headers, rows.length, PAGE_SIZE) ? n + 1 : undefined }
}

async function named(creds: Creds, env: ConnectorEnv, path: string, key: string): Promise<NamedRef[]> {
  const out: NamedRef[] = []
  let n: number | undefined = 1
  for (let guard = 0; n !== undefined && guard < 100; guard++) {
    const p: { rows: unknown[]; next: number | undefined } = await page(creds, env, path, key, n)
    out.push(...namedRefs(p.rows))
    n = p.rows.length ? p.next : undefined
  }
  return out
}

async function groupId(creds: Creds, env: ConnectorEnv, queue: string): Promise<number> {
  if (/^\d+$/.test(queue)) return Number(queue)
  const found = (await named(creds, env, '/api/v2/groups', 'groups')).find(
    (g) => g.name.toLowerCase() === queue.toLowerCase(),
  )
  if (!found) throw new VendorError(`${VENDOR}: there is no agent group named "${queue}"`, 400)
  return Number(found.id)
}

async function me(creds: Creds, env: ConnectorEnv): Promise<Json> {
  const res = await call(creds, env, 'GET', '/api/v2/agents/me')
  const agent = obj(expectObject(VENDOR, res.data, '/agents/me').agent)
  if (!agent) throw new VendorError(`${VENDOR} answered /agents/me without an agent`, 502)
  return agent
}

const tickets: TicketOperations<Creds> = {
  async createTicket(creds, ticket: NewTicket, env) {
    const email = creds.requesterEmail ?? str((await me(creds, env)).email)
    if (!email) throw new VendorError(`${VENDOR}: no requester for the ticket (set requesterEmail)`, 400)
    const body: Json = {
      subject: ticket.title,
      description: html(ticket.description || ticket.title),
      email,
      priority: ticket.priority ? code(PRIORITIES, ticket.priority, 'priority') : 2,
      status: ticket.status ? code(STATUSES, ticket.status, 'status') : 2,
      // 2 = Portal: the ticket did not come from an email or a phone call.
      source: 2,
    }
    if (ticket.queue) body.group_id = await groupId(creds, env, ticket.queue)
    if (ticket.companyId) {
      if (!/^\d+$/.test(ticket.companyId)) {
        throw new VendorError(`${VENDOR}: department "${ticket.companyId}" is not a department id`, 400)
      }
      body.department_id = Number(ticket.companyId)
    }
    const res = await call(creds, env, 'POST', '/api/v2/tickets', { body })
    return ticketOf(creds, res.data)
  },

  async getTicket(creds, id, env) {
    return ticketOf(creds, (await call(creds, env, 'GET', `/api/v2/tickets/${encodeURIComponent(id)}`)).data)
  },

  async updateStatus(creds, id, status, env) {
    const res = await call(creds, env, 'PUT', `/api/v2/tickets/${encodeURIComponent(id)}`, {
      body: { status: code(STATUSES, status, 'status') },
    })
    return ticketOf(creds, res.data)
  },

  async addNote(creds, id, note, env) {
    await call(creds, env, 'POST', `/api/v2/tickets/${encodeURIComponent(id)}/notes`, {
      body: { body: html(note.text), private: note.internal },
    })
  },

  async listCompanies(creds, cursor, env) {
    const n = decodeCursor<{ page: number }>(VENDOR, cursor.cursor)?.page ?? 1
    const p = await page(creds, env, '/api/v2/departments', 'departments', n)
    const items = namedRefs(p.rows)
    return { items, next: p.next && items.length ? encodeCursor({ page: p.next }) : undefined }
  },

  listQueues: (creds, env) => named(creds, env, '/api/v2/groups', 'groups'),

  async listChangedTickets(creds, opts, env) {
    const cursor = decodeCursor<{ page: number; since: string }>(VENDOR, opts.cursor)
    const since = cursor?.since ?? (opts.since ?? new Date(0)).toISOString().replace(/\.\d{3}Z$/, 'Z')
    const n = cursor?.page ?? 1
    const p = await page(creds, env, '/api/v2/tickets', 'tickets', n, {
      updated_since: since,
      order_type: 'asc',
    })
    const items = p.rows
      .map((t) => toTicket(creds, t))
      .sort((a, b) => (a.updatedAt ?? '').localeCompare(b.updatedAt ?? ''))
    return { items, next: p.next && items.length ? encodeCursor({ page: p.next, since }) : undefined }
  },
}

async function verify(creds: Creds, env: ConnectorEnv) {
  return verifyBy(async () => {
    const agent = await me(creds, env)
    const name = [str(agent.first_name), str(agent.last_name)].filter(Boolean).join(' ')
    const email = str(agent.email)
    return name && email ? `${name} <${email}>` : name || email
  })
}

export const freshservice: Connector = defineConnector(
  credentials,
  psaConnector<Creds>({
    id: 'freshservice',
    displayName: 'Freshservice',
    credentialSchema,
    docsUrl: 'https://api.freshservice.com/',
    verify,
    tickets,
  }),
)
