/**
 * `npm run bench`: Patchbay's delivery throughput, latency, memory and fairness, beside the raw limit of the
 * same machine, in one run. See README.md ("Benchmarks") and `npm run bench -- --help`.
 */
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { parseArgs } from 'node:util'
import { type HistoryResult, historyBench } from './history.ts'
import { LATENCY_EVENT_TYPE } from './load.ts'
import { build, type Mode, Patchbay, ROOT } from './patchbay.ts'
import { formatProfile, type ProfileSummary, summariseProfile } from './profile.ts'
import type { CheckReport, LatencyStats } from './protocol.ts'
import { formatScaleOut, scaleOut, scaleOutProblems } from './scale-out.ts'
import {
  type BenchOptions,
  type LatencyResult,
  type ModeResult,
  ModeRun,
  type Scenario,
} from './scenarios.ts'
import { soak } from './soak.ts'

const USAGE = `Usage: npm run bench -- [options]

Runs Patchbay as a child process (embedded; and served PostgreSQL when DATABASE_URL is set, on a fresh
database created for the run and dropped after), pushes events through POST /api/v1/events/batch to a local
receiver process that verifies every signature, and reports throughput, latency, peak RSS, fairness and the
raw limit. Results: stdout and bench/results/latest.json (soak: bench/results/soak.json).

  --mode M            embedded | served | split (served, separate api and worker processes) | all;
                      repeatable or comma-separated (default: embedded, and served when DATABASE_URL is set)
  --scenario S        raw | throughput | latency | fairness; repeatable or comma-separated (default: all).
                      fairness also runs throughput and latency, its baselines.
                      scale-out (alone, needs DATABASE_URL): 2 concurrent migrates, then 2 api + 2 worker
                      processes on one fresh database, events to both APIs at --rate (default 100 here) for
                      --seconds (default 20 here), one worker killed with SIGKILL half way; checks every
                      acknowledged delivery arrived, duplicates only within the at-least-once window, and each
                      periodic task fired at most once per tick; waits up to --drain-seconds (default 180
                      here) for the deliveries and the dead worker's leases (bench/results/scale-out.json)
                      history (alone): seeds --history-rows delivery history rows in SQL and reports p50/p95/p99
                      of the deliveries list (each filter, a deep page, a cursor page), a lookup by id and
                      deliveryStats, in --mode embedded or served (a fresh database, dropped after)
  --history-rows N    history rows to seed (default 10000000), over --history-days days (default 30)
  --history-orgs N    organizations (default 10), each with 5 webhooks
  --history-samples N timed runs of each query (default 100)
  --history-url URL   use this database (seeded if empty, reused if it holds the rows) and keep it
  --history-keep      keep the fresh database (its name is printed) for a later --history-url
  --seconds N         measuring window of each scenario (default 15)
  --warmup N          seconds before each scenario's window opens (default 5)
  --rate N            events/s offered in the latency scenarios and the soak (default 1000)
  --tick-ms N         one batch every N ms at the fixed rate (default 20, so 20 events per batch at 1000/s)
  --webhooks N        healthy webhooks every event fans out to (default 4)
  --latency-webhooks N
                      healthy webhooks the latency scenario's and the soak's events fan out to (default 1,
                      so --rate events/s are --rate deliveries/s); the latency scenario then also runs once
                      with every webhook (--rate × --webhooks deliveries/s), reported beside the target
  --batch N           events per batch when saturating (default 500)
  --backlog N         most healthy deliveries waiting while saturating (default 20000)
  --timeout-ms N      PATCHBAY_DELIVERY_TIMEOUT_MS, how long the hanging endpoint holds an attempt (default 5000)
  --raw-in-flight N   raw limit: requests in flight per endpoint (default 16, Patchbay's per-target default)
  --drain-seconds N   longest wait for a scenario's deliveries after its load stops (default 20); what is
                      still queued in Patchbay then is reported apart from what was lost
  --shared-origin     every endpoint on one receiver port instead of one port (origin) per webhook
  --source            run src/cli.ts through tsx instead of building and running dist/cli.js
  --no-build          run dist/cli.js as it is (skip the build)
  --profile           write CPU profiles of the Patchbay processes to bench/results/profiles and summarise them
  --trace-sql         count every SQL statement Patchbay sends, per 1,000 delivery attempts, with the time
                      until its result, and on the embedded database the executor's own time per statement
                      (bench/sql-trace.mjs is loaded into Patchbay with node --import); the same tally per
                      15 s of the run goes to bench/results/sql-<mode>-<role>-by-15s.json
  --soak              hold --rate for --minutes, printing RSS and latency every --interval seconds
  --minutes N         soak length (default 5)
  --interval N        soak reporting interval in seconds (default 15)
  --out FILE          where to write the JSON (default bench/results/latest.json, or soak.json)

Engine settings in the environment (PATCHBAY_DELIVERY_CONCURRENCY, PATCHBAY_TARGET_CONCURRENCY,
PATCHBAY_DELIVERY_LEASE_MS, DATABASE_POOL_SIZE, PGOPTIONS) are passed to Patchbay.
Exits 1 when a correctness check fails (bad signatures, missing or duplicate deliveries); performance targets
are reported, not enforced.`

const RESULTS = path.join(ROOT, 'bench/results')

function list<T extends string>(
  values: string[] | undefined,
  allowed: readonly T[],
  what: string,
): T[] | undefined {
  if (!values || values.length === 0) return undefined
  const out = values.flatMap((v) => v.split(',')).map((v) => v.trim())
  for (const v of out) {
    if (!(allowed as readonly string[]).includes(v))
      throw new UsageError(`${what} must be one of ${allowed.join(', ')}`)
  }
  return out as T[]
}

class UsageError extends Error {}

function num(v: string | undefined, def: number, what: string, min = 0): number {
  if (v === undefined) return def
  const n = Number(v)
  if (!Number.isFinite(n) || n < min) throw new UsageError(`--${what} must be a number ≥ ${min}`)
  return n
}

function parse(argv: string[]) {
  const { values } = parseArgs({
    args: argv,
    options: {
      mode: { type: 'string', multiple: true },
      scenario: { type: 'string', multiple: true },
      seconds: { type: 'string' },
      warmup: { type: 'string' },
      rate: { type: 'string' },
      'tick-ms': { type: 'string' },
      webhooks: { type: 'string' },
      'latency-webhooks': { type: 'string' },
      batch: { type: 'string' },
      backlog: { type: 'string' },
      'timeout-ms': { type: 'string' },
      'raw-in-flight': { type: 'string' },
      'drain-seconds': { type: 'string' },
      'shared-origin': { type: 'boolean', default: false },
      source: { type: 'boolean', default: false },
      'no-build': { type: 'boolean', default: false },
      profile: { type: 'boolean', default: false },
      'trace-sql': { type: 'boolean', default: false },
      soak: { type: 'boolean', default: false },
      minutes: { type: 'string' },
      interval: { type: 'string' },
      out: { type: 'string' },
      'history-rows': { type: 'string' },
      'history-days': { type: 'string' },
      'history-orgs': { type: 'string' },
      'history-samples': { type: 'string' },
      'history-url': { type: 'string' },
      'history-keep': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  })
  const history = values.scenario?.flatMap((v) => v.split(',')).includes('history')
    ? {
        rows: num(values['history-rows'], 10_000_000, 'history-rows', 1000),
        days: num(values['history-days'], 30, 'history-days', 1),
        orgs: num(values['history-orgs'], 10, 'history-orgs', 1),
        webhooksPerOrg: 5,
        samples: num(values['history-samples'], 100, 'history-samples', 1),
        url: values['history-url'],
        servedUrl: process.env.DATABASE_URL || undefined,
        mode: (values.mode?.includes('served') || values['history-url'] ? 'served' : 'embedded') as
          | 'served'
          | 'embedded',
        keep: values['history-keep'],
      }
    : undefined
  if (history && values.scenario) values.scenario = values.scenario.filter((v) => v !== 'history')
  const servedUrl = process.env.DATABASE_URL || undefined
  let modes = list(values.mode, ['embedded', 'served', 'split', 'all'] as const, '--mode')
  if (modes?.includes('all')) modes = servedUrl ? ['embedded', 'served', 'split'] : ['embedded']
  const chosen = (modes ?? (servedUrl ? ['embedded', 'served'] : ['embedded'])) as Mode[]
  if (!servedUrl && chosen.some((m) => m !== 'embedded')) {
    throw new UsageError(
      'the served and split modes need DATABASE_URL (a PostgreSQL server the role can CREATE DATABASE on)',
    )
  }
  const chosenScenarios = list(
    values.scenario,
    ['raw', 'throughput', 'latency', 'fairness', 'scale-out'] as const,
    '--scenario',
  )
  const scaleOut = chosenScenarios?.includes('scale-out') ?? false
  if (scaleOut && chosenScenarios?.length !== 1) {
    throw new UsageError('--scenario scale-out runs alone')
  }
  if (scaleOut && !servedUrl) {
    throw new UsageError(
      '--scenario scale-out needs DATABASE_URL (a PostgreSQL server the role can CREATE DATABASE on)',
    )
  }
  const scenarios = new Set<Scenario>(
    (chosenScenarios?.filter((s): s is Scenario => s !== 'scale-out') as Scenario[] | undefined) ?? [
      'raw',
      'throughput',
      'latency',
      'fairness',
    ],
  )
  const opts: BenchOptions = {
    runner: values.source ? 'source' : 'dist',
    servedUrl,
    profileDir: values.profile ? path.join(RESULTS, 'profiles') : undefined,
    scenarios,
    windowMs: num(values.seconds, 15, 'seconds', 1) * 1000,
    warmupMs: num(values.warmup, 5, 'warmup') * 1000,
    webhooks: num(values.webhooks, 4, 'webhooks', 1),
    latencyWebhooks: num(values['latency-webhooks'], 1, 'latency-webhooks', 1),
    batch: num(values.batch, 500, 'batch', 1),
    maxBacklog: num(values.backlog, 20_000, 'backlog', 1),
    rate: num(values.rate, 1000, 'rate', 1),
    tickMs: num(values['tick-ms'], 20, 'tick-ms', 1),
    timeoutMs: num(values['timeout-ms'], 5000, 'timeout-ms', 100),
    sharedOrigin: values['shared-origin'],
    rawPerEndpoint: num(values['raw-in-flight'], 16, 'raw-in-flight', 1),
    drainMs: num(values['drain-seconds'], 20, 'drain-seconds', 1) * 1000,
    sqlTraceDir: values['trace-sql'] ? RESULTS : undefined,
  }
  if (opts.batch > 1000) throw new UsageError('--batch must be at most 1000 (the batch endpoint limit)')
  return {
    help: values.help,
    scaleOut: scaleOut
      ? {
          runner: opts.runner,
          servedUrl: servedUrl as string,
          seconds: num(values.seconds, 20, 'seconds', 2),
          rate: num(values.rate, 100, 'rate', 1),
          webhooks: num(values.webhooks, 2, 'webhooks', 1),
          tickMs: num(values['tick-ms'], 50, 'tick-ms', 1),
          drainMs: num(values['drain-seconds'], 180, 'drain-seconds', 1) * 1000,
        }
      : undefined,
    history,
    modes: chosen,
    opts,
    build: !values.source && !values['no-build'],
    soak: values.soak,
    minutes: num(values.minutes, 5, 'minutes', 0.1),
    intervalMs: num(values.interval, 15, 'interval', 1) * 1000,
    out: values.out,
  }
}

function machine() {
  let commit = 'unknown'
  let dirty = false
  try {
    commit = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: ROOT }).toString().trim()
    dirty = execFileSync('git', ['status', '--porcelain'], { cwd: ROOT }).toString().trim() !== ''
  } catch {}
  return {
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    memoryGb: Math.round(os.totalmem() / 2 ** 30),
    loadAverage: os.loadavg(),
    node: process.version,
    platform: `${os.platform()} ${os.release()}`,
    date: new Date().toISOString(),
    commit,
    dirty,
  }
}

// Formatting -------------------------------------------------------------------------------------------------

// Values that could not be measured are NaN here, or null after a trip through JSON (the receiver's IPC).
const none = (n: number | null | undefined): n is null | undefined =>
  n === undefined || n === null || Number.isNaN(n)
const int = (n: number | null | undefined) => (none(n) ? '—' : Math.round(n).toLocaleString('en-US'))
const ms = (n: number | null | undefined) => (none(n) ? '—' : n < 10 ? n.toFixed(1) : n.toFixed(0))
const pct = (n: number | null | undefined) => (none(n) ? '—' : `${(100 * n).toFixed(0)}%`)
const times = (n: number | null | undefined) => (none(n) ? '—' : `×${n.toFixed(2)}`)
const percentiles = (l: LatencyStats) => {
  const base = `${ms(l.p50)} / ${ms(l.p95)} / ${ms(l.p99)}`
  const total = l.count + l.undelivered
  return l.undelivered > 0 ? `${base} (${pct(l.undelivered / total)} undelivered)` : base
}
const cores = (c: Record<string, number> | undefined) => {
  if (!c || c.patchbay === undefined) return '—'
  const pg = c.postgres === undefined ? '' : ` pg ${c.postgres.toFixed(2)}`
  return (
    `pb ${c.patchbay.toFixed(2)}${pg} rx ${(c.receiver ?? 0).toFixed(2)} bench ${(c.bench ?? 0).toFixed(2)} ` +
    `other ${(c.other ?? 0).toFixed(2)}`
  )
}
const once = (c: CheckReport | undefined) => {
  if (!c || c.expected === 0) return '—'
  const dup = c.duplicateSameId + c.duplicateOtherId
  if (c.missing === 0 && dup === 0) return `ok (${int(c.expected)})`
  const queued = c.stillQueued > 0 ? ` (${int(c.stillQueued)} still queued)` : ''
  return `FAIL ${int(c.missing)} missing${queued}, ${int(dup)} dup`
}

function table(results: ModeResult[], opts: BenchOptions): string {
  const fan = opts.webhooks
  const rows: [string, ...string[]][] = [['', ...results.map((r) => r.mode)]]
  const row = (label: string, f: (r: ModeResult) => string) => rows.push([label, ...results.map(f)])
  const has = (f: (r: ModeResult) => unknown) => results.some((r) => f(r) !== undefined)
  if (has((r) => r.raw)) {
    row('raw limit, deliveries/s', (r) => int(r.raw?.deliveriesPerSec))
    row('  CPU cores', (r) => cores(r.raw?.cpu))
  }
  if (has((r) => r.throughput)) {
    row('throughput, deliveries/s', (r) => int(r.throughput?.deliveriesPerSec))
    row('  = events/s', (r) => int(r.throughput && r.throughput.deliveriesPerSec / r.healthyWebhooks))
    row('  deliveries waiting (mean)', (r) => int(r.throughput?.meanBacklog))
    row('  ratio to raw limit', (r) => pct(r.ratioToRaw))
    row('  CPU cores', (r) => cores(r.throughput?.cpu))
    row('  batch POST p50/p99 ms', (r) =>
      r.throughput ? `${ms(r.throughput.ingest.p50)} / ${ms(r.throughput.ingest.p99)}` : '—',
    )
  }
  const latencyRows = (title: string, fanout: number, get: (r: ModeResult) => LatencyResult | undefined) => {
    if (!has(get)) return
    row(title, () => '')
    row(`  = ${int(opts.rate * fanout)} deliveries/s offered`, (r) => {
      const l = get(r)
      return l ? `${int(l.deliveredPerSec)}/s delivered${l.keptUp ? '' : ' (fell behind)'}` : '—'
    })
    row('  p50 / p95 / p99 ms', (r) => {
      const l = get(r)
      return l ? percentiles(l.latency) : '—'
    })
    row('  max ms', (r) => ms(get(r)?.latency.max))
    row('  worst ms, each second', (r) => get(r)?.worstPerSecond.join(' ') ?? '—')
    row('  batch POST p50/p99 ms', (r) => {
      const l = get(r)
      return l ? `${ms(l.ingest.p50)} / ${ms(l.ingest.p99)}` : '—'
    })
    row('  CPU cores', (r) => cores(get(r)?.cpu))
  }
  const lw = Math.min(opts.latencyWebhooks, fan)
  latencyRows(
    `latency at ${int(opts.rate)} events/s × ${lw} webhook${lw === 1 ? '' : 's'}`,
    lw,
    (r) => r.latency,
  )
  latencyRows(`latency at ${int(opts.rate)} events/s × ${fan} webhooks`, fan, (r) => r.latencyAll)
  row('peak RSS, MB', (r) =>
    r.processes.length > 1
      ? `${int(r.peakRssMb)} (${r.processes.map((p) => `${p.role} ${int(p.peakMb)}`).join(', ')})`
      : int(r.peakRssMb),
  )
  if (has((r) => r.fairness)) {
    row('fairness: + hanging + 500 endpoint', () => '')
    row('  healthy throughput/s', (r) =>
      r.fairness
        ? `${int(r.fairness.throughput.deliveriesPerSec)} (${pct(r.fairness.throughputRatio)})`
        : '—',
    )
    row('  healthy p99 ms at fixed rate', (r) =>
      r.fairness ? `${ms(r.fairness.latency.latency.p99)} (${times(r.fairness.p99Ratio)})` : '—',
    )
    row('  p50 / p95 / p99 ms', (r) => (r.fairness ? percentiles(r.fairness.latency.latency) : '—'))
    row('  attempts at hang / 500', (r) => {
      if (!r.fairness) return '—'
      const n = (b: string) =>
        [r.fairness?.latency, r.fairness?.throughput]
          .flatMap((x) => x?.endpoints ?? [])
          .filter((e) => e.behaviour === b)
          .reduce((a, e) => a + e.requests, 0)
      return `${int(n('hang'))} / ${int(n('fail'))}`
    })
  }
  row('exactly once (healthy)', (r) => once(r.exactlyOnce))
  row('bad signatures', (r) => int(r.badSignatures))
  row('mode run time, s', (r) => int(r.seconds))
  const widths = (rows[0] as string[]).map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)))
  return rows
    .map((r) =>
      r
        .map((c, i) => (i === 0 ? c.padEnd(widths[0] as number) : c.padStart(widths[i] as number)))
        .join('   '),
    )
    .join('\n')
}

interface Target {
  target: string
  mode: Mode
  value: string
  met: boolean
}

function targets(results: ModeResult[], opts: BenchOptions): Target[] {
  const out: Target[] = []
  for (const r of results) {
    if (r.throughput) {
      const t = r.throughput.deliveriesPerSec
      if (r.mode === 'embedded') {
        out.push({
          target: '≥ 1,500 delivered webhooks/s sustained',
          mode: r.mode,
          value: `${int(t)}/s`,
          met: t >= 1500,
        })
      } else {
        out.push({
          target: '≥ 5,000 delivered webhooks/s sustained',
          mode: r.mode,
          value: `${int(t)}/s`,
          met: t >= 5000,
        })
        if (r.ratioToRaw !== undefined) {
          out.push({
            target: '≥ 30% of the raw limit',
            mode: r.mode,
            value: pct(r.ratioToRaw),
            met: r.ratioToRaw >= 0.3,
          })
        }
      }
    }
    if (r.latency) {
      const p99 = r.latency.latency.p99
      out.push({
        target: `p99 event-to-delivery ≤ 100 ms at ${int(opts.rate)} events/s × ${opts.latencyWebhooks} webhook${opts.latencyWebhooks === 1 ? '' : 's'}${opts.rate === 1000 ? '' : ' (target is at 1,000)'}`,
        mode: r.mode,
        value: `${ms(p99)} ms${r.latency.keptUp ? '' : ', fell behind'}`,
        met: p99 <= 100 && r.latency.keptUp,
      })
    }
    if (r.fairness) {
      const f = r.fairness
      out.push({
        target: 'fairness: healthy throughput ≥ 90% with bad endpoints',
        mode: r.mode,
        value: pct(f.throughputRatio),
        met: f.throughputRatio >= 0.9,
      })
      out.push({
        target: 'fairness: healthy p99 at most doubles',
        mode: r.mode,
        value: times(f.p99Ratio),
        met: f.p99Ratio <= 2,
      })
    }
    if (r.exactlyOnce.expected > 0) {
      const c = r.exactlyOnce
      out.push({
        target: 'every delivery exactly once when nothing fails',
        mode: r.mode,
        value:
          `${c.missing} missing${c.stillQueued > 0 ? ` (${c.stillQueued} of them still queued in Patchbay)` : ''}, ` +
          `${c.duplicateSameId + c.duplicateOtherId} duplicates`,
        met: c.missing === 0 && c.duplicateSameId + c.duplicateOtherId === 0,
      })
    }
  }
  return out
}

function correctness(checks: { mode: Mode; exactlyOnce: CheckReport; badSignatures: number }[]): string[] {
  const problems: string[] = []
  for (const r of checks) {
    const c = r.exactlyOnce
    const mine: string[] = []
    if (r.badSignatures > 0) mine.push(`${r.mode}: ${r.badSignatures} requests with a bad signature`)
    const lost = c.missing - c.stillQueued
    if (lost > 0)
      mine.push(`${r.mode}: ${lost} of ${c.expected} deliveries never arrived and are no longer queued`)
    if (c.duplicateSameId > 0)
      mine.push(`${r.mode}: ${c.duplicateSameId} deliveries arrived again (same delivery id)`)
    if (c.duplicateOtherId > 0) {
      mine.push(`${r.mode}: ${c.duplicateOtherId} events arrived twice at one webhook (another delivery id)`)
    }
    if (mine.length > 0) for (const e of c.examples) mine.push(`  ${r.mode}: ${e}`)
    problems.push(...mine)
  }
  return problems
}

/** Deliveries still waiting in Patchbay when the run ended: too slow to verify, not lost. */
function slow(checks: { mode: Mode; exactlyOnce: CheckReport }[]): string[] {
  return checks
    .filter((r) => r.exactlyOnce.stillQueued > 0)
    .map(
      (r) =>
        `${r.mode}: ${int(r.exactlyOnce.stillQueued)} healthy deliveries were still queued in Patchbay when the run ` +
        'ended (not lost; too slow to verify)',
    )
}

function profiles(dir: string | undefined, since: number): ProfileSummary[] {
  if (!dir || !fs.existsSync(dir)) return []
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.cpuprofile') && fs.statSync(path.join(dir, f)).mtimeMs >= since)
    .sort()
    .map((f) => summariseProfile(path.join(dir, f)))
}

function write(file: string, data: unknown): void {
  fs.mkdirSync(path.dirname(file), { recursive: true })
  fs.writeFileSync(file, `${JSON.stringify(data, null, 2)}\n`)
}

const out = (line = '') => process.stdout.write(`${line}\n`)

async function main(argv: string[]): Promise<number> {
  const args = parse(argv)
  if (args.help) {
    out(USAGE)
    return 0
  }
  const started = Date.now()
  const info = machine()
  if (args.history) return historyMain(args.history, info, args.out)
  if (args.build) {
    console.error('building dist/ (npm run build)')
    build()
  }
  if (args.opts.profileDir) fs.mkdirSync(args.opts.profileDir, { recursive: true })
  const header =
    `Patchbay delivery benchmark: ${info.cpus} × ${info.cpuModel}, ${info.memoryGb} GB, node ${info.node}, ` +
    `commit ${info.commit.slice(0, 10)}${info.dirty ? ' (uncommitted changes)' : ''}, ${info.date}\n` +
    `Patchbay runs ${args.opts.runner === 'dist' ? 'dist/cli.js (built from this checkout)' : 'src/cli.ts through tsx'}; ` +
    `${args.opts.webhooks} healthy webhooks, each on its own ${args.opts.sharedOrigin ? 'path of one receiver port' : 'receiver port'}, ` +
    `every alert.triggered event fans out to each, the latency scenario's ${LATENCY_EVENT_TYPE} events to the first ` +
    `${args.opts.latencyWebhooks} (and to the fairness scenario's bad endpoints); ` +
    `PATCHBAY_DELIVERY_TIMEOUT_MS=${args.opts.timeoutMs}.`

  if (args.scaleOut) {
    out(header.split('\n')[0])
    const result = await scaleOut(args.scaleOut, out)
    const problems = scaleOutProblems(result)
    out()
    out(formatScaleOut(result, args.scaleOut))
    const file = args.out ?? path.join(RESULTS, 'scale-out.json')
    write(file, {
      machine: info,
      options: { ...args.scaleOut, servedUrl: undefined },
      scaleOut: result,
      correctness: { ok: problems.length === 0, problems },
    })
    out(`\nwrote ${path.relative(process.cwd(), file)}`)
    for (const p of problems) out(`CORRECTNESS: ${p}`)
    return problems.length === 0 ? 0 : 1
  }

  if (args.soak) {
    const mode = args.modes.includes('served') ? 'served' : (args.modes[0] as Mode)
    out(header)
    const result = await soak(mode, args.opts, args.minutes, args.intervalMs)
    const problems = correctness([result])
    const prof = profiles(args.opts.profileDir, started)
    for (const p of prof) out(`\n${formatProfile(p)}`)
    const file = args.out ?? path.join(RESULTS, 'soak.json')
    write(file, {
      machine: info,
      options: { ...args.opts, servedUrl: undefined, scenarios: [...args.opts.scenarios] },
      soak: result,
      correctness: { ok: problems.length === 0, problems },
      profiles: prof,
    })
    out(`\nwrote ${path.relative(process.cwd(), file)}`)
    for (const line of slow([result])) out(`note: ${line}`)
    for (const p of problems) out(`CORRECTNESS: ${p}`)
    return problems.length === 0 ? 0 : 1
  }

  const results: ModeResult[] = []
  for (const mode of args.modes) results.push(await ModeRun.run(mode, args.opts))
  const tgt = targets(results, args.opts)
  const problems = correctness(results)
  const prof = profiles(args.opts.profileDir, started)

  out()
  out(header)
  out(
    `Throughput: batches of ${args.opts.batch} events, at most ${int(args.opts.maxBacklog)} healthy deliveries waiting, ` +
      `${args.opts.warmupMs / 1000} s warm-up, ${args.opts.windowMs / 1000} s window. Latency: arrival at the receiver ` +
      `minus the event's scheduled send time, one batch every ${args.opts.tickMs} ms.`,
  )
  out()
  out(table(results, args.opts))
  out()
  out('Targets (reported, not enforced):')
  for (const t of tgt) out(`  ${t.met ? 'met    ' : 'NOT MET'}  ${t.mode.padEnd(8)} ${t.target}: ${t.value}`)
  for (const line of slow(results)) out(`  note: ${line}`)
  for (const r of results) {
    const db = r.throughput?.database
    if (!db) continue
    out(
      `\nDatabase side (${r.mode}, throughput scenario, pg_stat_activity sampled ${int(db.samples)} times): ` +
        `${db.activeBackends.toFixed(2)} backends active on average`,
    )
    for (const st of db.statements.slice(0, 6)) {
      const waits = Object.entries(st.waits)
        .slice(0, 2)
        .map(
          ([w, n]) =>
            `${w} ${pct(
              n /
                Math.max(
                  1,
                  Object.values(st.waits).reduce((a, b) => a + b, 0),
                ),
            )}`,
        )
        .join(', ')
      out(
        `  ${st.backends.toFixed(2).padStart(5)} backends  ${pct(st.share).padStart(4)}  [${waits}]  ${st.statement}`,
      )
    }
  }
  for (const r of results) {
    for (const t of r.sql ?? []) {
      out(
        `\nSQL sent by ${r.mode} ${t.role} over the whole run (${int(t.attempts)} delivery attempts), by time until ` +
          'the result (includes waiting for a connection or the embedded executor):',
      )
      out(
        `  ${'per 1k'.padStart(7)} ${'count'.padStart(8)} ${'mean ms'.padStart(8)} ${'total s'.padStart(8)}  statement`,
      )
      for (const st of t.statements.slice(0, 12)) {
        out(
          `  ${(Number.isNaN(st.perThousand) ? '—' : st.perThousand.toFixed(1)).padStart(7)} ${int(st.count).padStart(8)} ` +
            `${st.meanMs.toFixed(2).padStart(8)} ${(st.ms / 1000).toFixed(1).padStart(8)}  ${st.statement.slice(0, 110)}`,
        )
      }
    }
  }
  for (const p of prof) out(`\n${formatProfile(p)}`)
  const file = args.out ?? path.join(RESULTS, 'latest.json')
  write(file, {
    machine: info,
    options: { ...args.opts, servedUrl: undefined, scenarios: [...args.opts.scenarios] },
    modes: results,
    targets: tgt,
    correctness: { ok: problems.length === 0, problems },
    profiles: prof,
    seconds: (Date.now() - started) / 1000,
  })
  out(`\nwrote ${path.relative(process.cwd(), file)} (${Math.round((Date.now() - started) / 1000)} s in all)`)
  if (problems.length > 0) {
    out('\nCORRECTNESS FAILED:')
    for (const p of problems) out(`  ${p}`)
    return 1
  }
  return 0
}

async function historyMain(
  o: Parameters<typeof historyBench>[0],
  info: ReturnType<typeof machine>,
  outFile: string | undefined,
): Promise<number> {
  out(
    `Patchbay delivery history benchmark: ${info.cpus} × ${info.cpuModel}, ${info.memoryGb} GB, node ${info.node}, ` +
      `commit ${info.commit.slice(0, 10)}${info.dirty ? ' (uncommitted changes)' : ''}, ${info.date}`,
  )
  const r: HistoryResult = await historyBench(o)
  out(
    `\n${r.mode}: ${int(r.rows)} deliveries in ${r.partitions} partitions (${int(r.tableMb)} MB with indexes)` +
      (r.seedSeconds === null ? ', reused' : `, seeded in ${Math.round(r.seedSeconds)} s`) +
      `; ${o.samples} timed runs of each query, ms:`,
  )
  out(
    `  ${'p50'.padStart(7)} ${'p95'.padStart(7)} ${'p99'.padStart(7)} ${'max'.padStart(7)} ${'rows'.padStart(5)}  query`,
  )
  for (const q of r.queries) {
    out(
      `  ${ms(q.p50).padStart(7)} ${ms(q.p95).padStart(7)} ${ms(q.p99).padStart(7)} ${ms(q.max).padStart(7)} ` +
        `${String(q.rows).padStart(5)}  ${q.name}`,
    )
  }
  const lists = r.queries.filter((q) => q.name.startsWith('list'))
  const worst = Math.max(...lists.map((q) => q.p95))
  out(`\nworst deliveries-list p95: ${ms(worst)} ms (target ≤ 50 ms: ${worst <= 50 ? 'met' : 'NOT met'})`)
  const file = outFile ?? path.join(RESULTS, 'history.json')
  write(file, { machine: info, options: { ...o, url: undefined, servedUrl: undefined }, history: r })
  out(`wrote ${path.relative(process.cwd(), file)}`)
  return 0
}

process.once('SIGINT', () => {
  console.error('interrupted: stopping Patchbay and dropping the bench databases')
  void Promise.allSettled([...Patchbay.running].map((p) => p.stop())).then(() => process.exit(130))
})

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (err instanceof UsageError) {
      console.error(`bench: ${err.message}\n\n${USAGE}`)
      process.exit(2)
    }
    console.error(err)
    process.exit(3)
  },
)
