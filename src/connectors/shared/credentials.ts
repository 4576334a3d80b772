import type { Credentials, VerifyResult } from '../types.ts'
import { failedVerify, VendorError } from '../vendor-error.ts'

/** A credential field as a trimmed string; undefined when absent or blank. Numbers are accepted as text. */
export function credential(credentials: Credentials, name: string): string | undefined {
  const v = credentials[name]
  if (typeof v === 'number' && Number.isFinite(v)) return String(v)
  if (typeof v !== 'string') return undefined
  const t = v.trim()
  return t === '' ? undefined : t
}

/**
 * A credential field the connector cannot work without. Its absence is a configuration problem, reported like a
 * vendor's 400 so that nothing retries it.
 */
export function requireCredential(vendor: string, credentials: Credentials, name: string): string {
  const v = credential(credentials, name)
  if (v === undefined) throw new VendorError(`${vendor}: the connection has no "${name}"`, 400)
  return v
}

/** Runs a verification; a VendorError (the vendor's own words, secrets removed) becomes a failed result. */
export async function verifyBy(check: () => Promise<string | undefined>): Promise<VerifyResult> {
  try {
    const account = await check()
    return account ? { ok: true, account } : { ok: true }
  } catch (err) {
    if (err instanceof VendorError) {
      return failedVerify(err)
    }
    throw err
  }
}

/** `https://host[:port][/path]` from a URL or a bare host name; undefined when it cannot be one. */
export function toOrigin(value: string): URL | undefined {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(value) ? value : `https://${value}`
  try {
    return new URL(withScheme)
  } catch {
    return undefined
  }
}

/** The shared helper for the `baseUrl` override every connector accepts: a URL without trailing slash. */
export function overrideBase(credentials: Credentials): string | undefined {
  const v = credential(credentials, 'baseUrl')
  return v ? v.replace(/\/+$/, '') : undefined
}

/** ISO 8601 in UTC, or undefined for values that are not dates. */
export function isoDate(value: unknown): string | undefined {
  if (typeof value !== 'string' && typeof value !== 'number') return undefined
  const d = new Date(value)
  return Number.isNaN(d.getTime()) ? undefined : d.toISOString()
}
