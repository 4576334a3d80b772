import { createHash } from 'node:crypto'
import type { ResourceKind } from '../../resources/kinds.ts'
import type { ResourceKindInfo } from '../types.ts'
import { VendorError } from '../vendor-error.ts'

/** What the resource readers of the vendor connectors share: kind and filter checks, page sizes, cache keys. */

/** The kind as this connector describes it; a 400 naming the kinds it offers when it does not offer this one. */
export function offeredKind(
  vendor: string,
  kinds: readonly ResourceKindInfo[],
  kind: ResourceKind,
): ResourceKindInfo {
  const info = kinds.find((k) => k.kind === kind)
  if (info) return info
  throw new VendorError(
    `${vendor} offers no "${kind}"; it offers ${kinds.map((k) => k.kind).join(', ')}`,
    400,
  )
}

/** Rejects a filter the kind does not document, naming it and the ones it accepts (a 400, never retried). */
export function checkFilters(vendor: string, info: ResourceKindInfo, filter: Record<string, string>): void {
  const known = Object.keys(info.filters ?? {})
  const unknown = Object.keys(filter).filter((name) => !known.includes(name))
  if (unknown.length === 0) return
  const accepted = known.length ? `it accepts ${known.join(', ')}` : 'it accepts none'
  throw new VendorError(
    `${vendor}: ${info.kind} has no filter ${unknown.map((u) => `"${u}"`).join(', ')}; ${accepted}`,
    400,
  )
}

/** A filter value that must be one of `allowed`; undefined when not given. */
export function oneOf<T extends string>(
  vendor: string,
  name: string,
  value: string | undefined,
  allowed: readonly T[],
): T | undefined {
  if (value === undefined) return undefined
  if ((allowed as readonly string[]).includes(value)) return value as T
  throw new VendorError(`${vendor}: filter ${name} must be one of ${allowed.join(', ')}; got "${value}"`, 400)
}

/** The caller's page size within the vendor's 1..max. */
export function pageSize(limit: number, max: number): number {
  return Math.min(Math.max(Math.trunc(limit) || 1, 1), max)
}

/**
 * A cache or budget key for an account: the vendor's name and a hash of what identifies the account (secrets
 * included, so a rotated secret gets its own token), never the secret in clear.
 */
export function accountKey(vendor: string, ...parts: readonly string[]): string {
  const digest = createHash('sha256').update(parts.join('\u0000')).digest('base64url').slice(0, 32)
  return `${vendor}:${digest}`
}
