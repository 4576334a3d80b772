import { sql } from 'drizzle-orm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { defineJob, defineSchedule, PermanentJobError, RetryJob } from '../src/jobs/define.ts'
import { Scheduler } from '../src/jobs/scheduler.ts'
import { JobService } from '../src/jobs/service.ts'
import { enqueueJob } from '../src/jobs/store.ts'
import { rows } from '../src/store/db.ts'
import { jobs as jobsTable } from '../src/store/schema/jobs.ts'
import { createHarness, type Harness } from './harness.ts'

let h: Harness
beforeAll(async () => {
  h = await createHarness()
})
afterAll(() => h.close())

/** Runs of each job id, in order, for the handlers below. */
const runs = new Map<string, number>()
function ran(key: string) {
  runs.set(key, (runs.get(key) ?? 0) + 1)
}

/** Handlers wait on these gates when the payload says so; tests open them. */
const gates = new Map<string, { open: () => void; promise: Promise<void> }>()
function gate(key: string) {
  let open!: () => void
  const promise = new Promise<void>((r) => {
    open = r
  })
  gates.set(key, { open, promise })
  return open
}

const echo = defineJob({
  kind: 'test.echo',
  payload: z.object({
    key: z.string(),
    failTimes: z.number().int().default(0),
    wait: z.boolean().default(false),
  }),
  maxAttempts: 3,
  leaseMs: 60_000,
  backoffMs: (attempt) => attempt * 10_000,
  group: (p) => (p.key.startsWith('g') ? p.key.slice(0, 2) : undefined),
  run: async (_ctx, p, job) => {
    ran(p.key)
    if (p.wait) await gates.get(p.key)?.promise
    if (job.attempt <= p.failTimes) throw new Error(`failure ${job.attempt} of ${p.key}`)
  },
})

const special = defineJob({
  kind: 'test.special',
  payload: z.object({ key: z.string(), mode: z.enum(['retry-after', 'permanent']) }),
  maxAttempts: 5,
  run: async (_ctx, p) => {
    ran(p.key)
    if (p.mode === 'retry-after') throw new RetryJob('rate limited', 5 * 60_000)
    throw new PermanentJobError('this can never work')
  },
})

const catalog = [echo, special]
const service = (workerId: string, opts: { concurrency?: number; groupConcurrency?: number } = {}) =>
  new JobService(h.ctx, { catalog, schedules: [], workerId, ...opts })

async function job(key: string) {
  const [row] = await h.ctx.db.orm.select().from(jobsTable).where(sql`${jobsTable.payload}->>'key' = ${key}`)
  return row
}

describe('enqueueing', () => {
  it('validates the payload, refuses secret-named fields, and dedupes while a job is queued', async () => {
    const now = h.clock.now()
    await expect(enqueueJob(h.ctx.db.orm, echo, { key: 1 } as never, now)).rejects.toThrow()
    const loose = defineJob({ kind: 'test.loose', payload: z.looseObject({}), run: async () => {} })
    await expect(enqueueJob(h.ctx.db.orm, loose, { nested: { password: 'p' } }, now)).rejects.toThrow(
      'payload field nested.password looks like a secret',
    )
    const first = await enqueueJob(h.ctx.db.orm, echo, { key: 'dedupe' }, now, { dedupeKey: 'd1' })
    expect(first).toBeDefined()
    expect(await enqueueJob(h.ctx.db.orm, echo, { key: 'dedupe' }, now, { dedupeKey: 'd1' })).toBeUndefined()
    await service('w').runDue()
    expect(await enqueueJob(h.ctx.db.orm, echo, { key: 'dedupe' }, now, { dedupeKey: 'd1' })).toBeDefined()
    await service('w').runDue()
    expect(runs.get('dedupe')).toBe(2)
  })
})

describe('retries', () => {
  it('retries with backoff, then fails after the last attempt with the error kept', async () => {
    await enqueueJob(h.ctx.db.orm, echo, { key: 'flaky', failTimes: 5 }, h.clock.now())
    const jobs = service('w')
    expect(await jobs.runDue()).toMatchObject({ retrying: 1 })
    h.clock.advance(9_999)
    expect((await jobs.runDue()).kinds).toEqual([])
    h.clock.advance(1)
    expect(await jobs.runDue()).toMatchObject({ retrying: 1 })
    h.clock.advance(20_000)
    expect(await jobs.runDue()).toMatchObject({ failed: 1 })
    expect(await job('flaky')).toMatchObject({
      status: 'failed',
      attempts: 3,
      lastError: 'failure 3 of flaky',
    })
    h.clock.advance(3_600_000)
    await jobs.runDue()
    expect(runs.get('flaky')).toBe(3)
  })

  it('succeeds on a later attempt', async () => {
    await enqueueJob(h.ctx.db.orm, echo, { key: 'second-time', failTimes: 1 }, h.clock.now())
    const jobs = service('w')
    await jobs.runDue()
    h.clock.advance(10_000)
    expect(await jobs.runDue()).toMatchObject({ completed: 1 })
    expect(await job('second-time')).toMatchObject({ status: 'completed', attempts: 2, lastError: null })
  })

  it("honours a handler's Retry-After and fails permanent errors at once", async () => {
    await enqueueJob(h.ctx.db.orm, special, { key: 'limited', mode: 'retry-after' }, h.clock.now())
    await enqueueJob(h.ctx.db.orm, special, { key: 'hopeless', mode: 'permanent' }, h.clock.now())
    const jobs = service('w')
    expect(await jobs.runDue()).toMatchObject({ retrying: 1, failed: 1 })
    const limited = await job('limited')
    expect(limited?.runAt.getTime()).toBe(h.clock.now().getTime() + 5 * 60_000)
    expect(await job('hopeless')).toMatchObject({
      status: 'failed',
      attempts: 1,
      lastError: 'this can never work',
    })
  })
})

describe('several workers', () => {
  it('claim each job once, with SKIP LOCKED', async () => {
    for (let i = 0; i < 20; i++) await enqueueJob(h.ctx.db.orm, echo, { key: `many-${i}` }, h.clock.now())
    const a = service('a', { concurrency: 20 })
    const b = service('b', { concurrency: 20 })
    const [na, nb] = await Promise.all([a.runner.fill(), b.runner.fill()])
    expect(na + nb).toBe(20)
    await Promise.all([a.runner.drain(), b.runner.drain()])
    for (let i = 0; i < 20; i++) expect(runs.get(`many-${i}`)).toBe(1)
  })

  it("take over a job whose worker stopped renewing its lease; the first worker's late outcome is ignored", async () => {
    const open = gate('stuck')
    await enqueueJob(h.ctx.db.orm, echo, { key: 'stuck', wait: true }, h.clock.now())
    const a = service('a')
    expect(await a.runner.fill()).toBe(1)
    const b = service('b')
    expect(await b.runner.fill()).toBe(0)
    h.clock.advance(60_001)
    gates.delete('stuck')
    expect(await b.runDue()).toMatchObject({ completed: 1 })
    expect(await job('stuck')).toMatchObject({ status: 'completed', attempts: 2, lockedBy: null })
    open()
    await a.runner.drain()
    expect(await job('stuck')).toMatchObject({ status: 'completed', attempts: 2 })
    expect(runs.get('stuck')).toBe(2)
  })

  it('limit how many jobs of one group run at once, so one slow group leaves room for others', async () => {
    const opens: (() => void)[] = []
    for (let i = 0; i < 5; i++) {
      opens.push(gate(`gA-${i}`))
      await enqueueJob(h.ctx.db.orm, echo, { key: `gA-${i}`, wait: true }, h.clock.now())
    }
    opens.push(gate('gB-0'))
    await enqueueJob(h.ctx.db.orm, echo, { key: 'gB-0', wait: true }, h.clock.now())
    const jobs = service('w', { concurrency: 10, groupConcurrency: 2 })
    await jobs.runner.fill()
    expect(jobs.runner.running).toBe(3)
    expect([0, 1, 2, 3, 4].filter((i) => runs.has(`gA-${i}`))).toHaveLength(2)
    expect(runs.get('gB-0')).toBe(1)
    // Free slots remain, but group A is full: nothing more is claimed until one of its jobs ends.
    await jobs.runner.fill()
    expect(jobs.runner.running).toBe(3)
    for (const open of opens) open()
    const rest = jobs.runDue()
    await rest
    expect([0, 1, 2, 3, 4].map((i) => runs.get(`gA-${i}`))).toEqual([1, 1, 1, 1, 1])
  })
})

describe('schedules', () => {
  it('fire once per tick across processes and skip missed ticks', async () => {
    const tick = defineJob({ kind: 'test.tick', payload: z.object({}), run: async () => ran('tick') })
    const schedule = defineSchedule({ name: 'test.tick', job: tick, payload: {}, intervalMs: () => 60_000 })
    const one = new Scheduler(h.ctx, [schedule])
    const two = new Scheduler(h.ctx, [schedule])
    const count = async () =>
      (
        await rows<{ n: number }>(
          h.ctx.db.orm,
          sql`SELECT count(*)::int AS n FROM jobs WHERE kind = 'test.tick'`,
        )
      )[0]?.n
    const fired = await Promise.all([one.runDue(), two.runDue()])
    expect(fired.reduce((a, b) => a + b, 0)).toBe(1)
    expect(await count()).toBe(1)
    // Not due again until the interval has passed.
    h.clock.advance(59_999)
    expect(await one.runDue()).toBe(0)
    // Due now, but the first tick's job has not run yet: no second job piles up behind it.
    const worker = new JobService(h.ctx, { catalog: [tick], schedules: [schedule], workerId: 't' })
    h.clock.advance(1)
    await worker.runDue()
    expect(await count()).toBe(1)
    expect(runs.get('tick')).toBe(1)
    // Ten intervals later: one run, not ten.
    h.clock.advance(600_000)
    await worker.runDue()
    expect(await count()).toBe(2)
    expect(runs.get('tick')).toBe(2)
    const [row] = await rows<{ next_run_at: Date }>(
      h.ctx.db.orm,
      sql`SELECT next_run_at FROM job_schedules WHERE name = 'test.tick'`,
    )
    expect(new Date(row?.next_run_at as Date).getTime()).toBeGreaterThan(h.clock.now().getTime())
    expect(new Date(row?.next_run_at as Date).getTime() - h.clock.now().getTime()).toBeLessThanOrEqual(60_000)
  })
})
