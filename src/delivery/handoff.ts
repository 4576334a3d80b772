import type { Database } from '../store/db.ts'
import type { ClaimedDelivery } from './types.ts'

/**
 * What an ingest transaction asks for when it hands fresh deliveries straight to this process's worker: queued
 * already leased to `worker` until `leaseUntil`, at most `max` of them, those due by `now`.
 */
export interface HandoffOffer {
  worker: string
  /** The lease end, unique per offer in this process (microseconds), so the ingest finds exactly its own rows. */
  leaseUntil: string
  max: number
}

/** A worker that takes deliveries at ingest (see DeliveryWorker). */
export interface HandoffTaker {
  /** How many fresh deliveries it takes now, reserved until `settle`; undefined when it takes none. */
  offer(now: Date): HandoffOffer | undefined
  /** The ingest is over (committed or not): the reservation ends, and what was committed leased is handed over. */
  settle(offer: HandoffOffer, handed: ClaimedDelivery[]): void
}

// Keyed by the Database object the worker and the API share (the process's one pool), so only an ingest through
// the same database hands off, and a second database (tests) never reaches another's worker.
const takers = new WeakMap<Database, HandoffTaker>()

/** Makes `taker` the one that takes fresh deliveries ingested through `db`; returns the way to stop. */
export function takeHandoffs(db: Database, taker: HandoffTaker): () => void {
  if (takers.has(db)) return () => undefined
  takers.set(db, taker)
  return () => {
    if (takers.get(db) === taker) takers.delete(db)
  }
}

export function handoffTaker(db: Database): HandoffTaker | undefined {
  return takers.get(db)
}

let lastMicros = 0

/**
 * A lease end at `atMs` with microsecond precision, strictly later than any given before in this process and never
 * on a whole millisecond, so it never equals a claim's lease end (a JavaScript Date): the ingest's rows are found
 * by it (with the worker and the transaction), and two ingests, or an ingest and a claim, never find each other's.
 */
export function uniqueLeaseUntil(atMs: number): string {
  lastMicros = Math.max(lastMicros + 1, atMs * 1000 + 1)
  if (lastMicros % 1000 === 0) lastMicros++
  const ms = Math.floor(lastMicros / 1000)
  const micros = lastMicros % 1000
  return new Date(ms).toISOString().replace('Z', `${String(micros).padStart(3, '0')}Z`)
}
