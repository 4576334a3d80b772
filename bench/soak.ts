/** Soak: a steady load for minutes, with memory and latency per interval, to show they stay flat. */
import { fixedRate } from './load.ts'
import type { Mode } from './patchbay.ts'
import { PgActivitySampler, statementLabel } from './pg-activity.ts'
import { CpuMeter } from './procstat.ts'
import type { CheckReport, LatencyStats } from './protocol.ts'
import { type BenchOptions, ModeRun, type ProcessMemory } from './scenarios.ts'

export interface SoakInterval {
  elapsedSeconds: number
  deliveredPerSec: number
  latency: LatencyStats
  rssMb: number
  patchbayCores: number
  postgresCores?: number
  otherCores: number
  backlog: number
  /** Served PostgreSQL: the statement its backends were busiest with in the interval, and how busy. */
  database?: { busiest: string; backends: number; activeBackends: number }
}

export interface SoakResult {
  mode: Mode
  settings: Record<string, string>
  eventsPerSec: number
  deliveriesPerSec: number
  minutes: number
  intervals: SoakInterval[]
  overloaded: boolean
  drainSeconds: number
  exactlyOnce: CheckReport
  badSignatures: number
  processes: ProcessMemory[]
  /** RSS at the last interval minus RSS at the first one after warm-up (the second). */
  rssGrowthMb: number
}

const out = (line: string) => process.stdout.write(`${line}\n`)
const f1 = (n: number | undefined) => (n === undefined || Number.isNaN(n) ? '—' : n.toFixed(1))

export async function soak(
  mode: Mode,
  opts: BenchOptions,
  minutes: number,
  intervalMs: number,
): Promise<SoakResult> {
  console.error(`[${mode}] soak: starting Patchbay (${opts.runner}) and the receiver`)
  const run = await ModeRun.start(mode, opts)
  try {
    const fanout = run.latencyHealthy.length
    out(
      `Soak (${mode}): ${opts.rate} events/s × ${fanout} webhooks = ${opts.rate * fanout} deliveries/s for ` +
        `${minutes} min, every ${intervalMs / 1000} s:`,
    )
    out(
      `${'t (s)'.padStart(6)} ${'deliv/s'.padStart(8)} ${'p50'.padStart(7)} ${'p95'.padStart(7)} ${'p99'.padStart(7)} ` +
        `${'max ms'.padStart(8)} ${'RSS MB'.padStart(7)} ${'pb cores'.padStart(8)} ${'pg cores'.padStart(8)} ` +
        `${'other'.padStart(6)} ${'backlog'.padStart(8)}${run.pb.databaseUrl ? '  db busiest (backends)' : ''}`,
    )
    const intervals: SoakInterval[] = []
    const sampler = run.pb.databaseUrl
      ? new PgActivitySampler(run.pb.databaseUrl, new URL(run.pb.databaseUrl).pathname.slice(1), 50)
      : undefined
    await sampler?.start()
    await run.rx.phase()
    let cpuFrom = run.meter.snapshot()
    const load = await fixedRate(run.target(true), {
      rate: opts.rate,
      tickMs: opts.tickMs,
      warmupMs: 0,
      windowMs: minutes * 60_000,
      overloadSeconds: 30,
      onInterval: {
        everyMs: intervalMs,
        fn: async (elapsedMs, backlog) => {
          const iv = await run.rx.interval()
          const cpuTo = run.meter.snapshot()
          const cpu = CpuMeter.usage(cpuFrom, cpuTo)
          cpuFrom = cpuTo
          const db = sampler?.take()
          const top = db?.statements[0]
          const row: SoakInterval = {
            elapsedSeconds: Math.round(elapsedMs / 1000),
            deliveredPerSec: iv.delivered / (intervalMs / 1000),
            latency: iv.latency,
            rssMb: run.memory().reduce((a, p) => a + p.rssMb, 0),
            patchbayCores: cpu.patchbay ?? 0,
            ...(cpu.postgres === undefined ? {} : { postgresCores: cpu.postgres }),
            otherCores: cpu.other ?? 0,
            backlog,
            ...(db
              ? {
                  database: {
                    busiest: top ? statementLabel(top.statement) : '-',
                    backends: top?.backends ?? 0,
                    activeBackends: db.activeBackends,
                  },
                }
              : {}),
          }
          intervals.push(row)
          out(
            `${String(row.elapsedSeconds).padStart(6)} ${row.deliveredPerSec.toFixed(0).padStart(8)} ` +
              `${f1(iv.latency.p50).padStart(7)} ${f1(iv.latency.p95).padStart(7)} ${f1(iv.latency.p99).padStart(7)} ` +
              `${f1(iv.latency.max).padStart(8)} ${f1(row.rssMb).padStart(7)} ${row.patchbayCores.toFixed(2).padStart(8)} ` +
              `${(row.postgresCores === undefined ? '—' : row.postgresCores.toFixed(2)).padStart(8)} ` +
              `${row.otherCores.toFixed(2).padStart(6)} ${String(backlog).padStart(8)}` +
              (row.database ? `  ${row.database.busiest} ${row.database.backends.toFixed(2)}` : ''),
          )
        },
      },
    })
    await sampler?.stop()
    const { report, check, drainSeconds } = await run.finish(load, true)
    const processes = run.memory()
    const second = intervals[1] ?? intervals[0]
    const last = intervals[intervals.length - 1]
    const rssGrowthMb = second && last ? last.rssMb - second.rssMb : 0
    if (load.overloaded) out(`overloaded: more than 30 s of deliveries waiting; stopped early`)
    out(
      `RSS ${f1(second?.rssMb)} → ${f1(last?.rssMb)} MB (${rssGrowthMb >= 0 ? '+' : ''}${f1(rssGrowthMb)}) from the ` +
        `second interval to the last; peak ${f1(processes.reduce((a, p) => a + p.peakMb, 0))} MB`,
    )
    out(`p99 ${f1(second?.latency.p99)} → ${f1(last?.latency.p99)} ms over the same intervals`)
    out(
      `exactly once: ${check.delivered}/${check.expected} delivered, ${check.missing} missing, ` +
        `${check.duplicateSameId + check.duplicateOtherId} duplicates; ${report.badSignatures} bad signatures`,
    )
    return {
      mode,
      settings: run.pb.settings,
      eventsPerSec: opts.rate,
      deliveriesPerSec: opts.rate * fanout,
      minutes,
      intervals,
      overloaded: load.overloaded,
      drainSeconds,
      exactlyOnce: check,
      badSignatures: report.badSignatures,
      processes,
      rssGrowthMb,
    }
  } finally {
    console.error(`[${mode}] stopping`)
    await run.stop()
  }
}
