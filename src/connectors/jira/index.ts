import type { z } from 'zod'
import type { CredentialSchema } from '../../vault/mask.ts'
import { credentialParser, defineConnector, missingCredential } from '../define.ts'
import { textToAdf } from '../shared/adf.ts'
import { isoDate, overrideBase, toOrigin, verifyBy } from '../shared/credentials.ts'
import { decodeCursor, encodeCursor } from '../shared/cursor.ts'
import { arr, expectObject, joinMessages, obj, str } from '../shared/json.ts'
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
 * Jira Cloud platform REST API v3 (https://developer.atlassian.com/cloud/jira/platform/rest/v3/), Basic auth with
 * an account email and API token. Descriptions and comments are Atlassian Document Format.
 *
 * - Status changes go through the workflow: the transition whose target status has the wanted name is applied.
 * - Internal notes carry the `sd.public.comment` property `{internal: true}`, which Jira Service Management reads
 *   as "internal comment" (https://developer.atlassian.com/cloud/jira/service-desk/rest/intro/#internal-comments);
 *   in Jira Software it is an inert entity property.
 * - Idempotent creation: Patchbay's reference becomes the label `patchbay-<ref>`, and createTicket searches the
 *   project for it first. Jira has no external-id field; JQL search is near-real-time, so a retry within seconds
 *   of the first creation may not see it yet.
 * - Jira has no company entity: listCompanies is empty and `list_companies` is not advertised. Projects are the
 *   queues.
 * - JQL dates are read in the API user's own time zone, to the minute; the changed-tickets search converts.
 */
const VENDOR = 'Jira'
const FIELDS = 'summary,status,updated'
const PAGE_SIZE = 100

export const credentialSchema = {
  siteUrl: {
    type: 'url',
    sensitive: false,
    destination: true,
    required: true,
    description: 'The Jira Cloud site, e.g. https://acme.atlassian.net. Ticket links point here.',
  },
  email: {
    type: 'string',
    sensitive: false,
    required: true,
    description: 'The Atlassian account email the API token belongs to.',
  },
  apiToken: {
    type: 'string',
    sensitive: true,
    required: true,
    description: 'An API token from https://id.atlassian.com/manage-profile/security/api-tokens.',
  },
  projectKey: {
    type: 'string',
    sensitive: false,
    required: false,
    pattern: '^[A-Z][A-Z0-9_]+$',
    description: 'The project issues are created in when no project is given, e.g. OPS.',
  },
  issueType: {
    type: 'string',
    sensitive: false,
    required: false,
    default: 'Task',
    description: 'The issue type of created issues, by name.',
  },
  baseUrl: baseUrlField(
    'Calls this host instead of the site (a proxy, a test stand-in); /rest/api/3/… is appended.',
  ),
} satisfies CredentialSchema

/** The stored credentials as this connector reads them, parsed once at its edge (define.ts). */
const credentials = credentialParser(credentialSchema, missingCredential(VENDOR))
type Creds = z.infer<typeof credentials.schema>

function site(creds: Creds): string {
  const raw = creds.siteUrl
  const u = toOrigin(raw)
  if (!u) throw new VendorError(`${VENDOR}: siteUrl "${raw}" is not a URL`, 400)
  return `${u.protocol}//${u.host}`
}

/** Jira errors: `{errorMessages: [..], errors: {field: message}}`. */
function errorText(body: unknown): string | undefined {
  const b = obj(body)
  if (!b) return undefined
  const messages = arr(b.errorMessages).map(str)
  const fields = Object.entries(obj(b.errors) ?? {}).map(([k, v]) => (str(v) ? `${k}: ${str(v)}` : undefined))
  const all = [...messages, ...fields].filter((m): m is string => !!m)
  return all.length ? joinMessages(all[0], all.slice(1)) : undefined
}

async function call<T = unknown>(
  creds: Creds,
  env: ConnectorEnv,
  method: 'GET' | 'POST',
  path: string,
  opts: CallOptions = {},
) {
  const email = creds.email
  const token = creds.apiToken
  return callAuthorized<T>(env, {
    vendor: VENDOR,
    method,
    authorization: basicAuth(email, token),
    url: `${overrideBase(creds) ?? site(creds)}${path}`,
    ...opts,
    credentialSchema,
    creds,
    errorText,
  })
}

function toTicket(creds: Creds, data: unknown): ExternalTicket {
  const issue = expectObject(VENDOR, data, 'an issue')
  const id = str(issue.id)
  const key = str(issue.key)
  if (!id || !key) throw new VendorError(`${VENDOR} answered with an issue without id or key`, 502)
  const fields = obj(issue.fields) ?? {}
  return {
    id,
    number: key,
    title: str(fields.summary),
    status: str(obj(fields.status)?.name) ?? 'unknown',
    url: `${site(creds)}/browse/${key}`,
    updatedAt: isoDate(normaliseJiraTime(str(fields.updated))),
  }
}

/** Jira writes offsets without a colon (`+0000`); make them ISO 8601. */
function normaliseJiraTime(value: string | undefined): string | undefined {
  return value?.replace(/([+-]\d{2})(\d{2})$/, '$1:$2')
}

function jqlString(value: string): string {
  return `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`
}

/** Labels cannot contain spaces. */
export function referenceLabel(ref: string): string {
  return `patchbay-${ref.replace(/\s+/g, '_')}`.slice(0, 255)
}

async function getIssue(creds: Creds, id: string, env: ConnectorEnv) {
  const res = await call(creds, env, 'GET', `/rest/api/3/issue/${encodeURIComponent(id)}`, {
    query: { fields: FIELDS },
  })
  return toTicket(creds, res.data)
}

async function search(
  creds: Creds,
  env: ConnectorEnv,
  jql: string,
  maxResults: number,
  nextPageToken?: string,
) {
  const res = await call(creds, env, 'GET', '/rest/api/3/search/jql', {
    query: { jql, maxResults, fields: FIELDS, nextPageToken },
  })
  const page = expectObject(VENDOR, res.data, 'the search')
  const token = str(page.nextPageToken)
  return {
    issues: arr(page.issues).map((i) => toTicket(creds, i)),
    next: page.isLast === true || !token ? undefined : token,
  }
}

/** `yyyy/MM/dd HH:mm` in the API user's time zone, as JQL reads absolute dates. */
export function jqlDate(d: Date, timeZone: string): string {
  let parts: Intl.DateTimeFormatPart[]
  try {
    parts = new Intl.DateTimeFormat('en-US', {
      timeZone,
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      hourCycle: 'h23',
    }).formatToParts(d)
  } catch {
    return jqlDate(d, 'UTC')
  }
  const p = (type: string) => parts.find((x) => x.type === type)?.value ?? '00'
  return `${p('year')}/${p('month')}/${p('day')} ${p('hour')}:${p('minute')}`
}

async function transitionTo(creds: Creds, current: ExternalTicket, status: string, env: ConnectorEnv) {
  const want = status.trim().toLowerCase()
  if (current.status.toLowerCase() === want) return
  const path = `/rest/api/3/issue/${encodeURIComponent(current.id)}/transitions`
  const res = await call(creds, env, 'GET', path)
  const transitions = arr(expectObject(VENDOR, res.data, 'the transitions').transitions).map((t) => {
    const o = obj(t) ?? {}
    return { id: str(o.id), name: str(o.name) ?? '', to: str(obj(o.to)?.name) ?? '' }
  })
  const chosen =
    transitions.find((t) => t.to.toLowerCase() === want) ??
    transitions.find((t) => t.name.toLowerCase() === want || t.id === status.trim())
  if (!chosen?.id) {
    const offered = transitions.map((t) => `"${t.to}"`).join(', ') || 'none'
    throw new VendorError(
      `${VENDOR}: issue ${current.number} cannot move from "${current.status}" to "${status}"; its workflow offers ${offered}`,
      409,
    )
  }
  await call(creds, env, 'POST', path, { body: { transition: { id: chosen.id } } })
}

const tickets: TicketOperations<Creds> = {
  async createTicket(creds, ticket: NewTicket, env) {
    const project = ticket.queue ?? creds.projectKey
    if (!project) {
      throw new VendorError(
        `${VENDOR}: no project to create the issue in (set a project key on the connection)`,
        400,
      )
    }
    const label = ticket.externalRef ? referenceLabel(ticket.externalRef) : undefined
    if (label) {
      const found = await search(
        creds,
        env,
        `project = ${jqlString(project)} AND labels = ${jqlString(label)}`,
        1,
      )
      if (found.issues[0]) return found.issues[0]
    }
    const fields: Record<string, unknown> = {
      project: /^\d+$/.test(project) ? { id: project } : { key: project },
      issuetype: { name: creds.issueType ?? 'Task' },
      // Summaries are one line of at most 255 characters.
      summary: ticket.title.replace(/\s*[\r\n]+\s*/g, ' ').slice(0, 255),
      description: textToAdf(ticket.description),
    }
    if (label) fields.labels = [label]
    if (ticket.priority)
      fields.priority = /^\d+$/.test(ticket.priority) ? { id: ticket.priority } : { name: ticket.priority }
    const res = await call(creds, env, 'POST', '/rest/api/3/issue', { body: { fields } })
    const id = str(expectObject(VENDOR, res.data, 'the new issue').id)
    if (!id) throw new VendorError(`${VENDOR} created an issue but did not say its id`, 502)
    let issue = await getIssue(creds, id, env)
    if (ticket.status) {
      await transitionTo(creds, issue, ticket.status, env)
      issue = await getIssue(creds, id, env)
    }
    return issue
  },

  getTicket: getIssue,

  async updateStatus(creds, id, status, env) {
    const current = await getIssue(creds, id, env)
    if (current.status.toLowerCase() === status.trim().toLowerCase()) return current
    await transitionTo(creds, current, status, env)
    return getIssue(creds, id, env)
  },

  async addNote(creds, id, note, env) {
    await call(creds, env, 'POST', `/rest/api/3/issue/${encodeURIComponent(id)}/comment`, {
      body: {
        body: textToAdf(note.text),
        ...(note.internal ? { properties: [{ key: 'sd.public.comment', value: { internal: true } }] } : {}),
      },
    })
  },

  async listCompanies() {
    return { items: [] }
  },

  async listQueues(creds, env) {
    const projects: NamedRef[] = []
    let startAt = 0
    for (let guard = 0; guard < 100; guard++) {
      const res = await call(creds, env, 'GET', '/rest/api/3/project/search', {
        query: { startAt, maxResults: 50, orderBy: 'key' },
      })
      const page = expectObject(VENDOR, res.data, 'the project search')
      const values = arr(page.values)
      projects.push(...namedRefs(values, 'key'))
      if (page.isLast !== false || values.length === 0) break
      startAt += values.length
    }
    return projects
  },

  async listChangedTickets(creds, opts, env) {
    const cursor = decodeCursor<{ jql: string; token: string }>(VENDOR, opts.cursor)
    let jql = cursor?.jql
    if (!jql) {
      const me = await call(creds, env, 'GET', '/rest/api/3/myself')
      const timeZone = str(obj(me.data)?.timeZone) ?? 'UTC'
      jql = `updated >= ${jqlString(jqlDate(opts.since ?? new Date(0), timeZone))} ORDER BY updated ASC`
    }
    const page = await search(creds, env, jql, PAGE_SIZE, cursor?.token)
    return { items: page.issues, next: page.next ? encodeCursor({ jql, token: page.next }) : undefined }
  },
}

async function verify(creds: Creds, env: ConnectorEnv) {
  return verifyBy(async () => {
    const res = await call(creds, env, 'GET', '/rest/api/3/myself')
    const me = expectObject(VENDOR, res.data, '/myself')
    if (!str(me.accountId))
      throw new VendorError(`${VENDOR}: the credentials did not identify an account`, 401)
    const name = str(me.displayName)
    const email = str(me.emailAddress)
    return name && email ? `${name} <${email}>` : (name ?? email ?? str(me.accountId))
  })
}

export const jira: Connector = defineConnector(
  credentials,
  psaConnector<Creds>({
    id: 'jira',
    displayName: 'Jira',
    // Jira has no company entity, so no `list_companies`.
    capabilities: ['create_ticket', 'update_ticket_status', 'add_ticket_note', 'list_queues', 'sync_tickets'],
    credentialSchema,
    docsUrl: 'https://developer.atlassian.com/cloud/jira/platform/rest/v3/',
    verify,
    tickets,
  }),
)
