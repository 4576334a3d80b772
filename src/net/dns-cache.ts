/**
 * DNS answers kept for a fixed time, at most `maxEntries` of them. Every entry lives equally long, so the map's
 * insertion order (a refreshed entry is moved to the end) is also expiry order: expired entries are dropped from
 * the front on every write, and when the cap is reached the entry closest to expiry goes first. Without this,
 * every host ever called (one per customer endpoint, for months) stayed in memory.
 */
export class DnsCache {
  readonly #entries = new Map<string, { addresses: string[]; expires: number }>()

  constructor(
    readonly ttlMs: number,
    readonly maxEntries: number,
  ) {}

  get size(): number {
    return this.#entries.size
  }

  get(host: string, nowMs: number): string[] | undefined {
    const entry = this.#entries.get(host)
    if (!entry) return undefined
    if (entry.expires > nowMs) return entry.addresses
    this.#entries.delete(host)
    return undefined
  }

  set(host: string, addresses: string[], nowMs: number): void {
    if (this.ttlMs <= 0 || this.maxEntries <= 0) return
    this.#entries.delete(host)
    this.#entries.set(host, { addresses, expires: nowMs + this.ttlMs })
    for (const [key, entry] of this.#entries) {
      if (entry.expires > nowMs && this.#entries.size <= this.maxEntries) break
      this.#entries.delete(key)
    }
  }
}
