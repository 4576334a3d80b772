/**
 * Jira Cloud REST v3 stand-in, after Atlassian's OpenAPI document (swagger-v3.v3.json): the paths, parameters and
 * shapes of /rest/api/3/myself, issue (create, get), issue transitions (get, post), issue comment (post),
 * project/search and search/jql.
 *
 * Checks: Basic `email:apiToken`; create bodies (`fields.project` {key|id} of an existing project, an issue type the
 * project has, a one-line summary under 255 characters, `description` as an Atlassian Document, labels without
 * spaces, a known priority); comment bodies in ADF; transition ids valid for the issue's current status; JQL that
 * is bounded and uses only `project`, `labels`, `key`, `status`, `updated`, `created` with AND, dates read in the
 * API user's time zone (`yyyy/MM/dd HH:mm`, `yyyy-MM-dd`, …); `nextPageToken` paging. Errors are Jira's
 * `{errorMessages: [...], errors: {field: message}}`; unauthenticated calls get 401 with Jira's plain-text message.
 *
 * API for tests (beside the PsaStandIn view, see standin.ts):
 *   const jira = await new JiraStandIn({ clock, timeZone: 'Europe/Berlin' }).start()
 *   jira.credentials                   // siteUrl, email, apiToken, projectKey, issueType, baseUrl
 *   jira.raw.issues / jira.raw.projects   // Jira-shaped records
 *   jira.addProjects(70)               // more projects, for paging
 *   jira.addIssue({ summary, status }) // an issue made "by someone else"
 *   jira.setStatus('OPS-1', 'Done')    // by key or id; bumps `updated`
 *   jira.failNext(429, { retryAfter: 10 })
 */
import { type AdfDoc, adfToText, isAdfDoc } from '../../src/connectors/shared/adf.ts'
import {
  basicCredentials,
  CredentialedStandIn,
  type CredentialOptions,
  objectBody,
  type PsaStandIn,
  type RecordedRequest,
  type Reply,
  type StandInTicket,
} from './standin.ts'

export interface JiraProject {
  id: string
  key: string
  name: string
  issueTypes: string[]
}
export interface JiraComment {
  id: string
  body: AdfDoc
  properties: { key: string; value: unknown }[]
  created: string
}
export interface JiraIssue {
  id: string
  key: string
  projectKey: string
  summary: string
  description?: AdfDoc
  issueType: string
  status: string
  labels: string[]
  priority: string
  comments: JiraComment[]
  created: string
  updated: string
}

const STATUSES: Record<string, { id: string; category: { key: string; name: string } }> = {
  'To Do': { id: '10000', category: { key: 'new', name: 'To Do' } },
  'In Progress': { id: '3', category: { key: 'indeterminate', name: 'In Progress' } },
  Done: { id: '10001', category: { key: 'done', name: 'Done' } },
}
/** Global transitions, named differently from their target status, as workflows often are. */
const TRANSITIONS = [
  { id: '11', name: 'Reopen', to: 'To Do' },
  { id: '21', name: 'Start work', to: 'In Progress' },
  { id: '31', name: 'Resolve issue', to: 'Done' },
]
const PRIORITIES = ['Highest', 'High', 'Medium', 'Low', 'Lowest']

const DEFAULT_CREDENTIALS = {
  siteUrl: 'https://acme.atlassian.net',
  email: 'ops@acme.example',
  apiToken: 'ATATT3xFfGF0-standin-token-7d2c9e',
  projectKey: 'OPS',
  issueType: 'Task',
}

const UNAUTHENTICATED = 'Client must be authenticated to access this resource.'

/** Jira's timestamp form: `2026-02-18T12:00:00.000+0000`. */
function jiraTime(d: Date): string {
  return d.toISOString().replace('Z', '+0000')
}

export class JiraStandIn extends CredentialedStandIn<typeof DEFAULT_CREDENTIALS> implements PsaStandIn {
  readonly vendor = 'jira'
  readonly referenceField = 'labels'
  readonly defaults = { queue: 'OPS', priority: 'High' }
  readonly statuses = { initial: 'To Do', inProgress: 'In Progress', resolved: 'Done' }
  readonly raw: { issues: JiraIssue[]; projects: JiraProject[] }
  readonly timeZone: string
  #nextId = 10001
  #nextComment = 20001

  constructor(opts: CredentialOptions<typeof DEFAULT_CREDENTIALS> & { timeZone?: string } = {}) {
    super(DEFAULT_CREDENTIALS, opts)
    this.timeZone = opts.timeZone ?? 'UTC'
    this.raw = {
      issues: [],
      projects: [
        { id: '10000', key: 'OPS', name: 'Operations', issueTypes: ['Task', 'Bug', 'Incident'] },
        { id: '10001', key: 'HD', name: 'Help Desk', issueTypes: ['Task'] },
      ],
    }
  }

  addProjects(count: number): JiraProject[] {
    const added = Array.from({ length: count }, (_, i) => {
      const n = this.raw.projects.length + i
      return {
        id: String(11000 + n),
        key: `P${String(n).padStart(3, '0')}`,
        name: `Project ${n}`,
        issueTypes: ['Task'],
      }
    })
    this.raw.projects.push(...added)
    return added
  }

  addIssue(i: { summary: string; status?: string; projectKey?: string; labels?: string[] }): JiraIssue {
    const project = this.raw.projects.find((p) => p.key === (i.projectKey ?? 'OPS')) as JiraProject
    const now = jiraTime(this.now())
    const issue: JiraIssue = {
      id: String(this.#nextId++),
      key: `${project.key}-${this.raw.issues.filter((x) => x.projectKey === project.key).length + 1}`,
      projectKey: project.key,
      summary: i.summary,
      issueType: 'Task',
      status: i.status ?? 'To Do',
      labels: i.labels ?? [],
      priority: 'Medium',
      comments: [],
      created: now,
      updated: now,
    }
    this.raw.issues.push(issue)
    return issue
  }

  tickets(): StandInTicket[] {
    return this.raw.issues.map((i) => ({
      id: i.id,
      number: i.key,
      title: i.summary,
      status: i.status,
      queue: i.projectKey,
      priority: i.priority,
      externalRef: i.labels.find((l) => l.startsWith('patchbay-'))?.slice('patchbay-'.length),
      notes: i.comments.map((c) => ({
        text: adfToText(c.body),
        internal: c.properties.some(
          (p) => p.key === 'sd.public.comment' && (p.value as { internal?: unknown })?.internal === true,
        ),
      })),
      createdAt: new Date(i.created),
      updatedAt: new Date(i.updated),
    }))
  }

  ticket(id: string): StandInTicket | undefined {
    return this.tickets().find((t) => t.id === id || t.number === id)
  }

  setStatus(idOrKey: string, status: string): void {
    const issue = this.#find(idOrKey)
    if (!issue) throw new Error(`no Jira issue ${idOrKey}`)
    if (!STATUSES[status]) throw new Error(`no Jira status ${status}`)
    issue.status = status
    issue.updated = jiraTime(this.now())
  }

  #find(idOrKey: string): JiraIssue | undefined {
    return this.raw.issues.find((i) => i.id === idOrKey || i.key === idOrKey)
  }

  protected errorReply(status: number): Reply {
    if (status === 401) return { status, body: UNAUTHENTICATED }
    const messages: Record<number, string> = {
      400: 'The request is invalid.',
      403: 'You do not have permission to perform this operation.',
      404: 'Issue does not exist or you do not have permission to see it.',
      429: 'Rate limit exceeded.',
      500: 'Internal server error',
      503: 'Service Unavailable',
    }
    return { status, body: { errorMessages: [messages[status] ?? `HTTP ${status}`], errors: {} } }
  }

  #bad(errorMessages: string[], errors: Record<string, string> = {}): Reply {
    return { status: 400, body: { errorMessages, errors } }
  }

  protected handle(req: RecordedRequest): Reply {
    const auth = basicCredentials(req.headers)
    if (!auth || auth.user !== this.valid.email || auth.password !== this.valid.apiToken) {
      return {
        status: 401,
        body: UNAUTHENTICATED,
        headers: { 'www-authenticate': 'Basic realm="protected-area"' },
      }
    }
    const p = req.path
    if (req.method === 'GET' && p === '/rest/api/3/myself') {
      return {
        status: 200,
        body: {
          self: `${this.url}/rest/api/3/user?accountId=5b10a2844c20165700ede21g`,
          accountId: '5b10a2844c20165700ede21g',
          accountType: 'atlassian',
          emailAddress: this.valid.email,
          displayName: 'Patchbay Bot',
          active: true,
          timeZone: this.timeZone,
          locale: 'en_US',
        },
      }
    }
    if (req.method === 'POST' && p === '/rest/api/3/issue') return this.#create(req)
    if (req.method === 'GET' && p === '/rest/api/3/project/search') return this.#projects(req)
    if (req.method === 'GET' && p === '/rest/api/3/search/jql') return this.#search(req)
    const m = /^\/rest\/api\/3\/issue\/([^/]+)(\/transitions|\/comment)?$/.exec(p)
    if (m) {
      const issue = this.#find(decodeURIComponent(m[1] ?? ''))
      if (!issue) return { status: 404, body: { errorMessages: [this.#notFound()], errors: {} } }
      if (!m[2] && req.method === 'GET')
        return { status: 200, body: this.#view(issue, req.query.get('fields')) }
      if (m[2] === '/transitions' && req.method === 'GET') {
        return {
          status: 200,
          body: {
            expand: 'transitions',
            transitions: TRANSITIONS.filter((t) => t.to !== issue.status).map((t) => ({
              id: t.id,
              name: t.name,
              to: { name: t.to, id: STATUSES[t.to]?.id, statusCategory: STATUSES[t.to]?.category },
              hasScreen: false,
              isGlobal: true,
              isInitial: false,
              isAvailable: true,
              isConditional: false,
              isLooped: false,
            })),
          },
        }
      }
      if (m[2] === '/transitions' && req.method === 'POST') return this.#transition(req, issue)
      if (m[2] === '/comment' && req.method === 'POST') return this.#comment(req, issue)
    }
    return { status: 404, body: { errorMessages: [`null for uri: ${this.url}${p}`], errors: {} } }
  }

  #notFound() {
    return 'Issue does not exist or you do not have permission to see it.'
  }

  #view(issue: JiraIssue, fieldsParam: string | null) {
    const project = this.raw.projects.find((x) => x.key === issue.projectKey) as JiraProject
    const all: Record<string, unknown> = {
      summary: issue.summary,
      description: issue.description ?? null,
      issuetype: { name: issue.issueType },
      project: { id: project.id, key: project.key, name: project.name },
      status: {
        name: issue.status,
        id: STATUSES[issue.status]?.id,
        statusCategory: STATUSES[issue.status]?.category,
      },
      labels: issue.labels,
      priority: { name: issue.priority },
      created: issue.created,
      updated: issue.updated,
    }
    const wanted = fieldsParam?.split(',').map((f) => f.trim())
    const fields = wanted ? Object.fromEntries(Object.entries(all).filter(([k]) => wanted.includes(k))) : all
    return {
      expand: '',
      id: issue.id,
      key: issue.key,
      self: `${this.url}/rest/api/3/issue/${issue.id}`,
      fields,
    }
  }

  #create(req: RecordedRequest): Reply {
    const fields = objectBody(req)?.fields as Record<string, unknown> | undefined
    if (!fields || typeof fields !== 'object') return this.#bad(["Can not deserialize: 'fields' is required"])
    const errors: Record<string, string> = {}
    const pref = (fields.project ?? {}) as { key?: string; id?: string }
    const project = this.raw.projects.find((x) => x.key === pref.key || x.id === pref.id)
    if (!project) errors.project = 'Specify a valid project ID or key'
    const itRef = (fields.issuetype ?? {}) as { name?: string; id?: string }
    if (!itRef.name || (project && !project.issueTypes.includes(itRef.name))) {
      errors.issuetype = 'Specify an issue type'
    }
    const summary = fields.summary
    if (typeof summary !== 'string' || !summary.trim())
      errors.summary = 'You must specify a summary of the issue.'
    else if (/[\r\n]/.test(summary))
      errors.summary = 'The summary is invalid because it contains newline characters.'
    else if (summary.length > 254) errors.summary = 'Summary must be less than 255 characters.'
    if (fields.description !== undefined && !isAdfDoc(fields.description)) {
      errors.description = 'Operation value must be an Atlassian Document (see the Atlassian Document Format)'
    }
    const labels = fields.labels ?? []
    if (!Array.isArray(labels) || labels.some((l) => typeof l !== 'string'))
      errors.labels = 'Labels must be strings'
    else {
      const spaced = labels.find((l: string) => /\s/.test(l))
      if (spaced) errors.labels = `The label '${spaced}' contains spaces which is invalid.`
    }
    const pri = fields.priority as { name?: string } | undefined
    if (pri !== undefined && !PRIORITIES.includes(pri?.name ?? ''))
      errors.priority = 'Specify the Priority (name) in the string format'
    if (Object.keys(errors).length || !project) return this.#bad([], errors)
    const now = jiraTime(this.now())
    const issue: JiraIssue = {
      id: String(this.#nextId++),
      key: `${project.key}-${this.raw.issues.filter((x) => x.projectKey === project.key).length + 1}`,
      projectKey: project.key,
      summary: summary as string,
      ...(fields.description ? { description: fields.description as AdfDoc } : {}),
      issueType: itRef.name as string,
      status: 'To Do',
      labels: labels as string[],
      priority: pri?.name ?? 'Medium',
      comments: [],
      created: now,
      updated: now,
    }
    this.raw.issues.push(issue)
    return {
      status: 201,
      body: { id: issue.id, key: issue.key, self: `${this.url}/rest/api/3/issue/${issue.id}` },
    }
  }

  #transition(req: RecordedRequest, issue: JiraIssue): Reply {
    const id = (objectBody(req)?.transition as { id?: unknown } | undefined)?.id
    if (id === undefined) return this.#bad(["Missing 'transition' identifier"])
    const t = TRANSITIONS.find((x) => x.id === String(id) && x.to !== issue.status)
    if (!t) return this.#bad([`Transition id '${String(id)}' is not valid for this issue.`])
    issue.status = t.to
    issue.updated = jiraTime(this.now())
    return { status: 204 }
  }

  #comment(req: RecordedRequest, issue: JiraIssue): Reply {
    const b = objectBody(req)
    if (!b || b.body === undefined) return this.#bad(['Comment body can not be empty!'])
    if (!isAdfDoc(b.body)) return this.#bad([], { comment: 'Comment body must be an Atlassian Document' })
    if (!adfToText(b.body).trim()) return this.#bad(['Comment body can not be empty!'])
    const properties = b.properties ?? []
    if (
      !Array.isArray(properties) ||
      properties.some((x) => typeof (x as { key?: unknown })?.key !== 'string')
    ) {
      return this.#bad([], { properties: 'Each property needs a key and a value' })
    }
    const now = jiraTime(this.now())
    const c: JiraComment = {
      id: String(this.#nextComment++),
      body: b.body,
      properties: properties as JiraComment['properties'],
      created: now,
    }
    issue.comments.push(c)
    issue.updated = now
    const internal = c.properties.some(
      (x) => x.key === 'sd.public.comment' && (x.value as { internal?: boolean })?.internal,
    )
    return {
      status: 201,
      body: {
        self: `${this.url}/rest/api/3/issue/${issue.id}/comment/${c.id}`,
        id: c.id,
        body: c.body,
        author: { accountId: '5b10a2844c20165700ede21g', displayName: 'Patchbay Bot' },
        created: now,
        updated: now,
        jsdPublic: !internal,
      },
    }
  }

  #projects(req: RecordedRequest): Reply {
    const startAt = Number(req.query.get('startAt') ?? 0)
    const maxResults = Math.min(Number(req.query.get('maxResults') ?? 50), 100)
    const sorted = [...this.raw.projects].sort((a, b) => a.key.localeCompare(b.key))
    const values = sorted.slice(startAt, startAt + maxResults)
    const isLast = startAt + maxResults >= sorted.length
    const self = `${this.url}/rest/api/3/project/search?startAt=${startAt}&maxResults=${maxResults}`
    return {
      status: 200,
      body: {
        self,
        ...(isLast
          ? {}
          : {
              nextPage: `${this.url}/rest/api/3/project/search?startAt=${startAt + maxResults}&maxResults=${maxResults}`,
            }),
        maxResults,
        startAt,
        total: sorted.length,
        isLast,
        values: values.map((x) => ({
          self: `${this.url}/rest/api/3/project/${x.id}`,
          id: x.id,
          key: x.key,
          name: x.name,
          projectTypeKey: 'software',
        })),
      },
    }
  }

  #search(req: RecordedRequest): Reply {
    const jql = req.query.get('jql') ?? ''
    const parsed = parseJql(jql, this.timeZone)
    if (typeof parsed === 'string') return this.#bad([parsed])
    const maxResults = Math.min(Number(req.query.get('maxResults') ?? 50), 5000)
    const token = req.query.get('nextPageToken')
    let offset = 0
    if (token) {
      const decoded = /^(\d+):(.*)$/.exec(Buffer.from(token, 'base64url').toString('utf8'))
      if (!decoded || decoded[2] !== jql)
        return this.#bad(['The provided next page token is invalid or expired.'])
      offset = Number(decoded[1])
    }
    let rows = this.raw.issues.filter((i) => parsed.where.every((w) => w(i)))
    if (parsed.orderBy) {
      const { field, dir } = parsed.orderBy
      rows = [...rows].sort((a, b) => {
        const x = String(field === 'created' ? a.created : a.updated)
        const y = String(field === 'created' ? b.created : b.updated)
        return (x < y ? -1 : x > y ? 1 : Number(a.id) - Number(b.id)) * (dir === 'DESC' ? -1 : 1)
      })
    }
    const page = rows.slice(offset, offset + maxResults)
    const isLast = offset + maxResults >= rows.length
    return {
      status: 200,
      body: {
        issues: page.map((i) => this.#view(i, req.query.get('fields'))),
        ...(isLast
          ? {}
          : { nextPageToken: Buffer.from(`${offset + maxResults}:${jql}`).toString('base64url') }),
        isLast,
      },
    }
  }
}

type Where = (i: JiraIssue) => boolean

function parseJql(
  jql: string,
  timeZone: string,
): { where: Where[]; orderBy?: { field: string; dir: 'ASC' | 'DESC' } } | string {
  const orderMatch = /\s+ORDER\s+BY\s+(\w+)(?:\s+(ASC|DESC))?\s*$/i.exec(jql)
  const body = orderMatch ? jql.slice(0, orderMatch.index) : jql
  const where: Where[] = []
  if (!body.trim())
    return 'Unbounded JQL queries are not allowed here. Please add a search restriction to your query.'
  for (const clause of body.split(/\s+AND\s+/i)) {
    const m = /^\s*(\w+)\s*(>=|<=|!=|=|>|<)\s*("(?:[^"\\]|\\.)*"|[^\s"]+)\s*$/.exec(clause)
    if (!m) return `Error in the JQL Query: cannot read "${clause.trim()}".`
    const [, field = '', op = '=', rawValue = ''] = m
    const value = rawValue.startsWith('"') ? rawValue.slice(1, -1).replace(/\\(.)/g, '$1') : rawValue
    if (field === 'updated' || field === 'created') {
      const at = parseJqlDate(value, timeZone)
      if (at === undefined) {
        return `Date value '${value}' for field '${field}' is invalid. Valid formats include: 'yyyy/MM/dd HH:mm', 'yyyy-MM-dd HH:mm', 'yyyy/MM/dd', 'yyyy-MM-dd', or a period format e.g. '-5d', '4w 2d'.`
      }
      where.push((i) => compare(Date.parse(field === 'updated' ? i.updated : i.created), at, op))
    } else if (field === 'project') {
      where.push((i) => (op === '!=' ? i.projectKey !== value : i.projectKey === value))
    } else if (field === 'labels') {
      where.push((i) => (op === '!=' ? !i.labels.includes(value) : i.labels.includes(value)))
    } else if (field === 'key') {
      where.push((i) => (op === '!=' ? i.key !== value : i.key === value))
    } else if (field === 'status') {
      where.push((i) => (op === '!=' ? i.status !== value : i.status === value))
    } else {
      return `Field '${field}' does not exist or you do not have permission to view it.`
    }
  }
  const dir = (orderMatch?.[2]?.toUpperCase() ?? 'ASC') as 'ASC' | 'DESC'
  return orderMatch
    ? { where, orderBy: { field: (orderMatch[1] ?? 'updated').toLowerCase(), dir } }
    : { where }
}

function compare(a: number, b: number, op: string): boolean {
  switch (op) {
    case '>':
      return a > b
    case '>=':
      return a >= b
    case '<':
      return a < b
    case '<=':
      return a <= b
    case '!=':
      return a !== b
    default:
      return a === b
  }
}

/** A JQL absolute date, read in the user's time zone as Jira does. */
function parseJqlDate(value: string, timeZone: string): number | undefined {
  const m = /^(\d{4})[/-](\d{2})[/-](\d{2})(?: (\d{2}):(\d{2}))?$/.exec(value)
  if (!m) return undefined
  const [y, mo, d, h = 0, mi = 0] = m
    .slice(1)
    .map((x) => (x === undefined ? undefined : Number(x))) as number[]
  const wall = Date.UTC(y as number, (mo as number) - 1, d, h, mi)
  let utc = wall - offsetMs(wall, timeZone)
  utc = wall - offsetMs(utc, timeZone)
  return utc
}

/** The zone's offset from UTC at an instant, in milliseconds. */
function offsetMs(instant: number, timeZone: string): number {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone,
    hourCycle: 'h23',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  }).formatToParts(new Date(instant))
  const n = (t: string) => Number(parts.find((p) => p.type === t)?.value)
  const asUtc = Date.UTC(n('year'), n('month') - 1, n('day'), n('hour'), n('minute'), n('second'))
  return asUtc - Math.floor(instant / 1000) * 1000
}
