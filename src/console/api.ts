/**
 * The console's only way to data: the public API, called in-process with the signed-in key. Whatever a page
 * shows or does is therefore exactly what a script with the same key could see or do.
 */
export type ApiFetch = (
  path: string,
  init: RequestInit,
  env: { consoleKeyId: string },
) => Response | Promise<Response>

// biome-ignore lint/suspicious/noExplicitAny: pages read API bodies loosely, as documented in the OpenAPI document
export type Json = any

export interface ApiResult {
  status: number
  ok: boolean
  body: Json
}

export type Api = (method: string, path: string, body?: unknown) => Promise<ApiResult>

/**
 * `origin` is the console page's own: the API builds addresses from its request's URL (an inbound source's hook
 * URL when PATCHBAY_PUBLIC_URL is unset), which must then be the address the operator reached Patchbay at.
 */
export function apiFor(fetch: ApiFetch, keyId: string, requestId: string, origin = ''): Api {
  return async (method, path, body) => {
    const headers: Record<string, string> = { 'x-request-id': requestId }
    if (body !== undefined) headers['content-type'] = 'application/json'
    const res = await fetch(
      `${origin}/api/v1${path}`,
      { method, headers, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) },
      { consoleKeyId: keyId },
    )
    const text = await res.text()
    let parsed: Json = text
    try {
      parsed = text ? JSON.parse(text) : undefined
    } catch {}
    return { status: res.status, ok: res.ok, body: parsed }
  }
}

/** The query string of the defined, non-empty values. */
export function qs(params: Record<string, string | number | undefined | null>): string {
  const u = new URLSearchParams()
  for (const [k, v] of Object.entries(params))
    if (v !== undefined && v !== null && v !== '') u.set(k, String(v))
  const s = u.toString()
  return s ? `?${s}` : ''
}

/** The API's error text: `error` (Patchbay's shape) or `message` (the SynthesQ shape), with field errors. */
export function errorText(r: ApiResult): string {
  const b = r.body
  if (!b || typeof b !== 'object') return `HTTP ${r.status}`
  const main = String(b.error ?? b.message ?? `HTTP ${r.status}`)
  const fields = b.errors ?? b.details?.fields ?? b.fields
  if (fields && typeof fields === 'object') {
    const parts = Object.entries(fields).map(
      ([k, v]) => `${k}: ${Array.isArray(v) ? v.join(' ') : String(v)}`,
    )
    if (parts.length) return `${main} (${parts.join('; ')})`
  }
  return main
}
