/** Memory and CPU of processes, read from /proc (Linux). */
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'

let clkTck: number | undefined
function ticksPerSecond(): number {
  if (clkTck === undefined) {
    try {
      clkTck = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100
    } catch {
      clkTck = 100
    }
  }
  return clkTck
}

export interface Memory {
  /** Resident set size now, in MiB. */
  rssMb: number
  /** Peak resident set size since the process started (VmHWM), in MiB. */
  peakMb: number
}

export function memoryOf(pid: number): Memory | undefined {
  let text: string
  try {
    text = fs.readFileSync(`/proc/${pid}/status`, 'utf8')
  } catch {
    return undefined
  }
  const kb = (field: string) =>
    Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? Number.NaN)
  return { rssMb: kb('VmRSS') / 1024, peakMb: kb('VmHWM') / 1024 }
}

/** User + system CPU time of a process so far, in seconds. */
export function cpuSeconds(pid: number): number {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8')
    // The command name (field 2) may contain spaces; fields after it are fixed.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond()
  } catch {
    return 0
  }
}

/** A server's processes: the postmaster and its children (backends, checkpointer, autovacuum, ...). */
export function serverProcesses(postmaster: number): number[] {
  const out = [postmaster]
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8')
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === postmaster) out.push(Number(entry))
    } catch {}
  }
  return out
}

/**
 * Proportional set size of processes together, in MiB: shared memory (PostgreSQL's shared buffers) counts once,
 * split between the processes mapping it, where summing their RSS would count it once per process.
 */
export function pssMb(pids: number[]): number {
  let kb = 0
  for (const pid of pids) {
    try {
      kb += Number(/^Pss:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'))?.[1] ?? 0)
    } catch {}
  }
  return kb / 1024
}

/** PostgreSQL backends serving `database` (their process title names it). */
function backendsOf(database: string): number[] {
  const out: number[] = []
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      if (fs.readFileSync(`/proc/${entry}/comm`, 'utf8').trim() !== 'postgres') continue
      const title = fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8')
      if (title.includes(` ${database} `)) out.push(Number(entry))
    } catch {}
  }
  return out
}

function machineSeconds(): { busy: number; total: number } {
  const line = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0] as string
  const v = line.trim().split(/\s+/).slice(1).map(Number)
  const total = v.reduce((a, b) => a + b, 0)
  const idle = (v[3] ?? 0) + (v[4] ?? 0)
  return { busy: (total - idle) / ticksPerSecond(), total: total / ticksPerSecond() }
}

export interface CpuSnapshot {
  at: number
  /** CPU seconds so far, per group and process. */
  groups: Record<string, Map<number, number>>
  machineBusy: number
}

/** CPU use, in cores, of named groups of processes between two snapshots, and of everything else. */
export class CpuMeter {
  constructor(
    private readonly groups: () => Record<string, number[]>,
    private readonly database: string | undefined,
  ) {}

  snapshot(): CpuSnapshot {
    const groups: Record<string, Map<number, number>> = {}
    const add = (name: string, pids: number[]) => {
      groups[name] = new Map(pids.map((pid) => [pid, cpuSeconds(pid)]))
    }
    for (const [name, pids] of Object.entries(this.groups())) add(name, pids)
    if (this.database) add('postgres', backendsOf(this.database))
    return { at: performance.now(), groups, machineBusy: machineSeconds().busy }
  }

  /**
   * Cores used by each group, plus `other` (every other process on the machine) and `machine` (all). Counted
   * per process, so a database connection opened or closed in between (pools recycle idle ones) does not
   * subtract; a process that exited in between loses only its last stretch.
   */
  static usage(a: CpuSnapshot, b: CpuSnapshot): Record<string, number> {
    const secs = (b.at - a.at) / 1000
    const out: Record<string, number> = {}
    let ours = 0
    for (const [name, pids] of Object.entries(b.groups)) {
      const before = a.groups[name]
      let used = 0
      for (const [pid, v] of pids) used += Math.max(0, v - (before?.get(pid) ?? 0))
      out[name] = used / secs
      ours += used / secs
    }
    out.machine = (b.machineBusy - a.machineBusy) / secs
    out.other = Math.max(0, out.machine - ours)
    return out
  }
}
