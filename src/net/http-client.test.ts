import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { HOSTILE_TARGETS, hostileResolver } from '../../test/fixtures/hostile-targets.ts'
import { ManualClock } from '../lib/clock.ts'
import { AddressPolicy } from './address-policy.ts'
import { HttpClient, OutboundError, UnsafeUrlError } from './http-client.ts'
import { parseRetryAfter } from './retry-after.ts'

describe('URL safety', () => {
  const client = new HttpClient({ policy: new AddressPolicy(), resolver: hostileResolver() })

  it.each(HOSTILE_TARGETS)('refuses $url ($why)', async ({ url }) => {
    await expect(client.check(url)).rejects.toBeInstanceOf(UnsafeUrlError)
    await expect(client.request({ url, method: 'POST', body: '{}' })).rejects.toBeInstanceOf(UnsafeUrlError)
  })

  it('names the reason', async () => {
    await expect(client.check('https://10.1.2.3/')).rejects.toThrow(
      'resolves to a private address (10.1.2.3)',
    )
    await expect(client.check('https://[::ffff:127.0.0.1]/')).rejects.toThrow('loopback address (127.0.0.1)')
    await expect(client.check('http://example.com/')).rejects.toThrow('must use HTTPS')
    await expect(client.check('https://printer.local/')).rejects.toThrow('local name')
  })

  it('accepts a public HTTPS host', async () => {
    const ok = await client.check('https://example.com/hook')
    expect(ok).toMatchObject({ address: '93.184.216.34', exempt: false })
  })

  it('lets an operator exempt ranges, over http too, but only those ranges', async () => {
    const lan = new HttpClient({ policy: new AddressPolicy(['10.0.0.0/8']), resolver: hostileResolver() })
    await expect(lan.check('http://10.1.2.3:8080/hook')).resolves.toMatchObject({ exempt: true })
    await expect(lan.check('https://internal.example.com/hook')).resolves.toMatchObject({
      address: '10.0.0.5',
    })
    await expect(lan.check('https://192.168.1.1/')).rejects.toThrow(UnsafeUrlError)
    expect(() => new AddressPolicy(['not-a-cidr'])).toThrow(/not a CIDR range/)
  })
})

describe('requests', () => {
  let server: http.Server
  let port: number
  const hits: { url: string; host: string | undefined }[] = []
  beforeAll(async () => {
    server = http.createServer((req, res) => {
      hits.push({ url: req.url ?? '', host: req.headers.host })
      if (req.url === '/redirect') {
        res.writeHead(302, { location: 'http://169.254.169.254/' }).end()
      } else if (req.url === '/hang') {
        // never answers
      } else if (req.url === '/long') {
        res.end('x'.repeat(5000))
      } else {
        res.writeHead(201, { 'x-test': 'yes' }).end('created')
      }
    })
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    port = (server.address() as AddressInfo).port
  })
  afterAll(() => {
    server.closeAllConnections()
    server.close()
  })

  function client(dns: Record<string, string[]>, clock = new ManualClock()) {
    return new HttpClient({
      policy: new AddressPolicy(['127.0.0.0/8']),
      resolver: async (h) => dns[h] ?? [],
      clock,
    })
  }

  it('connects to the checked address, sending the hostname as Host', async () => {
    const c = client({ 'receiver.test': ['127.0.0.1'] })
    const res = await c.request({ url: `http://receiver.test:${port}/ok?x=1`, method: 'POST', body: '{}' })
    expect(res).toMatchObject({ status: 201, body: 'created', address: '127.0.0.1', truncated: false })
    expect(res.headers['x-test']).toBe('yes')
    expect(hits.at(-1)).toEqual({ url: '/ok?x=1', host: `receiver.test:${port}` })
    await c.close()
  })

  it('never follows a redirect', async () => {
    const c = client({})
    const res = await c.request({ url: `http://127.0.0.1:${port}/redirect` })
    expect(res.status).toBe(302)
    expect(hits.filter((h) => h.url === '/').length).toBe(0)
    await c.close()
  })

  it('re-checks DNS before every request once the cached answer expires', async () => {
    const dns: Record<string, string[]> = { 'flip.test': ['127.0.0.1'] }
    const clock = new ManualClock()
    const c = client(dns, clock)
    expect((await c.request({ url: `http://flip.test:${port}/ok` })).status).toBe(201)
    dns['flip.test'] = ['192.168.1.20']
    clock.advance(1001)
    await expect(c.request({ url: `http://flip.test:${port}/ok` })).rejects.toThrow(
      'private address (192.168.1.20)',
    )
    await c.close()
  })

  it('keeps only the first characters of a long body', async () => {
    const c = client({})
    const res = await c.request({ url: `http://127.0.0.1:${port}/long`, keepResponseChars: 1000 })
    expect(res.body).toHaveLength(1000)
    expect(res.truncated).toBe(true)
    await c.close()
  })

  it('reports timeouts and refused connections as errors with a message', async () => {
    const c = client({})
    const timeout = await c.request({ url: `http://127.0.0.1:${port}/hang`, timeoutMs: 150 }).catch((e) => e)
    expect(timeout).toBeInstanceOf(OutboundError)
    expect(timeout).toMatchObject({ kind: 'timeout', message: 'Request timed out after 150 ms' })
    const refused = await c.request({ url: 'http://127.0.0.1:1/' }).catch((e) => e)
    expect(refused).toMatchObject({ kind: 'connection', message: 'Connection refused by 127.0.0.1:1' })
    await c.close()
  })
})

describe('parseRetryAfter', () => {
  const now = new Date('2026-02-18T12:00:00Z')
  it('reads seconds and HTTP dates', () => {
    expect(parseRetryAfter('5', now)).toBe(5000)
    expect(parseRetryAfter('1.5', now)).toBe(1500)
    expect(parseRetryAfter('Wed, 18 Feb 2026 12:00:30 GMT', now)).toBe(30_000)
    expect(parseRetryAfter('Wed, 18 Feb 2026 11:00:00 GMT', now)).toBe(0)
    expect(parseRetryAfter('soon', now)).toBeUndefined()
    expect(parseRetryAfter(null, now)).toBeUndefined()
  })
})
