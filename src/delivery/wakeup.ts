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
