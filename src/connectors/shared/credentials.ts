import type { VerifyResult } from '../types.ts'
import { failedVerify, VendorError } from '../vendor-error.ts'

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

/**
 * The shared helper for the `baseUrl` override every connector accepts: a URL without trailing slash. It takes the
 * parsed credentials (define.ts), whose text is already trimmed and whose blanks are already absent.
 */
export function overrideBase(credentials: { baseUrl?: string | undefined }): string | undefined {
  const v = credentials.baseUrl
  return v ? v.replace(/\/+$/, '') : undefined
}

/** ISO 8601 in UTC, or undefined for values that are not dates. */
export function isoDate(value: unknown): string | undefined {
  if (typeof value !== 'string' && typeof value !== 'number') return undefined
  const d = new Date(value)
  return Number.isNaN(d.getTime()) ? undefined : d.toISOString()
}
