import { createHash } from 'node:crypto'
import { sql } from 'drizzle-orm'
import { type Executor, rows } from './db.ts'

/** How long a key is remembered: a repeat after this runs as a new request. */
export const IDEMPOTENCY_TTL_MS = 24 * 60 * 60_000

/**
 * Repeats waiting for a running first request LISTEN here; completing or releasing a key NOTIFYs its topic
 * (delivered when that statement commits), so a waiting repeat answers at once instead of at its next poll.
 */
export const IDEMPOTENCY_CHANNEL = 'patchbay_idempotency'

/**
 * A key's NOTIFY payload: a digest of the API key id and the key, so the payload has a fixed, short length and
 * other listeners on the database learn nothing of the caller's keys.
 */
export function idempotencyTopic(apiKeyId: string, key: string): string {
  return createHash('sha256').update(`${apiKeyId}\n${key}`).digest('hex')
}

export interface StoredResponse {
  status: number
  contentType: string | null
  body: string
}

export type Claim =
  /** This request is the first (or takes over one whose process died): run it, then `completeIdempotent`. */
  | { kind: 'owner' }
  /** The first finished: replay its response. */
  | { kind: 'done'; response: StoredResponse }
  /** The first is still running. */
  | { kind: 'running' }
  /** The key was used for a different request (method, path or body). */
  | { kind: 'mismatch' }

/**
 * Claims `key` for this request in one upsert: a new key, one older than the TTL, or one whose owner's lease ran
 * out (its process died mid-request) becomes this request's; otherwise the row as it stands says what to do.
 */
export async function claimIdempotencyKey(
  db: Executor,
  o: { apiKeyId: string; key: string; requestHash: string; now: Date; leaseMs: number },
): Promise<Claim> {
  const expired = new Date(o.now.getTime() - IDEMPOTENCY_TTL_MS)
  const lockedUntil = new Date(o.now.getTime() + o.leaseMs)
  const [mine] = await rows<{ owner: boolean }>(
    db,
    sql`INSERT INTO idempotency_keys AS k (api_key_id, key, request_hash, state, created_at, locked_until)
        VALUES (${o.apiKeyId}, ${o.key}, ${o.requestHash}, 'running', ${o.now}, ${lockedUntil})
        ON CONFLICT (api_key_id, key) DO UPDATE SET
          request_hash = EXCLUDED.request_hash, state = 'running', response_status = NULL,
          response_type = NULL, response_body = NULL, created_at = EXCLUDED.created_at,
          locked_until = EXCLUDED.locked_until
        WHERE k.created_at <= ${expired}
           OR (k.state = 'running' AND k.locked_until <= ${o.now} AND k.request_hash = EXCLUDED.request_hash)
        RETURNING true AS owner`,
  )
  if (mine) return { kind: 'owner' }
  const [row] = await rows<{
    request_hash: string
    state: string
    response_status: number | null
    response_type: string | null
    response_body: string | null
  }>(
    db,
    sql`SELECT request_hash, state, response_status, response_type, response_body FROM idempotency_keys
        WHERE api_key_id = ${o.apiKeyId} AND key = ${o.key}`,
  )
  // Released between the two statements (the first failed): claim again.
  if (!row) return claimIdempotencyKey(db, o)
  if (row.request_hash !== o.requestHash) return { kind: 'mismatch' }
  if (row.state !== 'done') return { kind: 'running' }
  return {
    kind: 'done',
    response: {
      status: row.response_status ?? 200,
      contentType: row.response_type,
      body: row.response_body ?? '',
    },
  }
}

/** Stores the owner's response for repeats to replay. */
export async function completeIdempotencyKey(
  db: Executor,
  o: { apiKeyId: string; key: string; response: StoredResponse },
): Promise<void> {
  await db.execute(
    sql`WITH done AS (
          UPDATE idempotency_keys SET state = 'done', response_status = ${o.response.status},
            response_type = ${o.response.contentType}, response_body = ${o.response.body}
          WHERE api_key_id = ${o.apiKeyId} AND key = ${o.key} AND state = 'running'
          RETURNING 1)
        SELECT pg_notify(${IDEMPOTENCY_CHANNEL}, ${idempotencyTopic(o.apiKeyId, o.key)}) FROM done`,
  )
}

/** Forgets a key whose request failed without a final answer (5xx, 429), so a retry runs it afresh. */
export async function releaseIdempotencyKey(
  db: Executor,
  o: { apiKeyId: string; key: string },
): Promise<void> {
  // A waiting repeat is woken too: it claims the key and runs the request itself.
  await db.execute(
    sql`WITH gone AS (
          DELETE FROM idempotency_keys WHERE api_key_id = ${o.apiKeyId} AND key = ${o.key} AND state = 'running'
          RETURNING 1)
        SELECT pg_notify(${IDEMPOTENCY_CHANNEL}, ${idempotencyTopic(o.apiKeyId, o.key)}) FROM gone`,
  )
}

/** Deletes keys past the TTL; part of the hourly jobs.prune task. */
export async function pruneIdempotencyKeys(db: Executor, now: Date): Promise<number> {
  const result = (await db.execute(
    sql`DELETE FROM idempotency_keys WHERE created_at <= ${new Date(now.getTime() - IDEMPOTENCY_TTL_MS)}`,
  )) as unknown as { rowCount: number | null }
  return result.rowCount ?? 0
}
