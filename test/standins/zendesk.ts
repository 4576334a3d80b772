/**
 * Zendesk Support API v2 stand-in, after Zendesk's OpenAPI document (oas.yaml): users/me, tickets (list by
 * external_id, create, show, update), organizations and groups with cursor pagination (`page[size]`,
 * `page[after]`, `meta.has_more`, `meta.after_cursor`, `links.next`), and the cursor-based incremental ticket
 * export (`start_time` or `cursor`, `after_cursor`, `end_of_stream`).
 *
 * Checks: Basic `{email}/token:{apiToken}` (`/users/me` answers an anonymous user, 200, when the credentials are
 * missing or wrong, as Zendesk does; other endpoints answer 401 "Couldn't authenticate you"); ticket bodies wrapped
 * in `{ticket: …}`, a first comment with a body, priority/status/type from Zendesk's lists, existing group and
 * organization ids, closed tickets refusing updates, `public` comments flags; the incremental export's
 * admin-only access and start_time at least a minute in the past. Errors are Zendesk's
 * `{error, description, details: {field: [{description, error}]}}`.
 *
 * API for tests (beside the PsaStandIn view, see standin.ts):
 *   const zd = await new ZendeskStandIn({ clock, exportPageSize: 50 }).start()
 *   zd.credentials                    // subdomain, email, apiToken, baseUrl
 *   zd.raw.tickets / zd.raw.organizations / zd.raw.groups / zd.me
 *   zd.addOrganizations(150)          // more organizations, for paging
 *   zd.addTicket({ subject, status }) // a ticket made "by someone else"
 *   zd.setStatus('5', 'solved')       // bumps updated_at
 *   zd.failNext(429, { retryAfter: 60 })
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

export interface ZdComment {
  id: number
  body: string
  public: boolean
  author_id: number
  created_at: string
}
export interface ZdTicket {
  id: number
  subject: string
  description: string
  status: string
  priority: string | null
  type: string | null
  group_id: number | null
  organization_id: number | null
  external_id: string | null
  requester_id: number
  submitter_id: number
  created_at: string
  updated_at: string
  comments: ZdComment[]
}
export interface ZdNamed {
  id: number
  name: string
  created_at: string
  deleted?: boolean
}

const STATUSES = ['new', 'open', 'pending', 'hold', 'solved', 'closed']
const PRIORITIES = ['urgent', 'high', 'normal', 'low']
const TYPES = ['problem', 'incident', 'question', 'task']

const DEFAULT_CREDENTIALS = {
  subdomain: 'acme',
  email: 'ops@acme.example',
  apiToken: 'zd-tok-8fJ2kL9qW3eR5tY7',
}

const ANONYMOUS = {
  id: null,
  url: null,
  name: 'Anonymous user',
  email: 'invalid@example.com',
  role: 'end-user',
  active: true,
  verified: false,
  authenticity_token: '<CORS TOKEN>',
}

export class ZendeskStandIn extends CredentialedStandIn<typeof DEFAULT_CREDENTIALS> implements PsaStandIn {
  readonly vendor = 'zendesk'
  readonly referenceField = 'external_id'
  readonly defaults = { queue: 'Support', priority: 'high' }
  readonly statuses = { initial: 'new', inProgress: 'open', resolved: 'solved' }
  readonly raw: { tickets: ZdTicket[]; organizations: ZdNamed[]; groups: ZdNamed[] }
  readonly me: { id: number; name: string; email: string; role: 'admin' | 'agent' | 'end-user' }
  readonly exportPageSize: number
  #nextTicket = 1
  #nextComment = 1001

  constructor(
    opts: CredentialOptions<typeof DEFAULT_CREDENTIALS> & {
      exportPageSize?: number
    } = {},
  ) {
    super(DEFAULT_CREDENTIALS, opts)
    this.exportPageSize = opts.exportPageSize ?? 1000
    this.me = { id: 900001, name: 'Patchbay Bot', email: this.valid.email, role: 'admin' }
    const t = isoSeconds(this.now())
    this.raw = {
      tickets: [],
      organizations: [
        { id: 360001, name: 'Contoso', created_at: t },
        { id: 360002, name: 'Fabrikam', created_at: t },
      ],
      groups: [
        { id: 3601, name: 'Support', created_at: t },
        { id: 3602, name: 'Network Operations', created_at: t },
        { id: 3603, name: 'Disbanded', created_at: t, deleted: true },
      ],
    }
  }

  addOrganizations(count: number): ZdNamed[] {
    const t = isoSeconds(this.now())
    const start = 370000 + this.raw.organizations.length
    const added = Array.from({ length: count }, (_, i) => ({
      id: start + i,
      name: `Org ${start + i}`,
      created_at: t,
    }))
    this.raw.organizations.push(...added)
    return added
  }

  addTicket(t: { subject: string; status?: string }): ZdTicket {
    const now = isoSeconds(this.now())
    const ticket: ZdTicket = {
      id: this.#nextTicket++,
      subject: t.subject,
      description: t.subject,
      status: t.status ?? 'open',
      priority: null,
      type: null,
      group_id: null,
      organization_id: null,
      external_id: null,
      requester_id: 12345,
      submitter_id: 12345,
      created_at: now,
      updated_at: now,
      comments: [
        { id: this.#nextComment++, body: t.subject, public: true, author_id: 12345, created_at: now },
      ],
    }
    this.raw.tickets.push(ticket)
    return ticket
  }

  tickets(): StandInTicket[] {
    return this.raw.tickets.map((t) => ({
      id: String(t.id),
      title: t.subject,
      status: t.status,
      queue: this.raw.groups.find((g) => g.id === t.group_id)?.name,
      company: t.organization_id === null ? undefined : String(t.organization_id),
      priority: t.priority ?? undefined,
      externalRef: t.external_id ?? undefined,
      // The first comment is the ticket's description.
      notes: t.comments.slice(1).map((c) => ({ text: c.body, internal: !c.public })),
      createdAt: new Date(t.created_at),
      updatedAt: new Date(t.updated_at),
    }))
  }

  ticket(id: string): StandInTicket | undefined {
    return this.tickets().find((t) => t.id === id)
  }

  setStatus(id: string, status: string): void {
    const t = this.raw.tickets.find((x) => String(x.id) === id)
    if (!t) throw new Error(`no Zendesk ticket ${id}`)
    if (!STATUSES.includes(status)) throw new Error(`no Zendesk status ${status}`)
    t.status = status
    t.updated_at = isoSeconds(this.now())
  }

  protected errorReply(status: number): Reply {
    const bodies: Record<number, unknown> = {
      401: { error: "Couldn't authenticate you" },
      403: {
        error: 'Forbidden',
        description:
          'You do not have access to this page. Please contact the account owner of this help desk for further help.',
      },
      404: { error: 'RecordNotFound', description: 'Not found' },
      429: {
        error: 'APIRateLimitExceeded',
        description: 'Number of allowed API requests per minute exceeded',
      },
      500: { error: 'InternalError', description: 'Something went wrong' },
      503: { error: 'ServiceUnavailable', description: 'Zendesk is temporarily unavailable' },
    }
    return { status, body: bodies[status] ?? { error: `HTTP ${status}` } }
  }

  #invalid(details: Record<string, string>): Reply {
    return {
      status: 422,
      body: {
        error: 'RecordInvalid',
        description: 'Record validation errors',
        details: Object.fromEntries(
          Object.entries(details).map(([k, v]) => [k, [{ description: v, error: 'InvalidValue' }]]),
        ),
      },
    }
  }

  #authenticated(req: RecordedRequest): boolean {
    const auth = basicCredentials(req.headers)
    return !!auth && auth.user === `${this.valid.email}/token` && auth.password === this.valid.apiToken
  }

  protected handle(req: RecordedRequest): Reply {
    const p = req.path.replace(/\.json$/, '')
    if (req.method === 'GET' && p === '/api/v2/users/me') {
      const user = this.#authenticated(req)
        ? { ...this.me, url: `${this.url}/api/v2/users/${this.me.id}.json`, active: true, verified: true }
        : ANONYMOUS
      return { status: 200, body: { user } }
    }
    if (!this.#authenticated(req)) return this.errorReply(401)
    if (p === '/api/v2/tickets' && req.method === 'GET') {
      const ext = req.query.get('external_id')
      const rows = this.raw.tickets.filter((t) => ext === null || t.external_id === ext)
      return {
        status: 200,
        body: {
          tickets: rows.map((t) => this.#view(t)),
          next_page: null,
          previous_page: null,
          count: rows.length,
        },
      }
    }
    if (p === '/api/v2/tickets' && req.method === 'POST') return this.#create(req)
    const one = /^\/api\/v2\/tickets\/(\d+)$/.exec(p)
    if (one) {
      const t = this.raw.tickets.find((x) => x.id === Number(one[1]))
      if (!t) return this.errorReply(404)
      if (req.method === 'GET') return { status: 200, body: { ticket: this.#view(t) } }
      if (req.method === 'PUT') return this.#update(req, t)
    }
    if (req.method === 'GET' && p === '/api/v2/organizations')
      return this.#cursorList(req, 'organizations', this.raw.organizations)
    if (req.method === 'GET' && p === '/api/v2/groups')
      return this.#cursorList(req, 'groups', this.raw.groups)
    if (req.method === 'GET' && p === '/api/v2/incremental/tickets/cursor') return this.#export(req)
    return { status: 404, body: { error: 'InvalidEndpoint', description: 'Not found' } }
  }

  #view(t: ZdTicket) {
    const { comments: _, ...rest } = t
    return { ...rest, url: `${this.url}/api/v2/tickets/${t.id}.json`, tags: [], via: { channel: 'api' } }
  }

  #create(req: RecordedRequest): Reply {
    const b = objectBody(req)?.ticket as Record<string, unknown> | undefined
    if (!b || typeof b !== 'object') {
      return {
        status: 400,
        body: { error: 'InvalidJSON', description: 'The request must contain a ticket object' },
      }
    }
    const comment = b.comment as { body?: unknown; html_body?: unknown; public?: unknown } | undefined
    const text =
      typeof comment?.body === 'string'
        ? comment.body
        : typeof comment?.html_body === 'string'
          ? comment.html_body
          : ''
    const errors: Record<string, string> = {}
    if (!text.trim()) errors.description = 'Description: cannot be blank'
    const status = b.status ?? 'new'
    if (typeof status !== 'string' || !STATUSES.includes(status) || status === 'closed') {
      errors.status = `Status: ${String(status)} is not valid`
    }
    if (b.priority !== undefined && !PRIORITIES.includes(String(b.priority)))
      errors.priority = `Priority: ${String(b.priority)} is not valid`
    if (b.type !== undefined && !TYPES.includes(String(b.type)))
      errors.type = `Type: ${String(b.type)} is not valid`
    if (b.group_id !== undefined && !this.raw.groups.some((g) => g.id === b.group_id && !g.deleted)) {
      errors.group_id = 'Group: is invalid'
    }
    if (b.organization_id !== undefined && !this.raw.organizations.some((o) => o.id === b.organization_id)) {
      errors.organization_id = 'Organization: is invalid'
    }
    if (b.external_id !== undefined && typeof b.external_id !== 'string')
      errors.external_id = 'External id: must be a string'
    if (Object.keys(errors).length) return this.#invalid(errors)
    const now = isoSeconds(this.now())
    const t: ZdTicket = {
      id: this.#nextTicket++,
      subject: typeof b.subject === 'string' && b.subject ? b.subject : text.slice(0, 80),
      description: text,
      status: status as string,
      priority: (b.priority as string | undefined) ?? null,
      type: (b.type as string | undefined) ?? null,
      group_id: (b.group_id as number | undefined) ?? null,
      organization_id: (b.organization_id as number | undefined) ?? null,
      external_id: (b.external_id as string | undefined) ?? null,
      requester_id: this.me.id,
      submitter_id: this.me.id,
      created_at: now,
      updated_at: now,
      comments: [
        {
          id: this.#nextComment++,
          body: text,
          public: comment?.public !== false,
          author_id: this.me.id,
          created_at: now,
        },
      ],
    }
    this.raw.tickets.push(t)
    return {
      status: 201,
      body: {
        ticket: this.#view(t),
        audit: { id: this.#nextComment++, ticket_id: t.id, created_at: now, events: [] },
      },
      headers: { location: `${this.url}/api/v2/tickets/${t.id}.json` },
    }
  }

  #update(req: RecordedRequest, t: ZdTicket): Reply {
    const b = objectBody(req)?.ticket as Record<string, unknown> | undefined
    if (!b || typeof b !== 'object') {
      return {
        status: 400,
        body: { error: 'InvalidJSON', description: 'The request must contain a ticket object' },
      }
    }
    if (t.status === 'closed') return this.#invalid({ status: 'Status: closed prevents ticket update' })
    const errors: Record<string, string> = {}
    if (b.status !== undefined && (typeof b.status !== 'string' || !STATUSES.includes(b.status))) {
      errors.status = `Status: ${String(b.status)} is not valid`
    }
    if (b.status === 'new' && t.status !== 'new') errors.status = 'Status: cannot be set to New'
    const comment = b.comment as { body?: unknown; public?: unknown } | undefined
    if (comment !== undefined && (typeof comment.body !== 'string' || !comment.body.trim())) {
      errors.comment = 'Comment: body cannot be blank'
    }
    if (comment !== undefined && comment.public !== undefined && typeof comment.public !== 'boolean') {
      errors.comment = 'Comment: public must be true or false'
    }
    if (Object.keys(errors).length) return this.#invalid(errors)
    const now = isoSeconds(this.now())
    if (typeof b.status === 'string') t.status = b.status
    if (comment) {
      t.comments.push({
        id: this.#nextComment++,
        body: comment.body as string,
        public: comment.public !== false,
        author_id: this.me.id,
        created_at: now,
      })
    }
    t.updated_at = now
    return {
      status: 200,
      body: {
        ticket: this.#view(t),
        audit: { id: this.#nextComment++, ticket_id: t.id, created_at: now, events: [] },
      },
    }
  }

  #cursorList(req: RecordedRequest, key: string, rows: ZdNamed[]): Reply {
    const size = Number(req.query.get('page[size]') ?? 100)
    if (!Number.isInteger(size) || size < 1 || size > 100) {
      return {
        status: 400,
        body: { error: 'InvalidPaginationParameter', description: 'page[size] must be between 1 and 100' },
      }
    }
    const after = req.query.get('page[after]')
    let start = 0
    if (after) {
      const id = Number(Buffer.from(after, 'base64url').toString('utf8'))
      if (!Number.isFinite(id))
        return {
          status: 400,
          body: { error: 'InvalidPaginationParameter', description: 'page[after] is invalid' },
        }
      start = rows.findIndex((r) => r.id > id)
      if (start < 0) start = rows.length
    }
    const page = rows.slice(start, start + size)
    const hasMore = start + size < rows.length
    const last = page.at(-1)
    const afterCursor = last ? Buffer.from(String(last.id)).toString('base64url') : null
    return {
      status: 200,
      body: {
        [key]: page,
        meta: { has_more: hasMore, after_cursor: afterCursor, before_cursor: null },
        links: {
          next: hasMore ? `${this.url}${req.path}?page[size]=${size}&page[after]=${afterCursor}` : null,
          prev: null,
        },
      },
    }
  }

  #export(req: RecordedRequest): Reply {
    if (this.me.role !== 'admin') return this.errorReply(403)
    const cursor = req.query.get('cursor')
    const startTime = req.query.get('start_time')
    let after: { ts: number; id: number }
    if (cursor) {
      const m = /^(\d+)\|(\d+)$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'))
      if (!m) return { status: 422, body: { error: 'InvalidCursor', description: 'The cursor is invalid' } }
      after = { ts: Number(m[1]), id: Number(m[2]) }
    } else {
      if (startTime === null || !/^\d+$/.test(startTime)) {
        return { status: 400, body: { error: 'InvalidValue', description: 'start_time is required' } }
      }
      if (Number(startTime) * 1000 > this.now().getTime() - 60_000) {
        return {
          status: 400,
          body: {
            error: 'InvalidValue',
            description: 'Too recent start_time. Use a start_time at least one minute in the past',
          },
        }
      }
      // start_time is inclusive: a ticket updated at exactly that second is exported.
      after = { ts: Number(startTime) * 1000 - 1, id: Number.MAX_SAFE_INTEGER }
    }
    const ordered = [...this.raw.tickets].sort(
      (a, b) => Date.parse(a.updated_at) - Date.parse(b.updated_at) || a.id - b.id,
    )
    const rest = ordered.filter((t) => {
      const ts = Date.parse(t.updated_at)
      return ts > after.ts || (ts === after.ts && t.id > after.id)
    })
    const page = rest.slice(0, this.exportPageSize)
    const last = page.at(-1)
    const next = last ? { ts: Date.parse(last.updated_at), id: last.id } : after
    const afterCursor = Buffer.from(`${next.ts}|${next.id}`).toString('base64url')
    return {
      status: 200,
      body: {
        tickets: page.map((t) => ({
          ...this.#view(t),
          generated_timestamp: Math.floor(Date.parse(t.updated_at) / 1000),
        })),
        after_cursor: afterCursor,
        after_url: `${this.url}/api/v2/incremental/tickets/cursor.json?cursor=${afterCursor}`,
        before_cursor: null,
        before_url: null,
        end_of_stream: rest.length <= this.exportPageSize,
      },
    }
  }
}
