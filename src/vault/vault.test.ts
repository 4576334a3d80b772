import { describe, expect, it } from 'vitest'
import { generateKeyRing, parseKeyRing } from './keyring.ts'
import { keyIdOf, Vault, VaultError } from './vault.ts'

const ctx = { table: 'webhooks', field: 'secret', id: '0192a0e6-0000-7000-8000-000000000001' }

function flip(b64url: string, index: number): string {
  const buf = Buffer.from(b64url, 'base64url')
  const i = index < 0 ? buf.length + index : index
  buf[i] = (buf[i] as number) ^ 0x01
  return buf.toString('base64url')
}

describe('vault', () => {
  const vault = new Vault(generateKeyRing('k1'))

  it('round-trips text and JSON, with a fresh ciphertext each time', () => {
    const a = vault.seal('whsec_abc', ctx)
    const b = vault.seal('whsec_abc', ctx)
    expect(a).not.toBe(b)
    expect(a).not.toContain('whsec_abc')
    expect(vault.open(a, ctx)).toBe('whsec_abc')
    const creds = { publicKey: 'pk', privateKey: 'sk', nested: { n: 1 } }
    expect(vault.openJson(vault.sealJson(creds, ctx), ctx)).toEqual(creds)
    expect(keyIdOf(a)).toBe('k1')
  })

  it('refuses a ciphertext moved to another row, field or table', () => {
    const sealed = vault.seal('secret value', ctx)
    expect(() => vault.open(sealed, { ...ctx, id: '0192a0e6-0000-7000-8000-000000000002' })).toThrow(
      VaultError,
    )
    expect(() => vault.open(sealed, { ...ctx, field: 'credentials' })).toThrow(VaultError)
    expect(() => vault.open(sealed, { ...ctx, table: 'integrations' })).toThrow(VaultError)
  })

  it('detects tampering with the wrapped key, the body, or the key id', () => {
    const [v, kid, wrapped, body] = vault.seal('secret value', ctx).split(':') as [
      string,
      string,
      string,
      string,
    ]
    expect(() => vault.open([v, kid, wrapped, flip(body, 14)].join(':'), ctx)).toThrow(
      /failed authentication/,
    )
    expect(() => vault.open([v, kid, wrapped, flip(body, -1)].join(':'), ctx)).toThrow(VaultError)
    expect(() => vault.open([v, kid, flip(wrapped, 20), body].join(':'), ctx)).toThrow(VaultError)
    expect(() => vault.open([v, 'k9', wrapped, body].join(':'), ctx)).toThrow(/not in the key ring/)
    expect(() => vault.open([v, kid, wrapped, body.slice(0, 10)].join(':'), ctx)).toThrow(VaultError)
    expect(() => vault.open('plaintext', ctx)).toThrow(/not a Patchbay vault ciphertext/)
  })

  it('opens ciphertexts of a retired key while sealing under the active one', () => {
    const old = generateKeyRing('old')
    const sealedOld = new Vault(old).seal('v', ctx)
    const both = new Vault({ activeId: 'new', keys: new Map([...generateKeyRing('new').keys, ...old.keys]) })
    expect(both.open(sealedOld, ctx)).toBe('v')
    expect(both.isCurrent(sealedOld)).toBe(false)
    const resealed = both.reseal(sealedOld, ctx)
    expect(keyIdOf(resealed)).toBe('new')
    expect(both.open(resealed, ctx)).toBe('v')
  })
})

describe('key ring', () => {
  const key = Buffer.alloc(32, 7).toString('base64')
  it('parses id:base64 entries, first active', () => {
    const ring = parseKeyRing(`a:${key}, b:${Buffer.alloc(32, 9).toString('base64')}`)
    expect(ring.activeId).toBe('a')
    expect([...ring.keys.keys()]).toEqual(['a', 'b'])
  })
  it('names what is wrong with a bad ring', () => {
    expect(() => parseKeyRing('')).toThrow(/empty/)
    expect(() => parseKeyRing('nokey')).toThrow(/entry 1 is not of the form/)
    expect(() => parseKeyRing(`a:${Buffer.alloc(16).toString('base64')}`)).toThrow(
      /16 bytes; AES-256 needs 32/,
    )
    expect(() => parseKeyRing(`a:${key},a:${key}`)).toThrow(/twice/)
    expect(() => parseKeyRing(`bad id:${key}`)).toThrow(/key id/)
  })
})
