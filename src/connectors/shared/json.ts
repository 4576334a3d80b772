import { VendorError } from '../vendor-error.ts'

/** Defensive readers for vendor JSON, which is typed by the vendor's documentation and nothing else. */
export type Json = Record<string, unknown>

export function obj(v: unknown): Json | undefined {
  return v && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : undefined
}

/** A string, or a finite number as text; undefined otherwise. */
export function str(v: unknown): string | undefined {
  if (typeof v === 'string') return v
  if (typeof v === 'number' && Number.isFinite(v)) return String(v)
  return undefined
}

export function arr(v: unknown): unknown[] {
  return Array.isArray(v) ? v : []
}

/** The body as an object, or a VendorError saying the vendor answered something else (an HTML page, a proxy). */
export function expectObject(vendor: string, data: unknown, what: string): Json {
  const o = obj(data)
  if (o) return o
  const sample = typeof data === 'string' ? `: ${data.replace(/\s+/g, ' ').trim().slice(0, 120)}` : ''
  throw new VendorError(`${vendor} answered ${what} with something other than the API's JSON${sample}`, 502)
}

/** The vendor's main message and its per-field details as one sentence. */
export function joinMessages(
  main: string | undefined,
  details: readonly (string | undefined)[],
): string | undefined {
  const parts = details.filter((d): d is string => !!d && d !== main)
  if (main && parts.length) return `${main}: ${parts.join('; ')}`
  return main ?? (parts.length ? parts.join('; ') : undefined)
}

/**
 * A query string with spaces as %20: some vendors (ConnectWise's conditions, ServiceNow's encoded queries, JQL)
 * put spaces and operators in values, and `+` is read as a literal plus by some of them.
 */
export function withQuery(
  url: string,
  params: Record<string, string | number | boolean | undefined>,
): string {
  const q = new URLSearchParams()
  for (const [k, v] of Object.entries(params)) if (v !== undefined) q.set(k, String(v))
  const s = q.toString().replace(/\+/g, '%20')
  return s ? `${url}${url.includes('?') ? '&' : '?'}${s}` : url
}
