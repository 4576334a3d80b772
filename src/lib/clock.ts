/** Time as Patchbay sees it. Injected everywhere time matters so tests can drive it exactly. */
export interface Clock {
  now(): Date
}

export const systemClock: Clock = { now: () => new Date() }

/** A clock that moves only when told to; for tests and simulations. */
export class ManualClock implements Clock {
  #ms: number
  constructor(start: Date | string = '2026-01-01T00:00:00.000Z') {
    this.#ms = new Date(start).getTime()
  }
  now(): Date {
    return new Date(this.#ms)
  }
  advance(ms: number): Date {
    this.#ms += ms
    return this.now()
  }
  set(to: Date | string): void {
    this.#ms = new Date(to).getTime()
  }
}
