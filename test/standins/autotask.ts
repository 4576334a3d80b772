/**
 * Autotask PSA REST v1.0 stand-in, after https://www.autotask.net/help/developerhelp/Content/APIs/REST/REST_API_Home.htm:
 * zoneInformation, Tickets (get, create, update by PATCH, query with paging), Tickets/{id}/Notes, Companies/query,
 * Resources/query (the PSA's users),
 * and Tickets / TicketNotes entityInformation (with the status, priority, queueID, noteType and publish
 * picklists).
 *
 * Checks: the `ApiIntegrationCode`, `UserName` and `Secret` headers on every call but zoneInformation (which needs
 * none); paths under /ATServicesRest/V1.0 (case-insensitive, as IIS is); ticket bodies (companyID of an existing
 * company, title ≤ 255, status/priority/queueID from the picklists, a queue or an assigned resource) refused the
 * way Autotask refuses them — HTTP 500 with `{errors: [...]}`; PATCH bodies carrying the ticket id; note bodies
 * (description, noteType, publish from their picklists); query filters (`eq`, `noteq`, `gt`, `gte`, `lt`, `lte`,
 * `contains`, `exist`, `notExist`, `in`, and `and`/`or` groups with `items`), `MaxRecords` ≤ 500, `IncludeFields`,
 * results in id order and `pageDetails.nextPageUrl`. A ticket id that does not exist answers 200 with
 * `{item: null}`, as Autotask does.
 *
 * API for tests (beside the PsaStandIn view, see standin.ts):
 *   const at = await new AutotaskStandIn({ clock }).start()
 *   at.credentials                     // username, secret, integrationCode, baseUrl
 *   at.webUrl                          // the web UI its zoneInformation reports (ticket links)
 *   at.raw.tickets / at.raw.companies / at.picklists
 *   at.addCompanies(600), at.addTicket({ title, status })
 *   at.setStatus('123', 'Complete')    // by label or value; bumps lastTrackedModificationDateTime
 *   at.failNext(429, { retryAfter: 15 })
 *   at.raw.webhooks                    // TicketWebhooks created (REST_WebhooksEntity.htm), with their `fields`
 *   at.refuseWebhooks = 'text'         // the next webhook POSTs answer 500 with this text and the SecretKey sent
 *
 * TimeEntries (not in the vendor's swagger slice; after Autotask's TimeEntries entity page,
 * https://www.autotask.net/help/developerhelp/Content/APIs/REST/Entities/TimeEntriesEntity.htm): `POST /TimeEntries`
 * requires resourceID (an active resource), ticketID (an existing ticket), roleID, dateWorked, hoursWorked
 * (0 < h ≤ 24) and summaryNotes, refused as 500 `{errors}` otherwise, and answers `{itemId}`; `TimeEntries/query`
 * and `TicketNotes/query` filter like the other queries (`at.raw.timeEntries`).
 *
 * TicketWebhooks: POST checks what Autotask requires (Name ≤ 50, WebhookUrl ≤ 500 and absolute, SecretKey ≤ 64,
 * DeactivationUrl ≤ 500, IsActive and the three IsSubscribedTo…Events booleans, at least one of them true) and
 * answers `{itemId}`; `TicketWebhookFields/entityInformation/fields` lists the `fieldID` picklist; `POST
 * /TicketWebhooks/{id}/Fields` needs a known FieldID and the parent's WebhookID; `DELETE /TicketWebhooks/{id}`
 * answers `{itemId}`, or 500 "not found" as Autotask does for a missing entity.
 */
import {
  CredentialedStandIn,
  type CredentialOptions,
  objectBody,
  type PsaStandIn,
  type RecordedRequest,
  type Reply,
  type StandInTicket,
} from './standin.ts'

export interface AtPick {
  value: string
  label: string
  isDefaultValue: boolean
  isActive: boolean
  isSystem: boolean
  sortOrder: number
}
export interface AtNote {
  id: number
  ticketID: number
  title: string
  description: string
  noteType: number
  publish: number
  createDateTime: string
}
export interface AtTicket {
  id: number
  ticketNumber: string
  title: string
  description: string
  companyID: number
  status: number
  priority: number
  queueID: number | null
  externalID: string | null
  ticketType: number
  createDate: string
  lastActivityDate: string
  lastTrackedModificationDateTime: string
  notes: AtNote[]
}
export interface AtWebhook {
  id: number
  name: string
  webhookUrl: string
  secretKey: string
  deactivationUrl: string
  isActive: boolean
  isSubscribedToCreateEvents: boolean
  isSubscribedToUpdateEvents: boolean
  isSubscribedToDeleteEvents: boolean
  fields: { fieldID: number; isSubscribedField: boolean; isDisplayAlwaysField: boolean }[]
}
/** Ticket fields a webhook may subscribe to, as the `fieldID` picklist of TicketWebhookFields lists them. */
const WEBHOOK_FIELD_IDS: [number, string][] = [
  [4, 'Status'],
  [5, 'Title'],
  [6, 'Priority'],
  [12, 'QueueID'],
]
export interface AtCompany {
  id: number
  companyName: string
  isActive: boolean
}
/** An Autotask resource: a user of the PSA (technician, dispatcher, API user). */
export interface AtResource {
  id: number
  firstName: string
  lastName: string
  userName: string
  email: string
  isActive: boolean
  resourceType: string
}

function picks(entries: [number, string][], defaultValue?: number): AtPick[] {
  return entries.map(([value, label], i) => ({
    value: String(value),
    label,
    isDefaultValue: value === defaultValue,
    isActive: true,
    isSystem: true,
    sortOrder: i,
  }))
}

const DEFAULT_CREDENTIALS = {
  username: 'patchbay-api@acme.example',
  secret: 'At$ecret-7Yq2Lp9Wn4',
  integrationCode: 'ABCDEFGHIJ0123456789KLMNOPQ',
}

const MAX_RECORDS = 500

export class AutotaskStandIn extends CredentialedStandIn<typeof DEFAULT_CREDENTIALS> implements PsaStandIn {
  readonly vendor = 'autotask'
  readonly referenceField = 'externalID'
  readonly webUrl = 'https://ww5.autotask.net/'
  readonly defaults = { queue: 'Monitoring Alert', company: '0', priority: 'High' }
  readonly statuses = { initial: 'New', inProgress: 'In Progress', resolved: 'Complete' }
  readonly raw: {
    tickets: AtTicket[]
    companies: AtCompany[]
    resources: AtResource[]
    webhooks: AtWebhook[]
    timeEntries: Record<string, unknown>[]
  }
  refuseWebhooks: string | undefined
  #nextWebhook = 101
  readonly picklists: Record<'status' | 'priority' | 'queueID' | 'noteType' | 'publish', AtPick[]>
  #nextTicket = 7001
  #nextNote = 30001

  constructor(opts: CredentialOptions<typeof DEFAULT_CREDENTIALS> = {}) {
    super(DEFAULT_CREDENTIALS, opts)
    this.raw = {
      webhooks: [],
      timeEntries: [],
      tickets: [],
      companies: [
        { id: 0, companyName: 'Acme MSP (own company)', isActive: true },
        { id: 174, companyName: 'Contoso', isActive: true },
        { id: 175, companyName: 'Fabrikam', isActive: true },
        { id: 176, companyName: 'Gone Ltd', isActive: false },
      ],
      resources: [
        {
          id: 29682885,
          firstName: 'Ada',
          lastName: 'Tech',
          userName: 'ada',
          email: 'ada@acme.example',
          isActive: true,
          resourceType: 'Employee',
        },
        {
          id: 29682886,
          firstName: 'Bob',
          lastName: 'Dispatch',
          userName: 'bob',
          email: 'bob@acme.example',
          isActive: true,
          resourceType: 'Employee',
        },
        {
          id: 29682887,
          firstName: 'Carol',
          lastName: 'Former',
          userName: 'carol',
          email: 'carol@acme.example',
          isActive: false,
          resourceType: 'Employee',
        },
      ],
    }
    this.picklists = {
      status: picks(
        [
          [1, 'New'],
          [5, 'Complete'],
          [7, 'Waiting Customer'],
          [8, 'In Progress'],
          [12, 'Waiting Vendor'],
        ],
        1,
      ),
      priority: picks(
        [
          [4, 'Critical'],
          [1, 'High'],
          [2, 'Medium'],
          [3, 'Low'],
        ],
        2,
      ),
      queueID: picks([
        [5, 'Client Portal'],
        [8, 'Monitoring Alert'],
        [29682833, 'Level I Support'],
      ]),
      noteType: picks(
        [
          [1, 'Task Detail'],
          [2, 'Task Summary'],
          [3, 'Resolution'],
        ],
        1,
      ),
      publish: picks([
        [1, 'All Autotask Users'],
        [2, 'Internal Only'],
      ]),
    }
  }

  addCompanies(count: number): AtCompany[] {
    const start = 1000 + this.raw.companies.length
    const added = Array.from({ length: count }, (_, i) => ({
      id: start + i,
      companyName: `Company ${start + i}`,
      isActive: true,
    }))
    this.raw.companies.push(...added)
    return added
  }

  addTicket(t: { title: string; status?: string }): AtTicket {
    const now = this.now().toISOString()
    const ticket: AtTicket = {
      id: this.#nextTicket++,
      ticketNumber: this.#number(),
      title: t.title,
      description: '',
      companyID: 174,
      status: Number(this.#pick('status', t.status ?? 'New')?.value ?? 1),
      priority: 2,
      queueID: 29682833,
      externalID: null,
      ticketType: 1,
      createDate: now,
      lastActivityDate: now,
      lastTrackedModificationDateTime: now,
      notes: [],
    }
    this.raw.tickets.push(ticket)
    return ticket
  }

  #number(): string {
    const d = this.now().toISOString().slice(0, 10).replace(/-/g, '')
    return `T${d}.${String(this.raw.tickets.length + 1).padStart(4, '0')}`
  }

  #pick(list: keyof AutotaskStandIn['picklists'], valueOrLabel: string | number): AtPick | undefined {
    return this.picklists[list].find((p) => p.value === String(valueOrLabel) || p.label === valueOrLabel)
  }

  tickets(): StandInTicket[] {
    return this.raw.tickets.map((t) => ({
      id: String(t.id),
      number: t.ticketNumber,
      title: t.title,
      status: this.#pick('status', t.status)?.label ?? String(t.status),
      queue: t.queueID === null ? undefined : this.#pick('queueID', t.queueID)?.label,
      company: String(t.companyID),
      priority: this.#pick('priority', t.priority)?.label,
      externalRef: t.externalID ?? undefined,
      notes: t.notes.map((n) => ({
        text: n.description,
        internal: this.#pick('publish', n.publish)?.label === 'Internal Only',
      })),
      createdAt: new Date(t.createDate),
      updatedAt: new Date(t.lastTrackedModificationDateTime),
    }))
  }

  ticket(id: string): StandInTicket | undefined {
    return this.tickets().find((t) => t.id === id || t.number === id)
  }

  setStatus(id: string, status: string): void {
    const t = this.raw.tickets.find((x) => String(x.id) === id)
    if (!t) throw new Error(`no Autotask ticket ${id}`)
    const p = this.#pick('status', status)
    if (!p) throw new Error(`no Autotask status ${status}`)
    t.status = Number(p.value)
    t.lastTrackedModificationDateTime = this.now().toISOString()
    t.lastActivityDate = t.lastTrackedModificationDateTime
  }

  protected errorReply(status: number): Reply {
    const bodies: Record<number, unknown> = {
      401: { Message: 'Authorization has been denied for this request.' },
      403: {
        errors: ['The logged in Resource does not have the adequate permissions to perform this action.'],
      },
      404: { Message: 'No HTTP resource was found that matches the request URI.' },
      405: { Message: 'The requested resource does not support this http method.' },
      429: { errors: ['Request rate exceeded: the thread limit for this integration has been reached.'] },
      500: { errors: ['An unexpected error occurred.'] },
      503: { errors: ['The service is temporarily unavailable.'] },
    }
    return { status, body: bodies[status] ?? { errors: [`HTTP ${status}`] } }
  }

  /** Business-rule refusals come back as HTTP 500 with the reasons in `errors`. */
  #refuse(...errors: string[]): Reply {
    return { status: 500, body: { item: null, errors } }
  }

  #authenticated(req: RecordedRequest): boolean {
    const h = req.headers
    return (
      h.apiintegrationcode === this.valid.integrationCode &&
      h.username === this.valid.username &&
      h.secret === this.valid.secret
    )
  }

  protected handle(req: RecordedRequest): Reply {
    const lower = req.path.toLowerCase()
    if (!lower.startsWith('/atservicesrest/v1.0/')) return this.errorReply(404)
    const path = req.path.slice('/atservicesrest/v1.0'.length)
    const p = path.toLowerCase()
    if (p === '/zoneinformation' && req.method === 'GET') {
      const user = req.query.get('user')
      if (user?.toLowerCase() !== this.valid.username.toLowerCase()) {
        return {
          status: 500,
          body: { errors: [`Zone information could not be determined for user ${user ?? ''}`] },
        }
      }
      return {
        status: 200,
        body: {
          zoneName: 'America East 3',
          url: `${this.url}/ATServicesRest/`,
          webUrl: this.webUrl,
          ci: 296742,
        },
      }
    }
    if (!this.#authenticated(req)) return this.errorReply(401)
    if (p === '/tickets/entityinformation' && req.method === 'GET') {
      return {
        status: 200,
        body: {
          info: {
            name: 'Ticket',
            canCreate: true,
            canDelete: false,
            canQuery: true,
            canUpdate: true,
            hasUserDefinedFields: true,
            supportsWebhookCallouts: true,
          },
        },
      }
    }
    if (p === '/tickets/entityinformation/fields' && req.method === 'GET') {
      return {
        status: 200,
        body: {
          fields: this.#fields(
            ['status', 'priority', 'queueID'],
            ['id', 'title', 'companyID', 'externalID', 'lastTrackedModificationDateTime'],
          ),
        },
      }
    }
    if (p === '/ticketnotes/entityinformation/fields' && req.method === 'GET') {
      return {
        status: 200,
        body: { fields: this.#fields(['noteType', 'publish'], ['id', 'ticketID', 'title', 'description']) },
      }
    }
    if (p === '/ticketwebhookfields/entityinformation/fields' && req.method === 'GET') {
      return {
        status: 200,
        body: {
          fields: [
            { name: 'id', dataType: 'long', isPickList: false, picklistValues: null },
            {
              name: 'webhookID',
              dataType: 'integer',
              isRequired: true,
              isPickList: false,
              picklistValues: null,
            },
            {
              name: 'fieldID',
              dataType: 'integer',
              isRequired: true,
              isPickList: true,
              picklistValues: picks(WEBHOOK_FIELD_IDS),
            },
          ],
        },
      }
    }
    if (p === '/ticketwebhooks' && req.method === 'POST') return this.#createWebhook(req)
    const wh = /^\/ticketwebhooks\/(\d+)(\/fields)?$/.exec(p)
    if (wh) {
      const w = this.raw.webhooks.find((x) => x.id === Number(wh[1]))
      if (!wh[2] && req.method === 'DELETE') {
        if (!w) return this.#refuse(`TicketWebhook ${wh[1]} was not found.`)
        this.raw.webhooks = this.raw.webhooks.filter((x) => x !== w)
        return { status: 200, body: { itemId: w.id } }
      }
      if (wh[2] && req.method === 'POST') {
        if (!w) return this.#refuse(`Parent TicketWebhook ${wh[1]} was not found.`)
        const b = objectBody(req) ?? {}
        const fieldID = Number(b.FieldID ?? b.fieldID)
        if (!WEBHOOK_FIELD_IDS.some(([id]) => id === fieldID))
          return this.#refuse(`FieldID ${fieldID} is invalid.`)
        if (Number(b.WebhookID ?? b.webhookID) !== w.id)
          return this.#refuse('WebhookID does not match the parent.')
        w.fields.push({
          fieldID,
          isSubscribedField: b.IsSubscribedField === true,
          isDisplayAlwaysField: b.IsDisplayAlwaysField === true,
        })
        return { status: 200, body: { itemId: 900 + w.fields.length } }
      }
      return this.errorReply(405)
    }
    if (p === '/tickets' && req.method === 'POST') return this.#create(req)
    if (p === '/tickets' && req.method === 'PATCH') return this.#patch(req)
    if (p === '/tickets/query' && req.method === 'POST') return this.#query('tickets', objectBody(req))
    if (p === '/companies/query' && req.method === 'POST') return this.#query('companies', objectBody(req))
    if (p === '/resources/query' && req.method === 'POST') return this.#query('resources', objectBody(req))
    if (p === '/ticketnotes/query' && req.method === 'POST')
      return this.#query('ticketnotes', objectBody(req))
    if (p === '/timeentries/query' && req.method === 'POST')
      return this.#query('timeentries', objectBody(req))
    if (p === '/timeentries' && req.method === 'POST') return this.#timeEntry(req)
    const next = /^\/(tickets|companies|resources)\/query\/next$/.exec(p)
    if (next && req.method === 'GET') {
      let search: Record<string, unknown> | undefined
      let paging: { lastId?: unknown } | undefined
      try {
        search = JSON.parse(req.query.get('search') ?? '')
        paging = JSON.parse(req.query.get('paging') ?? '')
      } catch {
        return this.#refuse('The paging or search parameter is invalid.')
      }
      return this.#query(next[1] as 'tickets' | 'companies' | 'resources', search, Number(paging?.lastId))
    }
    const one = /^\/tickets\/(\d+)(\/notes)?$/.exec(p)
    if (one) {
      const t = this.raw.tickets.find((x) => x.id === Number(one[1]))
      if (!one[2] && req.method === 'GET') return { status: 200, body: { item: t ? this.#view(t) : null } }
      if (one[2] && req.method === 'POST') {
        if (!t) return this.#refuse(`Parent ticket ${one[1]} was not found.`)
        return this.#note(req, t)
      }
      return this.errorReply(405)
    }
    return this.errorReply(404)
  }

  #fields(picklistNames: (keyof AutotaskStandIn['picklists'])[], plain: string[]) {
    return [
      ...plain.map((name) => ({
        name,
        dataType: 'string',
        isRequired: false,
        isReadOnly: false,
        isQueryable: true,
        isPickList: false,
        picklistValues: null,
      })),
      ...picklistNames.map((name) => ({
        name,
        dataType: 'integer',
        isRequired: name !== 'queueID',
        isReadOnly: false,
        isQueryable: true,
        isPickList: true,
        picklistValues: this.picklists[name].map((x) => ({ ...x, parentValue: '' })),
      })),
    ]
  }

  #createWebhook(req: RecordedRequest): Reply {
    const b = objectBody(req)
    if (!b) return this.#refuse('The request body is not a TicketWebhook.')
    const text = (name: string, max: number, required = true): string | Reply => {
      const v = b[name]
      if (v === undefined || v === null || v === '')
        return required ? this.#refuse(`${name} is required.`) : ''
      if (typeof v !== 'string') return this.#refuse(`${name} must be a string.`)
      if (v.length > max) return this.#refuse(`${name} exceeds the maximum length of ${max}.`)
      return v
    }
    const name = text('Name', 50)
    const url = text('WebhookUrl', 500)
    const key = text('SecretKey', 64)
    const deactivation = text('DeactivationUrl', 500)
    for (const v of [name, url, key, deactivation]) if (typeof v !== 'string') return v
    for (const f of [
      'IsActive',
      'IsSubscribedToCreateEvents',
      'IsSubscribedToUpdateEvents',
      'IsSubscribedToDeleteEvents',
    ]) {
      if (typeof b[f] !== 'boolean') return this.#refuse(`${f} is required.`)
    }
    for (const u of [url, deactivation] as string[]) {
      if (!/^https?:\/\/[^/]/.test(u)) return this.#refuse(`${u} is not an absolute URL.`)
    }
    if (!b.IsSubscribedToCreateEvents && !b.IsSubscribedToUpdateEvents && !b.IsSubscribedToDeleteEvents) {
      return this.#refuse('A webhook must subscribe to at least one event.')
    }
    if (this.refuseWebhooks) return this.#refuse(`${this.refuseWebhooks} (SecretKey ${key as string})`)
    const w: AtWebhook = {
      id: this.#nextWebhook++,
      name: name as string,
      webhookUrl: url as string,
      secretKey: key as string,
      deactivationUrl: deactivation as string,
      isActive: b.IsActive === true,
      isSubscribedToCreateEvents: b.IsSubscribedToCreateEvents === true,
      isSubscribedToUpdateEvents: b.IsSubscribedToUpdateEvents === true,
      isSubscribedToDeleteEvents: b.IsSubscribedToDeleteEvents === true,
      fields: [],
    }
    this.raw.webhooks.push(w)
    return { status: 200, body: { itemId: w.id } }
  }

  #view(t: AtTicket) {
    const { notes: _, ...rest } = t
    return { ...rest, userDefinedFields: [] }
  }

  #create(req: RecordedRequest): Reply {
    const b = objectBody(req)
    if (!b) return { status: 400, body: { errors: ['The request body could not be read.'] } }
    const errors: string[] = []
    if (b.id !== undefined) errors.push('id must not be set when creating a Ticket.')
    if (!Number.isInteger(b.companyID)) errors.push('Value does not exist for the required field companyID.')
    else if (!this.raw.companies.some((c) => c.id === b.companyID && c.isActive)) {
      errors.push(`Invalid companyID: ${String(b.companyID)}.`)
    }
    if (typeof b.title !== 'string' || !b.title.trim())
      errors.push('Value does not exist for the required field title.')
    else if (b.title.length > 255) errors.push('title exceeds the maximum length of 255.')
    if (typeof b.description === 'string' && b.description.length > 8000)
      errors.push('description exceeds the maximum length of 8000.')
    for (const f of ['status', 'priority'] as const) {
      if (b[f] === undefined) errors.push(`Value does not exist for the required field ${f}.`)
      else if (!this.#pick(f, Number(b[f])) || !Number.isInteger(b[f]))
        errors.push(`Invalid value for picklist field ${f}: ${String(b[f])}.`)
    }
    if (
      b.queueID !== undefined &&
      (!Number.isInteger(b.queueID) || !this.#pick('queueID', Number(b.queueID)))
    ) {
      errors.push(`Invalid value for picklist field queueID: ${String(b.queueID)}.`)
    }
    if (b.queueID === undefined && b.assignedResourceID === undefined) {
      errors.push('A ticket must be assigned to a queue or to a resource.')
    }
    if (b.externalID !== undefined && (typeof b.externalID !== 'string' || b.externalID.length > 50)) {
      errors.push('externalID exceeds the maximum length of 50.')
    }
    if (errors.length) return this.#refuse(...errors)
    const now = this.now().toISOString()
    const t: AtTicket = {
      id: this.#nextTicket++,
      ticketNumber: this.#number(),
      title: b.title as string,
      description: typeof b.description === 'string' ? b.description : '',
      companyID: b.companyID as number,
      status: b.status as number,
      priority: b.priority as number,
      queueID: (b.queueID as number | undefined) ?? null,
      externalID: (b.externalID as string | undefined) ?? null,
      ticketType: 1,
      createDate: now,
      lastActivityDate: now,
      lastTrackedModificationDateTime: now,
      notes: [],
    }
    this.raw.tickets.push(t)
    return { status: 200, body: { itemId: t.id } }
  }

  #patch(req: RecordedRequest): Reply {
    const b = objectBody(req)
    if (!b) return { status: 400, body: { errors: ['The request body could not be read.'] } }
    if (!Number.isInteger(b.id)) return this.#refuse('The id of the entity to update is required.')
    const t = this.raw.tickets.find((x) => x.id === b.id)
    if (!t) return this.#refuse(`Ticket ${String(b.id)} was not found.`)
    if (b.status !== undefined && (!Number.isInteger(b.status) || !this.#pick('status', Number(b.status)))) {
      return this.#refuse(`Invalid value for picklist field status: ${String(b.status)}.`)
    }
    if (typeof b.status === 'number') t.status = b.status
    if (typeof b.title === 'string') t.title = b.title
    t.lastTrackedModificationDateTime = this.now().toISOString()
    t.lastActivityDate = t.lastTrackedModificationDateTime
    return { status: 200, body: { itemId: t.id } }
  }

  #note(req: RecordedRequest, t: AtTicket): Reply {
    const b = objectBody(req)
    if (!b) return { status: 400, body: { errors: ['The request body could not be read.'] } }
    const errors: string[] = []
    if (b.ticketID !== undefined && b.ticketID !== t.id)
      errors.push('ticketID does not match the parent ticket.')
    if (typeof b.description !== 'string' || !b.description.trim())
      errors.push('Value does not exist for the required field description.')
    if (!Number.isInteger(b.noteType) || !this.#pick('noteType', Number(b.noteType)))
      errors.push(`Invalid value for picklist field noteType: ${String(b.noteType)}.`)
    if (!Number.isInteger(b.publish) || !this.#pick('publish', Number(b.publish)))
      errors.push(`Invalid value for picklist field publish: ${String(b.publish)}.`)
    if (typeof b.title === 'string' && b.title.length > 250)
      errors.push('title exceeds the maximum length of 250.')
    if (errors.length) return this.#refuse(...errors)
    const now = this.now().toISOString()
    const note: AtNote = {
      id: this.#nextNote++,
      ticketID: t.id,
      title: typeof b.title === 'string' ? b.title : '',
      description: b.description as string,
      noteType: b.noteType as number,
      publish: b.publish as number,
      createDateTime: now,
    }
    t.notes.push(note)
    t.lastActivityDate = now
    return { status: 200, body: { itemId: note.id } }
  }

  #timeEntry(req: RecordedRequest): Reply {
    const b = objectBody(req) ?? {}
    const errors: string[] = []
    const resource = this.raw.resources.find((r) => r.id === b.resourceID && r.isActive)
    if (!resource) errors.push(`Resource ${String(b.resourceID)} is not an active resource.`)
    if (!this.raw.tickets.some((t) => t.id === b.ticketID))
      errors.push(`Ticket ${String(b.ticketID)} was not found.`)
    if (!Number.isInteger(b.roleID)) errors.push('RoleID is required for a ticket time entry.')
    if (typeof b.dateWorked !== 'string' || Number.isNaN(Date.parse(b.dateWorked)))
      errors.push('DateWorked is required.')
    if (typeof b.hoursWorked !== 'number' || b.hoursWorked <= 0 || b.hoursWorked > 24)
      errors.push('HoursWorked must be greater than 0 and at most 24.')
    if (typeof b.summaryNotes !== 'string' || b.summaryNotes.trim() === '')
      errors.push('SummaryNotes is required.')
    if (errors.length) return this.#refuse(...errors)
    const entry = { ...b, id: 40001 + this.raw.timeEntries.length, createDateTime: this.now().toISOString() }
    this.raw.timeEntries.push(entry)
    return { status: 200, body: { itemId: entry.id } }
  }

  #query(
    entity: 'tickets' | 'companies' | 'resources' | 'ticketnotes' | 'timeentries',
    search: Record<string, unknown> | undefined,
    afterId = -1,
  ): Reply {
    if (!search || !Array.isArray(search.filter) || search.filter.length === 0) {
      return this.#refuse('A query must have at least one filter.')
    }
    const maxRecords = search.MaxRecords ?? search.maxRecords ?? MAX_RECORDS
    if (!Number.isInteger(maxRecords) || (maxRecords as number) < 1 || (maxRecords as number) > MAX_RECORDS) {
      return this.#refuse('MaxRecords must be between 1 and 500.')
    }
    const rows: Record<string, unknown>[] =
      entity === 'ticketnotes'
        ? this.raw.tickets.flatMap((t) => t.notes.map((n) => ({ ...n })))
        : entity === 'timeentries'
          ? this.raw.timeEntries.map((e) => ({ ...e }))
          : entity === 'tickets'
            ? this.raw.tickets.map((t) => this.#view(t))
            : entity === 'companies'
              ? this.raw.companies.map((c) => ({ ...c }))
              : this.raw.resources.map((r) => ({ ...r }))
    const predicate = compile({ op: 'and', items: search.filter })
    if (typeof predicate === 'string') return this.#refuse(predicate)
    const matching = rows.filter(predicate).sort((a, b) => Number(a.id) - Number(b.id))
    const after = matching.filter((r) => Number(r.id) > afterId)
    const page = after.slice(0, maxRecords as number)
    const include = (search.IncludeFields ?? search.includeFields) as string[] | undefined
    const items = include?.length
      ? page.map((r) =>
          Object.fromEntries(
            Object.entries(r).filter(
              ([k]) => k === 'id' || include.some((f) => f.toLowerCase() === k.toLowerCase()),
            ),
          ),
        )
      : page
    const last = page.at(-1)
    const more = after.length > page.length && last !== undefined
    const entityName = {
      tickets: 'Tickets',
      companies: 'Companies',
      resources: 'Resources',
      ticketnotes: 'TicketNotes',
      timeentries: 'TimeEntries',
    }[entity]
    const nextPageUrl = more
      ? `${this.url}/ATServicesRest/V1.0/${entityName}/query/next?paging=${encodeURIComponent(JSON.stringify({ pageSize: maxRecords, lastId: last.id }))}&search=${encodeURIComponent(JSON.stringify(search))}`
      : null
    return {
      status: 200,
      body: {
        items,
        pageDetails: { count: items.length, requestCount: maxRecords, prevPageUrl: null, nextPageUrl },
      },
    }
  }
}

type Row = Record<string, unknown>

function compile(node: unknown): ((r: Row) => boolean) | string {
  const n = node as { op?: string; field?: string; value?: unknown; items?: unknown[] }
  const op = (n.op ?? '').toLowerCase()
  if (op === 'and' || op === 'or') {
    const parts = (n.items ?? []).map(compile)
    const bad = parts.find((p) => typeof p === 'string')
    if (bad) return bad
    const fns = parts as ((r: Row) => boolean)[]
    return op === 'and' ? (r) => fns.every((f) => f(r)) : (r) => fns.some((f) => f(r))
  }
  if (!n.field) return `Filter item is missing a field: ${JSON.stringify(node)}`
  const field = n.field
  const get = (r: Row) => {
    const key = Object.keys(r).find((k) => k.toLowerCase() === field.toLowerCase())
    return key === undefined ? Symbol.for('missing') : r[key]
  }
  const isDate = /date/i.test(field)
  const norm = (v: unknown) => (isDate && typeof v === 'string' ? Date.parse(v) : v)
  const cmp = (a: unknown, b: unknown) => {
    const x = norm(a) as number | string
    const y = norm(b) as number | string
    return x < y ? -1 : x > y ? 1 : 0
  }
  const unknownField = (r: Row) => get(r) === Symbol.for('missing')
  const check = (fn: (v: unknown) => boolean) => (r: Row) => !unknownField(r) && fn(get(r))
  switch (op) {
    case 'eq':
      return check((v) => v !== null && cmp(v, n.value) === 0)
    case 'noteq':
      return check((v) => v === null || cmp(v, n.value) !== 0)
    case 'gt':
      return check((v) => v !== null && cmp(v, n.value) > 0)
    case 'gte':
      return check((v) => v !== null && cmp(v, n.value) >= 0)
    case 'lt':
      return check((v) => v !== null && cmp(v, n.value) < 0)
    case 'lte':
      return check((v) => v !== null && cmp(v, n.value) <= 0)
    case 'contains':
      return check((v) => typeof v === 'string' && v.toLowerCase().includes(String(n.value).toLowerCase()))
    case 'exist':
      return check((v) => v !== null && v !== '')
    case 'notexist':
      return check((v) => v === null || v === '')
    case 'in':
      return check((v) => Array.isArray(n.value) && n.value.some((x) => cmp(v, x) === 0))
    default:
      return `Unknown filter operation "${n.op ?? ''}".`
  }
}
