import dns from 'node:dns/promises'
import type { TLSSocket } from 'node:tls'
import { buildConnector, Pool } from 'undici'
import type { Clock } from '../lib/clock.ts'
import { systemClock } from '../lib/clock.ts'
import { headerSecrets, Scrubber, urlSecrets } from '../lib/scrub.ts'
import { type AddressPolicy, ipLiteral } from './address-policy.ts'
import { DnsCache } from './dns-cache.ts'

/** Resolves a hostname to every address it has. Injected so tests can make DNS say anything. */
export type Resolver = (hostname: string) => Promise<string[]>

export const systemResolver: Resolver = async (hostname) =>
  (await dns.lookup(hostname, { all: true, verbatim: true })).map((a) => a.address)

/** The URL may not be called: bad scheme, blocked name, or an address outside the policy. */
export class UnsafeUrlError extends Error {
  override name = 'UnsafeUrlError'
  constructor(
    message: string,
    /** The host did not resolve: a DNS failure rather than a URL Patchbay refuses to call. */
    readonly unresolved = false,
  ) {
    super(message)
  }
}

export type OutboundFailure = 'timeout' | 'connection' | 'tls' | 'dns' | 'aborted' | 'protocol'

/** The request was sent (or tried) but no HTTP response came back. */
export class OutboundError extends Error {
  override name = 'OutboundError'
  constructor(
    readonly kind: OutboundFailure,
    message: string,
    readonly timeMs: number,
  ) {
    super(message)
  }
}

export interface CheckedUrl {
  url: URL
  /** The address the connection will be made to; no second resolution happens. */
  address: string
  /** The address is in PATCHBAY_ALLOWED_TARGET_CIDRS. */
  exempt: boolean
}

export interface OutboundRequest {
  method?: string
  url: string
  headers?: Record<string, string>
  body?: string | Buffer
  timeoutMs?: number
  /** Characters of the response body to return (the rest is read and dropped, up to maxResponseBytes). */
  keepResponseChars?: number
  /**
   * Characters of a non-2xx body to return, when fewer than keepResponseChars: error text is scrubbed (which costs
   * time in proportion to its length) and a vendor's error message is never megabytes long.
   */
  keepErrorChars?: number
  /** A response longer than this is cut off and the connection closed. */
  maxResponseBytes?: number
  signal?: AbortSignal
  /**
   * Credentials sent other than in a header (in the body, or as the URL path like a chat webhook's token). Header
   * values and credential-named query parameters need not be listed: the client takes them from the request.
   */
  secrets?: readonly unknown[]
  /** Header names whose values are not credentials (signatures, generated ids, timestamps): left in vendor text. */
  publicHeaders?: readonly string[]
  /**
   * Return a 2xx body as the vendor sent it, for a caller that reads data from it (and scrubs any text it keeps
   * with `scrub`). Other answers are always scrubbed.
   */
  rawSuccessBody?: boolean
  /**
   * The SHA-256 fingerprint of the one certificate the server may present (64 hex digits, colons optional), for
   * appliances with self-signed certificates (UniFi consoles). The connection is then accepted if and only if
   * the leaf certificate is exactly that one, whoever signed it; nothing is sent before the check. Without it,
   * certificates are verified as usual. HTTPS only.
   */
  pinnedCertSha256?: string
}

export interface OutboundResponse {
  status: number
  headers: Record<string, string>
  body: string
  /** The body was longer than keepResponseChars. */
  truncated: boolean
  timeMs: number
  address: string
  /**
   * Removes what this request sent (every credential above, in every encoded form) from a text. `body` and
   * `headers` have been through it already (unless rawSuccessBody); callers use it on text they derive.
   */
  scrub(text: string): string
}

/**
 * Everything a request sent that is a secret: header values and their parts, credential-named query parameters,
 * and what the caller listed. Vendor text is scrubbed of these before it leaves the client, so no caller can
 * store or show an echo of them by forgetting to.
 */
export function requestScrubber(
  req: Pick<OutboundRequest, 'url' | 'headers' | 'secrets' | 'publicHeaders'>,
): Scrubber {
  return Scrubber.of([
    ...headerSecrets(req.headers, req.publicHeaders),
    ...urlSecrets(req.url),
    ...(req.secrets ?? []),
  ])
}

export interface HttpClientOptions {
  policy: AddressPolicy
  resolver?: Resolver
  clock?: Clock
  /** How long a DNS answer is reused; every attempt still checks the (possibly cached) answer. */
  dnsCacheMs?: number
  /** How many hosts' answers are kept at most (the oldest go first). */
  dnsCacheEntries?: number
  connectionsPerOrigin?: number
  keepAliveMs?: number
  defaultTimeoutMs?: number
  userAgent?: string
}

const BLOCKED_NAME_RE = /(^|\.)(localhost|local)$/

/**
 * Every request Patchbay makes to the outside world goes through here. Before each request the URL is checked
 * (scheme, hostname, every DNS answer against the address policy), and the connection is made to the checked
 * address itself, so DNS cannot answer differently between the check and the connect. Redirects are never
 * followed. Connections are kept alive in one pool per origin and address.
 */
export class HttpClient {
  readonly policy: AddressPolicy
  readonly #resolver: Resolver
  readonly #clock: Clock
  readonly #dns: DnsCache
  readonly #inflight = new Map<string, Promise<string[]>>()
  readonly #pools = new Map<string, Pool>()
  readonly #opts: Required<
    Pick<HttpClientOptions, 'connectionsPerOrigin' | 'keepAliveMs' | 'defaultTimeoutMs'>
  > & {
    userAgent: string | undefined
  }

  constructor(opts: HttpClientOptions) {
    this.policy = opts.policy
    this.#resolver = opts.resolver ?? systemResolver
    this.#clock = opts.clock ?? systemClock
    this.#dns = new DnsCache(opts.dnsCacheMs ?? 1000, opts.dnsCacheEntries ?? 10_000)
    this.#opts = {
      connectionsPerOrigin: opts.connectionsPerOrigin ?? 64,
      keepAliveMs: opts.keepAliveMs ?? 30_000,
      defaultTimeoutMs: opts.defaultTimeoutMs ?? 30_000,
      userAgent: opts.userAgent,
    }
  }

  /** Validates a URL for storage or use. Throws UnsafeUrlError saying what is wrong. */
  async check(raw: string): Promise<CheckedUrl> {
    let url: URL
    try {
      url = new URL(raw)
    } catch {
      throw new UnsafeUrlError('is not a valid URL')
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new UnsafeUrlError('must use HTTPS')
    if (url.username || url.password) throw new UnsafeUrlError('must not contain credentials')
    const host = url.hostname.toLowerCase().replace(/\.$/, '')
    if (!host) throw new UnsafeUrlError('has no host')
    if (BLOCKED_NAME_RE.test(host)) throw new UnsafeUrlError(`host "${host}" is a local name`)
    const literal = ipLiteral(host)
    let addresses: string[]
    if (literal) addresses = [literal]
    else {
      try {
        addresses = await this.#resolve(host)
      } catch {
        addresses = []
      }
      if (addresses.length === 0) throw new UnsafeUrlError(`host "${host}" could not be resolved`, true)
    }
    let exempt = true
    for (const a of addresses) {
      const verdict = this.policy.judge(a)
      if (!verdict.allowed) throw new UnsafeUrlError(`resolves to ${verdict.reason}`)
      exempt &&= verdict.exempt
    }
    if (url.protocol === 'http:' && !exempt) throw new UnsafeUrlError('must use HTTPS')
    return { url, address: addresses[0] as string, exempt }
  }

  async #resolve(host: string): Promise<string[]> {
    const now = this.#clock.now().getTime()
    const cached = this.#dns.get(host, now)
    if (cached) return cached
    let pending = this.#inflight.get(host)
    if (!pending) {
      pending = this.#resolver(host).finally(() => this.#inflight.delete(host))
      this.#inflight.set(host, pending)
    }
    const addresses = await pending
    this.#dns.set(host, addresses, now)
    return addresses
  }

  /** Checks the URL, then sends the request to the checked address. Non-2xx statuses are responses, not errors. */
  async request(req: OutboundRequest): Promise<OutboundResponse> {
    const headers: Record<string, string> = {
      ...(this.#opts.userAgent ? { 'user-agent': this.#opts.userAgent } : {}),
      ...req.headers,
    }
    const scrubber = requestScrubber({ ...req, headers })
    const scrub = (text: string) => scrubber.scrub(text)
    const pin = req.pinnedCertSha256 === undefined ? undefined : certFingerprint(req.pinnedCertSha256)
    if (pin === null) throw new UnsafeUrlError('has a pinned certificate that is not a SHA-256 fingerprint')
    let target: CheckedUrl
    try {
      target = await this.check(req.url)
    } catch (err) {
      if (err instanceof UnsafeUrlError) throw new UnsafeUrlError(scrub(err.message), err.unresolved)
      throw err
    }
    if (pin && target.url.protocol !== 'https:')
      throw new UnsafeUrlError('must use HTTPS to pin a certificate')
    const timeoutMs = req.timeoutMs ?? this.#opts.defaultTimeoutMs
    const pool = this.#pool(target, pin)
    const started = performance.now()
    // undici's headers and body timeouts bound the wait for an answer; a per-request AbortSignal timer would cost
    // a timer, a signal and a DOMException per request, which shows at thousands of requests a second.
    try {
      const res = await pool.request({
        path: `${target.url.pathname}${target.url.search}`,
        method: (req.method ?? 'GET') as 'GET',
        headers,
        body: req.body ?? null,
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
        ...(req.signal ? { signal: req.signal } : {}),
      })
      const success = res.statusCode >= 200 && res.statusCode < 300
      const keepAll = req.keepResponseChars ?? 1_000_000
      const keep = success ? keepAll : Math.min(keepAll, req.keepErrorChars ?? keepAll)
      const max = req.maxResponseBytes ?? Math.max(keepAll * 4, 1_048_576)
      const length = Number(res.headers['content-length'])
      let text: string
      let cut = false
      if (Number.isFinite(length) && length <= max) {
        text = await res.body.text()
      } else {
        const chunks: Buffer[] = []
        let size = 0
        for await (const chunk of res.body) {
          const buf = chunk as Buffer
          if (size < keep * 4) chunks.push(buf)
          size += buf.length
          if (size > max) {
            cut = true
            res.body.destroy()
            break
          }
        }
        text = Buffer.concat(chunks).toString('utf8')
      }
      const raw = req.rawSuccessBody === true && success
      const clean = raw || scrubber.empty ? (t: string) => t : scrub
      const out: Record<string, string> = {}
      for (const [k, v] of Object.entries(res.headers))
        if (v !== undefined) out[k] = clean(Array.isArray(v) ? v.join(', ') : v)
      // Scrubbed before it is cut, so a secret straddling the cut cannot leave its first characters behind.
      const kept =
        text.length > keep ? clean(text.slice(0, keep + scrubber.reach)).slice(0, keep) : clean(text)
      return {
        status: res.statusCode,
        headers: out,
        body: kept,
        truncated: cut || text.length > keep,
        timeMs: Math.round(performance.now() - started),
        address: target.address,
        scrub,
      }
    } catch (err) {
      const failure = describeFailure(err, false, timeoutMs, target, Math.round(performance.now() - started))
      throw new OutboundError(failure.kind, scrub(failure.message), failure.timeMs)
    }
  }

  #pool(target: CheckedUrl, pin: string | undefined): Pool {
    // A pinned pool never lends its connections to unpinned requests, nor the other way round.
    const key = `${target.url.origin}|${target.address}|${pin ?? ''}`
    let pool = this.#pools.get(key)
    if (pool) {
      // Most recently used last, for eviction.
      this.#pools.delete(key)
      this.#pools.set(key, pool)
      return pool
    }
    const servername = target.url.hostname.replace(/^\[|\]$/g, '')
    const timeout = Math.min(this.#opts.defaultTimeoutMs, 10_000)
    // With a pin, the chain is not judged by the CA store (a self-signed certificate has none); the leaf is compared
    // with the pin in the connect callback instead, before undici writes a byte. No session resumption, so every
    // connection shows its certificate.
    const connector = pin
      ? buildConnector({ timeout, rejectUnauthorized: false, maxCachedSessions: 0 })
      : buildConnector({ timeout })
    const address = target.address
    pool = new Pool(target.url.origin, {
      connections: this.#opts.connectionsPerOrigin,
      keepAliveTimeout: this.#opts.keepAliveMs,
      keepAliveMaxTimeout: this.#opts.keepAliveMs,
      connect: (opts, cb) =>
        connector(
          { ...opts, hostname: address, ...(ipLiteral(servername) ? {} : { servername }) },
          pin ? checkPin(pin, cb) : cb,
        ),
    })
    this.#pools.set(key, pool)
    if (this.#pools.size > 2000) {
      const [oldestKey, oldest] = this.#pools.entries().next().value as [string, Pool]
      this.#pools.delete(oldestKey)
      void oldest.close().catch(() => undefined)
    }
    return pool
  }

  async close(): Promise<void> {
    const pools = [...this.#pools.values()]
    this.#pools.clear()
    await Promise.all(pools.map((p) => p.destroy().catch(() => undefined)))
  }
}

/** A SHA-256 fingerprint as Node prints it (`AB:CD:…`, upper case); null when the text is not one. */
export function certFingerprint(text: string): string | null {
  const hex = text.replace(/[\s:]/g, '').toUpperCase()
  if (!/^[0-9A-F]{64}$/.test(hex)) return null
  return hex.match(/../g)?.join(':') ?? null
}

type ConnectCallback = Parameters<ReturnType<typeof buildConnector>>[1]

/** Accepts the TLS connection only if the server's leaf certificate has the pinned fingerprint. */
function checkPin(pin: string, cb: ConnectCallback): ConnectCallback {
  return (err, socket) => {
    if (err || !socket) return (cb as (e: Error | null, s: null) => void)(err ?? new Error('no socket'), null)
    const actual = (socket as TLSSocket).getPeerCertificate?.()?.fingerprint256
    if (actual === pin) return cb(null, socket)
    socket.destroy()
    const refused = Object.assign(
      new Error(
        actual
          ? `the server's certificate (SHA-256 ${actual}) is not the pinned certificate (SHA-256 ${pin})`
          : 'the server presented no certificate to compare with the pinned one',
      ),
      { code: 'ERR_TLS_CERT_PIN_MISMATCH' },
    )
    return (cb as (e: Error | null, s: null) => void)(refused, null)
  }
}

function describeFailure(
  err: unknown,
  timedOut: boolean,
  timeoutMs: number,
  target: CheckedUrl,
  timeMs: number,
): OutboundError {
  const e = err as NodeJS.ErrnoException & { code?: string }
  const where = `${target.address}:${target.url.port || (target.url.protocol === 'https:' ? 443 : 80)}`
  const code = e?.code ?? ''
  if (timedOut || code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') {
    return new OutboundError('timeout', `Request timed out after ${timeoutMs} ms`, timeMs)
  }
  if (code === 'UND_ERR_CONNECT_TIMEOUT')
    return new OutboundError('timeout', `Connection to ${where} timed out`, timeMs)
  if (e?.name === 'AbortError' || code === 'UND_ERR_ABORTED')
    return new OutboundError('aborted', 'Request aborted', timeMs)
  if (code === 'ECONNREFUSED')
    return new OutboundError('connection', `Connection refused by ${where}`, timeMs)
  if (code === 'ECONNRESET' || code === 'UND_ERR_SOCKET' || code === 'EPIPE') {
    return new OutboundError('connection', `Connection to ${where} closed unexpectedly`, timeMs)
  }
  if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH')
    return new OutboundError('connection', `${where} is unreachable`, timeMs)
  if (/CERT|TLS|SSL/i.test(code) || /certificate|tls|ssl/i.test(e?.message ?? '')) {
    return new OutboundError('tls', `TLS error: ${e.message}`, timeMs)
  }
  return new OutboundError('protocol', `Request failed: ${e?.message ?? String(err)}`, timeMs)
}
