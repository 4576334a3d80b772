/**
 * ServiceNow Table API stand-in (https://www.servicenow.com/docs/bundle/zurich-api-reference/page/integrate/inbound-rest/concept/c_TableAPI.html)
 * for the tables Patchbay uses: incident, sys_user, sys_user_group, core_company.
 *
 * Checks: Basic `username:password` or `Bearer <oauthToken>`; `/api/now/table/{table}[/{sys_id}]`; encoded
 * queries (`field=value`, `!=`, `>`, `>=`, `<`, `<=`, joined by `^`, `ORDERBY`/`ORDERBYDESC`; an unknown field
 * matches no rows, like an instance with glide.invalid_query.returns_no_rows); `sysparm_fields`, `sysparm_limit`,
 * `sysparm_offset` with ServiceNow's Link and X-Total-Count headers; `sysparm_exclude_reference_link`; the base
 * data policy that resolving or closing (state 6/7) needs close_code and close_notes (403 "Data Policy
 * Exception"); priority derived from impact × urgency; work_notes/comments as journal entries. Errors are
 * ServiceNow's `{error: {message, detail}, status: "failure"}`. `hibernate()` makes it answer like a sleeping
 * developer instance (200, an HTML page).
 *
 * API for tests (beside the PsaStandIn view, see standin.ts):
 *   const sn = await new ServiceNowStandIn({ clock }).start()
 *   sn.credentials                      // instance, username, password, closeCode, baseUrl
 *   sn.oauthToken                       // a bearer token it also accepts
 *   sn.raw.incident / sn.raw.core_company / sn.raw.sys_user_group   // records as ServiceNow stores them (strings)
 *   sn.journal(sysId)                   // [{ field: 'work_notes' | 'comments', value, created }]
 *   sn.addCompanies(150), sn.addIncident({ short_description, state })
 *   sn.setStatus(sysId, 'Resolved')     // by label or code; bumps sys_updated_on
 *   sn.failNext(429, { retryAfter: 5 })
 */
import { randomBytes } from 'node:crypto'
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

type SnRecord = Record<string, string>
type TableName = 'incident' | 'sys_user' | 'sys_user_group' | 'core_company'

export interface SnJournalEntry {
  field: 'work_notes' | 'comments'
  value: string
  created: string
}

const STATES: Record<string, string> = {
  '1': 'New',
  '2': 'In Progress',
  '3': 'On Hold',
  '6': 'Resolved',
  '7': 'Closed',
  '8': 'Canceled',
}
/** Base system priority lookup: impact × urgency → priority. */
const PRIORITY: Record<string, string> = {
  '1,1': '1',
  '1,2': '2',
  '2,1': '2',
  '1,3': '3',
  '2,2': '3',
  '3,1': '3',
  '2,3': '4',
  '3,2': '4',
  '3,3': '5',
}
const TABLE_FIELDS: Record<TableName, string[]> = {
  incident: [
    'sys_id',
    'number',
    'short_description',
    'description',
    'state',
    'impact',
    'urgency',
    'priority',
    'assignment_group',
    'company',
    'caller_id',
    'correlation_id',
    'correlation_display',
    'close_code',
    'close_notes',
    'active',
    'sys_created_on',
    'sys_updated_on',
  ],
  sys_user: ['sys_id', 'user_name', 'name', 'email', 'time_zone', 'active', 'sys_updated_on'],
  sys_user_group: ['sys_id', 'name', 'active', 'sys_updated_on'],
  core_company: ['sys_id', 'name', 'customer', 'sys_updated_on'],
}
const REFERENCES: Record<string, TableName> = {
  assignment_group: 'sys_user_group',
  company: 'core_company',
  caller_id: 'sys_user',
}

const DEFAULT_CREDENTIALS = {
  instance: 'acme',
  username: 'patchbay.integration',
  password: 'Sn0w-Pa55-w0rd-xyz',
  closeCode: 'Solution provided',
}

function sysId(): string {
  return randomBytes(16).toString('hex')
}

function glide(d: Date): string {
  return d.toISOString().slice(0, 19).replace('T', ' ')
}

export class ServiceNowStandIn extends CredentialedStandIn<typeof DEFAULT_CREDENTIALS> implements PsaStandIn {
  readonly vendor = 'servicenow'
  readonly referenceField = 'correlation_id'
  readonly statuses = { initial: 'New', inProgress: 'In Progress', resolved: 'Resolved' }
  readonly oauthToken = 'sn-oauth-access-token-4f8e2a9c'
  readonly raw: Record<TableName, SnRecord[]>
  readonly #journal = new Map<string, SnJournalEntry[]>()
  #nextNumber = 10001
  #hibernating = false

  constructor(opts: CredentialOptions<typeof DEFAULT_CREDENTIALS> = {}) {
    super(DEFAULT_CREDENTIALS, opts)
    const now = glide(this.now())
    this.raw = {
      incident: [],
      sys_user: [
        {
          sys_id: '6816f79cc0a8016401c5a33be04be441',
          user_name: this.valid.username,
          name: 'Patchbay Integration',
          email: 'patchbay@acme.example',
          time_zone: 'GMT',
          active: 'true',
          sys_updated_on: now,
        },
      ],
      sys_user_group: [
        {
          sys_id: '8a5055c9c61122780043563ef53438e3',
          name: 'Service Desk',
          active: 'true',
          sys_updated_on: now,
        },
        { sys_id: '287ee6fea9fe198100ada7950d0b1b73', name: 'Network', active: 'true', sys_updated_on: now },
        {
          sys_id: 'b85d44954a3623120004689b2d5dd60a',
          name: 'Retired Team',
          active: 'false',
          sys_updated_on: now,
        },
      ],
      core_company: [
        {
          sys_id: '31bea3d53790200044e0bfc8bcbe5dec',
          name: 'Contoso',
          customer: 'true',
          sys_updated_on: now,
        },
        {
          sys_id: '227cdfb03710200044e0bfc8bcbe5d6b',
          name: 'Fabrikam',
          customer: 'true',
          sys_updated_on: now,
        },
      ],
    }
  }

  get defaults() {
    return { queue: 'Service Desk', company: 'Contoso', priority: '2' }
  }

  hibernate(on = true): void {
    this.#hibernating = on
  }

  journal(id: string): SnJournalEntry[] {
    return this.#journal.get(id) ?? []
  }

  addCompanies(count: number): SnRecord[] {
    const now = glide(this.now())
    const added = Array.from({ length: count }, (_, i) => ({
      sys_id: sysId(),
      name: `Company ${String(this.raw.core_company.length + i).padStart(4, '0')}`,
      customer: 'true',
      sys_updated_on: now,
    }))
    this.raw.core_company.push(...added)
    return added
  }

  addIncident(i: { short_description: string; state?: string }): SnRecord {
    const now = glide(this.now())
    const r: SnRecord = this.#blankIncident(now)
    r.short_description = i.short_description
    r.state = i.state ?? '1'
    this.raw.incident.push(r)
    return r
  }

  tickets(): StandInTicket[] {
    return this.raw.incident.map((r) => ({
      id: r.sys_id as string,
      number: r.number,
      title: r.short_description ?? '',
      status: STATES[r.state ?? ''] ?? (r.state as string),
      queue: this.raw.sys_user_group.find((g) => g.sys_id === r.assignment_group)?.name,
      company: this.raw.core_company.find((c) => c.sys_id === r.company)?.name,
      priority: r.priority,
      externalRef: r.correlation_id || undefined,
      notes: this.journal(r.sys_id as string).map((j) => ({
        text: j.value,
        internal: j.field === 'work_notes',
      })),
      createdAt: new Date(`${(r.sys_created_on as string).replace(' ', 'T')}Z`),
      updatedAt: new Date(`${(r.sys_updated_on as string).replace(' ', 'T')}Z`),
    }))
  }

  ticket(id: string): StandInTicket | undefined {
    return this.tickets().find((t) => t.id === id || t.number === id)
  }

  setStatus(id: string, status: string): void {
    const r = this.raw.incident.find((x) => x.sys_id === id || x.number === id)
    if (!r) throw new Error(`no ServiceNow incident ${id}`)
    const code = STATES[status] ? status : Object.entries(STATES).find(([, l]) => l === status)?.[0]
    if (!code) throw new Error(`no ServiceNow state ${status}`)
    r.state = code
    if (code === '6' || code === '7') {
      r.close_code ||= 'Solution provided'
      r.close_notes ||= 'Resolved at the service desk'
    }
    r.active = code === '6' || code === '7' || code === '8' ? 'false' : 'true'
    r.sys_updated_on = glide(this.now())
  }

  #blankIncident(now: string): SnRecord {
    const r: SnRecord = {}
    for (const f of TABLE_FIELDS.incident) r[f] = ''
    Object.assign(r, {
      sys_id: sysId(),
      number: `INC${String(this.#nextNumber++).padStart(7, '0')}`,
      state: '1',
      impact: '3',
      urgency: '3',
      priority: '5',
      active: 'true',
      sys_created_on: now,
      sys_updated_on: now,
    })
    return r
  }

  protected errorReply(status: number): Reply {
    const errors: Record<number, [string, string | null]> = {
      400: ['Bad Request', 'The request is not valid'],
      401: ['User Not Authenticated', 'Required to provide Auth information'],
      403: ['Operation Failed', 'ACL restricts the operation'],
      404: ['No Record found', "Record doesn't exist or ACL restricts the record retrieval"],
      429: ['Rate limit exceeded', 'Too many requests for this user; wait before retrying'],
      500: ['Internal Server Error', null],
      503: ['Service Unavailable', 'The instance is temporarily unavailable'],
    }
    const [message, detail] = errors[status] ?? [`HTTP ${status}`, null]
    return { status, body: { error: { message, detail }, status: 'failure' } }
  }

  #authenticated(req: RecordedRequest): boolean {
    const header = req.headers.authorization ?? ''
    if (/^Bearer\s/i.test(header)) return header.slice(7).trim() === this.oauthToken
    const auth = basicCredentials(req.headers)
    return !!auth && auth.user === this.valid.username && auth.password === this.valid.password
  }

  protected handle(req: RecordedRequest): Reply {
    if (this.#hibernating) {
      return {
        status: 200,
        body: '<html><head><title>Instance Hibernating page</title></head><body>Your instance is hibernating.</body></html>',
        headers: { 'content-type': 'text/html' },
      }
    }
    if (!this.#authenticated(req)) return this.errorReply(401)
    const m = /^\/api\/now\/table\/([a-z_0-9]+)(?:\/([^/]+))?$/.exec(req.path)
    if (!m)
      return {
        status: 400,
        body: {
          error: { message: 'Requested URI does not represent any resource', detail: null },
          status: 'failure',
        },
      }
    const table = m[1] as TableName
    if (!TABLE_FIELDS[table]) {
      return {
        status: 400,
        body: { error: { message: 'Invalid table', detail: `Invalid table ${m[1]}` }, status: 'failure' },
      }
    }
    const rows = this.raw[table]
    const id = m[2]
    if (!id) {
      if (req.method === 'GET') return this.#list(req, table, rows)
      if (req.method === 'POST' && table === 'incident') return this.#insert(req)
      return {
        status: 405,
        body: { error: { message: 'Method not Supported', detail: null }, status: 'failure' },
      }
    }
    const record = rows.find((r) => r.sys_id === id)
    if (!record) return this.errorReply(404)
    if (req.method === 'GET') return { status: 200, body: { result: this.#view(req, table, record) } }
    if ((req.method === 'PATCH' || req.method === 'PUT') && table === 'incident')
      return this.#update(req, record)
    return {
      status: 405,
      body: { error: { message: 'Method not Supported', detail: null }, status: 'failure' },
    }
  }

  #view(req: RecordedRequest, table: TableName, r: SnRecord): Record<string, unknown> {
    const fields = req.query
      .get('sysparm_fields')
      ?.split(',')
      .map((f) => f.trim())
    const noLinks = req.query.get('sysparm_exclude_reference_link') === 'true'
    const out: Record<string, unknown> = {}
    for (const f of TABLE_FIELDS[table]) {
      if (fields && !fields.includes(f)) continue
      const v = r[f] ?? ''
      const refTable = REFERENCES[f]
      out[f] =
        refTable && v && !noLinks ? { link: `${this.url}/api/now/table/${refTable}/${v}`, value: v } : v
    }
    return out
  }

  #list(req: RecordedRequest, table: TableName, rows: SnRecord[]): Reply {
    const parsed = parseEncodedQuery(req.query.get('sysparm_query') ?? '', TABLE_FIELDS[table])
    let result = rows.filter((r) => parsed.where.every((w) => w(r)))
    for (const o of [...parsed.orderBy].reverse()) {
      result = [...result].sort((a, b) => {
        const x = a[o.field] ?? ''
        const y = b[o.field] ?? ''
        return (x < y ? -1 : x > y ? 1 : 0) * (o.desc ? -1 : 1)
      })
    }
    const limit = Number(req.query.get('sysparm_limit') ?? 10000)
    const offset = Number(req.query.get('sysparm_offset') ?? 0)
    const page = result.slice(offset, offset + limit)
    const link = (o: number, rel: string) => {
      const q = new URLSearchParams(req.query)
      q.set('sysparm_offset', String(o))
      q.set('sysparm_limit', String(limit))
      return `<${this.url}${req.path}?${q.toString()}>;rel="${rel}"`
    }
    const lastOffset = Math.max(0, Math.floor((result.length - 1) / limit) * limit)
    const links = [link(0, 'first')]
    if (offset > 0) links.push(link(Math.max(0, offset - limit), 'prev'))
    if (offset + limit < result.length) links.push(link(offset + limit, 'next'))
    links.push(link(lastOffset, 'last'))
    return {
      status: 200,
      body: { result: page.map((r) => this.#view(req, table, r)) },
      headers: { link: links.join(','), 'x-total-count': String(result.length) },
    }
  }

  #insert(req: RecordedRequest): Reply {
    const b = objectBody(req)
    if (!b)
      return {
        status: 400,
        body: {
          error: { message: 'Exception while reading request', detail: 'The payload is not valid JSON.' },
          status: 'failure',
        },
      }
    const now = glide(this.now())
    const r = this.#blankIncident(now)
    const policy = this.#apply(r, b, now)
    if (policy) return policy
    this.raw.incident.push(r)
    return {
      status: 201,
      body: { result: this.#view(req, 'incident', r) },
      headers: { location: `${this.url}/api/now/table/incident/${r.sys_id}` },
    }
  }

  #update(req: RecordedRequest, r: SnRecord): Reply {
    const b = objectBody(req)
    if (!b)
      return {
        status: 400,
        body: {
          error: { message: 'Exception while reading request', detail: 'The payload is not valid JSON.' },
          status: 'failure',
        },
      }
    const now = glide(this.now())
    const draft = { ...r }
    const policy = this.#apply(draft, b, now)
    if (policy) return policy
    Object.assign(r, draft)
    return { status: 200, body: { result: this.#view(req, 'incident', r) } }
  }

  /** Writes fields as ServiceNow would (unknown fields ignored), or the data policy's refusal. */
  #apply(r: SnRecord, b: Record<string, unknown>, now: string): Reply | undefined {
    const journal: SnJournalEntry[] = []
    for (const [k, v] of Object.entries(b)) {
      const value = v === null || v === undefined ? '' : String(v)
      if (k === 'work_notes' || k === 'comments') {
        if (value.trim()) journal.push({ field: k, value, created: now })
      } else if (
        TABLE_FIELDS.incident.includes(k) &&
        !['sys_id', 'number', 'sys_created_on', 'sys_updated_on', 'priority'].includes(k)
      ) {
        r[k] = value
      }
    }
    if ((r.state === '6' || r.state === '7') && (!r.close_code || !r.close_notes)) {
      const missing = [!r.close_code && 'Resolution code', !r.close_notes && 'Resolution notes'].filter(
        Boolean,
      )
      return {
        status: 403,
        body: {
          error: {
            message: 'Operation Failed',
            detail: `Data Policy Exception: \n${missing.map((m) => ` ${m} is mandatory\n`).join('')}`,
          },
          status: 'failure',
        },
      }
    }
    r.priority = PRIORITY[`${r.impact},${r.urgency}`] ?? r.priority ?? '5'
    r.active = ['6', '7', '8'].includes(r.state ?? '') ? 'false' : 'true'
    r.sys_updated_on = now
    if (journal.length)
      this.#journal.set(r.sys_id as string, [...this.journal(r.sys_id as string), ...journal])
    return undefined
  }
}

interface Parsed {
  where: ((r: SnRecord) => boolean)[]
  orderBy: { field: string; desc: boolean }[]
}

function parseEncodedQuery(q: string, fields: string[]): Parsed {
  const out: Parsed = { where: [], orderBy: [] }
  if (!q) return out
  // `^^` is a literal caret inside a value.
  const parts = q.split(/(?<!\^)\^(?!\^)/).map((p) => p.replace(/\^\^/g, '^'))
  for (const part of parts) {
    if (!part) continue
    const order = /^ORDERBY(DESC)?(\w+)$/.exec(part)
    if (order) {
      out.orderBy.push({ field: order[2] ?? '', desc: !!order[1] })
      continue
    }
    const m = /^(\w+?)(!=|>=|<=|=|>|<)(.*)$/.exec(part)
    if (!m || !fields.includes(m[1] ?? '')) {
      // An invalid condition matches nothing (glide.invalid_query.returns_no_rows = true).
      out.where.push(() => false)
      continue
    }
    const [, field = '', op, value = ''] = m
    out.where.push((r) => {
      const x = r[field] ?? ''
      switch (op) {
        case '=':
          return x === value
        case '!=':
          return x !== value
        case '>':
          return x > value
        case '>=':
          return x >= value
        case '<':
          return x < value
        default:
          return x <= value
      }
    })
  }
  return out
}
