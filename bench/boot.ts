/**
 * Start-up time and idle memory of `node dist/cli.js start` on the embedded database (issue 13's "first start /
 * restart to /readyz" target and Patchbay's share of its peak RSS). Not part of `npm run bench` (that measures
 * the engine); run it after `npm run build`:
 *
 *   node --import tsx bench/boot.ts [--runs 5] [--restarts 1] [--idle 30] [--cli dist/cli.js] [--node-arg=--flag ...]
 *     [--against /elsewhere/dist/cli.js]
 *
 * Each run creates a fresh DATA_DIR and times a first start, then stops it with SIGTERM and times a restart on
 * the same DATA_DIR (--restarts times): from spawning node to the first 200 of GET /readyz (polled every 10 ms). After the last
 * restart it reads the Patchbay process's RSS at ready and after --idle seconds, with V8's heap figures from
 * /metrics, and the embedded server's PSS. With --against, a second build (another commit's, built elsewhere) is
 * started in turn with this one, start by start on its own DATA_DIRs, so both meet the same load on a shared machine.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { parseArgs } from 'node:util'
import { cpuSeconds, memoryOf, pssMb, serverProcesses } from './procstat.ts'

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '5' },
    restarts: { type: 'string', default: '1' },
    idle: { type: 'string', default: '30' },
    cli: { type: 'string', default: 'dist/cli.js' },
    against: { type: 'string' },
    'node-arg': { type: 'string', multiple: true, default: [] },
  },
})
const runs = Number(values.runs)
const restarts = Number(values.restarts)
const out = (line: string) => process.stdout.write(`${line}\n`)
const idleSeconds = Number(values.idle)
const METRICS_TOKEN = 'boot-bench-metrics-token-0123456789'

const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const s = net.createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port
      s.close(() => resolve(port))
    })
  })

interface Started {
  child: ChildProcess
  ms: number
  /** CPU time Patchbay's process had used when it was ready (steadier than `ms` on a busy machine). */
  cpuMs: number
  port: number
}

async function start(cli: string, dataDir: string): Promise<Started> {
  const port = await freePort()
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    DATA_DIR: dataDir,
    PORT: String(port),
    LOG_LEVEL: 'warn',
    PATCHBAY_METRICS_TOKEN: METRICS_TOKEN,
  }
  delete env.DATABASE_URL
  const t0 = performance.now()
  const child = spawn(process.execPath, [...(values['node-arg'] ?? []), cli, 'start'], {
    env,
    stdio: ['ignore', 'ignore', 'inherit'],
  })
  let exited = false
  child.once('exit', () => {
    exited = true
  })
  for (;;) {
    if (exited) throw new Error(`patchbay exited before it was ready (code ${child.exitCode})`)
    try {
      const res = await fetch(`http://127.0.0.1:${port}/readyz`)
      await res.arrayBuffer()
      if (res.status === 200) {
        return { child, ms: performance.now() - t0, cpuMs: cpuSeconds(child.pid as number) * 1000, port }
      }
    } catch {}
    await new Promise((r) => setTimeout(r, 10))
  }
}

async function stop(child: ChildProcess) {
  if (child.exitCode !== null) return
  const done = new Promise((r) => child.once('exit', r))
  child.kill('SIGTERM')
  await done
}

async function heapFigures(port: number): Promise<Record<string, number>> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`, {
    headers: { authorization: `Bearer ${METRICS_TOKEN}` },
  })
  const text = await res.text()
  const pick = (re: RegExp) => Number(re.exec(text)?.[1] ?? Number.NaN) / 1024 / 1024
  return {
    heapUsed: pick(/^patchbay_nodejs_heap_size_used_bytes (\S+)/m),
    heapTotal: pick(/^patchbay_nodejs_heap_size_total_bytes (\S+)/m),
    external: pick(/^patchbay_nodejs_external_memory_bytes (\S+)/m),
  }
}

function postmasterOf(dataDir: string): number | undefined {
  for (const dir of fs.readdirSync(dataDir)) {
    const pidFile = path.join(dataDir, dir, 'postmaster.pid')
    if (fs.existsSync(pidFile)) return Number(fs.readFileSync(pidFile, 'utf8').split('\n')[0])
  }
  return undefined
}

const summary = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b)
  const median =
    s.length % 2
      ? (s[(s.length - 1) / 2] as number)
      : ((s[s.length / 2 - 1] as number) + (s[s.length / 2] as number)) / 2
  return `median ${median.toFixed(0)} ms  min ${(s[0] as number).toFixed(0)}  max ${(s.at(-1) as number).toFixed(0)}  (n=${s.length})`
}

interface Figures {
  cli: string
  first: number[]
  restart: number[]
  restartCpu: number[]
  last?: Started | undefined
}
const builds: Figures[] = [values.cli, values.against]
  .filter((c): c is string => c !== undefined)
  .map((cli) => ({ cli, first: [], restart: [], restartCpu: [] }))
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'patchbay-boot-'))
// As root the embedded server runs as "postgres", which must be able to enter DATA_DIR's parents.
fs.chmodSync(root, 0o755)
const dataDirOf = (run: number, build: number) => path.join(root, `run${run}-${build}`)
try {
  for (let i = 0; i < runs; i++) {
    for (const [n, f] of builds.entries()) {
      const a = await start(f.cli, dataDirOf(i, n))
      f.first.push(a.ms)
      await stop(a.child)
    }
    for (let r = 0; r < restarts; r++) {
      for (const [n, f] of builds.entries()) {
        if (f.last) await stop(f.last.child)
        f.last = await start(f.cli, dataDirOf(i, n))
        f.restart.push(f.last.ms)
        f.restartCpu.push(f.last.cpuMs)
      }
    }
    for (const f of builds) {
      process.stderr.write(
        `run ${i + 1} ${f.cli}: first start ${(f.first.at(-1) as number).toFixed(0)} ms, restart ${f.restart
          .slice(-restarts)
          .map((ms) => ms.toFixed(0))
          .join(', ')} ms\n`,
      )
    }
    const main = builds[0] as Figures
    if (i === runs - 1 && main.last) {
      const { child, port } = main.last
      const pid = child.pid as number
      const pm = postmasterOf(dataDirOf(i, 0))
      const report = async (when: string) => {
        const mem = memoryOf(pid)
        const heap = await heapFigures(port)
        const pg = pm ? pssMb(serverProcesses(pm)) : Number.NaN
        out(
          `${when} (${main.cli}): patchbay RSS ${mem?.rssMb.toFixed(0)} MB (peak ${mem?.peakMb.toFixed(0)}), PSS ${pssMb([pid]).toFixed(0)} MB; ` +
            `V8 heap used ${heap.heapUsed?.toFixed(0)} / total ${heap.heapTotal?.toFixed(0)} MB, external ${heap.external?.toFixed(0)} MB; ` +
            `postgres PSS ${pg.toFixed(0)} MB`,
        )
      }
      for (const f of builds.slice(1)) if (f.last) await stop(f.last.child)
      await report('at ready')
      if (idleSeconds > 0) {
        await new Promise((r) => setTimeout(r, idleSeconds * 1000))
        await report(`after ${idleSeconds} s idle`)
      }
    }
    for (const f of builds) {
      if (f.last) await stop(f.last.child)
      f.last = undefined
    }
  }
  for (const f of builds) {
    out(f.cli)
    out(`  first start to /readyz:  ${summary(f.first)}`)
    out(`  restart to /readyz:      ${summary(f.restart)}`)
    out(`  restart, Patchbay's CPU: ${summary(f.restartCpu)}`)
  }
} finally {
  fs.rmSync(root, { recursive: true, force: true })
}
