import type { ClaimedDelivery } from './types.ts'

/**
 * Rounds of attempts a target may have waiting in the ready queue beyond those under way. Fast targets get
 * several, so claims are large and rare; others one, so a claimed delivery never waits long for its turn.
 */
export const FAST_ROUNDS = 4
export const SLOW_ROUNDS = 1
/** A target whose attempts average less than this is fast. */
export const FAST_MS = 1000
/** Targets whose attempt times are remembered at most; beyond, they are all forgotten and learnt again. */
const LATENCY_TARGETS = 10_000

/**
 * What a worker holds in memory: claimed deliveries waiting for a slot (per target, oldest first), attempts under
 * way (in all and per target), and how long each target's attempts take. It decides how much room a target has
 * and which deliveries start; the worker decides when, and what a target's circuit allows (`cap`).
 */
export class Slots {
  readonly #concurrency: number
  readonly #perTarget: number
  readonly #ready = new Map<string, ClaimedDelivery[]>()
  readonly #inflightPer = new Map<string, number>()
  /** Moving average of each target's attempt time, ms. */
  readonly #latency = new Map<string, number>()
  #readyCount = 0
  #inflight = 0

  constructor(concurrency: number, perTarget: number) {
    this.#concurrency = concurrency
    this.#perTarget = perTarget
  }

  /** Claimed deliveries not started yet. */
  get ready(): number {
    return this.#readyCount
  }

  /** Attempts under way. */
  get inflight(): number {
    return this.#inflight
  }

  /** Whether some target has deliveries waiting. */
  get waiting(): boolean {
    return this.#ready.size > 0
  }

  /** Whether another attempt may start anywhere. */
  get free(): boolean {
    return this.#inflight < this.#concurrency
  }

  /** Targets with deliveries waiting, in the order they first got some. */
  readyTargets(): string[] {
    return [...this.#ready.keys()]
  }

  /** Targets this worker holds something for: attempts under way first, then waiting deliveries. */
  *heldTargets(): Iterable<string> {
    yield* this.#inflightPer.keys()
    yield* this.#ready.keys()
  }

  #rounds(target: string): number {
    const ms = this.#latency.get(target)
    return ms !== undefined && ms < FAST_MS ? FAST_ROUNDS : SLOW_ROUNDS
  }

  /**
   * How many more deliveries a target may be handed in a claim: its attempts plus the rounds it may queue while
   * its circuit is closed (`cap` is the per-target limit), only what its circuit lets through otherwise.
   */
  roomFor(target: string, cap: number): number {
    const held = (this.#inflightPer.get(target) ?? 0) + (this.#ready.get(target)?.length ?? 0)
    const total = cap === this.#perTarget ? cap * (1 + this.#rounds(target)) : cap
    return Math.max(0, total - held)
  }

  /** How many deliveries the next claim may take in all. */
  claimLimit(batchSize: number): number {
    const most = this.#concurrency * (1 + FAST_ROUNDS)
    return Math.max(0, Math.min(batchSize, most - this.#inflight - this.#readyCount))
  }

  /** How many finished attempts are worth a claim: half of what is in hand, at least one, at most a batch. */
  claimAfter(batchSize: number): number {
    return Math.max(1, Math.min(batchSize, Math.floor((this.#inflight + this.#readyCount) / 2)))
  }

  /** Queues claimed deliveries behind those of their target already waiting. */
  enqueue(batch: readonly ClaimedDelivery[]): void {
    for (const d of batch) {
      const q = this.#ready.get(d.targetId)
      if (q) q.push(d)
      else this.#ready.set(d.targetId, [d])
    }
    this.#readyCount += batch.length
  }

  /**
   * Takes as many of a target's waiting deliveries as may start now: within its `cap` (attempts under way
   * included) and the worker's free slots. They count as under way at once.
   */
  start(target: string, cap: number): ClaimedDelivery[] {
    const queue = this.#ready.get(target)
    if (!queue) return []
    const room = Math.min(
      cap - (this.#inflightPer.get(target) ?? 0),
      this.#concurrency - this.#inflight,
      queue.length,
    )
    if (room <= 0) return []
    const started = queue.splice(0, room)
    this.#readyCount -= started.length
    if (queue.length === 0) this.#ready.delete(target)
    this.#inflight += started.length
    this.#inflightPer.set(target, (this.#inflightPer.get(target) ?? 0) + started.length)
    return started
  }

  /** `count` of a target's attempts finished. */
  finished(target: string, count: number): void {
    this.#inflight -= count
    const n = (this.#inflightPer.get(target) ?? count) - count
    if (n <= 0) this.#inflightPer.delete(target)
    else this.#inflightPer.set(target, n)
  }

  /**
   * Learns how long a target's attempt took. A target that turns slow gives back what it has queued beyond one
   * round (returned, for the worker to release), so no claimed delivery waits in memory until its lease runs out.
   */
  timed(target: string, ms: number): ClaimedDelivery[] {
    const before = this.#latency.get(target)
    this.#latency.set(target, before === undefined ? ms : before * 0.8 + ms * 0.2)
    const queue = this.#ready.get(target)
    const keep = this.#perTarget * SLOW_ROUNDS
    let excess: ClaimedDelivery[] = []
    if (queue && queue.length > keep && this.#rounds(target) === SLOW_ROUNDS) {
      excess = queue.splice(keep)
      this.#readyCount -= excess.length
    }
    if (this.#latency.size > LATENCY_TARGETS) this.#latency.clear()
    return excess
  }

  /** Takes every waiting delivery of a target (its circuit opened, or the worker stops). */
  takeAll(target: string): ClaimedDelivery[] {
    const q = this.#ready.get(target)
    if (!q) return []
    this.#ready.delete(target)
    this.#readyCount -= q.length
    return q
  }
}
