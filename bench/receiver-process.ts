/**
 * The webhook receiver, in its own process so it does not take the Patchbay process's CPU. Every request's
 * Breeze signature is verified (a bad one is answered 401 and counted); healthy endpoints record each
 * (event, webhook) pair's arrivals by event sequence number, so duplicates and missing deliveries can be
 * counted exactly, and the event-to-delivery latency (arrival − `data.sentAt`). Driven by the bench over IPC.
 */
import { createHmac, createSecretKey, type KeyObject } from 'node:crypto'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import {
  type CheckReport,
  type EndpointSpec,
  emptyCheck,
  latencyStats,
  nowMs,
  type PhaseReport,
  type Reply,
  type Request,
  type SentRange,
} from './protocol.ts'

class Floats {
  data = new Float64Array(1 << 16)
  length = 0
  push(v: number): void {
    if (this.length === this.data.length) {
      const next = new Float64Array(this.data.length * 2)
      next.set(this.data)
      this.data = next
    }
    this.data[this.length++] = v
  }
}

interface Endpoint {
  spec: EndpointSpec
  key: KeyObject
  url: string
  /** Arrivals per event seq (saturating at 255), and a hash of the first arrival's delivery id. */
  counts: Uint8Array
  ids: Uint32Array
  requests: number
  badSignatures: number
}

interface Duplicate {
  endpoint: number
  seq: number
  sameId: boolean
}

const endpoints: Endpoint[] = []
const duplicates: Duplicate[] = []
let sharedServer: { server: http.Server; port: number } | undefined
const servers: http.Server[] = []

// Per phase: healthy first arrivals (arrival time and the event's send time).
let phaseStart = nowMs()
let arrivals = new Floats()
let sentAts = new Floats()
let phaseRequests = 0
let phaseBadSignatures = 0
let intervalMark = 0
/** Every request Patchbay made since the receiver started (raw-limit requests excluded). */
let patchbayRequests = 0

function fnv1a(s: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  return h >>> 0
}

function ensure(ep: Endpoint, seq: number): void {
  if (seq < ep.counts.length) return
  let size = ep.counts.length
  while (size <= seq) size *= 2
  const counts = new Uint8Array(size)
  counts.set(ep.counts)
  const ids = new Uint32Array(size)
  ids.set(ep.ids)
  ep.counts = counts
  ep.ids = ids
}

function firstArrival(at: number, sentAt: number): void {
  arrivals.push(at)
  sentAts.push(sentAt)
}

function handle(req: http.IncomingMessage, res: http.ServerResponse): void {
  const chunks: Buffer[] = []
  req.on('data', (c: Buffer) => chunks.push(c))
  req.on('end', () => {
    const at = nowMs()
    const index = Number((req.url ?? '').slice(3))
    const ep = endpoints[index]
    if (!ep || !(req.url ?? '').startsWith('/h/')) {
      res.writeHead(404).end()
      return
    }
    const body = chunks.length === 1 ? (chunks[0] as Buffer).toString() : Buffer.concat(chunks).toString()
    ep.requests++
    phaseRequests++
    if (!String(req.headers['x-breeze-event-id'] ?? '').startsWith('r')) patchbayRequests++
    const sig = req.headers['x-breeze-signature']
    const ts = req.headers['x-breeze-signature-timestamp']
    const verified =
      typeof sig === 'string' &&
      typeof ts === 'string' &&
      sig === `sha256=${createHmac('sha256', ep.key).update(`${ts}.${body}`).digest('hex')}`
    if (!verified) {
      ep.badSignatures++
      phaseBadSignatures++
      // What a real receiver does; Patchbay treats it as permanent, so the delivery also shows up as missing.
      res.writeHead(401, { 'content-length': '13' }).end('bad signature')
      return
    }
    if (ep.spec.behaviour === 'hang') return
    if (ep.spec.behaviour === 'fail') {
      res.writeHead(500, { 'content-length': '4' }).end('nope')
      return
    }
    res.writeHead(200, { 'content-length': '2' }).end('ok')

    let sentAt = Number.NaN
    try {
      sentAt = (JSON.parse(body) as { data: { sentAt: number } }).data.sentAt
    } catch {}
    const eventId = req.headers['x-breeze-event-id']
    if (typeof eventId === 'string' && eventId.startsWith('e')) {
      const seq = Number(eventId.slice(1))
      const deliveryId = req.headers['x-breeze-delivery-id']
      const idHash = fnv1a(typeof deliveryId === 'string' ? deliveryId : '')
      ensure(ep, seq)
      const n = ep.counts[seq] as number
      if (n === 0) {
        ep.counts[seq] = 1
        ep.ids[seq] = idHash
        firstArrival(at, sentAt)
      } else {
        if (n < 255) ep.counts[seq] = n + 1
        duplicates.push({ endpoint: index, seq, sameId: ep.ids[seq] === idHash })
      }
    } else {
      // Raw-limit requests (`r…` ids) are not deduplicated: the sender makes each one up.
      firstArrival(at, sentAt)
    }
  })
}

async function listen(): Promise<{ server: http.Server; port: number }> {
  const server = http.createServer({ keepAliveTimeout: 65_000, requestTimeout: 0 }, handle)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  servers.push(server)
  return { server, port: (server.address() as AddressInfo).port }
}

async function add(specs: EndpointSpec[], sharedOrigin: boolean): Promise<string[]> {
  const urls: string[] = []
  for (const spec of specs) {
    let port: number
    if (sharedOrigin) {
      sharedServer ??= await listen()
      port = sharedServer.port
    } else port = (await listen()).port
    const url = `http://127.0.0.1:${port}/h/${endpoints.length}`
    endpoints.push({
      spec,
      key: createSecretKey(Buffer.from(spec.secret, 'utf8')),
      url,
      counts: new Uint8Array(1 << 16),
      ids: new Uint32Array(1 << 16),
      requests: 0,
      badSignatures: 0,
    })
    urls.push(url)
  }
  return urls
}

function phase(): void {
  phaseStart = nowMs()
  arrivals = new Floats()
  sentAts = new Floats()
  phaseRequests = 0
  phaseBadSignatures = 0
  intervalMark = 0
  for (const ep of endpoints) {
    ep.requests = 0
    ep.badSignatures = 0
  }
}

function report(
  windowFrom: number,
  windowTo: number,
  sentFrom: number,
  sentTo: number,
  expected: number,
): PhaseReport {
  let inWindow = 0
  const latencies: number[] = []
  const perSecond: number[] = []
  const worstPerSecond: number[] = []
  for (let i = 0; i < arrivals.length; i++) {
    const at = arrivals.data[i] as number
    const sent = sentAts.data[i] as number
    if (at >= windowFrom && at < windowTo) inWindow++
    if (sent >= sentFrom && sent < sentTo) {
      latencies.push(at - sent)
      const w = Math.floor((sent - sentFrom) / 1000)
      worstPerSecond[w] = Math.max(worstPerSecond[w] ?? 0, at - sent)
    }
    const s = Math.floor((at - phaseStart) / 1000)
    perSecond[s] = (perSecond[s] ?? 0) + 1
  }
  return {
    arrivalsInWindow: inWindow,
    latency: latencyStats(Float64Array.from(latencies), expected),
    perSecond: Array.from(perSecond, (v) => v ?? 0),
    worstLatencyPerSecond: Array.from(worstPerSecond, (v) => Math.round(v ?? 0)),
    endpoints: endpoints.map((ep) => ({
      name: ep.spec.name,
      behaviour: ep.spec.behaviour,
      requests: ep.requests,
      badSignatures: ep.badSignatures,
    })),
    badSignatures: phaseBadSignatures,
  }
}

function interval(): { latency: PhaseReport['latency']; delivered: number } {
  const n = arrivals.length
  const values = new Float64Array(n - intervalMark)
  for (let i = intervalMark; i < n; i++)
    values[i - intervalMark] = (arrivals.data[i] as number) - (sentAts.data[i] as number)
  intervalMark = n
  return { latency: latencyStats(values), delivered: values.length }
}

function check(ranges: SentRange[]): CheckReport {
  const out = emptyCheck()
  const inRanges = (endpoint: number, seq: number) =>
    ranges.some((r) => seq >= r.from && seq < r.to && r.endpoints.includes(endpoint))
  for (const r of ranges) {
    for (const e of r.endpoints) {
      const ep = endpoints[e] as Endpoint
      ensure(ep, r.to)
      for (let seq = r.from; seq < r.to; seq++) {
        out.expected++
        if (ep.counts[seq] === 0) {
          out.missing++
          if (out.examples.length < 5) out.examples.push(`missing e${seq} at ${ep.spec.name}`)
        } else out.delivered++
      }
    }
  }
  for (const d of duplicates) {
    if (!inRanges(d.endpoint, d.seq)) continue
    if (d.sameId) out.duplicateSameId++
    else out.duplicateOtherId++
    if (out.examples.length < 10) {
      out.examples.push(
        `duplicate e${d.seq} at ${endpoints[d.endpoint]?.spec.name} (${d.sameId ? 'same' : 'another'} delivery id)`,
      )
    }
  }
  return out
}

async function answer(req: Request): Promise<Reply> {
  switch (req.op) {
    case 'add':
      return { op: 'add', urls: await add(req.endpoints, req.sharedOrigin) }
    case 'phase':
      phase()
      return { op: 'phase' }
    case 'progress':
      return {
        op: 'progress',
        progress: {
          delivered: arrivals.length,
          requests: phaseRequests,
          badSignatures: phaseBadSignatures,
          patchbayRequests,
        },
      }
    case 'interval':
      return { op: 'interval', ...interval() }
    case 'report':
      return {
        op: 'report',
        report: report(req.windowFrom, req.windowTo, req.sentFrom, req.sentTo, req.expected),
      }
    case 'check':
      return { op: 'check', check: check(req.ranges) }
  }
}

process.on('message', (msg: { id: number; req: Request }) => {
  answer(msg.req).then(
    (reply) => process.send?.({ id: msg.id, reply }),
    (err: unknown) => process.send?.({ id: msg.id, error: String(err) }),
  )
})
process.on('disconnect', () => {
  for (const s of servers) s.closeAllConnections()
  process.exit(0)
})
