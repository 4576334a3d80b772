import type { z } from 'zod'
import type { CredentialSchema } from '../../vault/mask.ts'
import { credentialParser, defineConnector, missingCredential } from '../define.ts'
import { overrideBase, toOrigin, verifyBy } from '../shared/credentials.ts'
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
 * ServiceNow Table API on the `incident` table
 * (https://www.servicenow.com/docs/bundle/zurich-api-reference/page/integrate/inbound-rest/concept/c_TableAPI.html),
 * Basic auth with an integration user, or an OAuth bearer token when one is given.
 *
 * - States are codes: 1 New, 2 In Progress, 3 On Hold, 6 Resolved, 7 Closed, 8 Canceled. Resolving and closing
 *   need `close_code` and `close_notes` (a data policy in the base system), so updateStatus sends both.
 * - Internal notes are `work_notes`; public ones are `comments` (both journal fields, written by a PATCH).
 * - Idempotent creation: Patchbay's reference is the incident's `correlation_id` (with correlation_display
 *   "Patchbay"), looked up before creating.
 * - Assignment groups are the queues; `core_company` the companies. Either may be given by sys_id or by name.
 * - Dates in encoded queries are read in the API user's time zone; give the integration user the GMT zone, as
 *   ServiceNow advises for integrations. Record timestamps come back in UTC.
 * - A hibernating developer instance answers 200 with a web page instead of JSON; verify says so.
 */
const VENDOR = 'ServiceNow'
const FIELDS = 'sys_id,number,short_description,state,sys_updated_on'
const PAGE_SIZE = 100

export const credentialSchema = {
  instance: {
    type: 'string',
    sensitive: false,
    destination: true,
    required: true,
    description: 'The instance name ("acme" for https://acme.service-now.com) or its full URL.',
  },
  username: {
    type: 'string',
    sensitive: false,
    required: false,
    description: 'The integration user (Basic auth). Give it the GMT time zone.',
  },
  password: {
    type: 'string',
    sensitive: true,
    required: false,
    description: "The integration user's password.",
  },
  oauthToken: {
    type: 'string',
    sensitive: true,
    required: false,
    description: 'An OAuth access token, used instead of username and password when given.',
  },
  closeCode: {
    type: 'string',
    sensitive: false,
    required: false,
    default: 'Solution provided',
    description: 'The resolution code set when Patchbay resolves or closes an incident.',
  },
  baseUrl: baseUrlField(
    'Calls this host instead of the instance (a proxy, a test stand-in); /api/now/… is appended.',
  ),
} satisfies CredentialSchema

/** The stored credentials as this connector reads them, parsed once at its edge (define.ts). */
const credentials = credentialParser(credentialSchema, missingCredential(VENDOR))
type Creds = z.infer<typeof credentials.schema>

export const STATES: Readonly<Record<string, string>> = {
  '1': 'New',
  '2': 'In Progress',
  '3': 'On Hold',
  '6': 'Resolved',
  '7': 'Closed',
  '8': 'Canceled',
}

/** Impact and urgency giving each priority in the base priority lookup matrix. */
const PRIORITY_MATRIX: Record<string, [number, number]> = {
  '1': [1, 1],
  '2': [1, 2],
  '3': [2, 2],
  '4': [2, 3],
  '5': [3, 3],
}
const PRIORITY_NAMES: Record<string, string> = {
  critical: '1',
  high: '2',
  moderate: '3',
  low: '4',
  planning: '5',
}

function instanceOrigin(creds: Creds): string {
  const raw = creds.instance
  const value = /[./:]/.test(raw) ? raw : `${raw}.service-now.com`
  const u = toOrigin(value)
  if (!u) throw new VendorError(`${VENDOR}: instance "${raw}" is not an instance name or URL`, 400)
  return `${u.protocol}//${u.host}`
}

export function ticketUrl(creds: Creds, sysId: string): string {
  return `${instanceOrigin(creds)}/nav_to.do?uri=${encodeURIComponent(`incident.do?sys_id=${sysId}`)}`
}

function stateCode(status: string): string {
  const s = status.trim()
  if (STATES[s]) return s
  const wanted = s.toLowerCase() === 'cancelled' ? 'canceled' : s.toLowerCase()
  const found = Object.entries(STATES).find(([, label]) => label.toLowerCase() === wanted)
  if (!found) {
    throw new VendorError(
      `${VENDOR}: "${status}" is not an incident state (${Object.values(STATES).join(', ')}, or a state number)`,
      400,
    )
  }
  return found[0]
}

/** ServiceNow errors: `{error: {message, detail}, status: "failure"}`. */
function errorText(body: unknown): string | undefined {
  const e = obj(obj(body)?.error)
  if (!e) return undefined
  return joinMessages(str(e.message), [str(e.detail)?.trim()])
}

function authorization(creds: Creds): string {
  const token = creds.oauthToken
  if (token) return `Bearer ${token}`
  const user = creds.username
  const password = creds.password
  if (!user || !password) {
    throw new VendorError(`${VENDOR}: the connection needs a username and password, or an OAuth token`, 400)
  }
  return basicAuth(user, password)
}

async function call<T = unknown>(
  creds: Creds,
  env: ConnectorEnv,
  method: 'GET' | 'POST' | 'PATCH',
  path: string,
  opts: CallOptions = {},
) {
  return callAuthorized<T>(env, {
    vendor: VENDOR,
    method,
    authorization: authorization(creds),
    url: `${overrideBase(creds) ?? instanceOrigin(creds)}${path}`,
    ...opts,
    credentialSchema,
    creds,
    errorText,
  })
}

/** `{result: …}`, the envelope of every Table API answer. */
function resultOf(data: unknown, what: string): unknown {
  const body = expectObject(VENDOR, data, what)
  if (!('result' in body)) throw new VendorError(`${VENDOR} answered ${what} without a result`, 502)
  return body.result
}

/** ServiceNow's `2026-02-18 12:00:00` (UTC) as ISO 8601. */
function fromGlide(value: unknown): string | undefined {
  const s = str(value)
  if (!s || !/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/.test(s)) return undefined
  return new Date(`${s.replace(' ', 'T')}Z`).toISOString()
}

function toGlide(d: Date): string {
  return d.toISOString().slice(0, 19).replace('T', ' ')
}

/** A value inside an encoded query, where `^` separates conditions. */
function encoded(value: string): string {
  return value.replace(/\^/g, '^^')
}

function toTicket(creds: Creds, data: unknown): ExternalTicket {
  const r = obj(data)
  const id = str(r?.sys_id)
  if (!r || !id) throw new VendorError(`${VENDOR} answered with an incident without a sys_id`, 502)
  const state = str(obj(r.state)?.value) ?? str(r.state) ?? ''
  return {
    id,
    number: str(r.number),
    title: str(r.short_description),
    status: STATES[state] ?? (state || 'unknown'),
    url: ticketUrl(creds, id),
    updatedAt: fromGlide(r.sys_updated_on),
  }
}

const SYS_ID_RE = /^[0-9a-f]{32}$/

/** A reference field's sys_id, looking the record up by name when a name was given. */
async function reference(creds: Creds, env: ConnectorEnv, table: string, value: string, what: string) {
  if (SYS_ID_RE.test(value)) return value
  const res = await call(creds, env, 'GET', `/api/now/table/${table}`, {
    query: { sysparm_query: `name=${encoded(value)}`, sysparm_fields: 'sys_id,name', sysparm_limit: 1 },
  })
  const id = str(obj(arr(resultOf(res.data, table))[0])?.sys_id)
  if (!id) throw new VendorError(`${VENDOR}: there is no ${what} named "${value}"`, 400)
  return id
}

/** One page of a table, by offset, with the next offset when the Link header (or a full page) says there is one. */
async function tablePage(
  creds: Creds,
  env: ConnectorEnv,
  table: string,
  query: string,
  fields: string,
  offset: number,
  limit = PAGE_SIZE,
) {
  const res = await call(creds, env, 'GET', `/api/now/table/${table}`, {
    query: { sysparm_query: query, sysparm_fields: fields, sysparm_limit: limit, sysparm_offset: offset },
  })
  const rows = arr(resultOf(res.data, table))
  return { rows, next: hasNextPage(res.headers, rows.length, limit) ? offset + rows.length : undefined }
}

const tickets: TicketOperations<Creds> = {
  async createTicket(creds, ticket: NewTicket, env) {
    if (ticket.externalRef) {
      const found = await tablePage(
        creds,
        env,
        'incident',
        `correlation_id=${encoded(ticket.externalRef)}`,
        FIELDS,
        0,
        1,
      )
      if (found.rows[0]) return toTicket(creds, found.rows[0])
    }
    const body: Json = {
      short_description: ticket.title.slice(0, 160),
      description: ticket.description,
    }
    if (ticket.externalRef) {
      body.correlation_id = ticket.externalRef.slice(0, 100)
      body.correlation_display = 'Patchbay'
    }
    if (ticket.priority) {
      const p = PRIORITY_NAMES[ticket.priority.trim().toLowerCase()] ?? ticket.priority.trim().slice(0, 1)
      const pair = PRIORITY_MATRIX[p]
      if (!pair) throw new VendorError(`${VENDOR}: priority "${ticket.priority}" is not 1–5`, 400)
      // Priority is derived from impact and urgency by the priority lookup rules; it cannot be set directly.
      body.impact = String(pair[0])
      body.urgency = String(pair[1])
    }
    if (ticket.status) body.state = stateCode(ticket.status)
    if (ticket.queue)
      body.assignment_group = await reference(creds, env, 'sys_user_group', ticket.queue, 'assignment group')
    if (ticket.companyId)
      body.company = await reference(creds, env, 'core_company', ticket.companyId, 'company')
    const res = await call(creds, env, 'POST', '/api/now/table/incident', {
      query: { sysparm_fields: FIELDS, sysparm_exclude_reference_link: 'true' },
      body,
    })
    return toTicket(creds, resultOf(res.data, 'the new incident'))
  },

  async getTicket(creds, id, env) {
    const res = await call(creds, env, 'GET', `/api/now/table/incident/${encodeURIComponent(id)}`, {
      query: { sysparm_fields: FIELDS, sysparm_exclude_reference_link: 'true' },
    })
    return toTicket(creds, resultOf(res.data, 'the incident'))
  },

  async updateStatus(creds, id, status, env) {
    const state = stateCode(status)
    const body: Json = { state }
    if (state === '6' || state === '7') {
      body.close_code = creds.closeCode ?? 'Solution provided'
      body.close_notes = `${STATES[state]} through Patchbay.`
    }
    const res = await call(creds, env, 'PATCH', `/api/now/table/incident/${encodeURIComponent(id)}`, {
      query: { sysparm_fields: FIELDS, sysparm_exclude_reference_link: 'true' },
      body,
    })
    return toTicket(creds, resultOf(res.data, 'the incident'))
  },

  async addNote(creds, id, note, env) {
    await call(creds, env, 'PATCH', `/api/now/table/incident/${encodeURIComponent(id)}`, {
      query: { sysparm_fields: 'sys_id' },
      body: note.internal ? { work_notes: note.text } : { comments: note.text },
    })
  },

  async listCompanies(creds, page, env) {
    const offset = decodeCursor<{ offset: number }>(VENDOR, page.cursor)?.offset ?? 0
    const { rows, next } = await tablePage(creds, env, 'core_company', 'ORDERBYname', 'sys_id,name', offset)
    const items = namedRefs(rows, 'sys_id')
    return { items, next: next === undefined ? undefined : encodeCursor({ offset: next }) }
  },

  async listQueues(creds, env) {
    const groups: NamedRef[] = []
    let offset: number | undefined = 0
    for (let guard = 0; offset !== undefined && guard < 100; guard++) {
      const page = await tablePage(
        creds,
        env,
        'sys_user_group',
        'active=true^ORDERBYname',
        'sys_id,name',
        offset,
        500,
      )
      groups.push(...namedRefs(page.rows, 'sys_id'))
      offset = page.rows.length ? page.next : undefined
    }
    return groups
  },

  async listChangedTickets(creds, opts, env) {
    const cursor = decodeCursor<{ offset: number; since: string | null }>(VENDOR, opts.cursor)
    const since = cursor ? cursor.since : opts.since?.toISOString()
    const offset = cursor?.offset ?? 0
    // Second precision: >= the second `since` falls in, so nothing changed within that second is missed.
    const query = since
      ? `sys_updated_on>=${toGlide(new Date(since))}^ORDERBYsys_updated_on`
      : 'ORDERBYsys_updated_on'
    const page = await tablePage(creds, env, 'incident', query, FIELDS, offset)
    return {
      items: page.rows.map((r) => toTicket(creds, r)),
      next: page.next === undefined ? undefined : encodeCursor({ offset: page.next, since: since ?? null }),
    }
  },
}

async function verify(creds: Creds, env: ConnectorEnv) {
  return verifyBy(async () => {
    const user = creds.username
    const useUser = user && !creds.oauthToken
    const res = await call(creds, env, 'GET', `/api/now/table/${useUser ? 'sys_user' : 'incident'}`, {
      query: useUser
        ? {
            sysparm_query: `user_name=${encoded(user)}`,
            sysparm_fields: 'sys_id,user_name,name',
            sysparm_limit: 1,
          }
        : { sysparm_fields: 'sys_id', sysparm_limit: 1 },
    })
    if (typeof res.data === 'string' && /hibernat/i.test(res.data)) {
      throw new VendorError(`${VENDOR}: the instance is hibernating; wake it up and try again`, 503)
    }
    const rows = arr(resultOf(res.data, 'the verification query'))
    const name = str(obj(rows[0])?.name)
    const host = new URL(instanceOrigin(creds)).host
    return useUser ? `${name ?? user} on ${host}` : host
  })
}

export const servicenow: Connector = defineConnector(
  credentials,
  psaConnector<Creds>({
    id: 'servicenow',
    displayName: 'ServiceNow',
    // Basic auth or an OAuth token: a connection with neither can never authenticate.
    credentialRules: [
      {
        oneOf: [['username', 'password'], ['oauthToken']],
        description: 'Give username and password (Basic auth), or oauthToken.',
      },
    ],
    credentialSchema,
    docsUrl:
      'https://www.servicenow.com/docs/bundle/zurich-api-reference/page/integrate/inbound-rest/concept/c_TableAPI.html',
    verify,
    tickets,
  }),
)
