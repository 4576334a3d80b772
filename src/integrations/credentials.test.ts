import { describe, expect, it } from 'vitest'
import { credentialParser, defineConnector, missingCredential } from '../connectors/define.ts'
import type { Connector } from '../connectors/types.ts'
import {
  DESTINATION_RULE,
  destinationProblems,
  publicPart,
  secretValues,
  validateCredentials,
} from './credentials.ts'
import { IntegrationError } from './errors.ts'

const fields = {
  host: { type: 'url', sensitive: false, required: true },
  token: { type: 'string', sensitive: true, required: true },
  region: { type: 'string', sensitive: false, required: false, default: 'us' },
  sandbox: { type: 'boolean', sensitive: false, required: false },
} as const

const connector: Connector = defineConnector(credentialParser(fields, missingCredential('X')), {
  descriptor: {
    id: 'x',
    displayName: 'X',
    category: 'psa',
    capabilities: [],
    credentialSchema: fields,
  },
  verify: async () => ({ ok: true }),
})

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

describe('the destination rule', () => {
  const schema = {
    host: {
      type: 'url',
      sensitive: false,
      destination: true,
      required: false,
      default: 'https://api.example',
    },
    label: { type: 'string', sensitive: false, required: false },
    token: { type: 'string', sensitive: true, required: true },
    password: { type: 'string', sensitive: true, required: false },
  } as const
  const moved = { ...connector, descriptor: { ...connector.descriptor, credentialSchema: schema } }
  const base = { host: 'https://api.example', label: 'a', token: 'tok', password: 'pw' }

  it('asks for every stored secret when a destination field changes, however little', () => {
    expect(
      destinationProblems(schema, { host: 'https://evil.example' }, base, {
        ...base,
        host: 'https://evil.example',
      }),
    ).toEqual(['token', 'password'])
    expect(
      destinationProblems(schema, { host: 'https://api.example/v2' }, base, {
        ...base,
        host: 'https://api.example/v2',
      }),
    ).toEqual(['token', 'password'])
    // Cleared (null) is given: nothing stored goes to the new host.
    expect(
      destinationProblems(schema, { host: 'https://x.example', token: 'new', password: null }, base, {
        host: 'https://x.example',
        token: 'new',
      }),
    ).toEqual([])
    // A secret never stored is not asked for.
    expect(
      destinationProblems(
        schema,
        { host: 'https://x.example', token: 't' },
        { token: 'tok' },
        { host: 'https://x.example', token: 't' },
      ),
    ).toEqual([])
  })

  it('asks nothing when the destination stays, counting a default as the stored value', () => {
    expect(destinationProblems(schema, { label: 'b' }, base, { ...base, label: 'b' })).toEqual([])
    expect(
      destinationProblems(
        schema,
        { host: null },
        { token: 'tok' },
        { token: 'tok', host: 'https://api.example' },
      ),
    ).toEqual([])
  })

  it('is enforced by validateCredentials whenever stored credentials are the base, naming each field', () => {
    let err: unknown
    try {
      validateCredentials(moved, { host: 'https://evil.example' }, base)
    } catch (e) {
      err = e
    }
    expect((err as IntegrationError).fields).toEqual({
      'credentials.token': [`The credentials.token field ${DESTINATION_RULE}.`],
      'credentials.password': [`The credentials.password field ${DESTINATION_RULE}.`],
    })
    // Without stored credentials (a create, an unsaved test) nothing is kept, so nothing is asked.
    expect(validateCredentials(moved, { host: 'https://evil.example', token: 't' })).toMatchObject({
      token: 't',
    })
  })
})
