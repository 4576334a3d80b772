/**
 * ConnectWise PSA (Manage) REST 3.0 stand-in, after https://developer.connectwise.com/Products/ConnectWise_PSA/REST.
 *
 * Checks: Basic auth `companyId+publicKey:privateKey` and the `clientId` header on every call; the
 * `/v4_6_release/apis/3.0` path; ticket bodies (summary ≤ 100 characters, an existing board, company, status and
 * priority), JSON Patch updates (`[{op, path, value}]`, status by name or id — `status/id` an integer — on the
 * ticket's board), notes (one of detailDescriptionFlag / internalAnalysisFlag / resolutionFlag must be true; listed
 * like any list),
 * `conditions` (`field op value` joined by `and`), `orderBy`, `page`/`pageSize` with a Link header, `fields` (only
 * the named fields come back). Errors use ConnectWise's
 * `{code, message, errors: [{code, message, resource, field}]}`.
 *
 * API for tests (beside the PsaStandIn view, see standin.ts):
 *   const cw = await new ConnectWiseStandIn({ clock }).start()
 *   cw.credentials                    // companyId, publicKey, privateKey, clientId, siteUrl, baseUrl
 *   cw.raw.tickets / cw.raw.companies / cw.raw.boards   // ConnectWise-shaped records, mutable
 *   cw.addCompanies(150)              // more companies, for paging
 *   cw.addTicket({ summary, status }) // a ticket made "by someone else"
 *   cw.setStatus('1001', 'Resolved')  // status by name on the ticket's board; bumps _info.lastUpdated
 *   cw.failNext(503) / cw.failNext(429, { retryAfter: 30 })
 *   cw.failWhen(503, (req) => req.query.get('page') === '2')   // fail one request chosen by path and query
 *   cw.raw.callbacks                  // callbacks registered with POST /system/callbacks (CallbackEntry)
 *
 * Callbacks: POST /system/callbacks requires `url` (absolute, ≤ 1000), `objectId` (integer), `type` and `level`
 * (for tickets: owner, board, status, company), `description` ≤ 100; a board-level callback needs an existing board.
 * DELETE /system/callbacks/{id} answers 204, or 404 for an unknown id.
 *
 * Change management (MODELS.md of the vendor document set, copied here as checks): board statuses
 * (`/service/boards/{id}/statuses`), members (`/system/members`, found by `officeEmail`/`primaryEmail`), schedule
 * entries (`POST /schedule/entries`: `type` required, `objectId` an existing ticket for type `S`, `member` an
 * existing member), time entries (`POST /time/entries`: `timeStart` required, `chargeToId` + `chargeToType`
 * `ServiceTicket` an existing ticket, `member`), configurations and their types (`/company/configurations`,
 * `/company/configurations/types`), ticket configurations (`POST /service/tickets/{id}/configurations`, `{id}`).
 * `conditions` take `and`, `or`, parentheses, `=`/`!=`/`<`/`>`/`<=`/`>=`, `like "%x%"` and `in (1,2)`; an unknown
 * field or a malformed expression is ConnectWise's 400. The Accept header of each request is kept in
 * `acceptHeaders` (ConnectWise pins the model version from it).
 *
 *   cw.raw.members / cw.raw.scheduleEntries / cw.raw.timeEntries / cw.raw.configurations / cw.raw.configurationTypes
 *   cw.addMember({ firstName, lastName, email })
 */

import type { CredentialOptions, StandInTicket } from './standin.ts'
import {
  basicCredentials,
  CredentialedStandIn,
  isoSeconds,
  objectBody,
  type PsaStandIn,
  type RecordedRequest,
  type Reply,
} from './standin.ts'

const API = '/v4_6_release/apis/3.0'
const CALLBACK_KEY_PATH = '/v4_6_release/system/callbackkey/index.rails'

export interface CwRef {
  id: number
  name: string
}
export interface CwCompany {
  id: number
  identifier: string
  name: string
  deletedFlag: boolean
}
export interface CwBoard {
  id: number
  name: string
  inactiveFlag: boolean
  statuses: CwRef[]
}
export interface CwNote {
  id: number
  ticketId: number
  text: string
  detailDescriptionFlag: boolean
  internalAnalysisFlag: boolean
  resolutionFlag: boolean
  dateCreated: string
}
export interface CwMember {
  id: number
  identifier: string
  firstName: string
  lastName: string
  officeEmail: string
  primaryEmail: string
  inactiveFlag: boolean
}
export interface CwScheduleEntry {
  id: number
  objectId: number
  type: { id: number; identifier: string }
  member: { id: number; identifier: string }
  dateStart: string
  dateEnd: string
  name?: string
}
export interface CwTimeEntry {
  id: number
  chargeToId: number
  chargeToType: string
  member: { id: number; identifier: string }
  timeStart: string
  timeEnd?: string
  notes?: string
}
export interface CwConfiguration {
  id: number
  name: string
  type: CwRef
  company: { id: number; identifier: string; name: string }
  activeFlag: boolean
}
export interface CwTicket {
  id: number
  configurations?: number[]
  summary: string
  initialDescription?: string
  board: CwRef
  company: { id: number; identifier: string; name: string }
  status: CwRef
  priority: CwRef
  externalXRef?: string
  closedFlag: boolean
  notes: CwNote[]
  _info: { lastUpdated: string; dateEntered: string }
}

const DEFAULT_CREDENTIALS = {
  companyId: 'contoso',
  publicKey: 'pub-Xq7eL2mN9aB4',
  privateKey: 'priv-Zr8kW3pQ6tY1vC5d',
  clientId: '6f3a4c1e-8b2d-4f5a-9c7e-1d2b3a4c5e6f',
  siteUrl: 'https://na.myconnectwise.net',
}

function statuses(startId: number): CwRef[] {
  return ['New', 'In Progress', 'Waiting Customer', 'Resolved', 'Closed'].map((name, i) => ({
    id: startId + i,
    name,
  }))
}

export class ConnectWiseStandIn
  extends CredentialedStandIn<typeof DEFAULT_CREDENTIALS>
  implements PsaStandIn
{
  readonly vendor = 'connectwise'
  readonly referenceField = 'externalXRef'
  readonly defaults = { queue: 'Service Board', company: 'Contoso', priority: 'Priority 2 - Quick Response' }
  readonly statuses = { initial: 'New', inProgress: 'In Progress', resolved: 'Resolved' }
  readonly raw: {
    tickets: CwTicket[]
    companies: CwCompany[]
    boards: CwBoard[]
    priorities: CwRef[]
    callbacks: Record<string, unknown>[]
    members: CwMember[]
    scheduleEntries: CwScheduleEntry[]
    timeEntries: CwTimeEntry[]
    configurations: CwConfiguration[]
    configurationTypes: CwRef[]
  }
  readonly acceptHeaders: string[] = []
  #nextMember = 170
  #nextSchedule = 5001
  #nextTime = 9001
  #nextCallback = 41
  #nextTicket = 1001
  #nextNote = 1

  constructor(opts: CredentialOptions<typeof DEFAULT_CREDENTIALS> = {}) {
    super(DEFAULT_CREDENTIALS, opts)
    this.raw = {
      callbacks: [],
      members: [],
      scheduleEntries: [],
      timeEntries: [],
      configurations: [],
      configurationTypes: [
        { id: 1, name: 'Server' },
        { id: 2, name: 'Network Switch' },
        { id: 3, name: 'Workstation' },
        { id: 4, name: 'Printer' },
      ],
      tickets: [],
      companies: [
        { id: 250, identifier: 'Contoso', name: 'Contoso Ltd', deletedFlag: false },
        { id: 251, identifier: 'Fabrikam', name: 'Fabrikam Inc', deletedFlag: false },
        { id: 19, identifier: 'Gone', name: 'Deleted Company', deletedFlag: true },
      ],
      boards: [
        { id: 1, name: 'Service Board', inactiveFlag: false, statuses: statuses(1) },
        { id: 2, name: 'Help Desk', inactiveFlag: false, statuses: statuses(11) },
        { id: 3, name: 'Old Board', inactiveFlag: true, statuses: statuses(21) },
      ],
      priorities: [
        { id: 1, name: 'Priority 1 - Emergency Response' },
        { id: 2, name: 'Priority 2 - Quick Response' },
        { id: 3, name: 'Priority 3 - Normal Response' },
        { id: 4, name: 'Priority 4 - Schedule Maintenance' },
      ],
    }
  }

  addCompanies(count: number): CwCompany[] {
    const start = 1000 + this.raw.companies.length
    const added = Array.from({ length: count }, (_, i) => ({
      id: start + i,
      identifier: `Company${String(start + i)}`,
      name: `Company ${String(start + i).padStart(5, '0')}`,
      deletedFlag: false,
    }))
    this.raw.companies.push(...added)
    return added
  }

  addMember(m: { firstName: string; lastName: string; email: string; identifier?: string }): CwMember {
    const member: CwMember = {
      id: this.#nextMember++,
      identifier: m.identifier ?? `${m.firstName[0] ?? ''}${m.lastName}`.toLowerCase().slice(0, 15),
      firstName: m.firstName,
      lastName: m.lastName,
      officeEmail: m.email,
      primaryEmail: m.email,
      inactiveFlag: false,
    }
    this.raw.members.push(member)
    return member
  }

  addConfiguration(c: { name: string; type: string; company?: string; active?: boolean }): CwConfiguration {
    const type = this.raw.configurationTypes.find((t) => t.name === c.type) as CwRef
    const company = this.raw.companies.find((x) => x.identifier === (c.company ?? 'Contoso')) as CwCompany
    const cfg: CwConfiguration = {
      id: 3000 + this.raw.configurations.length,
      name: c.name,
      type: { ...type },
      company: { id: company.id, identifier: company.identifier, name: company.name },
      activeFlag: c.active ?? true,
    }
    this.raw.configurations.push(cfg)
    return cfg
  }

  addTicket(t: {
    summary: string
    status?: string
    board?: string
    externalXRef?: string
    company?: string
  }): CwTicket {
    const board = this.raw.boards.find((b) => b.name === (t.board ?? 'Service Board')) as CwBoard
    const status = board.statuses.find((s) => s.name === (t.status ?? 'New')) as CwRef
    const company = (this.raw.companies.find((c) => c.identifier === t.company) ??
      this.raw.companies[0]) as CwCompany
    const now = isoSeconds(this.now())
    const ticket: CwTicket = {
      id: this.#nextTicket++,
      summary: t.summary,
      board: { id: board.id, name: board.name },
      company: { id: company.id, identifier: company.identifier, name: company.name },
      status: { ...status },
      priority: { ...(this.raw.priorities[2] as CwRef) },
      ...(t.externalXRef ? { externalXRef: t.externalXRef } : {}),
      closedFlag: false,
      notes: [],
      _info: { lastUpdated: now, dateEntered: now },
    }
    this.raw.tickets.push(ticket)
    return ticket
  }

  tickets(): StandInTicket[] {
    return this.raw.tickets.map((t) => ({
      id: String(t.id),
      title: t.summary,
      status: t.status.name,
      queue: t.board.name,
      company: t.company.identifier,
      priority: t.priority.name,
      externalRef: t.externalXRef,
      notes: t.notes.map((n) => ({ text: n.text, internal: n.internalAnalysisFlag })),
      createdAt: new Date(t._info.dateEntered),
      updatedAt: new Date(t._info.lastUpdated),
    }))
  }

  ticket(id: string): StandInTicket | undefined {
    return this.tickets().find((t) => t.id === id)
  }

  setStatus(id: string, status: string): void {
    const t = this.raw.tickets.find((x) => String(x.id) === id)
    if (!t) throw new Error(`no ConnectWise ticket ${id}`)
    const s = this.#board(t.board.id)?.statuses.find((x) => x.name === status)
    if (!s) throw new Error(`no status "${status}" on board ${t.board.name}`)
    t.status = { ...s }
    t.closedFlag = status === 'Closed'
    this.#touch(t)
  }

  #touch(t: CwTicket) {
    t._info.lastUpdated = isoSeconds(this.now())
  }

  #board(id: number) {
    return this.raw.boards.find((b) => b.id === id)
  }

  protected errorReply(status: number): Reply {
    const messages: Record<number, [string, string]> = {
      400: ['InvalidObject', 'The request is invalid'],
      401: ['Unauthorized', 'The public/private key pair or the company is not valid'],
      403: ['Forbidden', 'You do not have security permission to perform this action.'],
      404: ['NotFound', 'The record was not found'],
      429: ['TooManyRequests', 'Too many requests; slow down and try again later'],
      500: ['UnexpectedError', 'An unexpected error has occurred'],
      503: ['ServiceUnavailable', 'The service is temporarily unavailable'],
    }
    const [code, message] = messages[status] ?? ['Error', `HTTP ${status}`]
    return { status, body: { code, message } }
  }

  #callback(req: RecordedRequest): Reply {
    const b = objectBody(req)
    const problems: { code: string; message: string; field: string }[] = []
    const need = (field: string, ok: boolean, message: string) => {
      if (!ok) problems.push({ code: 'InvalidField', message, field })
    }
    need(
      'url',
      typeof b?.url === 'string' && /^https?:\/\/[^/]/.test(b.url) && b.url.length <= 1000,
      'url is required',
    )
    need('objectId', Number.isInteger(b?.objectId), 'objectId is required')
    need('type', typeof b?.type === 'string' && b.type.length > 0, 'type is required')
    need(
      'level',
      typeof b?.level === 'string' && ['owner', 'board', 'status', 'company'].includes(b.level.toLowerCase()),
      'level is required',
    )
    need(
      'description',
      b?.description === undefined || (typeof b.description === 'string' && b.description.length <= 100),
      'description may be at most 100 characters',
    )
    if (problems.length === 0 && String(b?.level).toLowerCase() === 'board') {
      need(
        'objectId',
        this.raw.boards.some((x) => x.id === b?.objectId),
        `Board ${String(b?.objectId)} not found`,
      )
    }
    if (problems.length > 0 || !b) return this.#invalid('callbackEntry', problems)
    const entry = { ...b, id: this.#nextCallback++, inactiveFlag: b.inactiveFlag === true }
    this.raw.callbacks.push(entry)
    return { status: 201, body: entry }
  }

  #invalid(resource: string, errors: { code: string; message: string; field: string }[]): Reply {
    return {
      status: 400,
      body: {
        code: 'InvalidObject',
        message: `${resource} object is invalid`,
        errors: errors.map((e) => ({ ...e, resource })),
      },
    }
  }

  /**
   * Fails the next request that `match` accepts (the path and its query, unlike failNext's path alone): a sync that
   * stops on its second page, say. Checked after authentication, like a vendor outage behind the login.
   */
  failWhen(
    status: number,
    match: (req: RecordedRequest) => boolean,
    opts: { retryAfter?: number } = {},
  ): this {
    this.#failWhen.push({ status, match, ...opts })
    return this
  }

  #failWhen: { status: number; match: (req: RecordedRequest) => boolean; retryAfter?: number }[] = []

  /** The key callbacks are signed with, served at `callbackKeyUrl` as ConnectWise publishes it (no auth). */
  readonly callbackSigningKey = 'cw-callback-signing-key'
  get callbackKeyUrl(): string {
    return `${this.url}${CALLBACK_KEY_PATH}?companyName=${this.valid.companyId}&id=stand-in`
  }

  protected handle(req: RecordedRequest): Reply {
    // The key URL of a callback's Metadata is public: a receiver fetches it without credentials.
    if (req.method === 'GET' && req.path === CALLBACK_KEY_PATH) {
      return { status: 200, body: { signing_key: this.callbackSigningKey } }
    }
    const auth = basicCredentials(req.headers)
    const v = this.valid
    if (!auth || auth.user !== `${v.companyId}+${v.publicKey}` || auth.password !== v.privateKey) {
      return this.errorReply(401)
    }
    if (req.headers.clientid !== v.clientId) {
      return { status: 401, body: { code: 'Unauthorized', message: 'A valid clientId header is required' } }
    }
    if (!req.path.startsWith(`${API}/`)) return this.errorReply(404)
    this.acceptHeaders.push(String(req.headers.accept ?? ''))
    const planned = this.#failWhen.findIndex((f) => f.match(req))
    if (planned >= 0) {
      const [f] = this.#failWhen.splice(planned, 1)
      const base = this.errorReply(f?.status ?? 503)
      return {
        ...base,
        headers: f?.retryAfter !== undefined ? { 'retry-after': String(f.retryAfter) } : {},
      }
    }
    const path = req.path.slice(API.length)
    const extra = this.#changeManagement(req, path)
    if (extra) return extra
    if (req.method === 'GET' && path === '/system/info') {
      return {
        status: 200,
        body: {
          version: 'v2025.1.102345',
          isCloud: true,
          serverTimeZone: 'Eastern Standard Time',
          cloudRegion: 'NA',
        },
      }
    }
    if (path === '/system/callbacks' && req.method === 'POST') return this.#callback(req)
    const cb = /^\/system\/callbacks\/(\d+)$/.exec(path)
    if (cb && req.method === 'DELETE') {
      const i = this.raw.callbacks.findIndex((c) => c.id === Number(cb[1]))
      if (i < 0) return { status: 404, body: { code: 'NotFound', message: `Callback ${cb[1]} not found` } }
      this.raw.callbacks.splice(i, 1)
      return { status: 204 }
    }
    if (path === '/service/tickets') {
      if (req.method === 'GET')
        return this.#list(req, this.raw.tickets as unknown as Record<string, unknown>[])
      if (req.method === 'POST') return this.#createTicket(req)
    }
    const one = /^\/service\/tickets\/(\d+)(\/notes)?$/.exec(path)
    if (one) {
      const t = this.raw.tickets.find((x) => x.id === Number(one[1]))
      if (!t) return { status: 404, body: { code: 'NotFound', message: `Ticket ${one[1]} not found` } }
      if (!one[2] && req.method === 'GET') return { status: 200, body: this.#view(t) }
      if (!one[2] && req.method === 'PATCH') return this.#patchTicket(req, t)
      if (one[2] && req.method === 'POST') return this.#addNote(req, t)
      if (one[2] && req.method === 'GET')
        return this.#list(req, t.notes as unknown as Record<string, unknown>[])
    }
    if (req.method === 'GET' && path === '/company/companies') {
      return this.#list(req, this.raw.companies as unknown as Record<string, unknown>[])
    }
    if (req.method === 'GET' && path === '/service/boards') {
      return this.#list(
        req,
        this.raw.boards.map(({ statuses: _, ...b }) => b),
      )
    }
    return this.errorReply(404)
  }

  #view(t: CwTicket) {
    const { notes: _notes, initialDescription: _d, configurations: _c, ...rest } = t
    return rest
  }

  /** The endpoints change management uses; undefined for any other path. */
  #changeManagement(req: RecordedRequest, path: string): Reply | undefined {
    const statuses = /^\/service\/boards\/(\d+)\/statuses$/.exec(path)
    if (statuses && req.method === 'GET') {
      const board = this.#board(Number(statuses[1]))
      if (!board)
        return { status: 404, body: { code: 'NotFound', message: `Board ${statuses[1]} not found` } }
      return this.#list(
        req,
        board.statuses.map((s, i) => ({ ...s, board: { id: board.id, name: board.name }, sortOrder: i })),
      )
    }
    if (path === '/system/members' && req.method === 'GET')
      return this.#list(req, this.raw.members as unknown as Record<string, unknown>[])
    if (path === '/company/configurations/types' && req.method === 'GET')
      return this.#list(
        req,
        this.raw.configurationTypes.map((t) => ({ ...t, inactiveFlag: false })),
      )
    if (path === '/company/configurations' && req.method === 'GET')
      return this.#list(req, this.raw.configurations as unknown as Record<string, unknown>[])
    if (path === '/schedule/entries' && req.method === 'POST') return this.#schedule(req)
    if (path === '/schedule/entries' && req.method === 'GET')
      return this.#list(req, this.raw.scheduleEntries as unknown as Record<string, unknown>[])
    if (path === '/time/entries' && req.method === 'POST') return this.#time(req)
    const cfg = /^\/service\/tickets\/(\d+)\/configurations$/.exec(path)
    if (cfg && req.method === 'POST') {
      const t = this.raw.tickets.find((x) => x.id === Number(cfg[1]))
      if (!t) return { status: 404, body: { code: 'NotFound', message: `Ticket ${cfg[1]} not found` } }
      const b = objectBody(req)
      const c = this.raw.configurations.find((x) => x.id === b?.id)
      if (!c)
        return this.#invalid('configurationReference', [
          { code: 'NotFound', message: 'Configuration not found', field: 'id' },
        ])
      t.configurations ??= []
      if (t.configurations.includes(c.id))
        return this.#invalid('configurationReference', [
          { code: 'InvalidObject', message: 'This configuration already exists on the ticket', field: 'id' },
        ])
      t.configurations.push(c.id)
      this.#touch(t)
      return { status: 201, body: { id: c.id, deviceIdentifier: c.name } }
    }
    return undefined
  }

  #memberRef(v: unknown): CwMember | undefined {
    const r = v as { id?: unknown; identifier?: unknown } | undefined
    return this.raw.members.find(
      (m) =>
        (r?.id !== undefined && m.id === r.id) ||
        (r?.identifier !== undefined && m.identifier === r.identifier),
    )
  }

  #schedule(req: RecordedRequest): Reply {
    const b = objectBody(req)
    const errors: { code: string; message: string; field: string }[] = []
    const type = b?.type as { id?: unknown; identifier?: unknown } | undefined
    if (!type || (type.identifier === undefined && type.id === undefined))
      errors.push({ code: 'NullValue', message: 'The type field is required.', field: 'type' })
    else if (type.identifier !== 'S' && type.id !== 4)
      errors.push({ code: 'InvalidField', message: 'Only service ticket schedule types here', field: 'type' })
    const ticket = this.raw.tickets.find((t) => t.id === b?.objectId)
    if (!ticket) errors.push({ code: 'NotFound', message: 'Service ticket not found', field: 'objectId' })
    const member = this.#memberRef(b?.member)
    if (!member) errors.push({ code: 'NotFound', message: 'Member not found', field: 'member' })
    for (const f of ['dateStart', 'dateEnd'] as const) {
      const v = b?.[f]
      if (v !== undefined && (typeof v !== 'string' || !/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/.test(v)))
        errors.push({ code: 'InvalidField', message: `${f} must be yyyy-MM-ddTHH:mm:ssZ`, field: f })
    }
    if (typeof b?.name === 'string' && b.name.length > 250)
      errors.push({ code: 'MaxLengthField', message: 'name is at most 250 characters', field: 'name' })
    if (errors.length || !b || !ticket || !member) return this.#invalid('scheduleEntry', errors)
    const entry: CwScheduleEntry = {
      id: this.#nextSchedule++,
      objectId: ticket.id,
      type: { id: 4, identifier: 'S' },
      member: { id: member.id, identifier: member.identifier },
      dateStart: String(b.dateStart ?? isoSeconds(this.now())),
      dateEnd: String(b.dateEnd ?? isoSeconds(this.now())),
      ...(typeof b.name === 'string' ? { name: b.name } : {}),
    }
    this.raw.scheduleEntries.push(entry)
    return { status: 201, body: entry }
  }

  #time(req: RecordedRequest): Reply {
    const b = objectBody(req)
    const errors: { code: string; message: string; field: string }[] = []
    if (typeof b?.timeStart !== 'string' || Number.isNaN(Date.parse(b.timeStart)))
      errors.push({ code: 'NullValue', message: 'The timeStart field is required.', field: 'timeStart' })
    if (b?.chargeToType !== 'ServiceTicket')
      errors.push({
        code: 'InvalidField',
        message: 'chargeToType must be ServiceTicket here',
        field: 'chargeToType',
      })
    const ticket = this.raw.tickets.find((t) => t.id === b?.chargeToId)
    if (!ticket) errors.push({ code: 'NotFound', message: 'Ticket not found', field: 'chargeToId' })
    const member = this.#memberRef(b?.member)
    if (!member) errors.push({ code: 'NotFound', message: 'Member not found', field: 'member' })
    if (errors.length || !b || !ticket || !member) return this.#invalid('timeEntry', errors)
    const entry: CwTimeEntry = {
      id: this.#nextTime++,
      chargeToId: ticket.id,
      chargeToType: 'ServiceTicket',
      member: { id: member.id, identifier: member.identifier },
      timeStart: String(b.timeStart),
      ...(typeof b.timeEnd === 'string' ? { timeEnd: b.timeEnd } : {}),
      ...(typeof b.notes === 'string' ? { notes: b.notes } : {}),
    }
    this.raw.timeEntries.push(entry)
    return { status: 201, body: entry }
  }

  #createTicket(req: RecordedRequest): Reply {
    const b = objectBody(req)
    if (!b)
      return this.#invalid('ticket', [
        { code: 'InvalidObject', message: 'A ticket body is required', field: '' },
      ])
    const errors: { code: string; message: string; field: string }[] = []
    const summary = b.summary
    if (typeof summary !== 'string' || !summary.trim()) {
      errors.push({ code: 'NullValue', message: 'The summary field is required.', field: 'summary' })
    } else if (summary.length > 100) {
      errors.push({
        code: 'MaxLengthField',
        message: 'The field summary must be a string with a maximum length of 100.',
        field: 'summary',
      })
    }
    const boardRef = (b.board ?? { name: 'Service Board' }) as { id?: number; name?: string }
    const board = this.raw.boards.find((x) => x.id === boardRef.id || x.name === boardRef.name)
    if (!board) errors.push({ code: 'NotFound', message: 'Service Board not found', field: 'board' })
    const companyRef = b.company as { id?: number; identifier?: string } | undefined
    const company = companyRef
      ? this.raw.companies.find((x) => x.id === companyRef.id || x.identifier === companyRef.identifier)
      : undefined
    if (!companyRef)
      errors.push({ code: 'NullValue', message: 'The company field is required.', field: 'company' })
    else if (!company) errors.push({ code: 'NotFound', message: 'Company not found', field: 'company' })
    const statusRef = (b.status ?? { name: 'New' }) as { id?: number; name?: string }
    const status = board?.statuses.find((s) => s.id === statusRef.id || s.name === statusRef.name)
    if (board && !status) {
      errors.push({
        code: 'NotFound',
        message: `Service Status ${statusRef.name ?? statusRef.id} not found for Service Board ${board.id}`,
        field: 'status/id',
      })
    }
    const priorityRef = (b.priority ?? { name: 'Priority 3 - Normal Response' }) as {
      id?: number
      name?: string
    }
    const priority = this.raw.priorities.find((p) => p.id === priorityRef.id || p.name === priorityRef.name)
    if (!priority) errors.push({ code: 'NotFound', message: 'Priority not found', field: 'priority' })
    if (b.externalXRef !== undefined && (typeof b.externalXRef !== 'string' || b.externalXRef.length > 100)) {
      errors.push({
        code: 'MaxLengthField',
        message: 'externalXRef is at most 100 characters',
        field: 'externalXRef',
      })
    }
    if (errors.length || !board || !company || !status || !priority) return this.#invalid('ticket', errors)
    const now = isoSeconds(this.now())
    const t: CwTicket = {
      id: this.#nextTicket++,
      summary: summary as string,
      ...(typeof b.initialDescription === 'string' ? { initialDescription: b.initialDescription } : {}),
      board: { id: board.id, name: board.name },
      company: { id: company.id, identifier: company.identifier, name: company.name },
      status: { ...status },
      priority: { ...priority },
      ...(typeof b.externalXRef === 'string' ? { externalXRef: b.externalXRef } : {}),
      closedFlag: false,
      notes: [],
      _info: { lastUpdated: now, dateEntered: now },
    }
    this.raw.tickets.push(t)
    return { status: 201, body: this.#view(t) }
  }

  #patchTicket(req: RecordedRequest, t: CwTicket): Reply {
    const ops = req.body
    if (!Array.isArray(ops) || ops.length === 0) {
      return this.#invalid('ticket', [
        { code: 'InvalidObject', message: 'The body must be an array of patch operations', field: '' },
      ])
    }
    const board = this.#board(t.board.id) as CwBoard
    for (const raw of ops) {
      const op = raw as { op?: unknown; path?: unknown; value?: unknown }
      if (op.op !== 'replace' && op.op !== 'add') {
        return this.#invalid('ticket', [
          { code: 'InvalidObject', message: `Unsupported op ${String(op.op)}`, field: '' },
        ])
      }
      const path = String(op.path ?? '').replace(/^\//, '')
      if (path === 'status' || path === 'status/name' || path === 'status/id') {
        const v = op.value as { id?: number; name?: string } | string | number
        if (path === 'status/id' && !Number.isInteger(v)) {
          return this.#invalid('ticket', [
            { code: 'InvalidField', message: 'status/id takes an integer', field: 'status/id' },
          ])
        }
        const wanted =
          path === 'status/name'
            ? { name: v as string }
            : path === 'status/id'
              ? { id: Number(v) }
              : (v as { id?: number; name?: string })
        const s = board.statuses.find((x) => x.id === wanted.id || x.name === wanted.name)
        if (!s) {
          return this.#invalid('ticket', [
            {
              code: 'NotFound',
              message: `Service Status ${wanted.name ?? wanted.id} not found for Service Board ${board.id}`,
              field: 'status/id',
            },
          ])
        }
        t.status = { ...s }
        t.closedFlag = s.name === 'Closed'
      } else if (path === 'summary' && typeof op.value === 'string') {
        t.summary = op.value
      } else {
        return this.#invalid('ticket', [
          { code: 'InvalidField', message: `Cannot patch ${path}`, field: path },
        ])
      }
    }
    this.#touch(t)
    return { status: 200, body: this.#view(t) }
  }

  #addNote(req: RecordedRequest, t: CwTicket): Reply {
    const b = objectBody(req) ?? {}
    if (typeof b.text !== 'string' || !b.text) {
      return this.#invalid('note', [
        { code: 'NullValue', message: 'The text field is required.', field: 'text' },
      ])
    }
    const flags = ['detailDescriptionFlag', 'internalAnalysisFlag', 'resolutionFlag'] as const
    if (!flags.some((f) => b[f] === true)) {
      return this.#invalid('note', [
        {
          code: 'InvalidField',
          message:
            'At least one of detailDescriptionFlag, internalAnalysisFlag, or resolutionFlag must be true.',
          field: 'detailDescriptionFlag',
        },
      ])
    }
    const note: CwNote = {
      id: this.#nextNote++,
      ticketId: t.id,
      text: b.text,
      detailDescriptionFlag: b.detailDescriptionFlag === true,
      internalAnalysisFlag: b.internalAnalysisFlag === true,
      resolutionFlag: b.resolutionFlag === true,
      dateCreated: isoSeconds(this.now()),
    }
    t.notes.push(note)
    this.#touch(t)
    return { status: 201, body: note }
  }

  /** conditions, orderBy, page/pageSize and the Link header, over any list of records. */
  #list(req: RecordedRequest, rows: Record<string, unknown>[]): Reply {
    let filtered = rows
    const conditions = req.query.get('conditions')
    if (conditions) {
      const parsed = parseConditions(conditions)
      if (typeof parsed === 'string')
        return { status: 400, body: { code: 'InvalidCondition', message: parsed } }
      filtered = rows.filter(parsed)
    }
    const orderBy = req.query.get('orderBy')
    if (orderBy) {
      const [field = 'id', dir = 'asc'] = orderBy.trim().split(/\s+/)
      const sign = dir.toLowerCase() === 'desc' ? -1 : 1
      filtered = [...filtered].sort((a, b) => {
        const x = fieldValue(a, field)
        const y = fieldValue(b, field)
        return (x < y ? -1 : x > y ? 1 : Number(a.id) - Number(b.id)) * sign
      })
    }
    const page = Number(req.query.get('page') ?? 1)
    const pageSize = Number(req.query.get('pageSize') ?? 25)
    if (
      !Number.isInteger(page) ||
      page < 1 ||
      !Number.isInteger(pageSize) ||
      pageSize < 1 ||
      pageSize > 1000
    ) {
      return {
        status: 400,
        body: { code: 'InvalidObject', message: 'page and pageSize must be positive; pageSize at most 1000' },
      }
    }
    const slice = filtered.slice((page - 1) * pageSize, page * pageSize)
    const last = Math.max(1, Math.ceil(filtered.length / pageSize))
    const link = (p: number, rel: string) => {
      const q = new URLSearchParams(req.query)
      q.set('page', String(p))
      return `<${this.url}${req.path}?${q.toString()}>; rel="${rel}"`
    }
    const links: string[] = []
    if (page > 1) links.push(link(1, 'first'), link(page - 1, 'prev'))
    if (page < last) links.push(link(page + 1, 'next'), link(last, 'last'))
    // `fields` returns only the named fields (`board/id` keeps `board`), as ConnectWise does: a connector that
    // reads a field it did not ask for finds it missing here too.
    const fields = req.query
      .get('fields')
      ?.split(',')
      .map((f) => f.trim().split('/')[0] ?? '')
      .filter(Boolean)
    const body = slice.map((r) => {
      const { notes: _n, initialDescription: _d, configurations: _c, ...rest } = r
      return fields ? Object.fromEntries(Object.entries(rest).filter(([k]) => fields.includes(k))) : rest
    })
    return { status: 200, body, headers: links.length ? { link: links.join(', ') } : {} }
  }
}

function fieldValue(row: Record<string, unknown>, field: string): string | number | boolean {
  if (field === 'lastUpdated')
    return String((row._info as { lastUpdated?: string } | undefined)?.lastUpdated ?? '')
  let v: unknown = row
  for (const part of field.split('/')) v = (v as Record<string, unknown> | undefined)?.[part]
  return typeof v === 'number' || typeof v === 'boolean' ? v : String(v ?? '')
}

const CONDITION_FIELDS = [
  'id',
  'externalXRef',
  'lastUpdated',
  'deletedFlag',
  'inactiveFlag',
  'summary',
  'name',
  'identifier',
  'board/id',
  'board/name',
  'status/name',
  'company/id',
  'closedFlag',
  'activeFlag',
  'type/id',
  'officeEmail',
  'primaryEmail',
  'objectId',
  'member/id',
  'dateStart',
]

type Predicate = (r: Record<string, unknown>) => boolean

/**
 * A `conditions` expression → one predicate, or the error ConnectWise would give. Grammar (ConnectWise's
 * https://developer.connectwise.com/Products/ConnectWise_PSA/REST#/Conditions): `expr := term (or term)*`,
 * `term := factor (and factor)*`, `factor := ( expr ) | field op value | field like "…" | field in (v, …)`.
 * Strings are double-quoted; dates bracketed `[2026-02-18T12:00:00Z]`; string `=` ignores case (SQL Server).
 */
function parseConditions(text: string): Predicate | string {
  const tokens = text.match(/"(?:\\.|[^"\\])*"|\[[^\]]*\]|\(|\)|,|!=|>=|<=|=|>|<|[A-Za-z_/]+|\d+|\S/g) ?? []
  let i = 0
  const peek = () => tokens[i]
  const kw = (w: string) => peek()?.toLowerCase() === w
  const fail = (m: string): never => {
    throw new Error(m)
  }
  const value = (): string | number | boolean => {
    const t = tokens[i++]
    if (t === undefined) return fail('Expected a value at the end of conditions')
    if (/^".*"$/.test(t)) return t.slice(1, -1).replace(/\\(.)/g, '$1')
    if (/^\[.*\]$/.test(t)) {
      if (Number.isNaN(Date.parse(t.slice(1, -1))))
        fail('Dates in conditions are written [yyyy-MM-ddTHH:mm:ssZ]')
      return t.slice(1, -1)
    }
    if (t === 'true' || t === 'false') return t === 'true'
    if (/^\d+$/.test(t)) return Number(t)
    return fail(`Cannot read the value ${t}`)
  }
  const cmp = (field: string, a: unknown, b: unknown): number => {
    if (field === 'lastUpdated' || field === 'dateStart') return Date.parse(String(a)) - Date.parse(String(b))
    if (typeof a === 'string' && typeof b === 'string') return a.toLowerCase().localeCompare(b.toLowerCase())
    return a === b ? 0 : (a as number) < (b as number) ? -1 : 1
  }
  const factor = (): Predicate => {
    if (peek() === '(') {
      i++
      const e = expr()
      if (tokens[i++] !== ')') fail('Expected ) in conditions')
      return e
    }
    const field = tokens[i++] ?? ''
    if (!CONDITION_FIELDS.includes(field)) fail(`Unknown field "${field}" in conditions`)
    if (kw('like')) {
      i++
      const v = value()
      if (typeof v !== 'string') fail('like takes a quoted string')
      const re = new RegExp(
        `^${String(v)
          .split(/(\[[%_[]\]|%)/)
          .map((part) =>
            part === '%'
              ? '.*'
              : /^\[[%_[]\]$/.test(part)
                ? `\\${part[1]}`
                : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'),
          )
          .join('')}$`,
        'is',
      )
      return (r) => re.test(String(fieldValue(r, field)))
    }
    if (kw('in')) {
      i++
      if (tokens[i++] !== '(') fail('in takes a list: in (1, 2)')
      const list: unknown[] = [value()]
      while (peek() === ',') {
        i++
        list.push(value())
      }
      if (tokens[i++] !== ')') fail('Expected ) after the in list')
      return (r) => list.some((v) => cmp(field, fieldValue(r, field), v) === 0)
    }
    const op = tokens[i++]
    if (!op || !['=', '!=', '<', '>', '<=', '>='].includes(op))
      fail(`Expected a condition like field=value, but found "${field} ${op ?? ''}"`)
    const v = value()
    return (r) => {
      const c = cmp(field, fieldValue(r, field), v)
      switch (op) {
        case '=':
          return c === 0
        case '!=':
          return c !== 0
        case '<':
          return c < 0
        case '>':
          return c > 0
        case '<=':
          return c <= 0
        default:
          return c >= 0
      }
    }
  }
  const term = (): Predicate => {
    const parts = [factor()]
    while (kw('and')) {
      i++
      parts.push(factor())
    }
    return (r) => parts.every((p) => p(r))
  }
  const expr = (): Predicate => {
    const parts = [term()]
    while (kw('or')) {
      i++
      parts.push(term())
    }
    return (r) => parts.some((p) => p(r))
  }
  try {
    const e = expr()
    if (i !== tokens.length) fail(`Unexpected "${tokens[i]}" in conditions`)
    return e
  } catch (err) {
    return (err as Error).message
  }
}
