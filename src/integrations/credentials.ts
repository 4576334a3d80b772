import type { Connector, Credentials } from '../connectors/types.ts'
import type { HttpClient } from '../net/http-client.ts'
import { UnsafeUrlError } from '../net/http-client.ts'
import type { CredentialField, CredentialSchema } from '../vault/mask.ts'
import type { Vault } from '../vault/vault.ts'
import { FieldErrors } from './errors.ts'

export const CREDENTIALS_SEAL = { table: 'integrations', field: 'credentials' } as const

/**
 * Checks credentials against the provider's schema and returns them complete (defaults applied). With `base`
 * (the stored credentials), `input` is a partial update: given fields replace, `null` clears an optional field,
 * absent fields are kept, and the destination rule holds (see `destinationProblems`). Every problem is reported
 * at once, by field, without ever echoing a value.
 */
export function validateCredentials(
  connector: Connector,
  input: Record<string, unknown>,
  base?: Credentials,
): Credentials {
  const schema = connector.descriptor.credentialSchema
  const errors = new FieldErrors()
  const out: Credentials = { ...(base ?? {}) }
  for (const key of Object.keys(input)) {
    if (!(key in schema)) {
      errors.add(
        `credentials.${key}`,
        `The credentials.${key} field is not part of the ${connector.descriptor.displayName} credential schema.`,
      )
    }
  }
  for (const [name, field] of Object.entries(schema)) {
    const path = `credentials.${name}`
    let value = name in input ? input[name] : out[name]
    if (typeof value === 'string') value = value.trim()
    if (value === null || value === undefined || value === '') {
      if (field.default !== undefined) {
        out[name] = field.default
        continue
      }
      if (field.required) errors.add(path, `The ${path} field is required.`)
      delete out[name]
      continue
    }
    const problem = checkField(field, value)
    if (problem) errors.add(path, `The ${path} field ${problem}.`)
    else out[name] = value
  }
  if (base)
    for (const name of destinationProblems(schema, input, base, out)) errors.add(...secretNeeded(name))
  for (const rule of connector.descriptor.credentialRules ?? []) {
    if (!rule.oneOf.some((group) => group.every((f) => out[f] !== undefined))) {
      errors.add('credentials', `The credentials are incomplete: ${rule.description}`)
    }
  }
  errors.throwIfAny()
  return out
}

export const DESTINATION_RULE =
  'must be given again when the destination changes: a stored secret is only sent to the destination it was saved with'

function secretNeeded(name: string): [string, string] {
  return [`credentials.${name}`, `The credentials.${name} field ${DESTINATION_RULE}.`]
}

/**
 * The destination rule, the one place every door (SynthesQ, Breeze, /psa, legacy PSA, monitoring, ticketing,
 * chat, and any door added later) goes through when it lays input over stored credentials: when a field marked
 * `destination` would change, every sensitive field holding a stored value must be given again (or cleared) in
 * the same input. Otherwise a caller who may edit an integration but never read its secrets (an organization
 * key handed to a customer) could point it at a host of their own and have Patchbay send the secret there.
 * Returns the sensitive fields that would be kept across a change of destination; empty when the rule holds.
 */
export function destinationProblems(
  schema: CredentialSchema,
  input: Record<string, unknown>,
  base: Credentials,
  merged: Credentials,
): string[] {
  const moved = Object.entries(schema).some(
    ([name, field]) =>
      field.destination === true && (merged[name] ?? field.default) !== (base[name] ?? field.default),
  )
  if (!moved) return []
  return Object.entries(schema)
    .filter(([name, field]) => field.sensitive && isSet(base[name]) && input[name] === undefined)
    .map(([name]) => name)
}

function isSet(value: unknown): boolean {
  return value !== undefined && value !== null && value !== ''
}

function checkField(field: CredentialField, value: unknown): string | undefined {
  switch (field.type) {
    case 'string':
      if (typeof value !== 'string') return 'must be a string'
      if (value.length > 10_000) return 'is too long'
      break
    case 'url': {
      if (typeof value !== 'string') return 'must be a URL'
      let url: URL
      try {
        url = new URL(value)
      } catch {
        return 'must be a valid URL'
      }
      if (url.protocol !== 'https:' && url.protocol !== 'http:') return 'must be an https URL'
      break
    }
    case 'number':
      if (typeof value !== 'number' || !Number.isFinite(value)) return 'must be a number'
      break
    case 'boolean':
      if (typeof value !== 'boolean') return 'must be true or false'
      break
  }
  if (field.pattern && typeof value === 'string' && !new RegExp(field.pattern).test(value)) {
    return 'has an invalid format'
  }
  return undefined
}

/**
 * URL fields are checked against the outbound address policy when saved (and again at every call), so a
 * credential pointing at a private address is refused up front with the reason. A host that does not resolve
 * is let through here: a `baseUrl` override may mean it is never called (a chat webhook URL behind a proxy),
 * and when it is, verification reports it.
 */
export async function checkCredentialUrls(
  http: HttpClient,
  schema: CredentialSchema,
  credentials: Credentials,
): Promise<void> {
  const errors = new FieldErrors()
  for (const [name, field] of Object.entries(schema)) {
    const value = credentials[name]
    if (field.type !== 'url' || typeof value !== 'string') continue
    try {
      await http.check(value)
    } catch (err) {
      if (!(err instanceof UnsafeUrlError)) throw err
      if (err.unresolved) continue
      errors.add(`credentials.${name}`, `The credentials.${name} URL ${err.message}.`)
    }
  }
  errors.throwIfAny()
}

/** The non-sensitive fields, kept in plain JSON for display. */
export function publicPart(schema: CredentialSchema, credentials: Credentials): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const [name, field] of Object.entries(schema)) {
    if (!field.sensitive && credentials[name] !== undefined) out[name] = credentials[name]
  }
  return out
}

/**
 * The sensitive credential values (fields not marked `sensitive: false`), longest first: what to scrub from any
 * text that leaves a connector call. A sensitive URL (a chat webhook) is a secret by its path, and vendors echo
 * paths in their errors, so its path and its long path segments are scrubbed too.
 */
export function secretValues(schema: CredentialSchema | undefined, credentials: Credentials): string[] {
  const values = Object.entries(credentials)
    .filter(([name]) => schema?.[name]?.sensitive !== false)
    .map(([, v]) => v)
    .filter((v): v is string => typeof v === 'string' && v.length >= 4)
  const out = new Set<string>()
  for (const v of values) {
    out.add(v)
    out.add(encodeURIComponent(v))
    if (/^https?:\/\//i.test(v)) {
      try {
        const url = new URL(v)
        if (url.pathname.length > 1) out.add(`${url.pathname}${url.search}`).add(url.pathname)
        for (const segment of url.pathname.split('/')) if (segment.length >= 12) out.add(segment)
        if (url.search.length > 1) out.add(url.search.slice(1))
      } catch {
        // not a URL after all
      }
    }
  }
  return [...out].filter((s) => s.length >= 4).sort((a, b) => b.length - a.length)
}

export function sealCredentials(vault: Vault, id: string, credentials: Credentials): string {
  return vault.sealJson(credentials, { ...CREDENTIALS_SEAL, id })
}

export function openCredentials(vault: Vault, id: string, sealed: string): Credentials {
  return vault.openJson<Credentials>(sealed, { ...CREDENTIALS_SEAL, id })
}

export function sameCredentials(a: Credentials, b: Credentials): boolean {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)])
  for (const k of keys) if (a[k] !== b[k]) return false
  return true
}
