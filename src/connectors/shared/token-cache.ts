import { createHash } from 'node:crypto'
import type { CachedToken, TokenCache } from '../types.ts'

/**
 * A stable key for a vendor account: a SHA-256 of what identifies it (vendor, host, client id or API key…).
 * Token caches and request budgets are keyed by this, so no credential is ever kept or stored in clear.
 */
export function accountKey(...parts: readonly string[]): string {
  return createHash('sha256').update(parts.join('\u0000')).digest('hex')
}

/**
 * The in-process TokenCache: tokens live in memory only (never in the database), until they expire. Keys are
 * hashed again on the way in, in case a caller passed something derived from a secret. Bounded: when full, expired
 * entries go first, then the oldest.
 */
export class MemoryTokenCache implements TokenCache {
  readonly #tokens = new Map<string, CachedToken>()
  constructor(
    private readonly now: () => number,
    private readonly limit = 10_000,
  ) {}

  async get(key: string): Promise<CachedToken | undefined> {
    const k = accountKey('token', key)
    const hit = this.#tokens.get(k)
    if (!hit) return undefined
    if (hit.expiresAt <= this.now()) {
      this.#tokens.delete(k)
      return undefined
    }
    return hit
  }

  async set(key: string, token: CachedToken): Promise<void> {
    if (this.#tokens.size >= this.limit) {
      const now = this.now()
      for (const [k, t] of this.#tokens) if (t.expiresAt <= now) this.#tokens.delete(k)
      if (this.#tokens.size >= this.limit) {
        const oldest = this.#tokens.keys().next()
        if (!oldest.done) this.#tokens.delete(oldest.value)
      }
    }
    this.#tokens.set(accountKey('token', key), token)
  }

  async drop(key: string): Promise<void> {
    this.#tokens.delete(accountKey('token', key))
  }

  get size(): number {
    return this.#tokens.size
  }
}
