/**
 * A stand-in for a generic ticketing API (the `generic-ticketing` connector's counterpart), on 127.0.0.1:
 *
 *   const tk = await new TicketingStandIn({ apiKey: 'tk_…' }).start()
 *   tk.apiUrl                 // http://ticketing.test:<port>/api: the integration's apiUrl
 *   tk.tickets                // created tickets, in order: { id, body, idempotencyKey }
 *   tk.failNext(503)          // the next request answers 503 (with Retry-After when given)
 *   tk.loseNextAnswer()       // the next ticket is created, but the answer is a 504 (a proxy gave up waiting)
 *   tk.requests               // every request
 *
 * What it checks, as a ticketing API documenting Patchbay's format would:
 * - `Authorization: Bearer <apiKey>` on every request, else 401 `{"error": "Invalid API key"}`;
 * - `GET /api` (the credential check) answers 200 with the API's name;
 * - `POST /api/tickets` needs a JSON body with `title` (1–255 characters), `description`, `source: "patchbay"`,
 *   `externalRef`, `severity`, an `alert` object and an `event` object with `id`, `type`, `timestamp`, else 422
 *   `{"error": …}`; a repeated `Idempotency-Key` answers 200 with the ticket it created the first time (and
 *   creates nothing); a new one answers 201 `{id, key, url}`.
 */
import { objectBody, type RecordedRequest, type Reply, StandIn, type StandInOptions } from './standin.ts'

export interface CreatedTicket {
  id: string
  key: string
  url: string
  body: Record<string, unknown>
  idempotencyKey: string | undefined
}

export class TicketingStandIn extends StandIn {
  readonly vendor = 'ticketing'
  readonly tickets: CreatedTicket[] = []
  readonly #apiKey: string
  readonly #byKey = new Map<string, CreatedTicket>()
  #loseNext = false

  constructor(opts: StandInOptions & { apiKey: string }) {
    super(opts)
    this.#apiKey = opts.apiKey
  }

  loseNextAnswer(): this {
    this.#loseNext = true
    return this
  }

  get apiUrl(): string {
    return `${this.url}/api`
  }

  protected handle(req: RecordedRequest): Reply {
    if (req.headers.authorization !== `Bearer ${this.#apiKey}`)
      return { status: 401, body: { error: 'Invalid API key' } }
    if (req.method === 'GET' && (req.path === '/api' || req.path === '/api/'))
      return { status: 200, body: { name: 'Stand-in Tickets', version: '1' } }
    if (req.method === 'POST' && req.path === '/api/tickets') return this.#create(req)
    return { status: 404, body: { error: `No route for ${req.method} ${req.path}` } }
  }

  #create(req: RecordedRequest): Reply {
    const body = objectBody(req)
    if (!String(req.headers['content-type'] ?? '').startsWith('application/json') || !body)
      return { status: 415, body: { error: 'Expected a JSON object' } }
    const problem = ticketProblem(body)
    if (problem) return { status: 422, body: { error: problem } }
    const idem =
      typeof req.headers['idempotency-key'] === 'string' ? req.headers['idempotency-key'] : undefined
    const seen = idem ? this.#byKey.get(idem) : undefined
    if (seen) return { status: 200, body: { id: seen.id, key: seen.key, url: seen.url } }
    const n = this.tickets.length + 1
    const ticket: CreatedTicket = {
      id: String(1000 + n),
      key: `${typeof body.projectKey === 'string' ? body.projectKey : 'TCK'}-${n}`,
      url: `${this.url}/tickets/${1000 + n}`,
      body,
      idempotencyKey: idem,
    }
    this.tickets.push(ticket)
    if (idem) this.#byKey.set(idem, ticket)
    if (this.#loseNext) {
      this.#loseNext = false
      return { status: 504, body: { error: 'Gateway timeout' } }
    }
    return { status: 201, body: { id: ticket.id, key: ticket.key, url: ticket.url } }
  }

  protected errorReply(status: number): Reply {
    return { status, body: { error: status === 429 ? 'Too many requests' : `Stand-in failure ${status}` } }
  }
}

function ticketProblem(b: Record<string, unknown>): string | undefined {
  if (typeof b.title !== 'string' || !b.title.trim() || b.title.length > 255)
    return 'title must be 1 to 255 characters'
  if (typeof b.description !== 'string') return 'description must be a string'
  if (b.source !== 'patchbay') return 'source must be "patchbay"'
  if (typeof b.externalRef !== 'string' || !b.externalRef) return 'externalRef is required'
  if (typeof b.severity !== 'string') return 'severity is required'
  if (!b.alert || typeof b.alert !== 'object') return 'alert must be an object'
  const e = b.event as Record<string, unknown> | undefined
  if (!e || typeof e.id !== 'string' || typeof e.type !== 'string' || typeof e.timestamp !== 'string')
    return 'event must have id, type and timestamp'
  return undefined
}
