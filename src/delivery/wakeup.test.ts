import { describe, expect, it } from 'vitest'
import type { Timers } from './timers.ts'
import { answered, COALESCE_MS, learned, shouldAsk, unknownWake, Wakeup, waitFor } from './wakeup.ts'

/** Timers run by hand: time passes only when the test says so. */
function manualTimers() {
  const due = new Map<number, { fn: () => void; ms: number }>()
  let next = 1
  const timers: Timers = {
    set(fn, ms) {
      const id = next++
      due.set(id, { fn, ms })
      return id
    },
    clear(handle) {
      due.delete(handle as number)
    },
  }
  /** Fires the pending timer set for `ms`. */
  const fire = (ms: number) => {
    for (const [id, t] of due) {
      if (t.ms !== ms) continue
      due.delete(id)
      t.fn()
      return
    }
    throw new Error(`no timer for ${ms} ms`)
  }
  return { timers, due, fire }
}

/** Starts a wait and reports whether it ended, after letting promise callbacks run. */
async function waiting(
  w: Wakeup,
  waitMs: number,
  o: { threshold: number; moreDue: boolean; floorMs: number },
) {
  let ended = false
  const p = w.wait(waitMs, o).then(() => {
    ended = true
  })
  const settle = async () => {
    for (let i = 0; i < 3; i++) await Promise.resolve()
    return ended
  }
  return { p, ended: settle }
}

const quiet = { threshold: 3, moreDue: true, floorMs: 0 }

describe('the worker wakeup', () => {
  it('waits the time given, and no longer', async () => {
    const t = manualTimers()
    const w = new Wakeup(t.timers)
    const run = await waiting(w, 1000, quiet)
    expect(await run.ended()).toBe(false)
    expect([...t.due.values()].map((d) => d.ms)).toEqual([1000])
    t.fire(1000)
    expect(await run.ended()).toBe(true)
    expect(t.due.size).toBe(0)
  })

  it('wakes on NOTIFY, and returns at once when one came since the claim', async () => {
    const t = manualTimers()
    const w = new Wakeup(t.timers)
    const run = await waiting(w, 1000, quiet)
    w.notify()
    expect(await run.ended()).toBe(true)
    expect(t.due.size).toBe(0)
    // The notification stays news until the next claim.
    expect(await (await waiting(w, 1000, quiet)).ended()).toBe(true)
    w.claiming()
    expect(await (await waiting(w, 1000, quiet)).ended()).toBe(false)
  })

  it('wakes once enough attempts finished, shortly after the first when fewer did', async () => {
    const t = manualTimers()
    const w = new Wakeup(t.timers)
    const run = await waiting(w, 1000, quiet)
    w.finished(true)
    expect(await run.ended()).toBe(false)
    expect([...t.due.values()].map((d) => d.ms).sort((a, b) => a - b)).toEqual([COALESCE_MS, 1000])
    w.finished(true)
    // One coalescing timer, however many finish.
    expect(t.due.size).toBe(2)
    w.finished(true)
    expect(await run.ended()).toBe(true)
    expect(t.due.size).toBe(0)

    // Fewer than the threshold: the coalescing timer ends the wait.
    w.claiming()
    const next = await waiting(w, 1000, quiet)
    w.finished(true)
    t.fire(COALESCE_MS)
    expect(await next.ended()).toBe(true)
  })

  it('ignores finished attempts when the last claim took everything due', async () => {
    const t = manualTimers()
    const w = new Wakeup(t.timers)
    const run = await waiting(w, 1000, { ...quiet, moreDue: false })
    for (let i = 0; i < 5; i++) w.finished(false)
    expect(await run.ended()).toBe(false)
    expect(t.due.size).toBe(1)
    w.ring()
    expect(await run.ended()).toBe(true)
  })

  it('returns at once, or waits COALESCE_MS at most, for attempts that finished before it waited', async () => {
    const t = manualTimers()
    const w = new Wakeup(t.timers)
    for (let i = 0; i < 3; i++) w.finished(true)
    expect(await (await waiting(w, 1000, quiet)).ended()).toBe(true)
    w.claiming()
    w.finished(true)
    const run = await waiting(w, 1000, quiet)
    expect([...t.due.values()].map((d) => d.ms)).toEqual([COALESCE_MS])
    t.fire(COALESCE_MS)
    expect(await run.ended()).toBe(true)
  })

  it('waits out a floor after an error, news notwithstanding, unless rung', async () => {
    const t = manualTimers()
    const w = new Wakeup(t.timers)
    w.notify()
    for (let i = 0; i < 3; i++) w.finished(true)
    const run = await waiting(w, 1000, { ...quiet, floorMs: 1000 })
    expect(await run.ended()).toBe(false)
    expect([...t.due.values()].map((d) => d.ms)).toEqual([1000])
    w.ring()
    expect(await run.ended()).toBe(true)
  })
})

describe("the idle worker's timer for the queue's next due time", () => {
  const poll = 1000
  it('asks the queue first, then waits exactly until the earliest due time or lease expiry ahead', () => {
    const now = 50_000
    expect(shouldAsk(unknownWake(), now, poll)).toBe(true)
    // A retry due in 200 ms, a lease running out in 70 s: the timer is for the retry, not the poll interval.
    const next = answered(now, now + 200, now + 70_000)
    expect(next).toEqual({ at: now + 200, leaseAt: now + 70_000, askedAt: now })
    expect(waitFor(next, now, poll)).toBe(200)
    // 150 ms on, woken by something else: 50 ms left, and nothing to ask.
    expect(shouldAsk(next, now + 150, poll)).toBe(false)
    expect(waitFor(next, now + 150, poll)).toBe(50)
    // The due time came: the worker claims, then asks again.
    expect(shouldAsk(next, now + 200, poll)).toBe(true)
    // Only a lease ahead (and nothing due): its expiry, or the poll interval when that is sooner.
    expect(waitFor(answered(now, null, now + 600), now, poll)).toBe(600)
    expect(waitFor(answered(now, null, now + 70_000), now, poll)).toBe(poll)
  })

  it('does not wait on a due time already past (no slot has room for it), nor ask again before the poll interval', () => {
    const now = 50_000
    const next = answered(now, now - 5, null)
    expect(next.at).toBeNull()
    expect(waitFor(next, now, poll)).toBe(poll)
    expect(shouldAsk(next, now + poll - 1, poll)).toBe(false)
    expect(shouldAsk(next, now + poll, poll)).toBe(true)
  })

  it("learns this worker's own retries without asking: the earliest wins", () => {
    const now = 50_000
    let next = answered(now, null, null)
    next = learned(next, now, now + 800)
    expect(waitFor(next, now, poll)).toBe(800)
    next = learned(next, now, now + 200)
    next = learned(next, now, now + 900)
    expect(waitFor(next, now, poll)).toBe(200)
    // A retry due now (or earlier) is claimed at once; it sets no timer.
    expect(learned(next, now, now)).toBe(next)
    expect(shouldAsk(next, now + 10, poll)).toBe(false)
  })
})
