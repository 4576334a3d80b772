import { randomBytes } from 'node:crypto'
import os from 'node:os'
import type { AppContext } from '../context.ts'
import type { Service } from '../server.ts'
import { retryDelayMs } from './policy.ts'
import { type Completion, claimDue, completeMany, nextDueAt, reapExpiredLeases } from './store.ts'
import {
  type AttemptOutcome,
  type ClaimedDelivery,
  DELIVERY_CHANNEL,
  type Settled,
  type Transport,
} from './types.ts'

export interface WorkerOptions {
  /** Attempts in flight at once in this process. */
  concurrency: number
  /** Attempts in flight at once per target (webhook, integration), so one slow target cannot take every slot. */
  perTarget: number
  batchSize: number
  leaseMs: number
  /** Longest idle wait before looking for due work without a notification. */
  pollMs: number
  reapEveryMs: number
}

const BODY_LIMIT = 1000
/** Longest a freed slot waits for others before the worker claims again. */
const COALESCE_MS = 10

/**
 * The delivery engine's worker: claims due deliveries in batches, attempts them through their transport with
 * per-target concurrency limits, and records outcomes in batches. Wakes on NOTIFY, at the next due time, when
 * a slot frees, or after `pollMs`. Several workers (in several processes) share the work through the database.
 */
export class DeliveryWorker implements Service {
  readonly name = 'delivery-worker'
  readonly id = `${os.hostname()}/${process.pid}/${randomBytes(3).toString('hex')}`
  readonly #ctx: AppContext
  readonly #transports: Map<string, Transport>
  readonly #opts: WorkerOptions
  #inflight = 0
  readonly #perTarget = new Map<string, number>()
  readonly #attempts = new Set<Promise<void>>()
  #pending: { settled: Settled; completion: Completion }[] = []
  #flushing: Promise<void> | undefined
  #flushScheduled = false
  #stopping = false
  #loopDone: Promise<void> | undefined
  #wake: (() => void) | undefined
  /** New work was announced (NOTIFY) since the loop last claimed. */
  #notified = false
  /** Attempts finished since the loop last claimed, i.e. slots that freed up. */
  #freed = 0
  /** How many freed slots are worth a claim: waking for each one would cost a query per delivery. */
  #freedThreshold = 1
  #coalesce: NodeJS.Timeout | undefined
  #unlisten: (() => Promise<void>) | undefined
  #lastReap = 0

  constructor(ctx: AppContext, transports: readonly Transport[], opts: Partial<WorkerOptions> = {}) {
    this.#ctx = ctx
    this.#transports = new Map(transports.map((t) => [t.type, t]))
    const timeout = ctx.config.PATCHBAY_DELIVERY_TIMEOUT_MS
    this.#opts = {
      concurrency: ctx.config.PATCHBAY_DELIVERY_CONCURRENCY,
      perTarget: ctx.config.PATCHBAY_TARGET_CONCURRENCY,
      batchSize: 500,
      leaseMs: ctx.config.PATCHBAY_DELIVERY_LEASE_MS ?? timeout + 30_000,
      pollMs: 1000,
      reapEveryMs: 5000,
      ...opts,
    }
  }

  async start(): Promise<void> {
    this.#unlisten = await this.#ctx.db.listen(DELIVERY_CHANNEL, () => this.#onNotify())
    this.#loopDone = this.#loop()
    this.#ctx.log.info({ worker: this.id, ...this.#opts }, 'delivery worker started')
  }

  async stop(): Promise<void> {
    this.#stopping = true
    this.#wake?.()
    await this.#loopDone
    await Promise.all(this.#attempts)
    await this.#flush()
    await this.#unlisten?.()
  }

  /**
   * Attempts everything due now (by the injected clock) and records the outcomes, until nothing due is left.
   * What tests and tools call instead of running the loop; returns how many attempts were made.
   */
  async drain(): Promise<number> {
    let total = 0
    for (;;) {
      await reapExpiredLeases(this.#ctx.db, this.#ctx.clock.now())
      const batch = await this.#claim(this.#opts.batchSize)
      if (batch.length === 0) break
      total += batch.length
      this.#dispatch(batch)
      await Promise.all(this.#attempts)
      await this.#flush()
    }
    await this.#flush()
    return total
  }

  async #loop(): Promise<void> {
    while (!this.#stopping) {
      try {
        const now = this.#ctx.clock.now().getTime()
        if (now - this.#lastReap >= this.#opts.reapEveryMs) {
          this.#lastReap = now
          const reaped = await reapExpiredLeases(this.#ctx.db, this.#ctx.clock.now())
          if (reaped > 0) this.#ctx.log.warn({ reaped }, 'deliveries whose lease expired are due again')
        }
        // Whatever arrives from here on is news to the claim below.
        this.#notified = false
        this.#freed = 0
        const room = this.#opts.concurrency - this.#inflight
        const asked = Math.min(room, this.#opts.batchSize)
        let claimed = 0
        if (asked > 0) {
          const batch = await this.#claim(asked)
          claimed = batch.length
          this.#dispatch(batch)
        }
        if (claimed > 0 && claimed === asked) {
          // Let responses and timers run between back-to-back claims (the embedded database answers in microtasks).
          await new Promise((r) => setImmediate(r))
          continue
        }
        await this.#idle(claimed === 0 && asked > 0)
      } catch (err) {
        this.#ctx.log.error({ err }, 'delivery worker loop error; retrying shortly')
        await this.#idle(false, 1000)
      }
    }
  }

  #onNotify(): void {
    this.#notified = true
    this.#wake?.()
  }

  /**
   * A slot freed. Claim again once enough have freed to make the query worth it (half of what is in flight),
   * or shortly after the first one, so a lone healthy target behind a hung one is not kept waiting.
   */
  #onSlotFreed(): void {
    this.#freed++
    if (!this.#wake) return
    if (this.#freed >= this.#freedThreshold) this.#wake()
    else this.#coalesce ??= setTimeout(() => this.#wake?.(), COALESCE_MS)
  }

  /** Waits for a notification, enough freed slots, the next due time, or the poll interval. */
  async #idle(lookAhead: boolean, floorMs = 0): Promise<void> {
    if (this.#stopping) return
    let waitMs = this.#opts.pollMs
    if (lookAhead) {
      // Work due now that could not be claimed belongs to targets with no room: freed slots wake us.
      const due = await nextDueAt(this.#ctx.db)
      const until = due ? due.getTime() - this.#ctx.clock.now().getTime() : Number.POSITIVE_INFINITY
      if (until > 0) waitMs = Math.min(waitMs, until)
    }
    waitMs = Math.max(waitMs, floorMs, 1)
    this.#freedThreshold = Math.max(1, Math.min(this.#opts.batchSize, Math.floor(this.#inflight / 2)))
    if (floorMs === 0 && (this.#notified || this.#freed >= this.#freedThreshold)) return
    if (floorMs === 0 && this.#freed > 0) waitMs = Math.min(waitMs, COALESCE_MS)
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer)
        clearTimeout(this.#coalesce)
        this.#coalesce = undefined
        this.#wake = undefined
        resolve()
      }
      const timer = setTimeout(done, waitMs)
      this.#wake = done
    })
  }

  async #claim(limit: number): Promise<ClaimedDelivery[]> {
    const busy = new Map<string, number>()
    for (const [target, n] of this.#perTarget) busy.set(target, this.#opts.perTarget - n)
    const now = this.#ctx.clock.now()
    const batch = await claimDue(this.#ctx.db.relaxed, {
      now,
      limit,
      perTarget: this.#opts.perTarget,
      busy,
      leaseUntil: new Date(now.getTime() + this.#opts.leaseMs),
      worker: this.id,
    })
    if (batch.length === 0) return batch
    const byType = new Map<string, ClaimedDelivery[]>()
    for (const d of batch) byType.set(d.targetType, [...(byType.get(d.targetType) ?? []), d])
    await Promise.all(
      [...byType].map(async ([type, items]) => {
        try {
          await this.#transports.get(type)?.prepare?.(items)
        } catch (err) {
          this.#ctx.log.error(
            { err, targetType: type },
            'could not prepare deliveries; attempts will fail and retry',
          )
        }
      }),
    )
    return batch
  }

  #dispatch(batch: ClaimedDelivery[]): void {
    // Transports that send several deliveries in one request get each target's share of the batch at once.
    const groups = new Map<string, ClaimedDelivery[]>()
    for (const d of batch) {
      if (this.#transports.get(d.targetType)?.attemptBatch) {
        const key = `${d.targetType}:${d.targetId}`
        groups.set(key, [...(groups.get(key) ?? []), d])
      } else this.#track([d], this.#attempt(d))
    }
    for (const group of groups.values()) this.#track(group, this.#attemptGroup(group))
  }

  #track(ds: ClaimedDelivery[], work: Promise<void>): void {
    for (const d of ds) {
      this.#inflight++
      this.#perTarget.set(d.targetId, (this.#perTarget.get(d.targetId) ?? 0) + 1)
    }
    const p = work.finally(() => {
      this.#attempts.delete(p)
      for (const d of ds) {
        this.#inflight--
        const n = (this.#perTarget.get(d.targetId) ?? 1) - 1
        if (n <= 0) this.#perTarget.delete(d.targetId)
        else this.#perTarget.set(d.targetId, n)
        this.#onSlotFreed()
      }
    })
    this.#attempts.add(p)
  }

  async #attempt(d: ClaimedDelivery): Promise<void> {
    const transport = this.#transports.get(d.targetType)
    let outcome: AttemptOutcome
    if (!transport) {
      outcome = { kind: 'failed', errorMessage: `No transport for target type "${d.targetType}"` }
    } else {
      try {
        outcome = await transport.attempt(d)
      } catch (err) {
        this.#ctx.log.error({ err, deliveryId: d.id }, 'transport threw; treating the attempt as failed')
        outcome = { kind: 'retry', errorMessage: 'Internal error during the attempt' }
      }
    }
    this.#settle(d, outcome, transport)
  }

  async #attemptGroup(ds: ClaimedDelivery[]): Promise<void> {
    const transport = this.#transports.get((ds[0] as ClaimedDelivery).targetType) as Transport
    let outcomes: AttemptOutcome[]
    try {
      outcomes = await (transport.attemptBatch as NonNullable<Transport['attemptBatch']>)(ds)
      if (outcomes.length !== ds.length) throw new Error('attemptBatch returned the wrong number of outcomes')
    } catch (err) {
      this.#ctx.log.error({ err, count: ds.length }, 'transport threw; treating the attempts as failed')
      outcomes = ds.map(() => ({ kind: 'retry', errorMessage: 'Internal error during the attempt' }))
    }
    for (const [i, d] of ds.entries()) this.#settle(d, outcomes[i] as AttemptOutcome, transport)
  }

  #settle(d: ClaimedDelivery, outcome: AttemptOutcome, transport: Transport | undefined): void {
    const now = this.#ctx.clock.now()
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
    this.#pending.push({
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
      },
    })
    if (this.#pending.length >= 256) void this.#flush()
    else if (!this.#flushScheduled) {
      this.#flushScheduled = true
      setImmediate(() => {
        this.#flushScheduled = false
        void this.#flush()
      })
    }
  }

  /** Writes every pending outcome in one statement (one flush at a time), then lets transports react. */
  async #flush(): Promise<void> {
    while (this.#flushing) await this.#flushing
    if (this.#pending.length === 0) return
    const items = this.#pending
    this.#pending = []
    this.#flushing = (async () => {
      try {
        const now = this.#ctx.clock.now()
        const updated = await completeMany(
          this.#ctx.db.relaxed,
          items.map((i) => i.completion),
          now,
        )
        const byType = new Map<string, Settled[]>()
        for (const { settled } of items) {
          if (!updated.has(settled.delivery.id)) continue
          const t = settled.delivery.targetType
          byType.set(t, [...(byType.get(t) ?? []), settled])
        }
        for (const [type, results] of byType) await this.#transports.get(type)?.settled?.(results)
      } catch (err) {
        // The rows keep their lease; when it expires they are attempted again. Nothing is lost.
        this.#ctx.log.error({ err, count: items.length }, 'could not record delivery outcomes')
      }
    })()
    try {
      await this.#flushing
    } finally {
      this.#flushing = undefined
    }
  }
}
