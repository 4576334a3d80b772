/**
 * The base of every vendor stand-in: a real `node:http` server on 127.0.0.1 (port 0) that records every request,
 * can be told to fail the next requests with the vendor's own error format, and keeps vendor state in memory.
 *
 * Every PSA stand-in (connectwise.ts, autotask.ts, jira.ts, servicenow.ts, freshservice.ts, zendesk.ts) also
 * implements `PsaStandIn`, a vendor-neutral view for end-to-end tests:
 *
 *   const cw = await new ConnectWiseStandIn({ clock }).start()
 *   // configure a connection with cw.credentials (valid credentials whose baseUrl points at the stand-in)
 *   cw.tickets()                    // [{ id, number, title, status, notes: [{ text, internal }], externalRef, … }]
 *   cw.setStatus(id, cw.statuses.resolved)   // change a ticket at the "vendor", bumping its updated time
 *   cw.failNext(429, { retryAfter: 30 })     // the next request answers 429 with Retry-After: 30
 *   cw.dropNextAnswer({ method: 'POST' })  // the next POST is carried out, but the caller gets a 504
 *   cw.requests                     // every request: method, path, query, headers, parsed body
 *   await cw.close()
 *
 * Host names: the stand-in's URL is `http://<vendor>.test:<port>`; a resolver mapping `*.test` to 127.0.0.1 and
 * an address policy allowing 127.0.0.0/8 (test/standins/env.ts, test/harness.ts) let Patchbay's HTTP client reach it.
 */
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { type Clock, systemClock } from '../../src/lib/clock.ts'

/** A request as the loopback server hands it over: the whole body read, nothing parsed yet. */
export interface Incoming {
  req: http.IncomingMessage
  /** The body as UTF-8 text ('' when empty). */
  raw: string
}

/** An answer exactly as it goes on the wire: these headers and no others, this text as the body. */
export interface WireReply {
  status: number
  headers?: Record<string, string>
  body?: string
}

/**
 * How a stand-in answers one request: the answer, or undefined to never answer (a hung vendor). A thrown error or
 * rejection is not caught here: a stand-in that wants a crash to become an answer (StandIn: 500) catches it itself.
 */
export type WireHandler = (incoming: Incoming) => WireReply | undefined | Promise<WireReply | undefined>

export interface LoopbackServer {
  port: number
  close(): Promise<void>
}

/**
 * The one server every stand-in runs on (the vendor stand-ins here, the chat webhooks, test/fixtures/stand-in.ts,
 * receiver.ts): a real `node:http` server on 127.0.0.1, port 0, that reads each request's body whole and writes the
 * handler's answer as given. Each stand-in keeps its own record of requests and its own reply conventions on top.
 */
export async function listenLoopback(handle: WireHandler): Promise<LoopbackServer> {
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      void Promise.resolve(handle({ req, raw: Buffer.concat(chunks).toString('utf8') })).then((reply) => {
        if (reply) res.writeHead(reply.status, reply.headers ?? {}).end(reply.body ?? '')
      })
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    port: (server.address() as AddressInfo).port,
    async close() {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

/**
 * A request as the chat webhook stand-ins (slack.ts, teams.ts, discord.ts) record it: the pathname (normalised by the URL parser, not decoded),
 * the query as a plain object, and the body parsed as JSON or undefined when it is not JSON.
 */
export interface StandinRequest {
  method: string
  path: string
  query: Record<string, string>
  headers: http.IncomingHttpHeaders
  rawBody: string
  /** Parsed JSON, or undefined when the body is not JSON. */
  body: unknown
}

export function standinRequest({ req, raw }: Incoming): StandinRequest {
  const url = new URL(req.url ?? '/', 'http://standin')
  let body: unknown
  try {
    body = raw ? JSON.parse(raw) : undefined
  } catch {
    body = undefined
  }
  return {
    method: req.method ?? 'GET',
    path: url.pathname,
    query: Object.fromEntries(url.searchParams),
    headers: req.headers,
    rawBody: raw,
    body,
  }
}

export interface RecordedRequest {
  method: string
  /** Path without the query string, as sent (not decoded). */
  path: string
  query: URLSearchParams
  headers: http.IncomingHttpHeaders
  /** The body parsed as JSON when it is JSON, else the raw text; undefined when empty. */
  body: unknown
  raw: string
}

export interface Reply {
  status: number
  /** Serialised as JSON unless a string. */
  body?: unknown
  headers?: Record<string, string>
}

export interface FailOptions {
  /** Sent as the Retry-After header (seconds, or an HTTP date). */
  retryAfter?: number | string
  /** Replaces the vendor's default error body for this status. */
  body?: unknown
  /** Only requests whose path matches (a substring or a pattern) fail; others pass. */
  path?: string | RegExp
  /** How many matching requests fail (default 1). */
  times?: number
}

export interface StandInOptions {
  /** The clock for created/updated times; share the test's ManualClock so sync windows line up. */
  clock?: Clock
}

/** A ticket as the end-to-end tests see it, whatever the vendor. */
export interface StandInTicket {
  /** What the connector returns as ExternalTicket.id (and accepts back). */
  id: string
  number?: string | undefined
  title: string
  /** The status as the connector reports it (ExternalTicket.status). */
  status: string
  queue?: string | undefined
  company?: string | undefined
  priority?: string | undefined
  /** The reference Patchbay stored for idempotent creation (alert id), where the vendor has a field for it. */
  externalRef?: string | undefined
  notes: { text: string; internal: boolean }[]
  createdAt: Date
  updatedAt: Date
}

export interface PsaStandIn {
  readonly vendor: string
  /** `http://<vendor>.test:<port>` once started. */
  readonly url: string
  /** Complete, valid credentials for this stand-in, `baseUrl` included. */
  readonly credentials: Record<string, string>
  /** Names this vendor uses: a queue/board/project tickets can be created in, and its open/resolved statuses. */
  readonly defaults: { queue: string; company?: string | undefined; priority?: string | undefined }
  readonly statuses: { initial: string; inProgress: string; resolved: string }
  /**
   * Where the vendor keeps Patchbay's reference (so a repeated creation finds the first ticket), or null when it
   * has no such field (Freshservice: Patchbay's own ticket mapping is the only guard against duplicates).
   */
  readonly referenceField: string | null
  readonly requests: RecordedRequest[]
  tickets(): StandInTicket[]
  ticket(id: string): StandInTicket | undefined
  setStatus(id: string, status: string): void
  failNext(status: number, opts?: FailOptions): this
  /** Forgets recorded requests and pending failures; tickets and other state stay. */
  resetRequests(): void
  start(): Promise<this>
  close(): Promise<void>
}

/** Which answers `dropNextAnswer` drops, and what the caller gets instead. */
export interface LossOptions {
  /** Only requests whose path matches (a substring or a pattern). */
  path?: string | RegExp
  /** Only requests with this method (POST, PUT…). */
  method?: string
  /** How many matching answers are lost (default 1). */
  times?: number
  /** What the caller gets instead (default 504, a gateway's timeout), in the vendor's error format. */
  status?: number
}

interface PendingFailure {
  status: number
  opts: FailOptions & { method?: string }
  remaining: number
}

export abstract class StandIn {
  abstract readonly vendor: string
  readonly requests: RecordedRequest[] = []
  protected readonly clock: Clock
  #server: LoopbackServer | undefined
  #url = ''
  #failures: PendingFailure[] = []
  #losses: PendingFailure[] = []

  constructor(opts: StandInOptions = {}) {
    this.clock = opts.clock ?? systemClock
  }

  get url(): string {
    if (!this.#url) throw new Error(`${this.vendor} stand-in is not started`)
    return this.#url
  }

  protected get hostname(): string {
    return `${this.vendor}.test`
  }

  protected now(): Date {
    return this.clock.now()
  }

  failNext(status: number, opts: FailOptions = {}): this {
    this.#failures.push({ status, opts, remaining: opts.times ?? 1 })
    return this
  }

  /**
   * The vendor acts on the next matching request but its answer never reaches the caller: a gateway in front of it
   * answers `status` (504 by default) instead. What an attempt that may have reached the vendor looks like.
   */
  dropNextAnswer(opts: LossOptions = {}): this {
    this.#losses.push({ status: opts.status ?? 504, opts, remaining: opts.times ?? 1 })
    return this
  }

  /** Forgets recorded requests and pending failures (state stays). */
  resetRequests(): void {
    this.requests.length = 0
    this.#failures = []
    this.#losses = []
  }

  async start(): Promise<this> {
    const server = await listenLoopback(({ req, raw }) =>
      this.#dispatch(req, raw)
        .catch(
          (err: unknown): Reply => ({
            status: 500,
            body: `stand-in crashed: ${err instanceof Error ? err.stack : String(err)}`,
          }),
        )
        .then(toWire),
    )
    this.#server = server
    this.#url = `http://${this.hostname}:${server.port}`
    return this
  }

  async close(): Promise<void> {
    const server = this.#server
    if (!server) return
    this.#server = undefined
    await server.close()
  }

  async #dispatch(req: http.IncomingMessage, raw: string): Promise<Reply> {
    const u = new URL(req.url ?? '/', 'http://standin')
    let body: unknown
    if (raw) {
      try {
        body = JSON.parse(raw)
      } catch {
        body = raw
      }
    }
    const recorded: RecordedRequest = {
      method: req.method ?? 'GET',
      path: (req.url ?? '/').split('?')[0] ?? '/',
      query: u.searchParams,
      headers: req.headers,
      body,
      raw,
    }
    this.requests.push(recorded)
    const failure = take(this.#failures, recorded)
    if (failure) {
      const base = this.errorReply(failure.status, recorded)
      const headers = { ...base.headers }
      if (failure.opts.retryAfter !== undefined) headers['retry-after'] = String(failure.opts.retryAfter)
      return {
        status: failure.status,
        body: failure.opts.body !== undefined ? failure.opts.body : base.body,
        headers,
      }
    }
    const reply = await this.handle(recorded)
    const loss = reply.status < 400 ? take(this.#losses, recorded) : undefined
    return loss ? this.errorReply(loss.status, recorded) : reply
  }

  /** The vendor's answer to a request. */
  protected abstract handle(req: RecordedRequest): Reply | Promise<Reply>

  /** The vendor's own error body for a status, used by failNext and by the handlers. */
  protected abstract errorReply(status: number, req: RecordedRequest): Reply
}

/** A stand-in's options when it checks credentials: a test may replace any of the valid ones. */
export type CredentialOptions<C> = StandInOptions & { credentials?: Partial<C> }

/**
 * A stand-in that accepts one set of credentials (the PSA stand-ins): the vendor's defaults with the test's
 * replacements, handed out with `baseUrl` pointing at the stand-in.
 */
export abstract class CredentialedStandIn<C extends Record<string, string>> extends StandIn {
  /** The credentials requests must carry. */
  protected readonly valid: C

  constructor(defaults: C, opts: CredentialOptions<C> = {}) {
    super(opts)
    this.valid = { ...defaults, ...opts.credentials }
  }

  /** Complete, valid credentials for this stand-in, `baseUrl` included. */
  get credentials(): Record<string, string> {
    return { ...this.valid, baseUrl: this.url }
  }
}

/** The first pending failure (or loss) for this request, counted down and dropped once used up. */
function take(pending: PendingFailure[], req: RecordedRequest): PendingFailure | undefined {
  const found = pending.find(
    (f) => matches(f.opts.path, req.path) && (f.opts.method === undefined || f.opts.method === req.method),
  )
  if (!found) return undefined
  found.remaining -= 1
  if (found.remaining <= 0) pending.splice(pending.indexOf(found), 1)
  return found
}

function matches(pattern: string | RegExp | undefined, path: string): boolean {
  if (pattern === undefined) return true
  return typeof pattern === 'string' ? path.includes(pattern) : pattern.test(path)
}

/**
 * What a chat webhook stand-in keeps (slack.ts, teams.ts, discord.ts): the messages it accepted, every request,
 * the requests it refused with why, and the failures queued for the next requests.
 */
export class WebhookLog<Message, Rejection, Failure> {
  readonly messages: Message[] = []
  readonly requests: StandinRequest[] = []
  readonly rejections: Rejection[] = []
  readonly failures: Failure[] = []

  /** Forgets messages, requests, rejections and pending failures. */
  reset(): void {
    this.messages.length = 0
    this.requests.length = 0
    this.rejections.length = 0
    this.failures.length = 0
  }
}

/** A Reply as StandIn subclasses write it → the exact wire answer (JSON unless a string; content-type by default). */
function toWire(reply: Reply): WireReply {
  const headers: Record<string, string> = { ...reply.headers }
  let text = ''
  if (reply.body !== undefined) {
    if (typeof reply.body === 'string') {
      text = reply.body
      headers['content-type'] ??= 'text/plain; charset=utf-8'
    } else {
      text = JSON.stringify(reply.body)
      headers['content-type'] ??= 'application/json; charset=utf-8'
    }
  }
  return { status: reply.status, headers, body: text }
}

/** Basic credentials from an Authorization header, or undefined. */
export function basicCredentials(
  headers: http.IncomingHttpHeaders,
): { user: string; password: string } | undefined {
  const m = /^Basic\s+(\S+)$/i.exec(headers.authorization ?? '')
  if (!m?.[1]) return undefined
  const decoded = Buffer.from(m[1], 'base64').toString('utf8')
  const i = decoded.indexOf(':')
  if (i < 0) return undefined
  return { user: decoded.slice(0, i), password: decoded.slice(i + 1) }
}

/** A JSON object body, or undefined when the body is not one. */
export function objectBody(req: RecordedRequest): Record<string, unknown> | undefined {
  const b = req.body
  return b && typeof b === 'object' && !Array.isArray(b) ? (b as Record<string, unknown>) : undefined
}

/** Milliseconds → the vendor's usual second-precision ISO form, `2026-02-18T12:00:00Z`. */
export function isoSeconds(d: Date): string {
  return `${d.toISOString().slice(0, 19)}Z`
}
