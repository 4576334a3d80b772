/** The load generators: events into Patchbay (saturating or at a fixed rate), and the raw-limit sender. */
import { randomUUID } from 'node:crypto'
import { Pool } from 'undici'
import { breezeHeaders } from '../src/webhooks/signing.ts'
import type { Patchbay } from './patchbay.ts'
import { type LatencyStats, latencyStats, nowMs } from './protocol.ts'
import type { Receiver } from './receiver.ts'

export const EVENT_TYPE = 'alert.triggered'
/**
 * The latency scenario's events: only the webhooks it measures (and the fairness scenario's bad endpoints)
 * subscribe to them, so its offered load is `--rate` × `--latency-webhooks` deliveries/s.
 */
export const LATENCY_EVENT_TYPE = 'device.offline'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, Math.max(0, ms)))

/** An RMM alert of a realistic size (the webhook body is about 400 bytes); `sentAt` is what latency is measured from. */
function eventData(seq: number, sentAt: number) {
  return {
    sentAt,
    alertId: `alr_${seq}`,
    deviceId: `dev-${seq % 5000}`,
    hostname: `ws-${seq % 5000}.acme.internal`,
    severity: 'critical',
    title: 'CPU above 95% for 5 minutes',
    metric: { name: 'cpu.usage', value: 97.3, threshold: 95 },
  }
}

export function batchBody(
  orgId: string,
  from: number,
  count: number,
  sentAt: number,
  type: string = EVENT_TYPE,
): string {
  const events = []
  for (let seq = from; seq < from + count; seq++) {
    events.push({ id: `e${seq}`, type, orgId, data: eventData(seq, sentAt) })
  }
  return JSON.stringify({ events })
}

/** Event sequence numbers, unique for a Patchbay instance (they are the event ids `e<seq>`). */
export class Seq {
  next = 1
  take(n: number): number {
    const from = this.next
    this.next += n
    return from
  }
}

export interface LoadTarget {
  pb: Patchbay
  rx: Receiver
  orgId: string
  seq: Seq
  /** Healthy webhooks each event fans out to (deliveries the receiver counts). */
  fanout: number
  /** The events' type (default EVENT_TYPE, which every webhook subscribes to). */
  type?: string
  /** Stops the load early (the Patchbay process died). */
  alive(): boolean
}

export interface LoadResult {
  fromSeq: number
  toSeq: number
  startedAt: number
  /** When the window (after warm-up) began and ended, in wall-clock ms. */
  windowFrom: number
  windowTo: number
  /** Events accepted during the window. */
  eventsInWindow: number
  /** Events whose send time (`data.sentAt`) falls in the window: the latency sample. */
  sentInWindow: number
  /** Round trips of POST /events/batch. */
  ingest: LatencyStats
  /** The offered load outran delivery so far that the phase stopped early. */
  overloaded: boolean
}

/**
 * Offers more than Patchbay can deliver while keeping the backlog bounded: a batch is posted whenever fewer
 * healthy deliveries are waiting than Patchbay delivers in `backlogSeconds` (by the last second's rate; at
 * least one batch's worth, at most `maxBacklog`), with at most `maxPosts` batch requests in flight. The bound
 * follows the measured rate so that the engine never runs dry, yet draining afterwards takes seconds.
 */
export async function saturate(
  t: LoadTarget,
  o: {
    batch: number
    maxBacklog: number
    warmupMs: number
    windowMs: number
    maxPosts?: number
    backlogSeconds?: number
  },
): Promise<LoadResult & { meanBacklog: number }> {
  const maxPosts = o.maxPosts ?? 2
  const backlogSeconds = o.backlogSeconds ?? 2
  const fromSeq = t.seq.next
  const start = nowMs()
  const windowFrom = start + o.warmupMs
  const windowTo = windowFrom + o.windowMs
  let posted = 0
  let inflight = 0
  let eventsInWindow = 0
  let failure: unknown
  const roundTrips: number[] = []
  const pending = new Set<Promise<void>>()
  const history: { at: number; delivered: number }[] = []
  let sentInWindow = 0
  let backlogSum = 0
  let backlogSamples = 0
  while (nowMs() < windowTo && failure === undefined && t.alive()) {
    const { delivered } = await t.rx.progress()
    const now = nowMs()
    history.push({ at: now, delivered })
    while (history.length > 1 && (history[0] as { at: number }).at < now - 1000) history.shift()
    const first = history[0] as { at: number; delivered: number }
    const rate = now - first.at > 200 ? ((delivered - first.delivered) * 1000) / (now - first.at) : 0
    const bound = Math.min(o.maxBacklog, Math.max(o.batch * t.fanout, rate * backlogSeconds))
    const backlog = posted * t.fanout - delivered
    if (now >= windowFrom) {
      backlogSum += backlog
      backlogSamples++
    }
    while (inflight < maxPosts && posted * t.fanout - delivered < bound) {
      const from = t.seq.take(o.batch)
      const sent = nowMs()
      if (sent >= windowFrom && sent < windowTo) sentInWindow += o.batch
      posted += o.batch
      inflight++
      const p = t.pb
        .postBatch(batchBody(t.orgId, from, o.batch, sent))
        .then(
          () => {
            const done = nowMs()
            roundTrips.push(done - sent)
            if (done >= windowFrom && done < windowTo) eventsInWindow += o.batch
          },
          (err: unknown) => {
            failure = err
          },
        )
        .finally(() => {
          inflight--
          pending.delete(p)
        })
      pending.add(p)
    }
    await sleep(10)
  }
  await Promise.all(pending)
  if (failure !== undefined) throw failure
  return {
    fromSeq,
    toSeq: t.seq.next,
    startedAt: start,
    windowFrom,
    windowTo,
    eventsInWindow,
    sentInWindow,
    ingest: latencyStats(Float64Array.from(roundTrips)),
    overloaded: false,
    meanBacklog: backlogSamples > 0 ? backlogSum / backlogSamples : 0,
  }
}

/**
 * Offers `rate` events per second in a batch every `tickMs`, on a fixed schedule whatever Patchbay does (no
 * coordinated omission: each event's `sentAt` is its scheduled time, so a slow ingest shows up as latency).
 * Stops early, marked overloaded, when more than `overloadSeconds` of deliveries are waiting once warm-up is over.
 */
export async function fixedRate(
  t: LoadTarget,
  o: {
    rate: number
    tickMs: number
    warmupMs: number
    windowMs: number
    overloadSeconds: number
    onInterval?: { everyMs: number; fn: (elapsedMs: number, backlog: number) => Promise<void> }
  },
): Promise<LoadResult> {
  const fromSeq = t.seq.next
  const start = nowMs()
  let windowFrom = start + o.warmupMs
  let windowTo = windowFrom + o.windowMs
  let due = 0
  let sentEvents = 0
  let eventsInWindow = 0
  let failure: unknown
  let overloaded = false
  const roundTrips: number[] = []
  const pending = new Set<Promise<void>>()
  let lastCheck = start
  let nextInterval = start + (o.onInterval?.everyMs ?? Number.POSITIVE_INFINITY)
  const overloadAt = o.rate * t.fanout * o.overloadSeconds
  const sends: { at: number; n: number }[] = []
  for (let k = 0; failure === undefined && t.alive(); k++) {
    const at = start + k * o.tickMs
    if (at >= windowTo) break
    const wait = at - nowMs()
    if (wait > 0) await sleep(wait)
    due += (o.rate * o.tickMs) / 1000
    const n = Math.floor(due)
    due -= n
    if (n > 0) {
      const from = t.seq.take(n)
      sentEvents += n
      sends.push({ at, n })
      const p = t.pb
        .postBatch(batchBody(t.orgId, from, n, at, t.type))
        .then(
          () => {
            const done = nowMs()
            roundTrips.push(done - at)
            if (at >= windowFrom && at < windowTo) eventsInWindow += n
          },
          (err: unknown) => {
            failure = err
          },
        )
        .finally(() => pending.delete(p))
      pending.add(p)
    }
    const now = nowMs()
    if (now - lastCheck >= 200 || now >= nextInterval) {
      lastCheck = now
      const backlog = sentEvents * t.fanout - (await t.rx.progress()).delivered
      if (now >= nextInterval && o.onInterval) {
        nextInterval += o.onInterval.everyMs
        await o.onInterval.fn(now - start, backlog)
      }
      // Warm-up may fall behind (a cold start); only a backlog still too long after it ends stops the phase.
      if (backlog > overloadAt && now >= windowFrom) {
        // The window becomes what ran: from its opening (or the start, when it opened under a second ago) to now.
        overloaded = true
        windowTo = nowMs()
        if (windowTo - windowFrom < 1000) windowFrom = start
        break
      }
    }
  }
  await Promise.all(pending)
  if (failure !== undefined) throw failure
  return {
    fromSeq,
    toSeq: t.seq.next,
    startedAt: start,
    windowFrom,
    windowTo,
    eventsInWindow,
    sentInWindow: sends.filter((b) => b.at >= windowFrom && b.at < windowTo).reduce((a, b) => a + b.n, 0),
    ingest: latencyStats(Float64Array.from(roundTrips)),
    overloaded,
  }
}

/**
 * Waits until `expected` healthy deliveries have arrived in this phase, nothing arrives for `stallMs`, or
 * `limitMs` has passed.
 */
export async function drain(
  t: LoadTarget,
  expected: number,
  limitMs: number,
  log: (line: string) => void,
  stallMs = 20_000,
): Promise<{ delivered: number; ms: number }> {
  const start = nowMs()
  let last = -1
  let lastChange = start
  let lastLog = start
  for (;;) {
    const { delivered } = await t.rx.progress()
    const now = nowMs()
    if (delivered >= expected || !t.alive() || now - start > limitMs) return { delivered, ms: now - start }
    if (now - lastLog >= 10_000) {
      lastLog = now
      log(`  draining: ${delivered} of ${expected} delivered after ${Math.round((now - start) / 1000)} s`)
    }
    if (delivered !== last) {
      last = delivered
      lastChange = now
    } else if (now - lastChange > stallMs) return { delivered, ms: now - start }
    await sleep(50)
  }
}

export interface RawEndpoint {
  url: string
  secret: string
}

/**
 * The physical limit beside Patchbay: the same signed POSTs (same body shape, same signing code, same
 * headers) from keep-alive undici pools straight to the same receiver endpoints, with the same number of
 * requests in flight per endpoint as Patchbay's per-target limit, and no database.
 */
export async function rawLimit(
  endpoints: RawEndpoint[],
  o: { orgId: string; perEndpoint: number; warmupMs: number; windowMs: number },
): Promise<{ windowFrom: number; windowTo: number }> {
  const start = nowMs()
  const windowFrom = start + o.warmupMs
  const windowTo = windowFrom + o.windowMs
  let seq = 0
  const pools = endpoints.map((e) => {
    const url = new URL(e.url)
    return {
      ...e,
      path: url.pathname,
      pool: new Pool(url.origin, { connections: o.perEndpoint, keepAliveTimeout: 60_000 }),
    }
  })
  const loops = pools.flatMap((e) =>
    Array.from({ length: o.perEndpoint }, async () => {
      while (nowMs() < windowTo) {
        const n = seq++
        const sentAt = nowMs()
        const body = JSON.stringify({
          id: `r${n}`,
          type: EVENT_TYPE,
          timestamp: new Date().toISOString(),
          orgId: o.orgId,
          data: eventData(n, sentAt),
        })
        const headers = breezeHeaders({
          body,
          secret: e.secret,
          deliveryId: randomUUID(),
          eventId: `r${n}`,
          eventType: EVENT_TYPE,
          nowMs: Date.now(),
        })
        const res = await e.pool.request({ method: 'POST', path: e.path, headers, body })
        await res.body.text()
        if (res.statusCode !== 200) throw new Error(`raw limit: HTTP ${res.statusCode} from ${e.url}`)
      }
    }),
  )
  await Promise.all(loops)
  await Promise.all(pools.map((p) => p.pool.close()))
  return { windowFrom, windowTo }
}
