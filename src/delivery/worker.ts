import { randomBytes } from 'node:crypto'
import os from 'node:os'
import type { Config } from '../config.ts'
import type { AppContext } from '../context.ts'
import { type Metrics, metricsOf } from '../lib/metrics.ts'
import type { Service } from '../lib/service.ts'
import {
  type Circuit,
  type CircuitOptions,
  capacity,
  isTripped,
  observe,
  tick,
  untilTrial,
  withTrial,
} from './circuit.ts'
import { type HandoffOffer, type HandoffTaker, takeHandoffs, uniqueLeaseUntil } from './handoff.ts'
import { type Judged, judge, OutcomeBatcher } from './outcomes.ts'
import { Slots } from './slots.ts'
import {
  claimDue,
  completeMany,
  deferTarget,
  holdArrivals,
  nextWakeAt,
  reapExpiredLeases,
  releaseClaimed,
  resumeTarget,
} from './store.ts'
import { realTimers, type Timers } from './timers.ts'
import {
  type AttemptOutcome,
  type ClaimedDelivery,
  DELIVERY_CHANNEL,
  type Settled,
  type Transport,
} from './types.ts'
import { answered, learned, type NextWake, shouldAsk, unknownWake, Wakeup, waitFor } from './wakeup.ts'

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
  /** Failed attempts in a row (timeouts, connection errors, 5xx, 429) that open a target's circuit. */
  circuitThreshold: number
  /** How long a circuit stays open the first time; it doubles each time it trips again, up to circuitMaxMs. */
  circuitOpenMs: number
  circuitMaxMs: number
  /** The idle wait's timers; tests hand in their own to run time by hand. */
  timers: Timers
}

/**
 * How long a worker holds a claimed delivery. A claimed delivery may wait for one round of attempts to its target
 * before its own starts, so: two delivery timeouts and a margin, unless PATCHBAY_DELIVERY_LEASE_MS says otherwise.
 */
export function deliveryLeaseMs(config: Config): number {
  return config.PATCHBAY_DELIVERY_LEASE_MS ?? 2 * config.PATCHBAY_DELIVERY_TIMEOUT_MS + 30_000
}

/**
 * How long outcomes gather before they are written in one statement. The receiver already has the delivery; this
 * only delays the history row, and each write saved is a statement the database does not plan and run.
 */
const FLUSH_MS = 20

/**
 * The delivery engine's worker. It claims due deliveries in batches into a small per-target ready queue (at
 * most one extra round of attempts per target), starts attempts from that queue as slots free up — so a slot
 * never waits for a database round trip — and records outcomes in batches. It claims again when half the work
 * in hand has finished, on NOTIFY, at the next due time, or after `pollMs`. Several workers (in several
 * processes) share the work through the database.
 */
export class DeliveryWorker implements Service, HandoffTaker {
  readonly name = 'delivery-worker'
  readonly id = `${os.hostname()}/${process.pid}/${randomBytes(3).toString('hex')}`
  readonly #ctx: AppContext
  readonly #transports: Map<string, Transport>
  readonly #opts: WorkerOptions
  readonly #slots: Slots
  /**
   * Each target's circuit, in a box that lives as long as the circuit does (until it closes): a trial the database
   * chooses later lands on the circuit it was chosen for, never on one opened after it closed.
   */
  readonly #circuits = new Map<string, { state: Circuit }>()
  readonly #circuitOpts: CircuitOptions
  readonly #attempts = new Set<Promise<void>>()
  readonly #outcomes: OutcomeBatcher<Judged>
  readonly #wakeup: Wakeup
  readonly #metrics: Metrics
  #stopping = false
  #loopDone: Promise<void> | undefined
  /**
   * The last claim may have left due work behind for lack of room (it hit its limit, or a target's), so finished
   * attempts should lead to another claim. When it took everything due, only news (NOTIFY, a due time) can.
   */
  #moreDue = true
  /** The queue's next due time and lease expiry, as last asked (or learned from this worker's own retries). */
  #next: NextWake = unknownWake()
  /** When the idle wait under way ends (its timer), to cut it short for a retry due sooner. */
  #waitEnds = Number.POSITIVE_INFINITY
  #unlisten: (() => Promise<void>) | undefined
  #lastReap = 0
  /** Deliveries promised to ingests under way (offered, not yet settled). */
  #offered = 0
  #stopHandoffs: (() => void) | undefined

  constructor(ctx: AppContext, transports: readonly Transport[], opts: Partial<WorkerOptions> = {}) {
    this.#ctx = ctx
    this.#metrics = metricsOf(ctx)
    this.#transports = new Map(transports.map((t) => [t.type, t]))
    this.#opts = {
      concurrency: ctx.config.PATCHBAY_DELIVERY_CONCURRENCY,
      perTarget: ctx.config.PATCHBAY_TARGET_CONCURRENCY,
      batchSize: 500,
      leaseMs: deliveryLeaseMs(ctx.config),
      pollMs: 1000,
      reapEveryMs: 5000,
      circuitThreshold: 5,
      circuitOpenMs: 5000,
      circuitMaxMs: 60_000,
      timers: realTimers,
      ...opts,
    }
    this.#wakeup = new Wakeup(this.#opts.timers)
    this.#slots = new Slots(this.#opts.concurrency, this.#opts.perTarget)
    this.#circuitOpts = {
      threshold: this.#opts.circuitThreshold,
      openMs: this.#opts.circuitOpenMs,
      maxMs: this.#opts.circuitMaxMs,
    }
    this.#outcomes = new OutcomeBatcher({
      write: (items) => this.#record(items),
      maxItems: 256,
      windowMs: FLUSH_MS,
    })
  }

  async start(): Promise<void> {
    // The first claims and ingests after a start are then not the ones that open connections and plan cold. Not
    // awaited: readiness (the restart target is 2 s) does not wait for it, and a claim that comes first just
    // opens its connection itself.
    this.#ctx.db.warm().catch((err: unknown) => {
      this.#ctx.log.warn({ err }, 'could not warm the database connections; they open on first use')
    })
    this.#unlisten = await this.#ctx.db.listen(DELIVERY_CHANNEL, () => this.#wakeup.notify())
    this.#stopHandoffs = takeHandoffs(this.#ctx.db, this)
    this.#loopDone = this.#loop()
    const { timers: _timers, ...settings } = this.#opts
    this.#ctx.log.info({ worker: this.id, ...settings }, 'delivery worker started')
  }

  async stop(): Promise<void> {
    this.#stopping = true
    this.#stopHandoffs?.()
    this.#wakeup.ring()
    await this.#loopDone
    await this.#release(this.#slots.readyTargets(), null)
    await Promise.all(this.#attempts)
    await this.#outcomes.flush()
    await this.#flushTransports()
    await this.#unlisten?.()
  }

  /**
   * Attempts everything due now (by the injected clock) and records the outcomes, until nothing due is left.
   * What tests and tools call instead of running the loop; returns how many attempts were made.
   */
  async drain(): Promise<number> {
    let total = 0
    for (;;) {
      await reapExpiredLeases(this.#ctx.db.relaxed, this.#ctx.clock.now())
      await this.#redefer(this.#ctx.clock.now().getTime())
      const claimed = await this.#claim()
      total += claimed
      this.#pumpAll()
      while (this.#attempts.size > 0) await Promise.race(this.#attempts)
      await this.#outcomes.flush()
      if (claimed === 0 && this.#slots.ready === 0) break
    }
    await this.#flushTransports()
    return total
  }

  async #loop(): Promise<void> {
    while (!this.#stopping) {
      try {
        const now = this.#ctx.clock.now().getTime()
        const leaseRanOut = this.#next.leaseAt !== null && now >= this.#next.leaseAt
        if (leaseRanOut || now - this.#lastReap >= this.#opts.reapEveryMs) {
          this.#lastReap = now
          // The next lease expiry is asked again after this reap.
          if (leaseRanOut) this.#next = unknownWake()
          const reaped = await reapExpiredLeases(this.#ctx.db.relaxed, this.#ctx.clock.now())
          if (reaped > 0) this.#ctx.log.warn({ reaped }, 'deliveries whose lease expired are due again')
        }
        await this.#redefer(now)
        // Whatever arrives from here on is news to the claim below.
        this.#wakeup.claiming()
        const asked = this.#slots.claimLimit(this.#opts.batchSize)
        const claimed = asked > 0 ? await this.#claim() : 0
        this.#pumpAll()
        if (claimed > 0 && claimed === asked) {
          // Let responses and timers run between back-to-back claims (the embedded database answers in microtasks).
          await new Promise((r) => setImmediate(r))
          continue
        }
        await this.#idle()
      } catch (err) {
        this.#ctx.log.error({ err }, 'delivery worker loop error; retrying shortly')
        await this.#idle(1000)
      }
    }
  }

  /**
   * Waits for a notification, enough finished attempts, the queue's next due time or lease expiry (a timer set
   * to it, so a retry goes on time, not at the next poll), a circuit's trial, or `pollMs` at most. The queue is
   * asked only when its answer may have changed (see shouldAsk); this worker's own retries are learned as it
   * records them.
   */
  async #idle(floorMs = 0): Promise<void> {
    if (this.#stopping) return
    const now = this.#ctx.clock.now().getTime()
    if (floorMs === 0 && shouldAsk(this.#next, now, this.#opts.pollMs)) {
      const { due, leaseUntil } = await nextWakeAt(this.#ctx.db.relaxed)
      this.#next = answered(now, due?.getTime() ?? null, leaseUntil?.getTime() ?? null)
    }
    let waitMs = waitFor(this.#next, now, this.#opts.pollMs)
    for (const c of this.#circuits.values()) {
      const until = untilTrial(c.state, now)
      if (until !== undefined) waitMs = Math.min(waitMs, until)
    }
    waitMs = Math.max(waitMs, floorMs, 1)
    this.#waitEnds = now + waitMs
    await this.#wakeup.wait(waitMs, {
      threshold: this.#slots.claimAfter(this.#opts.batchSize),
      moreDue: this.#moreDue,
      floorMs,
    })
    this.#waitEnds = Number.POSITIVE_INFINITY
  }

  /** Attempts a target may have under way now: none while its circuit is open, one while half-open. */
  #capFor(target: string, now: number): number {
    return capacity(this.#circuits.get(target)?.state, now, this.#opts.perTarget)
  }

  /**
   * Fresh deliveries this worker takes at ingest (see handoff.ts): as many as a claim would take now, less what
   * ingests under way were promised. None while the queue holds due work it left behind (that goes first), and
   * none while stopping.
   */
  offer(now: Date): HandoffOffer | undefined {
    if (this.#stopping || this.#moreDue) return undefined
    const max = this.#slots.claimLimit(this.#opts.batchSize) - this.#offered
    if (max <= 0) return undefined
    this.#offered += max
    return { worker: this.id, leaseUntil: uniqueLeaseUntil(now.getTime() + this.#opts.leaseMs), max }
  }

  /** An ingest committed (or not): its promise ends, and what it leased to this worker is attempted. */
  settle(offer: HandoffOffer, handed: ClaimedDelivery[]): void {
    this.#offered -= offer.max
    if (handed.length === 0) return
    this.#background(this.#adopt(handed), '', 'could not take handed deliveries')
  }

  async #adopt(batch: ClaimedDelivery[]): Promise<void> {
    const now = this.#ctx.clock.now()
    // Targets whose circuit this worker opened, and a worker on its way out, give them back at once.
    const refused = this.#stopping
      ? batch
      : batch.filter((d) => this.#capFor(d.targetId, now.getTime()) === 0)
    if (refused.length > 0) {
      this.#moreDue = true
      await releaseClaimed(
        this.#ctx.db.relaxed,
        refused.map((d) => d.id),
        this.id,
        now,
      )
      if (refused.length === batch.length) return
    }
    const taken = refused.length > 0 ? batch.filter((d) => !refused.includes(d)) : batch
    await this.#prepare(taken)
    if (this.#stopping) {
      await releaseClaimed(
        this.#ctx.db.relaxed,
        taken.map((d) => d.id),
        this.id,
        this.#ctx.clock.now(),
      )
      return
    }
    this.#slots.enqueue(taken)
    this.#pumpAll()
  }

  /** Loads what the transports need for a batch of attempts. */
  async #prepare(batch: ClaimedDelivery[]): Promise<void> {
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
  }

  /** Claims into the ready queues; returns how many were claimed. */
  async #claim(): Promise<number> {
    const limit = this.#slots.claimLimit(this.#opts.batchSize)
    if (limit === 0) return 0
    const now = this.#ctx.clock.now()
    const nowMs = now.getTime()
    const busy = new Map<string, number>()
    const roomFor = (t: string) => this.#slots.roomFor(t, this.#capFor(t, nowMs))
    for (const t of this.#slots.heldTargets()) busy.set(t, roomFor(t))
    for (const [t, c] of this.#circuits) if (isTripped(c.state)) busy.set(t, roomFor(t))
    const perTarget = 2 * this.#opts.perTarget
    const batch = await claimDue(this.#ctx.db.relaxed, {
      now,
      limit,
      // Targets this worker knows nothing about yet get one round of attempts and one queued.
      perTarget,
      busy,
      leaseUntil: new Date(nowMs + this.#opts.leaseMs),
      worker: this.id,
    })
    const taken = new Map<string, number>()
    for (const d of batch) taken.set(d.targetId, (taken.get(d.targetId) ?? 0) + 1)
    this.#moreDue =
      batch.length >= limit ||
      [...busy.values()].some((room) => room <= 0) ||
      [...taken].some(([t, n]) => n >= (busy.get(t) ?? perTarget))
    if (batch.length === 0) return 0
    await this.#prepare(batch)
    this.#slots.enqueue(batch)
    return batch.length
  }

  #pumpAll(): void {
    for (const target of this.#slots.readyTargets()) {
      if (!this.#slots.free) return
      this.#pump(target)
    }
  }

  /** Starts as many of a target's ready deliveries as its limits allow. */
  #pump(target: string): void {
    const started = this.#slots.start(target, this.#capFor(target, this.#ctx.clock.now().getTime()))
    if (started.length === 0) return
    const transport = this.#transports.get((started[0] as ClaimedDelivery).targetType)
    if (transport?.attemptBatch) this.#track(target, started, this.#attemptGroup(transport, started))
    else for (const d of started) this.#track(target, [d], this.#attempt(d))
  }

  #track(target: string, ds: ClaimedDelivery[], work: Promise<void>): void {
    const started = performance.now()
    const p = work.finally(() => {
      this.#attempts.delete(p)
      this.#timed(target, performance.now() - started)
      this.#slots.finished(target, ds.length)
      this.#pump(target)
      if (this.#slots.waiting && this.#slots.free) this.#pumpAll()
      // Claim again once half of what is in hand has finished (the ready queue keeps slots busy meanwhile).
      for (let i = 0; i < ds.length; i++) this.#wakeup.finished(this.#moreDue)
    })
    this.#attempts.add(p)
  }

  /**
   * Learns how long a target takes. A target that turns slow gives back what it has queued beyond one round, so
   * no claimed delivery waits in memory until its lease runs out.
   */
  #timed(target: string, ms: number): void {
    const excess = this.#slots.timed(target, ms)
    if (excess.length === 0) return
    this.#moreDue = true
    this.#background(
      releaseClaimed(
        this.#ctx.db.relaxed,
        excess.map((d) => d.id),
        this.id,
        this.#ctx.clock.now(),
      ),
      target,
      'could not release claimed deliveries',
    )
  }

  async #attempt(d: ClaimedDelivery): Promise<void> {
    const transport = this.#transports.get(d.targetType)
    const started = performance.now()
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
    this.#metrics.attemptDuration.observe({ kind: d.targetType }, (performance.now() - started) / 1000)
    this.#settle(d, outcome, transport)
    this.#observe(d.targetId, [outcome])
  }

  async #attemptGroup(transport: Transport, ds: ClaimedDelivery[]): Promise<void> {
    let outcomes: AttemptOutcome[]
    const started = performance.now()
    try {
      outcomes = await (transport.attemptBatch as NonNullable<Transport['attemptBatch']>)(ds)
      if (outcomes.length !== ds.length) throw new Error('attemptBatch returned the wrong number of outcomes')
    } catch (err) {
      this.#ctx.log.error({ err, count: ds.length }, 'transport threw; treating the attempts as failed')
      outcomes = ds.map(() => ({ kind: 'retry', errorMessage: 'Internal error during the attempt' }))
    }
    this.#metrics.attemptDuration.observe({ kind: transport.type }, (performance.now() - started) / 1000)
    for (const [i, d] of ds.entries()) this.#settle(d, outcomes[i] as AttemptOutcome, transport)
    this.#observe((ds[0] as ClaimedDelivery).targetId, outcomes)
  }

  /**
   * Feeds one call's outcomes to the target's circuit. Only a call where nothing got through (timeouts,
   * connection errors, 5xx, 429: all retryable) counts as a failure; any other answer closes the circuit.
   */
  #observe(target: string, outcomes: AttemptOutcome[]): void {
    const now = this.#ctx.clock.now().getTime()
    const box = this.#circuits.get(target)
    const { state, decision } = observe(
      box?.state,
      outcomes.every((o) => o.kind === 'retry'),
      now,
      this.#circuitOpts,
    )
    if (!state) this.#circuits.delete(target)
    else if (box) box.state = state
    else this.#circuits.set(target, { state })
    if (decision.kind === 'close') this.#resume(target, decision.holdUntil)
    if (decision.kind !== 'open' || !state) return
    const circuit = box ?? (this.#circuits.get(target) as { state: Circuit })
    this.#ctx.log.warn(
      { targetId: target, failures: state.failures, openForMs: decision.openUntil - now },
      'target keeps failing: pausing its deliveries (circuit open)',
    )
    const queue = this.#slots.takeAll(target)
    this.#background(
      deferTarget(this.#ctx.db.relaxed, {
        target,
        claimed: queue.map((d) => d.id),
        worker: this.id,
        trialAt: new Date(decision.openUntil),
        holdUntil: new Date(decision.holdUntil),
        heldUntil: decision.heldUntil === null ? null : new Date(decision.heldUntil),
      }).then((trial) => {
        circuit.state = withTrial(circuit.state, trial)
      }),
      target,
      'could not defer a failing target',
    )
  }

  /** The circuit closed: what it held back (until `holdUntil`) is due now. */
  #resume(target: string, holdUntil: number): void {
    this.#ctx.log.info({ targetId: target }, 'target answers again: resuming its deliveries (circuit closed)')
    this.#moreDue = true
    this.#background(
      resumeTarget(this.#ctx.db.relaxed, target, new Date(holdUntil), this.#ctx.clock.now()).then(() =>
        this.#wakeup.ring(),
      ),
      target,
      'could not resume a recovered target',
    )
  }

  /**
   * Deliveries keep arriving for a target whose circuit is open, due at once: hold them back too, so claims do not
   * walk past them (at most every REDEFER_MS per target).
   */
  async #redefer(now: number): Promise<void> {
    for (const [target, circuit] of this.#circuits) {
      const { state, decision } = tick(circuit.state, now)
      if (decision.kind === 'none' || !state) continue
      circuit.state = state
      try {
        if (decision.kind === 'find-trial') {
          // Nothing was waiting when it opened: the first to arrive becomes the trial.
          const trial = await deferTarget(this.#ctx.db.relaxed, {
            target,
            claimed: [],
            worker: this.id,
            trialAt: new Date(decision.trialAt),
            holdUntil: new Date(decision.holdUntil),
            heldUntil: new Date(decision.holdUntil),
          })
          circuit.state = withTrial(circuit.state, trial)
        } else {
          await holdArrivals(this.#ctx.db.relaxed, {
            target,
            trial: decision.trial,
            holdUntil: new Date(decision.holdUntil),
            now: new Date(now),
          })
        }
      } catch (err) {
        this.#ctx.log.error({ err, targetId: target }, 'could not defer a failing target')
      }
    }
  }

  /** Database work off the attempt path, awaited on stop and by drain. */
  #background(work: Promise<unknown>, target: string, failure: string): void {
    const p = work
      .then(() => undefined)
      .catch((err) => this.#ctx.log.error({ err, targetId: target }, failure))
      .finally(() => this.#attempts.delete(p))
    this.#attempts.add(p)
  }

  /** Hands claimed-but-unstarted deliveries back to the database, due at `at` (now when null). */
  async #release(targets: string[], at: Date | null): Promise<void> {
    const ids: string[] = []
    for (const t of targets) {
      for (const d of this.#slots.takeAll(t)) ids.push(d.id)
    }
    if (ids.length === 0) return
    try {
      await releaseClaimed(this.#ctx.db.relaxed, ids, this.id, at ?? this.#ctx.clock.now())
    } catch (err) {
      // Their lease runs out and they are attempted again; nothing is lost.
      this.#ctx.log.error({ err, count: ids.length }, 'could not release claimed deliveries')
    }
  }

  #settle(d: ClaimedDelivery, outcome: AttemptOutcome, transport: Transport | undefined): void {
    const judged = judge(d, outcome, transport, this.#ctx.clock.now())
    const status = judged.settled.status
    this.#metrics.deliveryAttempts.inc({ kind: d.targetType, result: status })
    if (status !== 'retrying') this.#metrics.deliveries.inc({ kind: d.targetType, outcome: status })
    this.#outcomes.add(judged)
  }

  /** Writes a batch of outcomes in one statement, then lets transports react to those it recorded. */
  async #record(items: Judged[]): Promise<void> {
    try {
      const now = this.#ctx.clock.now()
      const updated = await completeMany(
        this.#ctx.db.relaxed,
        items.map((i) => i.completion),
        now,
        this.id,
      )
      const byType = new Map<string, Settled[]>()
      const nowMs = now.getTime()
      for (const { settled } of items) {
        if (!updated.has(settled.delivery.id)) continue
        if (settled.nextAttemptAt) this.#next = learned(this.#next, nowMs, settled.nextAttemptAt.getTime())
        const t = settled.delivery.targetType
        byType.set(t, [...(byType.get(t) ?? []), settled])
      }
      // A retry due before the idle wait under way ends: wake to wait for it instead.
      if (this.#next.at !== null && this.#next.at < this.#waitEnds) this.#wakeup.ring()
      for (const [type, results] of byType) await this.#transports.get(type)?.settled?.(results)
    } catch (err) {
      // The rows keep their lease; when it expires they are attempted again. Nothing is lost.
      this.#ctx.log.error({ err, count: items.length }, 'could not record delivery outcomes')
    }
  }

  async #flushTransports(): Promise<void> {
    for (const t of this.#transports.values()) {
      try {
        await t.flush?.()
      } catch (err) {
        this.#ctx.log.error({ err, targetType: t.type }, 'could not write delivery statistics')
      }
    }
  }
}
