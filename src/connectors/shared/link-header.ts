/**
 * The targets of an RFC 8288 `Link` header by relation, e.g. `<https://x/api?page=2>; rel="next"` → `{ next: … }`.
 * ConnectWise, ServiceNow and Freshservice announce their next page this way.
 */
export function parseLinkHeader(value: string | undefined): Record<string, string> {
  const out: Record<string, string> = {}
  if (!value) return out
  for (const part of value.split(/,(?=\s*<)/)) {
    const m = /^\s*<([^>]*)>\s*;(.*)$/.exec(part)
    if (!m) continue
    const [, target, params] = m as unknown as [string, string, string]
    const rel = /(?:^|;)\s*rel\s*=\s*"?([^";]+)"?/i.exec(params)?.[1]
    if (!rel) continue
    for (const r of rel.trim().split(/\s+/)) out[r.toLowerCase()] ??= target
  }
  return out
}
