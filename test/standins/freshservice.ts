/**
 * Freshservice API v2 stand-in, after https://api.freshservice.com/: agents/me, tickets (create, view, update,
 * list with `updated_since`/`order_type`), ticket notes, departments and groups, with `page`/`per_page` (≤ 100)
 * and a Link header announcing the next page.
 *
 * Checks: Basic auth with the API key as user and any password (Freshservice ignores it; clients send `X`);
 * create bodies (subject, description, a requester by email/requester_id/phone, status 2–5, priority 1–4, a
 * source, existing group and department ids, no unknown fields); updates (valid status, no unknown fields);
 * notes (`body` required, `private` boolean). The ticket list, like Freshservice's, only includes tickets created
 * in the last 30 days unless `updated_since` is given. Errors are Freshservice's
 * `{description: "Validation failed", errors: [{field, message, code}]}` or `{code, message}`.
 *
 * API for tests (beside the PsaStandIn view, see standin.ts):
 *   const fs = await new FreshserviceStandIn({ clock }).start()
 *   fs.credentials                  // domain, apiKey, requesterEmail, baseUrl
 *   fs.raw.tickets / fs.raw.departments / fs.raw.groups
 *   fs.addDepartments(150), fs.addTicket({ subject, status })
 *   fs.setStatus('3', 'Resolved')   // by name or number; bumps updated_at
 *   fs.failNext(429, { retryAfter: 20 })
 */
import {
  basicCredentials,
  CredentialedStandIn,
  type CredentialOptions,
  isoSeconds,
  objectBody,
  type PsaStandIn,
  type RecordedRequest,
  type Reply,
  type StandInTicket,
} from './standin.ts'

export interface FsNote {
  id: number
  body: string
  body_text: string
  private: boolean
  incoming: boolean
  user_id: number
  ticket_id: number
  created_at: string
  updated_at: string
}
export interface FsTicket {
  id: number
  subject: string
  description: string
  description_text: string
  status: number
  priority: number
  source: number
  requester_id: number
  requester_email: string
  group_id: number | null
  department_id: number | null
  type: string
  created_at: string
  updated_at: string
  notes: FsNote[]
}
export interface FsNamed {
  id: number
  name: string
  created_at: string
  updated_at: string
}

const STATUS_NAMES: Record<number, string> = { 2: 'Open', 3: 'Pending', 4: 'Resolved', 5: 'Closed' }
const CREATE_FIELDS = [
  'subject',
  'description',
  'email',
  'requester_id',
  'phone',
  'name',
  'priority',
  'status',
  'source',
  'group_id',
  'department_id',
  'responder_id',
  'type',
  'urgency',
  'impact',
  'category',
  'sub_category',
  'due_by',
  'fr_due_by',
  'tags',
  'cc_emails',
  'custom_fields',
  'workspace_id',
]

const DEFAULT_CREDENTIALS = {
  domain: 'acme.freshservice.com',
  apiKey: 'FsKey-9hT4mQ2xV7bN1cZ8',
  requesterEmail: 'alerts@acme.example',
}

function textOf(html: string): string {
  return html
    .replace(/<br\s*\/?>/gi, '\n')
    .replace(/<[^>]+>/g, '')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&')
}

export class FreshserviceStandIn
  extends CredentialedStandIn<typeof DEFAULT_CREDENTIALS>
  implements PsaStandIn
{
  readonly vendor = 'freshservice'
  readonly referenceField = null
  readonly defaults = { queue: 'Service Desk', priority: 'High' }
  readonly statuses = { initial: 'Open', inProgress: 'Pending', resolved: 'Resolved' }
  readonly raw: { tickets: FsTicket[]; departments: FsNamed[]; groups: FsNamed[] }
  readonly agent = {
    id: 7000001,
    first_name: 'Patchbay',
    last_name: 'Bot',
    email: 'patchbay-bot@acme.example',
  }
  #nextTicket = 1
  #nextNote = 501

  constructor(opts: CredentialOptions<typeof DEFAULT_CREDENTIALS> = {}) {
    super(DEFAULT_CREDENTIALS, opts)
    const t = isoSeconds(this.now())
    this.raw = {
      tickets: [],
      departments: [
        { id: 18000001, name: 'Contoso', created_at: t, updated_at: t },
        { id: 18000002, name: 'Fabrikam', created_at: t, updated_at: t },
      ],
      groups: [
        { id: 14000001, name: 'Service Desk', created_at: t, updated_at: t },
        { id: 14000002, name: 'Network Team', created_at: t, updated_at: t },
      ],
    }
  }

  addDepartments(count: number): FsNamed[] {
    const t = isoSeconds(this.now())
    const start = 18100000 + this.raw.departments.length
    const added = Array.from({ length: count }, (_, i) => ({
      id: start + i,
      name: `Department ${start + i}`,
      created_at: t,
      updated_at: t,
    }))
    this.raw.departments.push(...added)
    return added
  }

  addTicket(t: { subject: string; status?: number; createdAt?: Date }): FsTicket {
    const created = isoSeconds(t.createdAt ?? this.now())
    const ticket: FsTicket = {
      id: this.#nextTicket++,
      subject: t.subject,
      description: `<div>${t.subject}</div>`,
      description_text: t.subject,
      status: t.status ?? 2,
      priority: 1,
      source: 1,
      requester_id: 7000100,
      requester_email: 'someone@acme.example',
      group_id: null,
      department_id: null,
      type: 'Incident',
      created_at: created,
      updated_at: isoSeconds(this.now()),
      notes: [],
    }
    this.raw.tickets.push(ticket)
    return ticket
  }

  tickets(): StandInTicket[] {
    return this.raw.tickets.map((t) => ({
      id: String(t.id),
      title: t.subject,
      status: STATUS_NAMES[t.status] ?? String(t.status),
      queue: this.raw.groups.find((g) => g.id === t.group_id)?.name,
      company: this.raw.departments.find((d) => d.id === t.department_id)?.name,
      priority: String(t.priority),
      notes: t.notes.map((n) => ({ text: n.body_text, internal: n.private })),
      createdAt: new Date(t.created_at),
      updatedAt: new Date(t.updated_at),
    }))
  }

  ticket(id: string): StandInTicket | undefined {
    return this.tickets().find((t) => t.id === id)
  }

  setStatus(id: string, status: string): void {
    const t = this.raw.tickets.find((x) => String(x.id) === id)
    if (!t) throw new Error(`no Freshservice ticket ${id}`)
    const code = STATUS_NAMES[Number(status)]
      ? Number(status)
      : Number(Object.entries(STATUS_NAMES).find(([, n]) => n === status)?.[0])
    if (!STATUS_NAMES[code]) throw new Error(`no Freshservice status ${status}`)
    t.status = code
    t.updated_at = isoSeconds(this.now())
  }

  protected errorReply(status: number): Reply {
    const bodies: Record<number, unknown> = {
      400: { description: 'Validation failed', errors: [] },
      401: { code: 'invalid_credentials', message: 'You have to be logged in to perform this action.' },
      403: { code: 'access_denied', message: 'You are not authorized to perform this action.' },
      404: { code: 'not_found', message: 'The requested resource could not be found' },
      429: { message: 'You have exceeded the limit of requests per minute' },
      500: {
        code: 'internal_error',
        message: 'We are facing some issues. Please try again after some time.',
      },
      503: { code: 'service_unavailable', message: 'Service temporarily unavailable' },
    }
    return { status, body: bodies[status] ?? { message: `HTTP ${status}` } }
  }

  #invalid(errors: { field: string; message: string; code: string }[]): Reply {
    return { status: 400, body: { description: 'Validation failed', errors } }
  }

  protected handle(req: RecordedRequest): Reply {
    const auth = basicCredentials(req.headers)
    if (!auth || auth.user !== this.valid.apiKey) return this.errorReply(401)
    const p = req.path
    if (req.method === 'GET' && p === '/api/v2/agents/me') {
      return { status: 200, body: { agent: { ...this.agent, active: true, job_title: 'Integration' } } }
    }
    if (p === '/api/v2/tickets' && req.method === 'POST') return this.#create(req)
    if (p === '/api/v2/tickets' && req.method === 'GET') return this.#listTickets(req)
    const one = /^\/api\/v2\/tickets\/(\d+)(\/notes)?$/.exec(p)
    if (one) {
      const t = this.raw.tickets.find((x) => x.id === Number(one[1]))
      if (!t) return this.errorReply(404)
      if (!one[2] && req.method === 'GET') return { status: 200, body: { ticket: this.#view(t) } }
      if (!one[2] && req.method === 'PUT') return this.#update(req, t)
      if (one[2] && req.method === 'POST') return this.#note(req, t)
    }
    if (req.method === 'GET' && p === '/api/v2/departments')
      return this.#paged(req, 'departments', this.raw.departments)
    if (req.method === 'GET' && p === '/api/v2/groups') return this.#paged(req, 'groups', this.raw.groups)
    return this.errorReply(404)
  }

  #view(t: FsTicket) {
    const { notes: _, requester_email: _e, ...rest } = t
    return rest
  }

  #create(req: RecordedRequest): Reply {
    const b = objectBody(req)
    if (!b)
      return this.#invalid([
        { field: '', message: 'Request body has invalid json format', code: 'invalid_json' },
      ])
    const errors: { field: string; message: string; code: string }[] = []
    for (const k of Object.keys(b)) {
      if (!CREATE_FIELDS.includes(k))
        errors.push({ field: k, message: 'Unexpected/invalid field in request', code: 'invalid_field' })
    }
    if (b.email === undefined && b.requester_id === undefined && b.phone === undefined) {
      errors.push({
        field: 'requester_id',
        message: 'Please fill at least 1 of email, phone, requester_id fields',
        code: 'missing_field',
      })
    }
    if (
      b.email !== undefined &&
      (typeof b.email !== 'string' || !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(b.email))
    ) {
      errors.push({
        field: 'email',
        message: 'It should be in the valid email format',
        code: 'invalid_value',
      })
    }
    if (typeof b.subject !== 'string' || !b.subject.trim()) {
      errors.push({
        field: 'subject',
        message: 'It should not be blank as this is a mandatory field',
        code: 'missing_field',
      })
    }
    if (typeof b.description !== 'string' || !b.description.trim()) {
      errors.push({
        field: 'description',
        message: 'It should not be blank as this is a mandatory field',
        code: 'missing_field',
      })
    }
    if (b.status !== undefined && ![2, 3, 4, 5].includes(b.status as number)) {
      errors.push({
        field: 'status',
        message: "It should be one of these values: '2,3,4,5'",
        code: 'invalid_value',
      })
    }
    if (b.priority !== undefined && ![1, 2, 3, 4].includes(b.priority as number)) {
      errors.push({
        field: 'priority',
        message: "It should be one of these values: '1,2,3,4'",
        code: 'invalid_value',
      })
    }
    if (b.source !== undefined && !(Number.isInteger(b.source) && (b.source as number) >= 1)) {
      errors.push({ field: 'source', message: 'It should be a valid source', code: 'invalid_value' })
    }
    if (b.group_id !== undefined && !this.raw.groups.some((g) => g.id === b.group_id)) {
      errors.push({
        field: 'group_id',
        message: 'There is no group matching the given group_id',
        code: 'invalid_value',
      })
    }
    if (b.department_id !== undefined && !this.raw.departments.some((d) => d.id === b.department_id)) {
      errors.push({
        field: 'department_id',
        message: 'There is no department matching the given department_id',
        code: 'invalid_value',
      })
    }
    if (errors.length) return this.#invalid(errors)
    const now = isoSeconds(this.now())
    const t: FsTicket = {
      id: this.#nextTicket++,
      subject: b.subject as string,
      description: b.description as string,
      description_text: textOf(b.description as string),
      status: (b.status as number | undefined) ?? 2,
      priority: (b.priority as number | undefined) ?? 1,
      source: (b.source as number | undefined) ?? 2,
      requester_id: 7000200,
      requester_email: (b.email as string | undefined) ?? '',
      group_id: (b.group_id as number | undefined) ?? null,
      department_id: (b.department_id as number | undefined) ?? null,
      type: 'Incident',
      created_at: now,
      updated_at: now,
      notes: [],
    }
    this.raw.tickets.push(t)
    return { status: 201, body: { ticket: this.#view(t) } }
  }

  #update(req: RecordedRequest, t: FsTicket): Reply {
    const b = objectBody(req)
    if (!b)
      return this.#invalid([
        { field: '', message: 'Request body has invalid json format', code: 'invalid_json' },
      ])
    const errors: { field: string; message: string; code: string }[] = []
    for (const k of Object.keys(b)) {
      if (!CREATE_FIELDS.includes(k) || k === 'email') {
        errors.push({ field: k, message: 'Unexpected/invalid field in request', code: 'invalid_field' })
      }
    }
    if (b.status !== undefined && ![2, 3, 4, 5].includes(b.status as number)) {
      errors.push({
        field: 'status',
        message: "It should be one of these values: '2,3,4,5'",
        code: 'invalid_value',
      })
    }
    if (errors.length) return this.#invalid(errors)
    if (typeof b.status === 'number') t.status = b.status
    if (typeof b.subject === 'string') t.subject = b.subject
    t.updated_at = isoSeconds(this.now())
    return { status: 200, body: { ticket: this.#view(t) } }
  }

  #note(req: RecordedRequest, t: FsTicket): Reply {
    const b = objectBody(req)
    if (!b)
      return this.#invalid([
        { field: '', message: 'Request body has invalid json format', code: 'invalid_json' },
      ])
    const errors: { field: string; message: string; code: string }[] = []
    for (const k of Object.keys(b)) {
      if (!['body', 'private', 'notify_emails', 'attachments', 'incoming'].includes(k)) {
        errors.push({ field: k, message: 'Unexpected/invalid field in request', code: 'invalid_field' })
      }
    }
    if (typeof b.body !== 'string' || !b.body.trim()) {
      errors.push({
        field: 'body',
        message: 'It should not be blank as this is a mandatory field',
        code: 'missing_field',
      })
    }
    if (b.private !== undefined && typeof b.private !== 'boolean') {
      errors.push({ field: 'private', message: 'It should be a boolean value', code: 'datatype_mismatch' })
    }
    if (errors.length) return this.#invalid(errors)
    const now = isoSeconds(this.now())
    const note: FsNote = {
      id: this.#nextNote++,
      body: b.body as string,
      body_text: textOf(b.body as string),
      private: b.private !== false,
      incoming: false,
      user_id: this.agent.id,
      ticket_id: t.id,
      created_at: now,
      updated_at: now,
    }
    t.notes.push(note)
    t.updated_at = now
    return { status: 201, body: { conversation: note } }
  }

  #pageParams(req: RecordedRequest): { page: number; perPage: number } | Reply {
    const page = Number(req.query.get('page') ?? 1)
    const perPage = Number(req.query.get('per_page') ?? 30)
    if (!Number.isInteger(page) || page < 1) {
      return this.#invalid([
        { field: 'page', message: 'It should be a Positive Integer', code: 'invalid_value' },
      ])
    }
    if (!Number.isInteger(perPage) || perPage < 1 || perPage > 100) {
      return this.#invalid([
        {
          field: 'per_page',
          message: 'It should be a Positive Integer less than or equal to 100',
          code: 'invalid_value',
        },
      ])
    }
    return { page, perPage }
  }

  #paginate<T>(req: RecordedRequest, key: string, rows: T[], view: (r: T) => unknown): Reply {
    const params = this.#pageParams(req)
    if ('status' in params) return params
    const { page, perPage } = params
    const slice = rows.slice((page - 1) * perPage, page * perPage)
    const headers: Record<string, string> = {}
    if (page * perPage < rows.length) {
      const q = new URLSearchParams(req.query)
      q.set('page', String(page + 1))
      headers.link = `<${this.url}${req.path}?${q.toString()}>; rel="next"`
    }
    return { status: 200, body: { [key]: slice.map(view) }, headers }
  }

  #paged(req: RecordedRequest, key: string, rows: FsNamed[]): Reply {
    return this.#paginate(req, key, rows, (r) => r)
  }

  #listTickets(req: RecordedRequest): Reply {
    const since = req.query.get('updated_since')
    let rows: FsTicket[]
    if (since !== null) {
      const at = Date.parse(since)
      if (Number.isNaN(at)) {
        return this.#invalid([
          { field: 'updated_since', message: 'It should be in the ISO 8601 format', code: 'invalid_value' },
        ])
      }
      rows = this.raw.tickets.filter((t) => Date.parse(t.updated_at) >= at)
    } else {
      const monthAgo = this.now().getTime() - 30 * 86_400_000
      rows = this.raw.tickets.filter((t) => Date.parse(t.created_at) >= monthAgo)
    }
    const orderType = req.query.get('order_type') ?? 'desc'
    if (orderType !== 'asc' && orderType !== 'desc') {
      return this.#invalid([
        {
          field: 'order_type',
          message: "It should be one of these values: 'asc,desc'",
          code: 'invalid_value',
        },
      ])
    }
    rows = [...rows].sort(
      (a, b) => (a.created_at.localeCompare(b.created_at) || a.id - b.id) * (orderType === 'asc' ? 1 : -1),
    )
    return this.#paginate(req, 'tickets', rows, (t) => this.#view(t))
  }
}
