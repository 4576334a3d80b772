import { randomBytes } from 'node:crypto'
import { hostname } from 'node:os'
import type { AppContext } from '../context.ts'
import {
  type AnyJobDefinition,
  DEFAULT_LEASE_MS,
  defaultBackoffMs,
  type JobInfo,
  PermanentJobError,
  RetryJob,
} from './define.ts'
import { claimJobs, completeJob, failJob, type Job, renewLease, rescheduleJob } from './store.ts'

export type JobOutcome = 'completed' | 'retrying' | 'failed'

export interface RunnerOptions {
  catalog: readonly AnyJobDefinition[]
  /** Jobs running at once in this process. */
  concurrency: number
  /** Jobs of one group (one vendor) running at once in this process. */
  groupConcurrency: number
  workerId?: string
}

const MAX_ERROR_CHARS = 2000

/**
 * Runs claimed jobs with bounded concurrency. Each job runs on its own: a slow one holds only its slot (and
 * its group's), while `fill()` keeps claiming into free slots. Finishing writes are guarded by the worker id,
 * so a worker whose lease was taken over cannot overwrite the new owner's outcome.
 */
export class JobRunner {
  readonly workerId: string
  readonly #defs: Map<string, AnyJobDefinition>
  readonly #inflight = new Map<string, Promise<void>>()
  readonly #groups = new Map<string, number>()
  readonly #listeners = new Set<(job: Job, outcome: JobOutcome) => void>()
  #settled = 0

  constructor(
    private readonly ctx: AppContext,
    private readonly opts: RunnerOptions,
  ) {
    this.workerId = opts.workerId ?? `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`
    this.#defs = new Map()
    for (const def of opts.catalog) {
      if (this.#defs.has(def.kind)) throw new Error(`two job definitions share the kind "${def.kind}"`)
      this.#defs.set(def.kind, def)
    }
  }

  get running(): number {
    return this.#inflight.size
  }

  /** How many job attempts have ended in this runner so far. */
  get settled(): number {
    return this.#settled
  }

  /** Called after every job attempt ends, with how it ended. Returns the unsubscribe function. */
  onSettled(fn: (job: Job, outcome: JobOutcome) => void): () => void {
    this.#listeners.add(fn)
    return () => this.#listeners.delete(fn)
  }

  /** Claims due jobs into the free slots and starts them. Returns how many were started. */
  async fill(): Promise<number> {
    const free = this.opts.concurrency - this.#inflight.size
    if (free <= 0) return 0
    const leases: Record<string, number> = {}
    for (const [kind, def] of this.#defs) leases[kind] = def.leaseMs ?? DEFAULT_LEASE_MS
    const groupRoom: Record<string, number> = {}
    for (const [group, n] of this.#groups) groupRoom[group] = Math.max(0, this.opts.groupConcurrency - n)
    const claimed = await claimJobs(this.ctx.db.orm, {
      workerId: this.workerId,
      now: this.ctx.clock.now(),
      limit: free,
      leases,
      groupRoom,
      groupLimit: this.opts.groupConcurrency,
    })
    for (const job of claimed) this.#start(job)
    return claimed.length
  }

  /** Resolves when any running job finishes (at once when none is running). */
  async whenAnySettles(): Promise<void> {
    if (this.#inflight.size === 0) return
    await Promise.race(this.#inflight.values())
  }

  /** Waits for every running job. */
  async drain(): Promise<void> {
    while (this.#inflight.size > 0) await Promise.all(this.#inflight.values())
  }

  #start(job: Job): void {
    const group = job.groupKey
    if (group) this.#groups.set(group, (this.#groups.get(group) ?? 0) + 1)
    const done = this.#run(job)
      .catch((err: unknown) => {
        this.ctx.log.error({ job: job.id, kind: job.kind, err }, 'job runner error')
        return 'failed' as const
      })
      .then((outcome) => {
        this.#inflight.delete(job.id)
        this.#settled++
        if (group) {
          const left = (this.#groups.get(group) ?? 1) - 1
          if (left > 0) this.#groups.set(group, left)
          else this.#groups.delete(group)
        }
        for (const fn of this.#listeners) fn(job, outcome)
      })
    this.#inflight.set(job.id, done)
  }

  async #run(job: Job): Promise<JobOutcome> {
    const { ctx, workerId } = this
    const db = ctx.db.orm
    const log = ctx.log.child({ job: job.id, kind: job.kind, attempt: job.attempts })
    const def = this.#defs.get(job.kind)
    const fail = async (message: string): Promise<JobOutcome> => {
      await failJob(db, job.id, workerId, message, ctx.clock.now())
      log.warn({ error: message }, 'job failed')
      return 'failed'
    }
    if (!def) return fail(`no handler for job kind "${job.kind}"`)
    if (job.attempts > job.maxAttempts) {
      return fail(`gave up after ${job.maxAttempts} attempts (the last worker stopped before finishing)`)
    }
    const parsed = def.payload.safeParse(job.payload)
    if (!parsed.success) return fail(`invalid payload: ${parsed.error.message}`)
    const info: JobInfo = {
      id: job.id,
      kind: job.kind,
      attempt: job.attempts,
      maxAttempts: job.maxAttempts,
      runAt: job.runAt,
    }
    const leaseMs = def.leaseMs ?? DEFAULT_LEASE_MS
    const heartbeat = setInterval(
      () => {
        const now = ctx.clock.now()
        renewLease(db, job.id, workerId, new Date(now.getTime() + leaseMs), now).catch((err: unknown) =>
          log.warn({ err }, 'could not renew job lease'),
        )
      },
      Math.max(1000, Math.floor(leaseMs / 3)),
    )
    heartbeat.unref()
    try {
      await def.run(ctx, parsed.data, info)
    } catch (err) {
      clearInterval(heartbeat)
      const message = (err instanceof Error ? err.message : String(err)).slice(0, MAX_ERROR_CHARS)
      if (err instanceof PermanentJobError || job.attempts >= job.maxAttempts) return fail(message)
      const backoff = (def.backoffMs ?? defaultBackoffMs)(job.attempts)
      const delay =
        err instanceof RetryJob && err.retryAfterMs !== undefined
          ? Math.max(err.retryAfterMs, backoff)
          : backoff
      const now = ctx.clock.now()
      await rescheduleJob(db, job.id, workerId, new Date(now.getTime() + delay), message, now)
      log.info({ error: message, retryInMs: delay }, 'job will be retried')
      return 'retrying'
    }
    clearInterval(heartbeat)
    await completeJob(db, job.id, workerId, ctx.clock.now())
    log.debug('job completed')
    return 'completed'
  }
}
