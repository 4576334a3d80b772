/** One mode's run: start Patchbay and the receiver, then the raw limit, throughput, latency and fairness. */
import { randomBytes } from 'node:crypto'
import fs from 'node:fs'
import {
  drain,
  EVENT_TYPE,
  fixedRate,
  LATENCY_EVENT_TYPE,
  type LoadResult,
  type LoadTarget,
  rawLimit,
  Seq,
  saturate,
} from './load.ts'
import { type Mode, Patchbay, type Runner, sqlTraceFile } from './patchbay.ts'
import { type ActivityProfile, PgActivitySampler } from './pg-activity.ts'
import { CpuMeter, type CpuSnapshot, memoryOf, pssMb, serverProcesses } from './procstat.ts'
import {
  type Behaviour,
  type CheckReport,
  type EndpointCounters,
  emptyCheck,
  type LatencyStats,
  type PhaseReport,
  type SentRange,
} from './protocol.ts'
import { Receiver } from './receiver.ts'

export type Scenario = 'raw' | 'throughput' | 'latency' | 'fairness'

export interface BenchOptions {
  runner: Runner
  servedUrl: string | undefined
  profileDir: string | undefined
  scenarios: Set<Scenario>
  /** Steady measuring window of each scenario. */
  windowMs: number
  warmupMs: number
  webhooks: number
  /** Healthy webhooks the latency scenario's events fan out to (the first of the `webhooks`). */
  latencyWebhooks: number
  batch: number
  maxBacklog: number
  rate: number
  tickMs: number
  timeoutMs: number
  sharedOrigin: boolean
  /** Requests in flight per endpoint for the raw limit (Patchbay's per-target limit). */
  rawPerEndpoint: number
  /** Longest wait for a phase's deliveries to arrive after its load stops. */
  drainMs: number
  /** Tally Patchbay's SQL statements (bench/sql-trace.mjs) into this directory. */
  sqlTraceDir: string | undefined
}

export interface Cpu {
  [group: string]: number
}

export interface RawResult {
  deliveriesPerSec: number
  inFlight: number
  cpu: Cpu
  badSignatures: number
}

export interface ThroughputResult {
  deliveriesPerSec: number
  eventsPerSec: number
  /** Healthy deliveries waiting, on average over the window. */
  meanBacklog: number
  windowSeconds: number
  perSecond: number[]
  ingest: LatencyStats
  cpu: Cpu
  drainSeconds: number
  exactlyOnce: CheckReport
  endpoints: EndpointCounters[]
  badSignatures: number
  /** Served PostgreSQL: what the bench database's backends were running (sampled pg_stat_activity). */
  database?: ActivityProfile
}

export interface LatencyResult {
  offeredEventsPerSec: number
  offeredDeliveriesPerSec: number
  deliveredPerSec: number
  keptUp: boolean
  overloaded: boolean
  latency: LatencyStats
  /** Slowest latency (ms) of the events sent in each second of the window: shows stalls apart from a steady tail. */
  worstPerSecond: number[]
  ingest: LatencyStats
  cpu: Cpu
  drainSeconds: number
  exactlyOnce: CheckReport
  endpoints: EndpointCounters[]
  badSignatures: number
}

export interface FairnessResult {
  throughput: ThroughputResult
  latency: LatencyResult
  /** Healthy throughput with the bad endpoints ÷ without. */
  throughputRatio: number
  /** Healthy p99 latency with the bad endpoints ÷ without. */
  p99Ratio: number
}

export interface ProcessMemory {
  role: string
  pid: number
  peakMb: number
  rssMb: number
}

export interface ModeResult {
  mode: Mode
  settings: Record<string, string>
  healthyWebhooks: number
  processes: ProcessMemory[]
  /** Sum of the processes' peak RSS. */
  peakRssMb: number
  raw?: RawResult
  throughput?: ThroughputResult
  /** At `rate` events/s to `latencyWebhooks` webhooks: the latency target. */
  latency?: LatencyResult
  /** At `rate` events/s to every healthy webhook, when that is more than `latencyWebhooks`. */
  latencyAll?: LatencyResult
  fairness?: FairnessResult
  /** Patchbay's throughput ÷ the raw limit. */
  ratioToRaw?: number
  /** Every healthy delivery of the whole run, checked once more at the end (late duplicates show here). */
  exactlyOnce: CheckReport
  badSignatures: number
  seconds: number
  /** With --trace-sql: every statement Patchbay sent, per process, over the whole mode run. */
  sql?: SqlTrace[]
}

export interface SqlStatement {
  statement: string
  count: number
  /** Statements per 1,000 delivery attempts (requests the receiver got from Patchbay). */
  perThousand: number
  ms: number
  meanMs: number
}

export interface SqlTrace {
  role: string
  attempts: number
  statements: SqlStatement[]
}

function readSqlTrace(file: string, role: string, attempts: number): SqlTrace | undefined {
  if (!fs.existsSync(file)) return undefined
  const raw = JSON.parse(fs.readFileSync(file, 'utf8')) as { statement: string; count: number; ms: number }[]
  return {
    role,
    attempts,
    statements: raw.map((r) => ({
      ...r,
      perThousand: attempts > 0 ? (1000 * r.count) / attempts : Number.NaN,
      meanMs: r.ms / r.count,
    })),
  }
}

interface Endpoint {
  index: number
  webhookId: string
  name: string
  behaviour: Behaviour
  url: string
  secret: string
}

const log = (line: string) => console.error(line)

export class ModeRun {
  readonly ranges: SentRange[] = []
  readonly endpoints: Endpoint[] = []
  readonly seq = new Seq()
  #dead: string | undefined
  readonly meter: CpuMeter

  private constructor(
    readonly mode: Mode,
    readonly pb: Patchbay,
    readonly rx: Receiver,
    readonly orgId: string,
    readonly opts: BenchOptions,
  ) {
    for (const r of pb.roles) {
      void r.exited.then((code) => {
        this.#dead = `patchbay ${r.role} exited (${code}) during the run:\n${r.output()}`
      })
    }
    // Served: the backends of Patchbay's database on a shared server. Embedded: the whole server, which is
    // Patchbay's alone (its checkpointer and autovacuum are part of what a delivery costs).
    const database = pb.settings.DATABASE_URL
      ? new URL(pb.settings.DATABASE_URL).pathname.slice(1)
      : undefined
    const postmaster = pb.postmaster
    this.meter = new CpuMeter(
      () => ({
        patchbay: pb.roles.map((r) => r.pid),
        receiver: [rx.pid],
        bench: [process.pid],
        ...(postmaster ? { postgres: serverProcesses(postmaster) } : {}),
      }),
      database,
    )
  }

  static async start(mode: Mode, opts: BenchOptions): Promise<ModeRun> {
    const rx = Receiver.start()
    let pb: Patchbay
    try {
      pb = await Patchbay.start({
        mode,
        runner: opts.runner,
        servedUrl: opts.servedUrl,
        timeoutMs: opts.timeoutMs,
        profileDir: opts.profileDir,
        sqlTraceDir: opts.sqlTraceDir,
      })
    } catch (err) {
      await rx.stop()
      throw err
    }
    try {
      const orgId = await pb.createOrg(`bench ${mode}`)
      const run = new ModeRun(mode, pb, rx, orgId, opts)
      await run.addEndpoints(Array.from({ length: opts.webhooks }, () => 'ok' as const))
      return run
    } catch (err) {
      await pb.stop()
      await rx.stop()
      throw err
    }
  }

  get healthy(): number[] {
    return this.endpoints.filter((e) => e.behaviour === 'ok').map((e) => e.index)
  }

  /** The healthy endpoints the latency scenario's events go to. */
  get latencyHealthy(): number[] {
    return this.healthy.slice(0, this.opts.latencyWebhooks)
  }

  /** The load for every healthy endpoint (EVENT_TYPE), or for the latency scenario's (LATENCY_EVENT_TYPE). */
  target(latencyOnly = false): LoadTarget {
    return {
      pb: this.pb,
      rx: this.rx,
      orgId: this.orgId,
      seq: this.seq,
      fanout: (latencyOnly ? this.latencyHealthy : this.healthy).length,
      type: latencyOnly ? LATENCY_EVENT_TYPE : EVENT_TYPE,
      alive: () => this.#dead === undefined,
    }
  }

  #assertAlive(): void {
    if (this.#dead) throw new Error(this.#dead)
  }

  async addEndpoints(behaviours: Behaviour[]): Promise<void> {
    const specs = behaviours.map((behaviour, i) => ({
      name: `${behaviour === 'ok' ? 'healthy' : behaviour}-${this.endpoints.length + i}`,
      secret: randomBytes(24).toString('base64url'),
      behaviour,
    }))
    const urls = await this.rx.add(specs, this.opts.sharedOrigin)
    for (const [i, spec] of specs.entries()) {
      const url = urls[i] as string
      const measured =
        spec.behaviour !== 'ok' ||
        this.endpoints.filter((e) => e.behaviour === 'ok').length < this.opts.latencyWebhooks
      const webhookId = await this.pb.createWebhook({
        orgId: this.orgId,
        name: spec.name,
        url,
        secret: spec.secret,
        events: measured ? ['alert.*', LATENCY_EVENT_TYPE] : ['alert.*'],
      })
      this.endpoints.push({ index: this.endpoints.length, webhookId, url, ...spec })
    }
  }

  /** Snapshots CPU when the window opens and closes (the load functions own the clock). */
  #cpuWindow(warmupMs: number, windowMs: number) {
    // A phase that stops early (overloaded) while warming up is measured from its start.
    const start = this.meter.snapshot()
    let a: CpuSnapshot | undefined
    let b: CpuSnapshot | undefined
    const ta = setTimeout(() => {
      a = this.meter.snapshot()
    }, warmupMs)
    const tb = setTimeout(() => {
      b = this.meter.snapshot()
    }, warmupMs + windowMs)
    return () => {
      clearTimeout(ta)
      clearTimeout(tb)
      const end = b ?? this.meter.snapshot()
      return CpuMeter.usage(a ?? start, end)
    }
  }

  async raw(): Promise<RawResult> {
    log(`[${this.mode}] raw limit: ${this.opts.rawPerEndpoint} in flight × ${this.healthy.length} endpoints`)
    await this.rx.phase()
    const window = Math.min(this.opts.windowMs, 8000)
    const cpu = this.#cpuWindow(1000, window)
    const r = await rawLimit(
      this.healthy.map((i) => this.endpoints[i] as Endpoint),
      { orgId: this.orgId, perEndpoint: this.opts.rawPerEndpoint, warmupMs: 1000, windowMs: window },
    )
    const usage = cpu()
    const report = await this.rx.report({ ...r, sentFrom: 0, sentTo: 0, expected: 0 })
    return {
      deliveriesPerSec: report.arrivalsInWindow / (window / 1000),
      inFlight: this.opts.rawPerEndpoint * this.healthy.length,
      cpu: usage,
      badSignatures: report.badSignatures,
    }
  }

  /** Waits for the phase's healthy deliveries, then reports the phase and checks it arrived exactly once. */
  async finish(
    load: LoadResult,
    latencyOnly = false,
  ): Promise<{ report: PhaseReport; check: CheckReport; drainSeconds: number }> {
    const endpoints = latencyOnly ? this.latencyHealthy : this.healthy
    const range: SentRange = { from: load.fromSeq, to: load.toSeq, endpoints }
    this.ranges.push(range)
    const expected = (load.toSeq - load.fromSeq) * endpoints.length
    const target = this.target(latencyOnly)
    const drained = await drain(target, expected, this.opts.drainMs, (l) => log(`[${this.mode}]${l}`))
    this.#assertAlive()
    const report = await this.rx.report({
      windowFrom: load.windowFrom,
      windowTo: load.windowTo,
      sentFrom: load.windowFrom,
      sentTo: load.windowTo,
      expected: load.sentInWindow * endpoints.length,
    })
    const check = await this.checked([range])
    return { report, check, drainSeconds: drained.ms / 1000 }
  }

  /** Healthy deliveries Patchbay still has waiting (pending, retrying or in progress). */
  async stillQueued(): Promise<number> {
    let n = 0
    for (const i of this.healthy) {
      const e = this.endpoints[i] as Endpoint
      const counts = await this.pb.deliveryCounts(e.webhookId, ['pending', 'retrying', 'in_progress'])
      n += Object.values(counts).reduce((a, b) => a + b, 0)
    }
    return n
  }

  /**
   * The receiver's exactly-once check, telling deliveries still waiting in Patchbay from lost ones. Patchbay is
   * asked first: a delivery it still holds then is either counted as queued or arrives before the receiver is
   * asked, so missing − queued never counts a slow delivery as lost.
   */
  async checked(ranges: SentRange[]): Promise<CheckReport> {
    const first = await this.rx.check(ranges)
    if (first.missing === 0) return first
    const queued = await this.stillQueued()
    const check = await this.rx.check(ranges)
    check.stillQueued = Math.min(check.missing, queued)
    if (check.missing > check.stillQueued) {
      // Lost: show why, from Patchbay's dead-letter queue.
      for (const i of this.healthy) {
        const e = this.endpoints[i] as Endpoint
        const failed = await this.pb.failedSamples(e.webhookId)
        if (failed.total > 0) {
          check.examples.unshift(
            `${failed.total} dead-lettered at ${e.name}, e.g. ${failed.errors.join('; ')}`,
          )
        }
      }
    }
    return check
  }

  async throughput(label: string): Promise<ThroughputResult> {
    const { warmupMs, windowMs, batch, maxBacklog } = this.opts
    log(
      `[${this.mode}] ${label}: batches of ${batch} events, ≤ 2 s of deliveries (at most ${maxBacklog}) waiting, ` +
        `${warmupMs / 1000} s warm-up + ${windowMs / 1000} s window`,
    )
    await this.rx.phase()
    const cpu = this.#cpuWindow(warmupMs, windowMs)
    const sampler = this.pb.databaseUrl
      ? new PgActivitySampler(this.pb.databaseUrl, new URL(this.pb.databaseUrl).pathname.slice(1))
      : undefined
    await sampler?.start()
    const load = await saturate(this.target(), { batch, maxBacklog, warmupMs, windowMs })
    const database = await sampler?.stop()
    const usage = cpu()
    this.#assertAlive()
    const { report, check, drainSeconds } = await this.finish(load)
    const secs = (load.windowTo - load.windowFrom) / 1000
    return {
      deliveriesPerSec: report.arrivalsInWindow / secs,
      eventsPerSec: load.eventsInWindow / secs,
      meanBacklog: load.meanBacklog,
      windowSeconds: secs,
      perSecond: report.perSecond,
      ingest: load.ingest,
      cpu: usage,
      drainSeconds,
      exactlyOnce: check,
      endpoints: report.endpoints,
      badSignatures: report.badSignatures,
      ...(database ? { database } : {}),
    }
  }

  /** At the fixed rate, to the latency scenario's webhooks (`all`: to every healthy one). */
  async latency(label: string, all = false): Promise<LatencyResult> {
    const { rate, tickMs, windowMs } = this.opts
    const warmupMs = this.opts.warmupMs
    const target = this.target(!all)
    const fanout = target.fanout
    log(
      `[${this.mode}] ${label}: ${rate} events/s (${rate * fanout} healthy deliveries/s) in batches every ` +
        `${tickMs} ms, ${warmupMs / 1000} s warm-up + ${windowMs / 1000} s window`,
    )
    await this.rx.phase()
    const cpu = this.#cpuWindow(warmupMs, windowMs)
    const load = await fixedRate(target, { rate, tickMs, warmupMs, windowMs, overloadSeconds: 2 })
    const usage = cpu()
    this.#assertAlive()
    const { report, check, drainSeconds } = await this.finish(load, !all)
    const secs = Math.max(0.001, (load.windowTo - load.windowFrom) / 1000)
    const deliveredPerSec = report.arrivalsInWindow / secs
    return {
      offeredEventsPerSec: rate,
      offeredDeliveriesPerSec: rate * fanout,
      deliveredPerSec,
      keptUp: !load.overloaded && deliveredPerSec >= 0.95 * rate * fanout,
      overloaded: load.overloaded,
      latency: report.latency,
      worstPerSecond: report.worstLatencyPerSecond,
      ingest: load.ingest,
      cpu: usage,
      drainSeconds,
      exactlyOnce: check,
      endpoints: report.endpoints,
      badSignatures: report.badSignatures,
    }
  }

  memory(): ProcessMemory[] {
    const out: ProcessMemory[] = this.pb.roles.map((r) => {
      const m = memoryOf(r.pid)
      return { role: r.role, pid: r.pid, peakMb: m?.peakMb ?? Number.NaN, rssMb: m?.rssMb ?? Number.NaN }
    })
    // The embedded server's memory now (PSS of all its processes; there is no peak for a group of processes).
    const postmaster = this.pb.postmaster
    if (postmaster) {
      const mb = pssMb(serverProcesses(postmaster))
      out.push({ role: 'postgres', pid: postmaster, peakMb: mb, rssMb: mb })
    }
    return out
  }

  async stop(): Promise<void> {
    await this.pb.stop()
    await this.rx.stop()
  }

  /** Runs the selected scenarios; always stops Patchbay and the receiver. */
  static async run(mode: Mode, opts: BenchOptions): Promise<ModeResult> {
    const started = performance.now()
    log(`[${mode}] starting Patchbay (${opts.runner}) and the receiver`)
    const run = await ModeRun.start(mode, opts)
    let result: ModeResult
    let attempts = 0
    try {
      const s = opts.scenarios
      result = {
        mode,
        settings: run.pb.settings,
        healthyWebhooks: run.healthy.length,
        processes: [],
        peakRssMb: 0,
        exactlyOnce: emptyCheck(),
        badSignatures: 0,
        seconds: 0,
      }
      if (s.has('raw')) result.raw = await run.raw()
      if (s.has('throughput') || s.has('fairness')) result.throughput = await run.throughput('throughput')
      if (s.has('latency') || s.has('fairness')) result.latency = await run.latency('latency')
      if (s.has('latency') && run.latencyHealthy.length < run.healthy.length) {
        result.latencyAll = await run.latency('latency, every webhook', true)
      }
      if (result.raw && result.throughput) {
        result.ratioToRaw = result.throughput.deliveriesPerSec / result.raw.deliveriesPerSec
      }
      if (s.has('fairness') && result.throughput && result.latency) {
        log(
          `[${mode}] fairness: adding an endpoint that hangs (timeout ${opts.timeoutMs} ms) and one that answers 500`,
        )
        await run.addEndpoints(['hang', 'fail'])
        // Latency first: the throughput run leaves a large backlog at the hanging endpoint behind it.
        const latency = await run.latency('latency with bad endpoints')
        const throughput = await run.throughput('throughput with bad endpoints')
        result.fairness = {
          latency,
          throughput,
          throughputRatio: throughput.deliveriesPerSec / result.throughput.deliveriesPerSec,
          p99Ratio: latency.latency.p99 / result.latency.latency.p99,
        }
      }
      if (run.ranges.length > 0) {
        // Deliveries a phase gave up waiting for get one more chance before the verdict.
        const outstanding = await run.rx.check(run.ranges)
        if (outstanding.missing > 0) {
          log(`[${mode}] waiting for ${outstanding.missing} outstanding healthy deliveries`)
          await run.rx.phase()
          await drain(run.target(), outstanding.missing, opts.drainMs, (l) => log(`[${mode}]${l}`))
        }
        result.exactlyOnce = await run.checked(run.ranges)
      }
      result.badSignatures = [
        result.raw,
        result.throughput,
        result.latency,
        result.latencyAll,
        result.fairness?.latency,
        result.fairness?.throughput,
      ]
        .map((r) => r?.badSignatures ?? 0)
        .reduce((a, b) => a + b, 0)
      result.processes = run.memory()
      result.peakRssMb = result.processes.reduce((a, p) => a + p.peakMb, 0)
      result.seconds = (performance.now() - started) / 1000
      attempts = (await run.rx.progress()).patchbayRequests
    } finally {
      log(`[${mode}] stopping`)
      await run.stop()
    }
    const dir = opts.sqlTraceDir
    if (dir) {
      result.sql = run.pb.roles
        .map((r) => readSqlTrace(sqlTraceFile(dir, mode, r.role), r.role, attempts))
        .filter((t) => t !== undefined)
    }
    return result
  }
}
