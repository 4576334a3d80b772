import { describe, expect, it } from 'vitest'
import {
  type Circuit,
  type CircuitOptions,
  capacity,
  isTripped,
  observe,
  REDEFER_MS,
  tick,
  untilTrial,
  withTrial,
} from './circuit.ts'

const opts: CircuitOptions = { threshold: 3, openMs: 1000, maxMs: 8000 }
const PER_TARGET = 4

/** Feeds failures one by one, as calls fail at the given times; returns the state and every decision. */
function fail(c: Circuit | undefined, times: number[]) {
  const decisions = []
  let state = c
  for (const now of times) {
    const step = observe(state, true, now, opts)
    state = step.state
    decisions.push(step.decision)
  }
  return { state, decisions }
}

describe('circuit breaker', () => {
  it('counts failures in a row while closed and forgets them on any answer', () => {
    const { state, decisions } = fail(undefined, [0, 10])
    expect(decisions).toEqual([{ kind: 'none' }, { kind: 'none' }])
    expect(state).toMatchObject({ failures: 2, trips: 0, openUntil: 0 })
    expect(isTripped(state)).toBe(false)
    expect(capacity(state, 10, PER_TARGET)).toBe(PER_TARGET)
    expect(untilTrial(state, 10)).toBeUndefined()

    // An answer while still closed forgets the count without anything to resume.
    expect(observe(state, false, 20, opts)).toEqual({ state: undefined, decision: { kind: 'none' } })
    expect(observe(undefined, false, 20, opts)).toEqual({ state: undefined, decision: { kind: 'none' } })
    // So two more failures do not open it.
    expect(fail(undefined, [30, 40]).state).toMatchObject({ failures: 2, openUntil: 0 })
  })

  it('opens after `threshold` failures: no attempts until openUntil, then one trial', () => {
    const { state, decisions } = fail(undefined, [100, 200, 300])
    expect(decisions[2]).toEqual({ kind: 'open', openUntil: 1300, holdUntil: 9300, heldUntil: null })
    expect(state).toEqual({
      failures: 3,
      trips: 1,
      openUntil: 1300,
      holdUntil: 9300,
      deferredAt: 300,
      trial: undefined,
    })
    expect(isTripped(state)).toBe(true)
    expect(capacity(state, 300, PER_TARGET)).toBe(0)
    expect(capacity(state, 1299, PER_TARGET)).toBe(0)
    expect(untilTrial(state, 300)).toBe(1000)
    expect(untilTrial(state, 1299)).toBe(1)
    // Half-open at openUntil: exactly one attempt, and nothing more to wait for.
    expect(capacity(state, 1300, PER_TARGET)).toBe(1)
    expect(untilTrial(state, 1300)).toBeUndefined()
  })

  it('only counts a failure of a call that was under way when it opened', () => {
    const opened = fail(undefined, [0, 0, 0]).state as Circuit
    const { state, decisions } = fail(opened, [500])
    expect(decisions).toEqual([{ kind: 'none' }])
    expect(state).toEqual({ ...opened, failures: 4 })
  })

  it('closes when the trial succeeds, bringing back what it held', () => {
    const opened = fail(undefined, [0, 0, 0]).state as Circuit
    expect(observe(opened, false, 1000, opts)).toEqual({
      state: undefined,
      decision: { kind: 'close', holdUntil: 9000 },
    })
    // A call under way while it was open that gets an answer closes it just the same.
    expect(observe(opened, false, 500, opts).decision).toEqual({ kind: 'close', holdUntil: 9000 })
  })

  it('reopens for twice as long when the trial fails, up to maxMs, holding on from the previous hold', () => {
    let state = fail(undefined, [0, 0, 0]).state as Circuit
    const opened: { at: number; openFor: number; heldUntil: number | null }[] = []
    let now = 0
    for (let trial = 0; trial < 5; trial++) {
      now = state.openUntil
      const step = observe(state, true, now, opts)
      if (step.decision.kind !== 'open') throw new Error(`trial ${trial} did not reopen`)
      opened.push({ at: now, openFor: step.decision.openUntil - now, heldUntil: step.decision.heldUntil })
      expect(step.decision.holdUntil).toBe(step.decision.openUntil + opts.maxMs)
      expect(step.state).toMatchObject({ trips: trial + 2, deferredAt: now, trial: undefined })
      state = step.state as Circuit
    }
    // Each trial comes at the previous openUntil; the previous hold is openUntil + maxMs.
    expect(opened).toEqual([
      { at: 1000, openFor: 2000, heldUntil: 9000 },
      { at: 3000, openFor: 4000, heldUntil: 11_000 },
      { at: 7000, openFor: 8000, heldUntil: 15_000 },
      { at: 15_000, openFor: 8000, heldUntil: 23_000 },
      { at: 23_000, openFor: 8000, heldUntil: 31_000 },
    ])
    expect(state.failures).toBe(8)
  })

  it('ticks: while open, looks for a trial, then holds back arrivals, at most every REDEFER_MS', () => {
    expect(tick(undefined, 0)).toEqual({ state: undefined, decision: { kind: 'none' } })
    const counting = fail(undefined, [0]).state
    expect(tick(counting, REDEFER_MS * 10)).toEqual({ state: counting, decision: { kind: 'none' } })

    const longer = { ...opts, openMs: 20_000, maxMs: 60_000 }
    let state = observe(
      observe(observe(undefined, true, 0, longer).state, true, 0, longer).state,
      true,
      0,
      longer,
    ).state as Circuit
    expect(state).toMatchObject({ openUntil: 20_000, holdUntil: 80_000, deferredAt: 0 })
    expect(tick(state, REDEFER_MS - 1)).toEqual({ state, decision: { kind: 'none' } })

    // Nothing was waiting when it opened: the next look makes the first arrival the trial.
    let step = tick(state, REDEFER_MS)
    expect(step.decision).toEqual({ kind: 'find-trial', trialAt: 20_000, holdUntil: 80_000 })
    expect(step.state).toEqual({ ...state, deferredAt: REDEFER_MS })
    state = step.state as Circuit
    // Still nothing: it keeps looking.
    step = tick(state, 2 * REDEFER_MS)
    expect(step.decision.kind).toBe('find-trial')
    state = withTrial(step.state as Circuit, 'delivery-1')
    expect(tick(state, 3 * REDEFER_MS - 1).decision).toEqual({ kind: 'none' })
    step = tick(state, 3 * REDEFER_MS)
    expect(step.decision).toEqual({ kind: 'hold', trial: 'delivery-1', holdUntil: 80_000 })
    expect(step.state).toEqual({ ...state, deferredAt: 3 * REDEFER_MS })
  })

  it('runs a target through open, failed trial, successful trial on an injected clock', () => {
    const clock = { now: 1_000_000 }
    let state: Circuit | undefined
    const log: string[] = []
    const call = (ok: boolean) => {
      const step = observe(state, !ok, clock.now, opts)
      state = step.state
      log.push(`${clock.now - 1_000_000}:${step.decision.kind}`)
    }
    call(false)
    clock.now += 100
    call(false)
    clock.now += 100
    call(false)
    expect(capacity(state, clock.now, PER_TARGET)).toBe(0)
    clock.now += untilTrial(state, clock.now) as number
    expect(capacity(state, clock.now, PER_TARGET)).toBe(1)
    call(false)
    expect(untilTrial(state, clock.now)).toBe(2000)
    clock.now += 2000
    call(true)
    expect(state).toBeUndefined()
    expect(capacity(state, clock.now, PER_TARGET)).toBe(PER_TARGET)
    expect(log).toEqual(['0:none', '100:none', '200:open', '1200:open', '3200:close'])
  })
})
