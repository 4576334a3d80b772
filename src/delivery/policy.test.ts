import { describe, expect, it } from 'vitest'
import { classifyStatus, DEFAULT_RETRY_POLICY, retryDelayMs } from './policy.ts'

describe('retry policy', () => {
  it('follows the seed schedule: 1, 2, 4, 8, 16 seconds', () => {
    expect([0, 1, 2, 3, 4].map((r) => retryDelayMs(DEFAULT_RETRY_POLICY, r))).toEqual([
      1000, 2000, 4000, 8000, 16000,
    ])
  })
  it('caps at maxDelay and honours a longer Retry-After', () => {
    const p = { maxRetries: 10, initialDelayMs: 2000, backoffMultiplier: 3, maxDelayMs: 600_000 }
    expect(retryDelayMs(p, 0)).toBe(2000)
    expect(retryDelayMs(p, 2)).toBe(18_000)
    expect(retryDelayMs(p, 8)).toBe(600_000)
    expect(retryDelayMs(p, 0, 120_000)).toBe(120_000)
    expect(retryDelayMs(p, 2, 1000)).toBe(18_000)
    expect(retryDelayMs(p, 0, 10 * 86_400_000)).toBe(86_400_000)
  })
  it('classifies statuses', () => {
    expect(
      [200, 204, 301, 400, 401, 404, 408, 409, 410, 422, 425, 429, 500, 503].map(classifyStatus),
    ).toEqual([
      'delivered',
      'delivered',
      'retry',
      'permanent',
      'permanent',
      'permanent',
      'retry',
      'retry',
      'gone',
      'permanent',
      'retry',
      'retry',
      'retry',
      'retry',
    ])
  })
})
