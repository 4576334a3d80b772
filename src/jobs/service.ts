import type { AppContext } from '../context.ts'
import type { Service } from '../lib/service.ts'
import type { AnyJobDefinition, ScheduleDefinition } from './define.ts'
import { type JobOutcome, JobRunner } from './runner.ts'
import { Scheduler } from './scheduler.ts'
import { JOBS_CHANNEL } from './store.ts'

export interface JobServiceOptions {
  /** Every job kind this worker runs and every schedule it keeps: `WIRED_JOBS` in wiring.ts, or a test's own. */
  catalog: readonly AnyJobDefinition[]
  schedules: readonly ScheduleDefinition[]
  concurrency?: number
  groupConcurrency?: number
  /** How often an idle worker looks for due work; NOTIFY wakes it sooner. Default 1 s. */
  pollMs?: number
  workerId?: string
}

export interface JobRunSummary {
  completed: number
  retrying: number
  failed: number
  /** Kinds of the jobs that ran, in the order they settled. */
  kinds: string[]
}

// Bounds runDue when jobs keep enqueueing due work, so a runaway job cannot spin a test forever.
const MAX_ROUNDS = 10_000

/**
 * The background side of a Patchbay process: the scheduler's periodic tasks and the job runner. In production
 * `start()` polls (and wakes on NOTIFY); tests call `runDue()`, which runs everything due at the injected
 * clock's now and returns when nothing due is left.
 */
export class JobService implements Service {
  readonly name = 'jobs'
  readonly runner: JobRunner
  readonly scheduler: Scheduler
  readonly #pollMs: number
  #loop: Promise<void> | undefined
  #stopping = false
  #wake: (() => void) | undefined
  #unlisten: (() => Promise<void>) | undefined

  constructor(
    private readonly ctx: AppContext,
    opts: JobServiceOptions,
  ) {
    this.runner = new JobRunner(ctx, {
      catalog: opts.catalog,
      concurrency: opts.concurrency ?? ctx.config.PATCHBAY_JOB_CONCURRENCY,
      groupConcurrency: opts.groupConcurrency ?? ctx.config.PATCHBAY_JOB_GROUP_CONCURRENCY,
      ...(opts.workerId ? { workerId: opts.workerId } : {}),
    })
    this.scheduler = new Scheduler(ctx, opts.schedules)
    this.#pollMs = opts.pollMs ?? 1000
  }

  /** Runs every due schedule and job, including jobs those enqueue for now, until nothing due is left. */
  async runDue(): Promise<JobRunSummary> {
    const summary: JobRunSummary = { completed: 0, retrying: 0, failed: 0, kinds: [] }
    const off = this.runner.onSettled((job, outcome: JobOutcome) => {
      summary[outcome]++
      summary.kinds.push(job.kind)
    })
    try {
      for (let round = 0; round < MAX_ROUNDS; round++) {
        await this.scheduler.runDue()
        const settledBefore = this.runner.settled
        const claimed = await this.runner.fill()
        if (this.runner.running === 0) {
          // Jobs that finished while the claim was under way may have freed room it did not see: look again.
          if (claimed === 0 && this.runner.settled === settledBefore) break
          continue
        }
        await this.runner.whenAnySettles()
      }
      await this.runner.drain()
    } finally {
      off()
    }
    return summary
  }

  async start(): Promise<void> {
    await this.scheduler.ensure()
    this.runner.onSettled(() => this.#wake?.())
    try {
      this.#unlisten = await this.ctx.db.listen(JOBS_CHANNEL, () => this.#wake?.())
    } catch (err) {
      this.ctx.log.warn({ err }, 'could not LISTEN for new jobs; polling only')
    }
    this.#loop = this.#run()
    this.ctx.log.info({ workerId: this.runner.workerId }, 'job workers started')
  }

  async #run(): Promise<void> {
    while (!this.#stopping) {
      try {
        await this.scheduler.runDue()
        await this.runner.fill()
      } catch (err) {
        this.ctx.log.error({ err }, 'job polling failed; trying again')
      }
      if (this.#stopping) break
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, this.#pollMs)
        function done() {
          clearTimeout(timer)
          resolve()
        }
        this.#wake = done
      })
      this.#wake = undefined
    }
  }

  async stop(): Promise<void> {
    this.#stopping = true
    this.#wake?.()
    await this.#loop
    await this.#unlisten?.().catch(() => undefined)
    await this.runner.drain()
  }
}
