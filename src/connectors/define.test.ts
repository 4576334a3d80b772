import { describe, expect, it } from 'vitest'
import { ManualClock } from '../lib/clock.ts'
import { createLogger } from '../lib/logger.ts'
import { AddressPolicy } from '../net/address-policy.ts'
import { HttpClient } from '../net/http-client.ts'
import { credentialParser, missingCredential } from './define.ts'
import { defaultRegistry } from './registry.ts'
import type { ConnectorEnv } from './types.ts'
import { VendorError } from './vendor-error.ts'

const fields = {
  site: { type: 'url', sensitive: false, destination: true, required: true },
  user: { type: 'string', sensitive: false, required: true },
  secret: { type: 'string', sensitive: true, required: true },
  region: { type: 'string', sensitive: false, required: false },
} as const

describe('credentialParser', () => {
  const parser = credentialParser(fields, missingCredential('Vendor'))

  it('reads text trimmed, numbers as text, blanks as absent, and drops fields outside the list', () => {
    const c = parser.parse({
      site: ' https://x.test ',
      user: 42,
      secret: 's3',
      region: '  ',
      extra: 'kept out',
    })
    expect(c).toEqual({ site: 'https://x.test', user: '42', secret: 's3' })
    // Typed: required fields are strings, the others may be absent.
    const site: string = c.site
    const region: string | undefined = c.region
    expect([site, region]).toEqual(['https://x.test', undefined])
  })

  it('names the first missing required field in list order, as a 400 the engine does not retry', () => {
    const err = (() => {
      try {
        parser.parse({ site: 'https://x.test', secret: true, user: '  ' })
      } catch (e) {
        return e
      }
      return undefined
    })()
    expect(err).toBeInstanceOf(VendorError)
    expect(err).toMatchObject({ message: 'Vendor: the connection has no "user"', status: 400 })
    expect(() => parser.parse({})).toThrow('Vendor: the connection has no "site"')
  })
})

describe('every connector parses its credentials by its own field list', () => {
  const clock = new ManualClock()
  // Nothing is reachable: a connector that called out on credentials that do not parse would fail otherwise.
  const env: ConnectorEnv = {
    clock,
    log: createLogger('silent'),
    http: new HttpClient({ policy: new AddressPolicy([]), resolver: async () => [], clock }),
  }
  // Every connector: `credentials` is required of a Connector, so none reads the plain record any more.
  const parsed = defaultRegistry.all()

  it('covers every connector, Microsoft 365 and UniFi included', () => {
    expect(parsed.map((c) => c.descriptor.id)).toEqual(expect.arrayContaining(['microsoft365', 'unifi']))
    for (const c of parsed) expect(c.credentials.schema).toBeDefined()
  })

  it.each(parsed.map((c) => [c.descriptor.id, c] as const))('%s: schema and field list agree', (_, c) => {
    expect(c.credentials.fields).toEqual(c.descriptor.credentialSchema)
  })

  it.each(parsed.map((c) => [c.descriptor.id, c] as const))(
    '%s: a stored credential missing a required field fails verification with a 400 naming it',
    async (_, c) => {
      const full = Object.fromEntries(
        Object.keys(c.descriptor.credentialSchema).map((name) => [name, `https://${name}.test/x/y/z`]),
      )
      for (const [name, field] of Object.entries(c.descriptor.credentialSchema)) {
        if (!field.required) continue
        const { [name]: _, ...rest } = full
        const r = await c.verify(rest, env)
        expect(r).toMatchObject({ ok: false, status: 400 })
        expect(r.ok ? '' : r.error).toContain(name)
      }
    },
  )

  const m365 = defaultRegistry.get('microsoft365')
  const graphFields = Object.entries(m365?.descriptor.credentialSchema ?? {})
    .filter(([, f]) => f.required)
    .map(([name]) => name)
  const graphFull = { tenantId: 'contoso.onmicrosoft.com', clientId: 'app', clientSecret: 's3cr3t' }

  it("Microsoft 365 names a missing field in the Graph client's words", async () => {
    expect(graphFields).toEqual(['tenantId', 'clientId', 'clientSecret'])
    for (const name of graphFields) {
      const { [name as keyof typeof graphFull]: _, ...rest } = graphFull
      expect(await m365?.verify(rest, env)).toEqual({
        ok: false,
        error: `Microsoft Graph: the connection has no "${name}"`,
        status: 400,
      })
    }
  })

  it("msgraph registers with Microsoft 365's parser: a missing field rejects with the same 400", async () => {
    const registration = defaultRegistry.inbound('msgraph')?.registration
    expect(registration).toBeDefined()
    const request = {
      url: 'https://x.test/hooks/1',
      secret: 's',
      deactivationUrl: '',
      name: 'n',
      options: {},
    }
    for (const name of graphFields) {
      const { [name as keyof typeof graphFull]: _, ...rest } = graphFull
      const text = `Microsoft Graph: the connection has no "${name}"`
      await expect(registration?.register(rest, request, env)).rejects.toMatchObject({
        message: text,
        status: 400,
      })
      await expect(registration?.unregister(rest, 'sub-1', env)).rejects.toMatchObject({
        message: text,
        status: 400,
      })
      await expect(registration?.renew?.(rest, 'sub-1', env)).rejects.toMatchObject({
        message: text,
        status: 400,
      })
    }
  })

  it('generic-webhook takes no credentials: nothing of its inbound module is given any', () => {
    const inbound = defaultRegistry.inbound('generic')
    expect(inbound).toBeDefined()
    expect(inbound?.registration).toBeUndefined()
    expect(inbound?.resolveTicketStatus).toBeUndefined()
  })
})
