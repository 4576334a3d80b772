import { randomUUID } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import {
  countChanges,
  healthState,
  isFlapping,
  nextProbeSlot,
  probeOffsetMs,
  sweepIntervalMs,
} from './health.ts'

const FIVE_MIN = 5 * 60_000

describe('probe offsets', () => {
  it('are stable per integration and spread evenly over the interval', () => {
    const id = '0195a3c2-7b1e-7c3d-8e4f-5a6b7c8d9e0f'
    expect(probeOffsetMs(id, FIVE_MIN)).toBe(probeOffsetMs(id, FIVE_MIN))
    const buckets = new Array(10).fill(0)
    for (let i = 0; i < 2000; i++) {
      const offset = probeOffsetMs(randomUUID(), FIVE_MIN)
      expect(offset).toBeGreaterThanOrEqual(0)
      expect(offset).toBeLessThan(FIVE_MIN)
      buckets[Math.floor(offset / (FIVE_MIN / 10))]++
    }
    // 200 expected per bucket; a uniform hash stays well within these bounds.
    for (const n of buckets) expect(n).toBeGreaterThan(120)
  })

  it('give the next slot strictly after a time, on the integration’s own grid', () => {
    const id = randomUUID()
    const offset = probeOffsetMs(id, FIVE_MIN)
    const base = Date.parse('2026-02-18T12:00:00.000Z')
    const onGrid = Math.ceil((base - offset) / FIVE_MIN) * FIVE_MIN + offset
    expect(nextProbeSlot(id, new Date(onGrid - 1), FIVE_MIN).getTime()).toBe(onGrid)
    expect(nextProbeSlot(id, new Date(onGrid), FIVE_MIN).getTime()).toBe(onGrid + FIVE_MIN)
    expect(nextProbeSlot(id, new Date(onGrid + 1), FIVE_MIN).getTime()).toBe(onGrid + FIVE_MIN)
  })

  it('are swept at most a minute apart, never less often than probed', () => {
    expect(sweepIntervalMs(FIVE_MIN)).toBe(60_000)
    expect(sweepIntervalMs(20_000)).toBe(20_000)
    expect(sweepIntervalMs(0)).toBe(0)
  })
})

describe('flapping', () => {
  it('means four or more outcome changes within the last 20 probes', () => {
    expect(countChanges([true, false, true, true, false])).toBe(3)
    expect(isFlapping([true, false, true, true, false])).toBe(false)
    expect(isFlapping([true, false, true, false, true])).toBe(true)
    // A long outage and recovery is not flapping.
    expect(isFlapping([...Array(10).fill(true), ...Array(10).fill(false), ...Array(5).fill(true)])).toBe(
      false,
    )
    // Old changes roll out of the window.
    expect(isFlapping([true, false, true, false, true, ...Array(20).fill(true)])).toBe(false)
  })
})

describe('health buckets', () => {
  it('sort every status into connected, needs attention or disconnected', () => {
    expect(healthState('active', true, false)).toBe('connected')
    expect(healthState('active', null, false)).toBe('connected')
    expect(healthState('active', false, false)).toBe('needs_attention')
    expect(healthState('active', true, true)).toBe('needs_attention')
    expect(healthState('error', true, false)).toBe('needs_attention')
    expect(healthState('inactive', true, false)).toBe('disconnected')
    expect(healthState('pending_verify', null, false)).toBe('disconnected')
  })
})
