import { and, eq, sql } from 'drizzle-orm'
import type { z } from 'zod'
import { newId } from '../lib/ids.ts'
import { isSecretKey } from '../lib/redact.ts'
import { type Executor, notify, rows } from '../store/db.ts'
import { jobs } from '../store/schema/jobs.ts'
import { DEFAULT_MAX_ATTEMPTS, type JobDefinition } from './define.ts'

export type Job = typeof jobs.$inferSelect

/** Workers LISTEN here; enqueueing NOTIFYs it (delivered when the enqueueing transaction commits). */
export const JOBS_CHANNEL = 'patchbay_jobs'

export interface EnqueueOptions {
  /** Default: now. */
  runAt?: Date
  /** While a job with this key is pending or running, enqueueing another is a no-op. */
  dedupeKey?: string
}

/**
 * Adds a job, in the caller's transaction when given one, so the job exists exactly when the change that
 * needs it does. Returns the job id, or undefined when a job with the same dedupe key is already queued.
 */
export async function enqueueJob<S extends z.ZodType>(
  db: Executor,
  def: JobDefinition<S>,
  payload: z.input<S>,
  now: Date,
  opts: EnqueueOptions = {},
): Promise<string | undefined> {
  const parsed = def.payload.parse(payload) as z.output<S>
  assertNoSecrets(parsed, def.kind)
  const id = newId(now.getTime())
  const inserted = await db
    .insert(jobs)
    .values({
      id,
      kind: def.kind,
      payload: parsed as unknown as Record<string, unknown>,
      status: 'pending',
      runAt: opts.runAt ?? now,
      maxAttempts: def.maxAttempts ?? DEFAULT_MAX_ATTEMPTS,
      dedupeKey: opts.dedupeKey ?? null,
      groupKey: def.group?.(parsed) ?? null,
      createdAt: now,
      updatedAt: now,
    })
    .onConflictDoNothing()
    .returning({ id: jobs.id })
  if (inserted.length === 0) return undefined
  await notify(db, JOBS_CHANNEL, def.kind)
  return id
}

/** Job payloads are stored in plain JSON and logged; a secret-named field is a programming error. */
function assertNoSecrets(value: unknown, kind: string, path = ''): void {
  if (Array.isArray(value)) {
    for (const [i, v] of value.entries()) assertNoSecrets(v, kind, `${path}[${i}]`)
  } else if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      if (isSecretKey(k)) throw new Error(`job "${kind}": payload field ${path}${k} looks like a secret`)
      assertNoSecrets(v, kind, `${path}${k}.`)
    }
  }
}

export interface ClaimRequest {
  workerId: string
  now: Date
  /** How many jobs to claim at most. */
  limit: number
  /** Kinds this worker can run, with each kind's lease. */
  leases: Record<string, number>
  /** Free slots per group for groups that have jobs running here; other groups get `groupLimit`. */
  groupRoom: Record<string, number>
  groupLimit: number
}

/**
 * Claims due jobs: pending ones whose time has come, and running ones whose lease expired (their worker died).
 * Rows locked by another claimer are skipped, not waited for. Each group contributes at most its free slots.
 */
export async function claimJobs(db: Executor, req: ClaimRequest): Promise<Job[]> {
  const kinds = JSON.stringify(Object.keys(req.leases))
  const now = req.now.toISOString()
  const claimed = await rows<Record<string, unknown>>(
    db,
    sql`WITH candidates AS (
          SELECT id, group_key,
                 row_number() OVER (PARTITION BY coalesce(group_key, id::text) ORDER BY run_at, id) AS rn
          FROM jobs
          WHERE ((status = 'pending' AND run_at <= ${now}) OR (status = 'running' AND locked_until <= ${now}))
            AND kind IN (SELECT jsonb_array_elements_text(${kinds}::jsonb))
        ), picked AS (
          SELECT j.id FROM jobs j JOIN candidates c ON c.id = j.id
          WHERE c.rn <= coalesce((${JSON.stringify(req.groupRoom)}::jsonb ->> c.group_key)::int, ${req.groupLimit})
            AND ((j.status = 'pending' AND j.run_at <= ${now}) OR (j.status = 'running' AND j.locked_until <= ${now}))
          ORDER BY j.run_at, j.id
          LIMIT ${req.limit}
          FOR UPDATE OF j SKIP LOCKED
        )
        UPDATE jobs SET
          status = 'running',
          attempts = jobs.attempts + 1,
          locked_by = ${req.workerId},
          locked_until = ${now}::timestamptz
            + ((${JSON.stringify(req.leases)}::jsonb ->> jobs.kind)::bigint * interval '1 millisecond'),
          updated_at = ${now}
        FROM picked WHERE jobs.id = picked.id
        RETURNING jobs.id, jobs.kind, jobs.payload, jobs.status, jobs.run_at, jobs.attempts, jobs.max_attempts,
                  jobs.locked_by, jobs.locked_until, jobs.group_key, jobs.dedupe_key`,
  )
  return claimed.map((r) => ({
    id: r.id as string,
    kind: r.kind as string,
    payload: r.payload,
    status: 'running',
    runAt: new Date(r.run_at as string),
    attempts: r.attempts as number,
    maxAttempts: r.max_attempts as number,
    lockedBy: r.locked_by as string,
    lockedUntil: new Date(r.locked_until as string),
    lastError: null,
    dedupeKey: (r.dedupe_key as string | null) ?? null,
    groupKey: (r.group_key as string | null) ?? null,
    createdAt: req.now,
    updatedAt: req.now,
    finishedAt: null,
  }))
}

const mine = (id: string, workerId: string) =>
  and(eq(jobs.id, id), eq(jobs.lockedBy, workerId), eq(jobs.status, 'running'))

export async function completeJob(db: Executor, id: string, workerId: string, now: Date): Promise<void> {
  await db
    .update(jobs)
    .set({
      status: 'completed',
      lockedBy: null,
      lockedUntil: null,
      lastError: null,
      finishedAt: now,
      updatedAt: now,
    })
    .where(mine(id, workerId))
}

export async function rescheduleJob(
  db: Executor,
  id: string,
  workerId: string,
  runAt: Date,
  error: string,
  now: Date,
): Promise<void> {
  await db
    .update(jobs)
    .set({ status: 'pending', runAt, lockedBy: null, lockedUntil: null, lastError: error, updatedAt: now })
    .where(mine(id, workerId))
}

export async function failJob(
  db: Executor,
  id: string,
  workerId: string,
  error: string,
  now: Date,
): Promise<void> {
  await db
    .update(jobs)
    .set({
      status: 'failed',
      lockedBy: null,
      lockedUntil: null,
      lastError: error,
      finishedAt: now,
      updatedAt: now,
    })
    .where(mine(id, workerId))
}

/** Keeps a long job's lease from expiring while it is still being worked on. */
export async function renewLease(
  db: Executor,
  id: string,
  workerId: string,
  until: Date,
  now: Date,
): Promise<void> {
  await db.update(jobs).set({ lockedUntil: until, updatedAt: now }).where(mine(id, workerId))
}

/** Forgets finished jobs: completed ones after `completedMs`, failed ones after `failedMs`. */
export async function pruneJobs(
  db: Executor,
  now: Date,
  completedMs: number,
  failedMs: number,
): Promise<number> {
  const done = await rows<{ id: string }>(
    db,
    sql`DELETE FROM jobs WHERE (status = 'completed' AND finished_at < ${new Date(now.getTime() - completedMs)})
          OR (status = 'failed' AND finished_at < ${new Date(now.getTime() - failedMs)}) RETURNING id`,
  )
  return done.length
}
