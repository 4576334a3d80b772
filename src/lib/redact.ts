import { REDACTED } from './scrub.ts'

// Vendor texts are scrubbed by value, in every encoded form: see scrub.ts.
export { REDACTED, scrubSecrets } from './scrub.ts'

/**
 * Field names that carry secrets anywhere in Patchbay: credentials, signing secrets, tokens, chat webhook
 * URLs (whose path is the credential). Used by the logger's redaction and by audit summaries.
 */
const SECRET_KEY_RE =
  /^(secret|password|passwd|token|apiKey|api_key|apiToken|api_token|privateKey|private_key|clientSecret|client_secret|authToken|auth_token|accessToken|access_token|refreshToken|refresh_token|webhookUrl|webhook_url|credentials|authorization|cookie|integrationCode|integration_code|signingSecret|signing_secret|secret_key|secretKey|webhook_secret|webhookSecret)$/i

export function isSecretKey(key: string): boolean {
  return SECRET_KEY_RE.test(key)
}

/**
 * The paths of every secret-named field in `value`, at any depth (`nested.token`, `list.0.password`), except
 * the top-level names in `allowed`.
 */
export function secretNamedPaths(value: unknown, allowed: ReadonlySet<string> = new Set()): string[] {
  const found: string[] = []
  const walk = (v: unknown, path: string[], depth: number) => {
    if (depth > 64 || v === null || typeof v !== 'object') return
    for (const [k, child] of Array.isArray(v) ? v.entries() : Object.entries(v)) {
      const key = String(k)
      const here = [...path, key]
      if (typeof k === 'string' && isSecretKey(k) && !(path.length === 0 && allowed.has(k)))
        found.push(here.join('.'))
      else walk(child, here, depth + 1)
    }
  }
  walk(value, [], 0)
  return found
}

/** A deep copy of `value` with every secret-named field replaced. Safe to log or store in an audit entry. */
export function redact(value: unknown, depth = 0): unknown {
  if (depth > 8) return REDACTED
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1))
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(value)) {
      out[k] = isSecretKey(k) ? (v === null || v === undefined ? v : REDACTED) : redact(v, depth + 1)
    }
    return out
  }
  return value
}
