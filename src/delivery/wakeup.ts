import { realTimers, type Timers } from './timers.ts'

/** Longest a freed slot waits for others before the worker claims again. */
export const COALESCE_MS = 10

/**
 * What ends the worker's idle wait early: new work announced (NOTIFY), enough finished attempts to be worth a
 * claim, or a nudge (a circuit closed, the worker stops). Claiming for each finished attempt would cost a query
 * per delivery, so finished attempts wake the loop once `threshold` of them gathered, or COALESCE_MS after the
 * first, so a lone healthy target behind a hung one is not kept waiting.
 */
export class Wakeup {
  readonly #timers: Timers
  #wake: (() => void) | undefined
  /** New work was announced since the loop last claimed. */
  #notified = false
  /** Attempts finished since the loop last claimed. */
  #freed = 0
  /** How many finished attempts are worth a claim. */
  #threshold = 1
  #coalesce: unknown

  constructor(timers: Timers = realTimers) {
    this.#timers = timers
  }

  /** The loop is about to claim: whatever arrives from here on is news to that claim. */
  claiming(): void {
    this.#notified = false
    this.#freed = 0
  }

  /** New work was announced. */
  notify(): void {
    this.#notified = true
    this.#wake?.()
  }

  /** Ends the wait under way, if any. */
  ring(): void {
    this.#wake?.()
  }

  /** An attempt finished. `moreDue`: the last claim left due work behind, so another claim may find some. */
  finished(moreDue: boolean): void {
    this.#freed++
    if (!this.#wake || !moreDue) return
    if (this.#freed >= this.#threshold) this.#wake()
    else this.#coalesce ??= this.#timers.set(() => this.#wake?.(), COALESCE_MS)
  }

  /**
   * Waits `waitMs` at most, unless news ended it; returns at once when news came since the claim. A `floorMs`
   * wait (after an error) is not cut short by news already in.
   */
  async wait(waitMs: number, o: { threshold: number; moreDue: boolean; floorMs: number }): Promise<void> {
    this.#threshold = o.threshold
    if (o.floorMs === 0 && (this.#notified || (o.moreDue && this.#freed >= this.#threshold))) return
    let ms = waitMs
    if (o.floorMs === 0 && o.moreDue && this.#freed > 0) ms = Math.min(ms, COALESCE_MS)
    await new Promise<void>((resolve) => {
      const done = () => {
        this.#timers.clear(timer)
        this.#timers.clear(this.#coalesce)
        this.#coalesce = undefined
        this.#wake = undefined
        resolve()
      }
      const timer = this.#timers.set(done, ms)
      this.#wake = done
    })
  }
}

/**
 * What the idle worker knows of the queue's next need: the earliest due time and lease expiry still ahead of
 * when it asked (or learned them from its own retries), and when it asked. Kept so it asks the database only when
 * the answer may have changed.
 */
export interface NextWake {
  /** Earliest time still ahead at which a delivery falls due or a lease runs out; null when none is known. */
  at: number | null
  /** The earliest lease expiry known (to reap it then); null when none. */
  leaseAt: number | null
  /** When the database was last asked; -Infinity before the first time, or when news made the answer stale. */
  askedAt: number
}

export const unknownWake = (): NextWake => ({ at: null, leaseAt: null, askedAt: Number.NEGATIVE_INFINITY })

/**
 * Whether to ask the database again before waiting: never asked (or news since), the awaited time came, or
 * `maxMs` passed (a safety net for what this worker cannot hear of, such as another worker's retries). A due time
 * already past (due work no slot has room for) does not make it ask again: finished attempts end that wait.
 */
export function shouldAsk(w: NextWake, now: number, maxMs: number): boolean {
  return now - w.askedAt >= maxMs || (w.at !== null && now >= w.at)
}

/** What the database answered, at `now`: only times still ahead are worth a timer. */
export function answered(now: number, due: number | null, leaseAt: number | null): NextWake {
  const ahead = [due, leaseAt].filter((t): t is number => t !== null && t > now)
  return { at: ahead.length > 0 ? Math.min(...ahead) : null, leaseAt, askedAt: now }
}

/** A retry this worker scheduled itself: due at `at`, known without asking. */
export function learned(w: NextWake, now: number, at: number): NextWake {
  if (at <= now) return w
  return { ...w, at: w.at === null ? at : Math.min(w.at, at) }
}

/** How long to wait: until the known time ahead, `maxMs` at most, 1 ms at least. */
export function waitFor(w: NextWake, now: number, maxMs: number): number {
  return Math.max(1, w.at === null ? maxMs : Math.min(maxMs, w.at - now))
}
