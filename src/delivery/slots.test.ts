import { describe, expect, it } from 'vitest'
import { FAST_MS, FAST_ROUNDS, Slots } from './slots.ts'
import { type ClaimedDelivery, claimedEvent } from './types.ts'

const AT = new Date('2026-01-01T00:00:00Z')
let serial = 0

function claimed(targetId: string, count: number): ClaimedDelivery[] {
  return Array.from({ length: count }, () => ({
    id: `d${++serial}`,
    orgId: 'org',
    targetType: 'webhook',
    targetId,
    eventId: 'e',
    eventType: 'ticket.created',
    operation: null,
    attempt: 1,
    createdAt: AT,
    event: claimedEvent(AT, null),
  }))
}

const ids = (ds: ClaimedDelivery[]) => ds.map((d) => d.id)

describe('worker slots', () => {
  it('starts a target oldest first, within its cap and the free slots, and counts them under way', () => {
    const s = new Slots(5, 2)
    const a = claimed('a', 4)
    const b = claimed('b', 4)
    s.enqueue(a)
    s.enqueue(b)
    expect(s.ready).toBe(8)
    expect(s.readyTargets()).toEqual(['a', 'b'])
    expect(ids(s.start('a', 2))).toEqual(ids(a.slice(0, 2)))
    // The cap counts attempts under way.
    expect(s.start('a', 2)).toEqual([])
    expect(ids(s.start('b', 2))).toEqual(ids(b.slice(0, 2)))
    expect(s.inflight).toBe(4)
    expect(s.ready).toBe(4)
    s.finished('a', 1)
    // One slot free in all, though target b could take two more.
    expect(s.free).toBe(true)
    s.finished('b', 2)
    expect(ids(s.start('b', 2))).toEqual(ids(b.slice(2)))
    expect(s.readyTargets()).toEqual(['a'])
    expect(s.inflight).toBe(3)
    expect(s.start('a', 2).length).toBe(1)
    expect(s.inflight).toBe(4)
    // Target c could start two, but one slot is left in all.
    s.enqueue(claimed('c', 3))
    expect(s.start('c', 2).length).toBe(1)
    expect(s.free).toBe(false)
    expect(s.start('c', 2)).toEqual([])
    expect(s.start('a', 3)).toEqual([])
    expect(s.ready).toBe(3)
    expect(s.start('nobody', 2)).toEqual([])
  })

  it('gives a target room for its attempts and one queued round, more rounds once it is fast, only its cap when it is limited', () => {
    const s = new Slots(10, 2)
    // Unknown latency: slow, one round queued beyond the attempts.
    expect(s.roomFor('a', 2)).toBe(4)
    s.enqueue(claimed('a', 3))
    expect(s.roomFor('a', 2)).toBe(1)
    s.start('a', 2)
    s.finished('a', 1)
    expect(s.roomFor('a', 2)).toBe(2)
    // Fast: FAST_ROUNDS rounds queued.
    s.timed('a', FAST_MS - 1)
    expect(s.roomFor('a', 2)).toBe(2 * (1 + FAST_ROUNDS) - 2)
    // A circuit's cap (half-open: one; open: none) is all it gets.
    expect(s.roomFor('a', 1)).toBe(0)
    expect(s.roomFor('b', 1)).toBe(1)
    expect(s.roomFor('b', 0)).toBe(0)
    expect([...s.heldTargets()]).toEqual(['a', 'a'])
  })

  it('limits a claim to what the slots and queues can hold, and claims again after half of it finished', () => {
    const s = new Slots(4, 2)
    expect(s.claimLimit(500)).toBe(4 * (1 + FAST_ROUNDS))
    expect(s.claimLimit(7)).toBe(7)
    expect(s.claimAfter(500)).toBe(1)
    s.enqueue(claimed('a', 12))
    s.start('a', 2)
    expect(s.claimLimit(500)).toBe(20 - 12)
    expect(s.claimAfter(500)).toBe(6)
    expect(s.claimAfter(4)).toBe(4)
    s.enqueue(claimed('b', 8))
    expect(s.claimLimit(500)).toBe(0)
  })

  it('hands back what a target that turned slow has queued beyond one round', () => {
    const s = new Slots(10, 2)
    const a = claimed('a', 10)
    s.timed('a', 10)
    s.enqueue(a)
    s.start('a', 2)
    // Still fast on average: keeps its queue.
    expect(s.timed('a', 2000)).toEqual([])
    expect(s.ready).toBe(8)
    // Slow now (10 → 408 → 4326 ms on average): keeps one round of two.
    const excess = s.timed('a', 20_000)
    expect(ids(excess)).toEqual(ids(a.slice(4)))
    expect(s.ready).toBe(2)
    expect(s.timed('a', 20_000)).toEqual([])
  })

  it('takes every waiting delivery of a target', () => {
    const s = new Slots(10, 2)
    const a = claimed('a', 3)
    s.enqueue(a)
    s.enqueue(claimed('b', 1))
    s.start('a', 1)
    expect(ids(s.takeAll('a'))).toEqual(ids(a.slice(1)))
    expect(s.takeAll('a')).toEqual([])
    expect(s.ready).toBe(1)
    expect(s.waiting).toBe(true)
    s.takeAll('b')
    expect(s.waiting).toBe(false)
    expect(s.inflight).toBe(1)
  })
})
