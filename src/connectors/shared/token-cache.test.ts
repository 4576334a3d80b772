import { describe, expect, it } from 'vitest'
import { ManualClock } from '../../lib/clock.ts'
import { accountKey, MemoryTokenCache } from './token-cache.ts'

describe('MemoryTokenCache', () => {
  it('keeps a token until it expires, and forgets a dropped one', async () => {
    const clock = new ManualClock('2026-02-18T12:00:00.000Z')
    const cache = new MemoryTokenCache(() => clock.now().getTime())
    const expiresAt = clock.now().getTime() + 60_000
    await cache.set('acct', { token: 'tok-1', expiresAt })
    expect(await cache.get('acct')).toEqual({ token: 'tok-1', expiresAt })
    clock.advance(59_999)
    expect((await cache.get('acct'))?.token).toBe('tok-1')
    clock.advance(1)
    expect(await cache.get('acct')).toBeUndefined()
    await cache.set('acct', { token: 'tok-2', expiresAt: expiresAt + 60_000 })
    await cache.drop('acct')
    expect(await cache.get('acct')).toBeUndefined()
  })

  it('stays within its bound, dropping expired tokens first', async () => {
    const now = 1_000
    const cache = new MemoryTokenCache(() => now, 2)
    await cache.set('expired', { token: 't', expiresAt: now - 1 })
    await cache.set('b', { token: 't', expiresAt: now + 10 })
    await cache.set('c', { token: 't', expiresAt: now + 10 })
    expect(cache.size).toBe(2)
    expect(await cache.get('expired')).toBeUndefined()
    expect((await cache.get('b'))?.token).toBe('t')
    expect((await cache.get('c'))?.token).toBe('t')
  })

  it('derives account keys as SHA-256, stable and distinct per part', () => {
    expect(accountKey('datto-rmm', 'https://merlot-api.centrastage.net', 'KEY')).toMatch(/^[0-9a-f]{64}$/)
    expect(accountKey('a', 'bc')).not.toBe(accountKey('ab', 'c'))
    expect(accountKey('x', 'y')).toBe(accountKey('x', 'y'))
  })
})
