import { describe, expect, it } from 'vitest'
import {
  headerSecrets,
  MIN_LOOSE_CHARS,
  MIN_SECRET_CHARS,
  REDACTED,
  Scrubber,
  scrubSecrets,
} from './scrub.ts'

const KEY = 'sk_live_9fQ2xLmP4tRz7Wv'
/** A key with characters that every encoding changes: space, slash, plus, equals, ampersand, non-ASCII. */
const ODD = 'p@ss w/rd+K3y=&ü!'

const b64 = (s: string | Buffer) => Buffer.from(s).toString('base64')
const b64url = (s: string | Buffer) => Buffer.from(s).toString('base64url')

/** The text around the one [redacted] in `out`, asserting there is exactly one. */
function around(out: string): [string, string] {
  const parts = out.split(REDACTED)
  expect(parts, `one ${REDACTED} in ${out}`).toHaveLength(2)
  return [parts[0] as string, parts[1] as string]
}

describe('scrubSecrets finds a secret in every form it is sent in', () => {
  it('plain, several times, and leaves the rest of the text alone', () => {
    expect(scrubSecrets(`bad key ${KEY}; was ${KEY}.`, [KEY])).toBe('bad key [redacted]; was [redacted].')
    expect(scrubSecrets('nothing secret here: 401 Unauthorized', [KEY])).toBe(
      'nothing secret here: 401 Unauthorized',
    )
  })

  it('percent-encoded, with upper- or lower-case hex', () => {
    const upper = encodeURIComponent(ODD)
    expect(upper).toContain('%2F')
    expect(scrubSecrets(`GET /x?k=${upper} failed`, [ODD])).toBe('GET /x?k=[redacted] failed')
    const lower = upper.replace(/%[0-9A-F]{2}/g, (m) => m.toLowerCase())
    expect(scrubSecrets(`GET /x?k=${lower} failed`, [ODD])).toBe('GET /x?k=[redacted] failed')
  })

  it('form-encoded, with + for space', () => {
    const form = new URLSearchParams({ password: ODD }).toString()
    expect(form).toContain('p%40ss+w%2Frd')
    expect(scrubSecrets(`body was ${form}`, [ODD])).toBe('body was password=[redacted]')
  })

  it('JSON-escaped, and read back after JSON escapes hid it', () => {
    const quoted = 'say "hi"\\now'
    expect(scrubSecrets(JSON.stringify({ m: quoted }), [quoted])).toBe('{"m":"[redacted]"}')
    expect(scrubSecrets(`{"m":"${KEY.replace(/_/g, '\\/')}"}`, [KEY.replace(/_/g, '/')])).toBe(
      '{"m":"[redacted]"}',
    )
  })

  it('base64 and base64url of the secret alone, with and without padding', () => {
    for (const form of [b64(ODD), b64(ODD).replace(/=+$/, ''), b64url(ODD)]) {
      expect(scrubSecrets(`token: ${form} (rejected)`, [ODD])).toBe('token: [redacted] (rejected)')
    }
  })

  it('base64 of "Bearer <key>", as a vendor echoing the whole header value encoded would', () => {
    const echoed = b64(`Bearer ${KEY}`)
    const [before, after] = around(scrubSecrets(`{"header":"${echoed}"}`, [KEY]))
    // What is left decodes to "Bearer " and a few bits of the key's first byte, nothing more.
    expect(before).toBe(`{"header":"${echoed.slice(0, 10)}`)
    expect(Buffer.from(echoed.slice(0, 9), 'base64').toString()).toBe('Bearer')
    expect(after.length).toBeLessThanOrEqual('=="}'.length + 2)
  })

  // Inside a longer base64 text the secret starts at byte offset p; p mod 3 decides how its bits fall on base64
  // characters. Whatever the offset and whatever follows, what is left around [redacted] must tell less than a
  // byte of the secret at either end.
  for (const [name, encode] of [
    ['base64', b64],
    ['base64url', b64url],
  ] as const) {
    for (let p = 0; p <= 5; p++) {
      for (let s = 0; s <= 2; s++) {
        it(`${name} of a text holding the key at byte ${p} with ${s} bytes after it`, () => {
          const prefix = 'Tok:!'.slice(0, p)
          const suffix = '#?'.slice(0, s)
          const blob = encode(`${prefix}${KEY}${suffix}`)
          const [before, after] = around(scrubSecrets(`x ${blob} y`, [KEY]))
          const head = before.slice(2)
          const tail = after.slice(0, -2).replace(/=+$/, '')
          expect(blob.startsWith(head) && blob.replace(/=+$/, '').endsWith(tail)).toBe(true)
          // Bits the kept characters carry beyond the prefix's (resp. the suffix's and the padding's) own bits.
          expect(head.length * 6 - p * 8).toBeLessThan(8)
          const padBits = Math.ceil(((p + KEY.length + s) * 8) / 6) * 6 - (p + KEY.length + s) * 8
          expect(tail.length * 6 - padBits - s * 8).toBeLessThan(8)
        })
      }
    }
  }

  it('base64 wrapped over lines, as MIME and PEM write it', () => {
    const long = `${KEY}${KEY}${KEY}`
    const wrapped = b64(long).replace(/(.{16})/g, '$1\r\n')
    expect(wrapped).toContain('\r\n')
    expect(scrubSecrets(`begin\r\n${wrapped}\r\nend`, [long])).toBe('begin\r\n[redacted]\r\nend')
  })

  it('spaced out or split by separators, in the text or in JSON escapes', () => {
    for (const sep of [' ', '-', '.', ' - ', '\n', '\u00a0', '\u200b', '\\n', ', ']) {
      const spaced = KEY.split('').join(sep)
      expect(scrubSecrets(`the key was ${spaced}!`, [KEY]), JSON.stringify(sep)).toBe(
        'the key was [redacted]!',
      )
    }
    // Grouped in fours, like a licence key.
    expect(scrubSecrets(`key ${KEY.match(/.{1,4}/g)?.join(' ')} ok`, [KEY])).toBe('key [redacted] ok')
  })

  it('spaced-out base64 of the secret', () => {
    const spaced = b64(KEY).split('').join(' ')
    expect(scrubSecrets(`auth=${spaced}`, [KEY])).toBe('auth=[redacted]')
  })

  it('takes in the separators a secret begins or ends with, such as a webhook path’s slashes', () => {
    const path = '/services/T01/B02/xoxTokenAbCdEf123456/'
    expect(scrubSecrets(`no_service for ${path} (404)`, [path])).toBe('no_service for [redacted] (404)')
    expect(scrubSecrets(`no_service for ${encodeURIComponent(path)}`, [path])).toBe(
      'no_service for [redacted]',
    )
  })

  it('merges overlapping forms into one replacement', () => {
    const text = `${KEY}${encodeURIComponent(ODD)}`
    expect(scrubSecrets(text, [KEY, ODD, KEY.slice(3, 15)])).toBe(REDACTED)
  })
})

describe('thresholds', () => {
  it(`leaves secrets shorter than ${MIN_SECRET_CHARS} characters in the text`, () => {
    expect(MIN_SECRET_CHARS).toBe(4)
    expect(scrubSecrets('X marks the spot; use X', ['X', 'ab', 'abc'])).toBe('X marks the spot; use X')
  })

  it(`matches a secret under ${MIN_LOOSE_CHARS} characters only whole, in each of its forms`, () => {
    expect(MIN_LOOSE_CHARS).toBe(8)
    const short = 'q7/z'
    expect(scrubSecrets(`a ${short} b ${encodeURIComponent(short)} c ${b64(short)}`, [short])).toBe(
      'a [redacted] b [redacted] c [redacted]',
    )
    // Four characters spaced out are as likely to be ordinary text as the secret: left alone.
    expect(scrubSecrets('q 7 / z', [short])).toBe('q 7 / z')
  })

  it('does not match ordinary text that shares a secret’s characters out of order', () => {
    const text = 'Invalid credentials for account 42 (see https://docs.example.com/errors#401)'
    expect(scrubSecrets(text, [KEY, ODD, 'https://hooks.slack.com/services/T1/B2/xyzxyzxyzxyz'])).toBe(text)
  })
})

describe('headerSecrets', () => {
  it('takes every header value but public ones, and the token of an auth scheme', () => {
    expect(
      headerSecrets({
        Authorization: `Bearer ${KEY}`,
        'Content-Type': 'application/json',
        'user-agent': 'Patchbay/1.0',
        ApiIntegrationCode: 'INTEGRATION-CODE-1',
        'X-Api-Key': 'custom-header-key',
      }),
    ).toEqual([KEY, 'INTEGRATION-CODE-1', 'custom-header-key'])
  })

  it('decodes Basic into user:pass, the user and the password', () => {
    const auth = `Basic ${b64('acme+PUBLICKEY:privateKEY123')}`
    expect(headerSecrets({ authorization: auth })).toEqual([
      b64('acme+PUBLICKEY:privateKEY123'),
      'acme+PUBLICKEY:privateKEY123',
      'acme+PUBLICKEY',
      'privateKEY123',
    ])
    // Not base64 of user:pass: only the token itself.
    expect(headerSecrets({ authorization: 'Basic not-base64-at-all' })).toEqual(['not-base64-at-all'])
  })

  it('leaves out headers the sender names as public', () => {
    expect(headerSecrets({ 'webhook-id': 'evt_1', 'x-secret': 'hunter22' }, ['Webhook-Id'])).toEqual([
      'hunter22',
    ])
  })

  it('a scrubber from Basic headers removes every part of them, in every form', () => {
    const scrubber = Scrubber.of(headerSecrets({ authorization: `Basic ${b64('ops@acme.io:s3cr3t-T0ken')}` }))
    const text = [
      `header ${b64('ops@acme.io:s3cr3t-T0ken')}`,
      'pair ops@acme.io:s3cr3t-T0ken',
      `password ${encodeURIComponent('s3cr3t-T0ken')}`,
      `user ${b64url('ops@acme.io')}`,
    ].join('\n')
    expect(scrubber.scrub(text)).toBe(
      'header [redacted]\npair [redacted]\npassword [redacted]\nuser [redacted]',
    )
  })
})
