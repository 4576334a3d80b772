/**
 * Per-target circuit breaker, as pure functions of outcomes and time. A target that keeps failing costs attempts
 * that healthy targets could use, and retries multiply its share; after `threshold` failures in a row its circuit
 * opens: its deliveries wait in the database (no attempts, none counted), the oldest until `openUntil`, when it
 * goes through as the one trial (half-open), the rest until `holdUntil`. Success closes the circuit and brings the
 * rest back at once; failure opens it again for twice as long (up to `maxMs`).
 *
 * Nothing here touches the database or a clock: each function takes the state and `now` (epoch ms) and returns
 * the next state and what the worker must do about it, so the breaker can be tested step by step.
 */

export interface CircuitOptions {
  /** Failed calls in a row (timeouts, connection errors, 5xx, 429) that open the circuit. */
  threshold: number
  /** How long the circuit stays open the first time; it doubles each time it trips again, up to maxMs. */
  openMs: number
  maxMs: number
}

export interface Circuit {
  readonly failures: number
  readonly trips: number
  /** Epoch ms; 0 when closed. Open while now < openUntil, half-open after. */
  readonly openUntil: number
  /** Epoch ms: how long the deliveries other than the trial are held back at most. */
  readonly holdUntil: number
  /** Epoch ms: when deliveries that arrived meanwhile were last held back too. */
  readonly deferredAt: number
  /** The delivery held back until `openUntil` as the trial (when there was one waiting). */
  readonly trial: string | undefined
}

/**
 * How often an open circuit looks for deliveries that reached the queue due at once all the same (queued in a
 * transaction begun before the hold), or for a trial when there was none.
 */
export const REDEFER_MS = 5000

/** What the worker must do after a call's outcome. */
export type OutcomeDecision =
  | { kind: 'none' }
  /**
   * Trip: give back what is queued in memory, hold the target's deliveries in the database, the oldest as the
   * trial until `openUntil`, the rest until `holdUntil`; `heldUntil` is the previous hold (null the first time).
   */
  | { kind: 'open'; openUntil: number; holdUntil: number; heldUntil: number | null }
  /** The target answered while its circuit was open or half-open: what was held until `holdUntil` is due now. */
  | { kind: 'close'; holdUntil: number }

/** What the worker must do on a periodic look at an open circuit. */
export type TickDecision =
  | { kind: 'none' }
  /** No trial was waiting when it opened: hold back the first to arrive as the trial, the rest with it. */
  | { kind: 'find-trial'; trialAt: number; holdUntil: number }
  /** Hold back deliveries that arrived due at once since, behind the trial. */
  | { kind: 'hold'; trial: string; holdUntil: number }

export interface Step<D> {
  /** undefined: the circuit is closed and forgotten. */
  state: Circuit | undefined
  decision: D
}

const CLOSED: Circuit = { failures: 0, trips: 0, openUntil: 0, holdUntil: 0, deferredAt: 0, trial: undefined }

/** Whether the circuit has tripped (open or half-open), as opposed to counting failures while closed. */
export function isTripped(c: Circuit | undefined): c is Circuit {
  return c !== undefined && c.openUntil !== 0
}

/**
 * Feeds one call's outcome to the circuit. `failed` is true only when nothing got through (every outcome of the
 * call was retryable); any other answer closes the circuit.
 */
export function observe(
  c: Circuit | undefined,
  failed: boolean,
  now: number,
  opts: CircuitOptions,
): Step<OutcomeDecision> {
  if (!failed) {
    return {
      state: undefined,
      decision: isTripped(c) ? { kind: 'close', holdUntil: c.holdUntil } : { kind: 'none' },
    }
  }
  const counted = { ...(c ?? CLOSED), failures: (c ?? CLOSED).failures + 1 }
  const halfOpen = counted.openUntil !== 0 && counted.openUntil <= now
  if (!halfOpen && !(counted.openUntil === 0 && counted.failures >= opts.threshold)) {
    // Still closed and under the threshold, or open: a call that was under way when it tripped only counts.
    return { state: counted, decision: { kind: 'none' } }
  }
  const trips = counted.trips + 1
  const openUntil = now + Math.min(opts.openMs * 2 ** (trips - 1), opts.maxMs)
  const holdUntil = openUntil + opts.maxMs
  return {
    state: { failures: counted.failures, trips, openUntil, holdUntil, deferredAt: now, trial: undefined },
    decision: {
      kind: 'open',
      openUntil,
      holdUntil,
      heldUntil: counted.holdUntil === 0 ? null : counted.holdUntil,
    },
  }
}

/**
 * A periodic look at the circuit: while it is tripped, deliveries keep arriving due at once and must be held back
 * too, so claims do not walk past them (at most every REDEFER_MS).
 */
export function tick(c: Circuit | undefined, now: number): Step<TickDecision> {
  if (!isTripped(c) || now - c.deferredAt < REDEFER_MS) return { state: c, decision: { kind: 'none' } }
  const state = { ...c, deferredAt: now }
  if (c.trial === undefined) {
    return { state, decision: { kind: 'find-trial', trialAt: c.openUntil, holdUntil: c.holdUntil } }
  }
  return { state, decision: { kind: 'hold', trial: c.trial, holdUntil: c.holdUntil } }
}

/** The database chose the trial (undefined: nothing was waiting). */
export function withTrial(c: Circuit, trial: string | undefined): Circuit {
  return { ...c, trial }
}

/** Attempts a target may have under way now: `perTarget` while closed, none while open, one while half-open. */
export function capacity(c: Circuit | undefined, now: number, perTarget: number): number {
  if (!isTripped(c)) return perTarget
  return c.openUntil > now ? 0 : 1
}

/** How long until an open circuit lets its trial through (undefined when it is not open). */
export function untilTrial(c: Circuit | undefined, now: number): number | undefined {
  return c !== undefined && c.openUntil > now ? c.openUntil - now : undefined
}
