import { sql } from 'drizzle-orm'
import {
  index,
  integer,
  jsonb,
  pgEnum,
  pgTable,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core'

export const jobStatus = pgEnum('job_status', ['pending', 'running', 'completed', 'failed'])

const at = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' })

/**
 * Durable background work. Workers claim due rows with `FOR UPDATE SKIP LOCKED` and hold them under a lease
 * (`locked_until`); a worker that dies leaves its lease to expire and another worker takes the job over.
 * Payloads name what to work on (ids), never secrets: a job loads credentials when it runs.
 */
export const jobs = pgTable(
  'jobs',
  {
    id: uuid('id').primaryKey(),
    kind: text('kind').notNull(),
    payload: jsonb('payload').notNull(),
    status: jobStatus('status').notNull(),
    runAt: at('run_at').notNull(),
    /** Attempts started so far, counted when a worker claims the job. */
    attempts: integer('attempts').notNull().default(0),
    maxAttempts: integer('max_attempts').notNull(),
    lockedBy: text('locked_by'),
    lockedUntil: at('locked_until'),
    lastError: text('last_error'),
    /** At most one pending or running job per key (a schedule's tick, one probe per integration). */
    dedupeKey: text('dedupe_key'),
    /** Jobs sharing a group (e.g. one vendor) are limited in how many run at once, so one slow vendor cannot take every worker slot. */
    groupKey: text('group_key'),
    createdAt: at('created_at').notNull(),
    updatedAt: at('updated_at').notNull(),
    finishedAt: at('finished_at'),
  },
  (t) => [
    index('jobs_due_idx').on(t.status, t.runAt),
    uniqueIndex('jobs_dedupe_idx')
      .on(t.dedupeKey)
      .where(sql`${t.dedupeKey} IS NOT NULL AND ${t.status} IN ('pending', 'running')`),
    index('jobs_finished_idx').on(t.finishedAt),
  ],
)

/**
 * Periodic tasks. Each row is claimed with `FOR UPDATE SKIP LOCKED` when due, so with many worker processes a
 * tick enqueues its job exactly once, and `next_run_at` moves past now (missed ticks are skipped, not replayed).
 */
export const jobSchedules = pgTable('job_schedules', {
  name: text('name').primaryKey(),
  intervalMs: integer('interval_ms').notNull(),
  nextRunAt: at('next_run_at').notNull(),
  lastRunAt: at('last_run_at'),
  updatedAt: at('updated_at').notNull(),
})
