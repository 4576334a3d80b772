import { randomBytes } from 'node:crypto'
import { and, eq, gt, lte } from 'drizzle-orm'
import { newId } from '../lib/ids.ts'
import type { Executor } from './db.ts'
import { consoleSessions } from './schema/console.ts'
import { hashToken } from './tenancy.ts'

export type ConsoleSession = typeof consoleSessions.$inferSelect

/** A new session for an API key; the token is returned once (for the cookie) and only its hash is stored. */
export async function createConsoleSession(db: Executor, keyId: string, now: Date, ttlMs: number) {
  const token = `pbs_${randomBytes(32).toString('base64url')}`
  const csrfToken = randomBytes(24).toString('base64url')
  const expiresAt = new Date(now.getTime() + ttlMs)
  await db.insert(consoleSessions).values({
    id: newId(now.getTime()),
    tokenHash: hashToken(token),
    keyId,
    csrfToken,
    createdAt: now,
    expiresAt,
  })
  // Expired sessions of anyone are dropped here rather than by a job: sign-ins are rare and the table small.
  await db.delete(consoleSessions).where(lte(consoleSessions.expiresAt, now))
  return { token, csrfToken, expiresAt }
}

/** The unexpired session a cookie token names. */
export async function findConsoleSession(
  db: Executor,
  token: string,
  now: Date,
): Promise<ConsoleSession | undefined> {
  const [row] = await db
    .select()
    .from(consoleSessions)
    .where(and(eq(consoleSessions.tokenHash, hashToken(token)), gt(consoleSessions.expiresAt, now)))
  return row
}

export async function deleteConsoleSession(db: Executor, token: string): Promise<void> {
  await db.delete(consoleSessions).where(eq(consoleSessions.tokenHash, hashToken(token)))
}
