import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { AddressPolicy } from './address-policy.ts'
import { HttpClient } from './http-client.ts'

const TOKEN = 'tok_CLIENT_echo_7Hq2Lm9Px4'
const API_KEY = 'key CLIENT echo 5Rt8Wn3Zs'
const QUERY_KEY = 'qk_CLIENT_echo_1Ab2Cd3Ef'
const BODY_SECRET = 'body_CLIENT_secret_9Yx8Wv'
const b64 = (s: string) => Buffer.from(s).toString('base64')

/** Everything a careless vendor writes back: each secret it got, plain and encoded. */
function echo(secrets: string[]): string {
  return secrets
    .flatMap((s) => [s, encodeURIComponent(s), b64(s), b64(`Bearer ${s}`), s.split('').join(' ')])
    .join(' | ')
}

describe('the HTTP client scrubs what it sent out of what it returns', () => {
  let server: http.Server
  let base: string
  const client = new HttpClient({
    policy: new AddressPolicy(['127.0.0.0/8']),
    resolver: async () => ['127.0.0.1'],
    dnsCacheMs: 0,
    userAgent: 'Patchbay-Test/1.0',
  })
  beforeAll(async () => {
    server = http.createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x')
      const chunks: Buffer[] = []
      req.on('data', (c: Buffer) => chunks.push(c))
      req.on('end', () => {
        const sent = [
          String(req.headers.authorization ?? '').replace(/^Bearer /, ''),
          String(req.headers['x-api-key'] ?? ''),
          url.searchParams.get('api_key') ?? '',
          Buffer.concat(chunks).toString(),
          String(req.headers['x-request-ref'] ?? ''),
          String(req.headers['user-agent'] ?? ''),
        ].filter(Boolean)
        const status = Number(url.searchParams.get('status') ?? 200)
        if (url.pathname === '/long') {
          res.writeHead(status).end(`${'x'.repeat(995)}${TOKEN}`)
          return
        }
        res
          .writeHead(status, { 'www-authenticate': `Bearer error="invalid_token", token="${sent[0]}"` })
          .end(echo(sent))
      })
    })
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    base = `http://vendor.test:${(server.address() as AddressInfo).port}`
  })
  afterAll(async () => {
    await client.close()
    await new Promise<void>((r) => server.close(() => r()))
  })

  const send = (path: string, extra: Partial<Parameters<HttpClient['request']>[0]> = {}) =>
    client.request({
      method: 'POST',
      url: `${base}${path}`,
      headers: { authorization: `Bearer ${TOKEN}`, 'x-api-key': API_KEY, 'x-request-ref': 'ref-000123' },
      body: BODY_SECRET,
      secrets: [BODY_SECRET],
      publicHeaders: ['x-request-ref'],
      ...extra,
    })

  it('error bodies and response headers come back without any form of a header, query or declared secret', async () => {
    const res = await send(`/x?status=401&api_key=${QUERY_KEY}`)
    expect(res.status).toBe(401)
    for (const s of [TOKEN, API_KEY, QUERY_KEY, BODY_SECRET]) {
      for (const form of [s, encodeURIComponent(s), b64(s), s.split('').join(' ')])
        expect(res.body).not.toContain(form)
      expect(res.body).not.toContain(b64(`Bearer ${s}`).slice(4, -4))
    }
    expect(res.headers['www-authenticate']).toBe('Bearer error="invalid_token", token="[redacted]"')
    // Public headers stay readable: the sender said they are no secret, and user-agent never is.
    expect(res.body).toContain('ref-000123')
    expect(res.body).toContain('Patchbay-Test/1.0')
    expect(res.body.split('[redacted]').length - 1).toBe(4 * 5)
  })

  it('successful bodies too, unless the caller reads data from them; it then scrubs what it derives', async () => {
    const scrubbed = await send('/x?status=200')
    expect(scrubbed.body).not.toContain(TOKEN)
    const raw = await send('/x?status=200', { rawSuccessBody: true })
    expect(raw.body).toContain(TOKEN)
    expect(raw.scrub(raw.body)).toBe(scrubbed.body)
    const refused = await send('/x?status=500', { rawSuccessBody: true })
    expect(refused.body).not.toContain(TOKEN)
    expect(refused.body).toContain('[redacted]')
  })

  it('scrubs before keeping the first characters, so a secret across the cut leaves nothing behind', async () => {
    const res = await send('/long?status=502', { keepResponseChars: 1000 })
    expect(res.truncated).toBe(true)
    expect(res.body).toBe(`${'x'.repeat(995)}${'[redacted]'.slice(0, 5)}`)
    // keepErrorChars bounds error text (all of which is scrubbed) without bounding what a 2xx returns.
    const error = await send('/long?status=502', { keepResponseChars: 5000, keepErrorChars: 1000 })
    expect(error.body).toBe(res.body)
    const ok = await send('/long?status=200', { keepResponseChars: 5000, keepErrorChars: 1000 })
    expect(ok).toMatchObject({ truncated: false, body: `${'x'.repeat(995)}[redacted]` })
  })
})
