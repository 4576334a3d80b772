/** Messages between the bench (parent) and the receiver process (child), over the fork IPC channel. */

export type Behaviour = 'ok' | 'hang' | 'fail'

export interface EndpointSpec {
  name: string
  secret: string
  behaviour: Behaviour
}

/** Seqs [from, to) were sent to these endpoints (by index); each pair must arrive exactly once. */
export interface SentRange {
  from: number
  to: number
  endpoints: number[]
}

export type Request =
  | { op: 'add'; endpoints: EndpointSpec[]; sharedOrigin: boolean }
  | { op: 'phase' }
  | { op: 'progress' }
  | { op: 'interval' }
  | { op: 'report'; windowFrom: number; windowTo: number; sentFrom: number; sentTo: number; expected: number }
  | { op: 'check'; ranges: SentRange[] }

export interface LatencyStats {
  /** Deliveries that arrived (and were measured). */
  count: number
  /**
   * Deliveries expected but never measured: they had not arrived when the phase ended. They count as slower
   * than any that arrived, so a percentile they reach is NaN (null in JSON) rather than a flattering figure.
   */
  undelivered: number
  p50: number
  p95: number
  p99: number
  max: number
  mean: number
}

export interface EndpointCounters {
  name: string
  behaviour: Behaviour
  /** Requests received (attempts, including retries and hung ones). */
  requests: number
  /** Requests whose signature did not verify. */
  badSignatures: number
}

export interface PhaseReport {
  /** Healthy first arrivals whose arrival time falls in the window. */
  arrivalsInWindow: number
  /** Event-to-delivery latency of healthy first arrivals for events sent in [sentFrom, sentTo), of `expected`. */
  latency: LatencyStats
  /** Healthy first arrivals per second since the phase began. */
  perSecond: number[]
  /** Slowest event-to-delivery latency (ms) of the events sent in each second of the measured window. */
  worstLatencyPerSecond: number[]
  endpoints: EndpointCounters[]
  badSignatures: number
}

export function emptyCheck(): CheckReport {
  return {
    expected: 0,
    delivered: 0,
    missing: 0,
    stillQueued: 0,
    duplicateSameId: 0,
    duplicateOtherId: 0,
    examples: [],
  }
}

export interface CheckReport {
  expected: number
  delivered: number
  /** Never arrived at the receiver (includes stillQueued). */
  missing: number
  /** Of the missing, how many Patchbay still had waiting (pending, retrying, in progress): slow, not lost. */
  stillQueued: number
  /** The same delivery id arrived again. */
  duplicateSameId: number
  /** The same (event, webhook) arrived again under another delivery id. */
  duplicateOtherId: number
  examples: string[]
}

export interface Progress {
  /** Healthy first arrivals in this phase. */
  delivered: number
  requests: number
  badSignatures: number
  /** Every request Patchbay made since the receiver started (all phases, raw-limit requests excluded). */
  patchbayRequests: number
}

export type Reply =
  | { op: 'add'; urls: string[] }
  | { op: 'phase' }
  | { op: 'progress'; progress: Progress }
  | { op: 'interval'; latency: LatencyStats; delivered: number }
  | { op: 'report'; report: PhaseReport }
  | { op: 'check'; check: CheckReport }

/** Wall-clock milliseconds with sub-millisecond resolution, comparable between processes on one machine. */
export function nowMs(): number {
  return performance.timeOrigin + performance.now()
}

export function latencyStats(values: Float64Array, expected = values.length): LatencyStats {
  const n = values.length
  const total = Math.max(n, expected)
  const sorted = Float64Array.from(values).sort()
  const at = (q: number) => {
    const i = Math.max(0, Math.ceil(q * total) - 1)
    return i < n ? (sorted[i] as number) : Number.NaN
  }
  let sum = 0
  for (const v of sorted) sum += v
  return {
    count: n,
    undelivered: total - n,
    p50: at(0.5),
    p95: at(0.95),
    p99: at(0.99),
    max: n > 0 && n === total ? (sorted[n - 1] as number) : Number.NaN,
    mean: n > 0 ? sum / n : Number.NaN,
  }
}

/** NaN crosses the IPC channel (JSON) as null; turn it back. */
export function revive(s: LatencyStats): LatencyStats {
  const f = (v: number | null) => (v === null ? Number.NaN : v)
  return { ...s, p50: f(s.p50), p95: f(s.p95), p99: f(s.p99), max: f(s.max), mean: f(s.mean) }
}
