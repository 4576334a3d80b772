import { describe, expect, it } from 'vitest'
import type { Connector } from '../connectors/types.ts'
import { publicPart, secretValues, validateCredentials } from './credentials.ts'
import { IntegrationError } from './errors.ts'

const connector: Connector = {
  descriptor: {
    id: 'x',
    displayName: 'X',
    category: 'psa',
    capabilities: [],
    credentialSchema: {
      host: { type: 'url', sensitive: false, required: true },
      token: { type: 'string', sensitive: true, required: true },
      region: { type: 'string', sensitive: false, required: false, default: 'us' },
      sandbox: { type: 'boolean', sensitive: false, required: false },
    },
  },
  verify: async () => ({ ok: true }),
}

describe('credential validation', () => {
  it('applies defaults and trims copied whitespace', () => {
    expect(validateCredentials(connector, { host: 'https://x.example/', token: '  tok_123 \n' })).toEqual({
      host: 'https://x.example/',
      token: 'tok_123',
      region: 'us',
    })
  })

  it('merges a partial update: given fields replace, null clears, absent fields stay', () => {
    const base = { host: 'https://x.example/', token: 'old', region: 'eu', sandbox: true }
    expect(validateCredentials(connector, { token: 'new', sandbox: null }, base)).toEqual({
      host: 'https://x.example/',
      token: 'new',
      region: 'eu',
    })
    let err: unknown
    try {
      validateCredentials(connector, { token: null, host: 'ftp://x' }, base)
    } catch (e) {
      err = e
    }
    expect(err).toBeInstanceOf(IntegrationError)
    expect((err as IntegrationError).fields).toEqual({
      'credentials.host': ['The credentials.host field must be an https URL.'],
      'credentials.token': ['The credentials.token field is required.'],
    })
  })

  it('keeps only non-sensitive fields in the public part, and scrubs sensitive URLs by their path', () => {
    expect(
      publicPart(connector.descriptor.credentialSchema, { host: 'h', token: 't', region: 'eu' }),
    ).toEqual({
      host: 'h',
      region: 'eu',
    })
    const scrub = secretValues(
      { webhookUrl: { type: 'url', sensitive: true, required: true } },
      { webhookUrl: 'https://hooks.example.com/services/T000/B000/abcdefghijklmnop?x=1' },
    )
    expect(scrub).toContain('https://hooks.example.com/services/T000/B000/abcdefghijklmnop?x=1')
    expect(scrub).toContain('/services/T000/B000/abcdefghijklmnop')
    expect(scrub).toContain('abcdefghijklmnop')
    expect(scrub).not.toContain('services')
  })
})
