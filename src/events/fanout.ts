import type { Querier } from '../store/db.ts'

/** A newly stored event, as fan-outs see it. */
export interface StoredEvent {
  orgId: string
  id: string
  type: string
  /** The payload as stored: fan-outs that route by it need not read it back. */
  data: unknown
  occurredAt: Date
}

/**
 * Turns new events into deliveries, inside the ingest transaction: who is subscribed. Each fan-out inserts its
 * own rows (usually one INSERT … SELECT) and returns the event id of every delivery it created.
 */
export interface Fanout {
  readonly name: string
  /**
   * The integration providers this fan-out delivers to, when it delivers only to integrations: it is skipped for
   * a batch whose organizations have none of them, so an organization without integrations costs one query, not
   * one per fan-out.
   */
  providers?(): readonly string[]
  fanOut(q: Querier, events: StoredEvent[], now: Date): Promise<{ orgId: string; eventId: string }[]>
}
