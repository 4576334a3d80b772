import { describe, expect, it } from 'vitest'
import { ManualClock } from '../lib/clock.ts'
import { AddressPolicy } from './address-policy.ts'
import { DnsCache } from './dns-cache.ts'
import { HttpClient } from './http-client.ts'

describe('DNS cache', () => {
  it('forgets an answer once it expires, and drops expired entries on the next write', () => {
    const cache = new DnsCache(1000, 100)
    cache.set('a.example', ['203.0.113.1'], 0)
    cache.set('b.example', ['203.0.113.2'], 500)
    expect(cache.get('a.example', 999)).toEqual(['203.0.113.1'])
    expect(cache.get('a.example', 1000)).toBeUndefined()
    expect(cache.size).toBe(1)
    // b expires at 1500; nobody reads it again, yet a later write removes it.
    cache.set('c.example', ['203.0.113.3'], 1500)
    expect(cache.size).toBe(1)
    expect(cache.get('c.example', 1500)).toEqual(['203.0.113.3'])
  })

  it('keeps at most maxEntries, dropping the one closest to expiry; a refresh moves an entry back', () => {
    const cache = new DnsCache(60_000, 3)
    for (const [i, host] of ['a', 'b', 'c'].entries()) cache.set(host, [`203.0.113.${i}`], i)
    cache.set('a', ['203.0.113.9'], 10)
    cache.set('d', ['203.0.113.4'], 11)
    expect(cache.size).toBe(3)
    expect(cache.get('b', 12)).toBeUndefined()
    expect(cache.get('a', 12)).toEqual(['203.0.113.9'])
    expect(cache.get('c', 12)).toEqual(['203.0.113.2'])
    expect(cache.get('d', 12)).toEqual(['203.0.113.4'])
    for (let i = 0; i < 1000; i++) cache.set(`h${i}.example`, ['203.0.113.7'], 20 + i)
    expect(cache.size).toBe(3)
  })

  it('caches nothing with a zero lifetime', () => {
    const cache = new DnsCache(0, 10)
    cache.set('a', ['203.0.113.1'], 0)
    expect(cache.size).toBe(0)
  })

  it('bounds what the HTTP client remembers: an evicted or expired host is resolved again', async () => {
    const clock = new ManualClock('2026-02-18T12:00:00Z')
    const asked: string[] = []
    const client = new HttpClient({
      policy: new AddressPolicy(),
      clock,
      dnsCacheMs: 1000,
      dnsCacheEntries: 2,
      resolver: async (host) => {
        asked.push(host)
        return ['93.184.216.34']
      },
    })
    const check = (host: string) => client.check(`https://${host}/hook`)
    await check('a.example.com')
    await check('a.example.com')
    await check('b.example.com')
    expect(asked).toEqual(['a.example.com', 'b.example.com'])
    await check('c.example.com')
    await check('a.example.com')
    expect(asked).toEqual(['a.example.com', 'b.example.com', 'c.example.com', 'a.example.com'])
    clock.advance(1000)
    await check('a.example.com')
    expect(asked.at(-1)).toBe('a.example.com')
    expect(asked).toHaveLength(5)
    await client.close()
  })
})
