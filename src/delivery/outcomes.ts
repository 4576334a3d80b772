import { retryDelayMs } from './policy.ts'
import type { Completion } from './store.ts'
import { realTimers, type Timers } from './timers.ts'
import type { AttemptOutcome, ClaimedDelivery, Settled, Transport } from './types.ts'

/** Longest response body kept in a delivery's history. */
export const BODY_LIMIT = 1000

/** An attempt's outcome judged: what the transport is told, and the row the store writes. */
export interface Judged {
  settled: Settled
  completion: Completion
}

/**
 * Where an attempt leaves its delivery: delivered, failed for good (a final answer, no transport, or retries used
 * up), or retrying after the transport's policy delay (or a longer Retry-After).
 */
export function judge(
  d: ClaimedDelivery,
  outcome: AttemptOutcome,
  transport: Transport | undefined,
  now: Date,
): Judged {
  let status: Settled['status']
  let next: Date | null = null
  let error = outcome.errorMessage
  if (outcome.kind === 'delivered') status = 'delivered'
  else if (outcome.kind === 'failed' || !transport) status = 'failed'
  else {
    const policy = transport.retryPolicy(d)
    // `attempt` counts from 1; maxRetries retries follow the first attempt.
    if (d.attempt > policy.maxRetries) {
      status = 'failed'
      error = `${error ?? `HTTP ${outcome.responseStatus}`} (gave up after ${d.attempt} attempts)`
    } else {
      status = 'retrying'
      next = new Date(now.getTime() + retryDelayMs(policy, d.attempt - 1, outcome.retryAfterMs))
    }
  }
  const body = outcome.responseBody
  return {
    settled: { delivery: d, outcome, status, nextAttemptAt: next },
    completion: {
      id: d.id,
      attempt: d.attempt,
      status,
      nextAttemptAt: next,
      responseStatus: outcome.responseStatus ?? null,
      responseBody: body === undefined ? null : body.length > BODY_LIMIT ? body.slice(0, BODY_LIMIT) : body,
      responseTimeMs: outcome.responseTimeMs ?? null,
      errorMessage: error ?? null,
      requestHeaders: outcome.requestHeaders ?? null,
    },
  }
}

export interface BatcherOptions<T> {
  /** Writes one batch. Must not throw: a batch that cannot be written is the writer's to report. */
  write(items: T[]): Promise<void>
  /** A batch this large is written at once, without waiting for the window. */
  maxItems: number
  /** How long items gather before they are written together. */
  windowMs: number
  timers?: Timers
}

/**
 * Gathers outcomes and writes them in one statement: after `windowMs`, when `maxItems` are waiting, or on
 * `flush`. One write at a time, in order; a flush waits for the write under way before it starts its own.
 */
export class OutcomeBatcher<T> {
  readonly #opts: BatcherOptions<T>
  readonly #timers: Timers
  #pending: T[] = []
  #writing: Promise<void> | undefined
  #timer: unknown

  constructor(opts: BatcherOptions<T>) {
    this.#opts = opts
    this.#timers = opts.timers ?? realTimers
  }

  /** Items waiting for a write. */
  get pending(): number {
    return this.#pending.length
  }

  add(item: T): void {
    this.#pending.push(item)
    if (this.#pending.length >= this.#opts.maxItems) void this.flush()
    else this.#timer ??= this.#timers.set(() => void this.flush(), this.#opts.windowMs)
  }

  /** Writes everything waiting in one batch (after the write under way, if any). */
  async flush(): Promise<void> {
    this.#timers.clear(this.#timer)
    this.#timer = undefined
    while (this.#writing) await this.#writing
    if (this.#pending.length === 0) return
    const items = this.#pending
    this.#pending = []
    this.#writing = this.#opts.write(items)
    try {
      await this.#writing
    } finally {
      this.#writing = undefined
    }
  }
}
