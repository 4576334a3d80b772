import https from 'node:https'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { selfSignedCertificate } from '../../test/standins/unifi.ts'
import { AddressPolicy } from './address-policy.ts'
import { certFingerprint, HttpClient, OutboundError, UnsafeUrlError } from './http-client.ts'

const made = selfSignedCertificate('appliance.test')
let server: https.Server
let url: string
let hits = 0
const client = new HttpClient({
  policy: new AddressPolicy(['127.0.0.0/8']),
  resolver: async (host) => (host.endsWith('.test') ? ['127.0.0.1'] : []),
  dnsCacheMs: 0,
})

beforeAll(async () => {
  server = https.createServer({ key: made.key, cert: made.cert }, (_req, res) => {
    hits += 1
    res.end('hello')
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  url = `https://appliance.test:${(server.address() as AddressInfo).port}/`
})
afterAll(async () => {
  await client.close()
  server.closeAllConnections()
  await new Promise<void>((r) => server.close(() => r()))
})

describe('a pinned certificate', () => {
  it('normalizes fingerprints as Node prints them, and rejects what is not one', () => {
    expect(certFingerprint(made.fingerprint.replace(/:/g, '').toLowerCase())).toBe(made.fingerprint)
    expect(certFingerprint(' ab:cd ')).toBeNull()
  })

  it('lets the request through to exactly that certificate, and only with the pin', async () => {
    const before = hits
    await expect(client.request({ url, pinnedCertSha256: made.fingerprint })).resolves.toMatchObject({
      status: 200,
      body: 'hello',
    })
    const other = `${'00:'.repeat(31)}00`
    const wrong = await client.request({ url, pinnedCertSha256: other }).catch((e) => e)
    expect(wrong).toBeInstanceOf(OutboundError)
    expect(wrong).toMatchObject({ kind: 'tls' })
    expect(wrong.message).toBe(
      `TLS error: the server's certificate (SHA-256 ${made.fingerprint}) is not the pinned certificate (SHA-256 ${other})`,
    )
    // The pinned connection is kept alive, but never lent to a request without the pin.
    const unpinned = await client.request({ url }).catch((e) => e)
    expect(unpinned).toMatchObject({ kind: 'tls' })
    expect(unpinned.message).toMatch(/self-signed certificate/)
    expect(hits - before).toBe(1)
  })

  it('needs HTTPS and a real fingerprint', async () => {
    await expect(
      client.request({ url: url.replace('https:', 'http:'), pinnedCertSha256: made.fingerprint }),
    ).rejects.toThrow(new UnsafeUrlError('must use HTTPS to pin a certificate'))
    await expect(client.request({ url, pinnedCertSha256: 'sha256:abc' })).rejects.toBeInstanceOf(
      UnsafeUrlError,
    )
  })
})
