import type { z } from 'zod'
import type { Config } from '../config.ts'
import type { AppContext } from '../context.ts'

/** The job being run, as its handler sees it. */
export interface JobInfo {
  id: string
  kind: string
  /** 1 for the first attempt. */
  attempt: number
  maxAttempts: number
  /** When it was due. */
  runAt: Date
}

/**
 * A kind of background job: a zod schema for its payload, and what to do. A payload names what to work on
 * (ids, never secrets; enqueueing a payload with a secret-named field throws). The handler resolves when done;
 * if it throws, the job is tried again after `backoffMs` (or the `retryAfterMs` of a `RetryJob`) until
 * `maxAttempts` attempts have been made, then it is `failed`. A `PermanentJobError` fails it at once.
 */
export interface JobDefinition<S extends z.ZodType = z.ZodType> {
  kind: string
  payload: S
  run(ctx: AppContext, payload: z.output<S>, job: JobInfo): Promise<void>
  /** Default 5. */
  maxAttempts?: number
  /** How long a worker owns a claimed job before another may take it over. Default 5 minutes. */
  leaseMs?: number
  /** Delay before attempt `attempt + 1`. Default 30 s doubling per attempt, at most 1 hour. */
  backoffMs?(attempt: number): number
  /** Jobs of one group share a concurrency limit (e.g. one vendor), so a slow group cannot take every slot. */
  group?(payload: z.output<S>): string | undefined
}

// biome-ignore lint/suspicious/noExplicitAny: a catalog holds definitions of every payload type
export type AnyJobDefinition = JobDefinition<any>

/** Declares a job kind with its payload schema; add the result to `JOBS` in `src/wiring.ts`. */
export function defineJob<S extends z.ZodType>(def: JobDefinition<S>): JobDefinition<S> {
  return def
}

/** A periodic task: every `intervalMs`, one job of `job` with `payload` is enqueued (once across processes). */
export interface ScheduleDefinition {
  name: string
  job: AnyJobDefinition
  payload: unknown
  /** 0 turns the schedule off. */
  intervalMs(config: Config): number
}

export function defineSchedule<S extends z.ZodType>(def: {
  name: string
  job: JobDefinition<S>
  payload: z.input<S>
  intervalMs(config: Config): number
}): ScheduleDefinition {
  return def
}

/** Try again later, after `retryAfterMs` when given (a vendor's Retry-After), else the job's backoff. */
export class RetryJob extends Error {
  override name = 'RetryJob'
  constructor(
    message: string,
    readonly retryAfterMs?: number,
  ) {
    super(message)
  }
}

/** Do not try again: the job can never succeed as it stands. */
export class PermanentJobError extends Error {
  override name = 'PermanentJobError'
}

export const DEFAULT_MAX_ATTEMPTS = 5
export const DEFAULT_LEASE_MS = 5 * 60_000

export function defaultBackoffMs(attempt: number): number {
  return Math.min(30_000 * 2 ** Math.max(0, attempt - 1), 60 * 60_000)
}
