/**
 * `npm run bench -- --scenario scale-out`: the proof that Patchbay scales out on one served PostgreSQL.
 *
 * On a fresh database: two `patchbay migrate` at once (both must succeed, each migration applied once), then two
 * `patchbay api` and two `patchbay worker` processes. Events go to both API processes in turn at a fixed rate; half
 * way through, one worker is killed with SIGKILL. Checked afterwards:
 *  - every delivery of every acknowledged (202) event reached the receiver;
 *  - nothing arrived twice except repeats of attempts the killed worker made, or of attempts Patchbay counted and
 *    retried (timed out, yet reached the receiver): the at-least-once window; the receiver tells the sending
 *    process of each request by its TCP connection, and the deliveries table has Patchbay's attempt counts;
 *  - every periodic task fired at most once per tick of its interval across both workers, read from the jobs
 *    table (a schedule's jobs carry `dedupe_key = schedule:<name>`);
 *  - the surviving processes stop cleanly (exit 0).
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import fs from 'node:fs'
import http from 'node:http'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import pg from 'pg'
import { createDatabase, ROOT, type Runner } from './patchbay.ts'

export interface ScaleOutOptions {
  runner: Runner
  servedUrl: string
  /** How long events are sent; the worker is killed half way. */
  seconds: number
  /** Events per second, spread over both API processes; each fans out to `webhooks` deliveries. */
  rate: number
  webhooks: number
  tickMs: number
  /** Longest wait for every delivery after the load stops. */
  drainMs: number
}

export interface ScheduleCheck {
  name: string
  intervalMs: number
  fired: number
  /** Ticks of the schedule between its first firing and the end of the run. */
  ticks: number
  /** Most jobs enqueued in one tick (must be 1). */
  maxPerTick: number
}

export interface ScaleOutResult {
  processes: { api: number; worker: number }
  migrate: { concurrent: number; exitCodes: (number | null)[]; applied: number; expected: number }
  eventsAcknowledged: number
  eventsPerApi: number[]
  /** Events in batches not answered 202 (not acknowledged, so not owed). */
  eventsRefused: number
  deliveriesExpected: number
  deliveriesArrived: number
  missing: number
  duplicates: number
  /** Repeats explained by an attempt the killed worker made (the at-least-once window). */
  duplicatesOfKilledAttempts: number
  /** Repeats explained by a retry Patchbay counted (an attempt that timed out but reached the receiver). */
  duplicatesOfCountedRetries: number
  /** Repeats not explained so: outside the window, must be 0. */
  duplicatesOutsideWindow: number
  /** Time from a duplicated delivery's first copy to its second (ms). */
  duplicateGapMs: { min: number | null; max: number | null }
  /** Arrivals whose sending process could not be told (counted as live senders). */
  arrivalsOfUnknownSender: number
  /** Deliveries that had arrived when the worker was killed. */
  arrivedBeforeKill: number
  /** From the kill until the last delivery arrived. */
  recoverySeconds: number
  /** Deliveries per second at the receiver over the whole run (load and drain). */
  deliveriesPerSec: number
  leaseMs: number
  databaseStatuses: Record<string, number>
  schedules: ScheduleCheck[]
  cleanExit: (number | null)[]
  seconds: number
}

interface Proc {
  role: string
  child: ChildProcess
  output(): string
  exited: Promise<number | null>
}

const TIMEOUT_MS = 2000
// Patchbay's default lease (PATCHBAY_DELIVERY_LEASE_MS unset): twice the delivery timeout plus 30 s. A shorter one
// makes recovery quicker, but a claim may then expire under a live worker that a loaded machine has stalled: a
// repeat that is not the dead worker's, and the run is meant to show what operators get.
const LEASE_MS = 2 * TIMEOUT_MS + 30_000

async function freePort(): Promise<number> {
  const s = net.createServer()
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r))
  const { port } = s.address() as net.AddressInfo
  await new Promise((r) => s.close(r))
  return port
}

function spawnPatchbay(role: string, args: string[], runner: Runner, env: Record<string, string>): Proc {
  const entry = runner === 'dist' ? ['dist/cli.js'] : ['--import', 'tsx', 'src/cli.ts']
  const child = spawn(process.execPath, [...entry, ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  const keep = (d: Buffer) => {
    out = (out + d.toString()).slice(-50_000)
  }
  child.stdout?.on('data', keep)
  child.stderr?.on('data', keep)
  return {
    role,
    child,
    output: () => out,
    exited: new Promise((r) => child.on('exit', (code) => r(code))),
  }
}

async function until(what: string, p: Proc, ok: () => Promise<boolean> | boolean, ms = 90_000) {
  const deadline = Date.now() + ms
  let dead = false
  void p.exited.then(() => {
    dead = true
  })
  while (!(await ok())) {
    if (dead) throw new Error(`${p.role} exited before ${what}:\n${p.output()}`)
    if (Date.now() > deadline) throw new Error(`${p.role}: no ${what} after ${ms} ms:\n${p.output()}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

/**
 * Which of `pids` owns the TCP connection whose client end is `port` (Linux: /proc/net/tcp gives the socket's
 * inode, /proc/<pid>/fd the process holding it). Looked up when the connection opens, while its owner lives, so
 * each attempt is known to come from the killed worker or a surviving one, however late a loaded machine lets
 * the receiver read it.
 */
function socketOwner(port: number, pids: number[]): number | undefined {
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string
    try {
      text = fs.readFileSync(table, 'utf8')
    } catch {
      continue
    }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/)
      if (Number.parseInt(cols[1]?.split(':')[1] ?? '', 16) !== port) continue
      const link = `socket:[${cols[9]}]`
      for (const pid of pids) {
        try {
          for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
            try {
              if (fs.readlinkSync(`/proc/${pid}/fd/${fd}`) === link) return pid
            } catch {}
          }
        } catch {}
      }
    }
  }
  return undefined
}

/** The client ports of `pid`'s TCP connections to `serverPort`, read before it is killed. */
function clientPortsOf(pid: number, serverPort: number): Set<number> {
  const inodes = new Set<string>()
  try {
    for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
      try {
        const m = fs.readlinkSync(`/proc/${pid}/fd/${fd}`).match(/^socket:\[(\d+)\]$/)
        if (m) inodes.add(m[1] as string)
      } catch {}
    }
  } catch {}
  const ports = new Set<number>()
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string
    try {
      text = fs.readFileSync(table, 'utf8')
    } catch {
      continue
    }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/)
      const remote = Number.parseInt(cols[2]?.split(':')[1] ?? '', 16)
      if (remote === serverPort && inodes.has(cols[9] ?? '')) {
        ports.add(Number.parseInt(cols[1]?.split(':')[1] ?? '', 16))
      }
    }
  }
  return ports
}

interface Arrival {
  at: number
  /** The worker process that sent it, when known. */
  pid: number | undefined
}

/** The receiver: answers 200 after a short delay (so attempts are in flight when the worker dies). */
class Receiver {
  readonly arrivals = new Map<string, Arrival[]>()
  total = 0
  last = 0
  workerPids: number[] = []
  /**
   * The killed worker and its connections' client ports, read just before the kill: a loaded machine may let the
   * receiver accept a connection only after its sender died, when /proc no longer names the sender.
   */
  killed: { pid: number; ports: Set<number> } | undefined
  readonly #owners = new WeakMap<net.Socket, number | undefined>()
  #server = http.createServer((req, res) => {
    const id = `${req.url}|${req.headers['x-breeze-event-id']}`
    const pid = this.#owners.get(req.socket)
    req.resume()
    req.on('end', () => {
      const now = Date.now()
      const seen = this.arrivals.get(id)
      if (seen) seen.push({ at: now, pid })
      else this.arrivals.set(id, [{ at: now, pid }])
      this.total++
      this.last = now
      setTimeout(() => res.writeHead(200).end('ok'), 15)
    })
  })
  port = 0
  async start() {
    this.#server.on('connection', (socket: net.Socket) => {
      const port = socket.remotePort ?? 0
      this.#owners.set(
        socket,
        this.killed?.ports.has(port) ? this.killed.pid : socketOwner(port, this.workerPids),
      )
    })
    await new Promise<void>((r) => this.#server.listen(0, '127.0.0.1', r))
    this.port = (this.#server.address() as net.AddressInfo).port
  }
  stop() {
    this.#server.closeAllConnections()
    return new Promise((r) => this.#server.close(r))
  }
}

export async function scaleOut(o: ScaleOutOptions, log: (line: string) => void): Promise<ScaleOutResult> {
  const started = Date.now()
  const db = await createDatabase(o.servedUrl)
  const token = `pbk_bench_${randomBytes(16).toString('hex')}`
  const env: Record<string, string> = {
    DATABASE_URL: db.url,
    PATCHBAY_ENCRYPTION_KEYS: `bench:${randomBytes(32).toString('base64')}`,
    PATCHBAY_BOOTSTRAP_TOKEN: token,
    PATCHBAY_ALLOWED_TARGET_CIDRS: '127.0.0.0/8',
    HOST: '127.0.0.1',
    PATCHBAY_DELIVERY_TIMEOUT_MS: String(TIMEOUT_MS),
    // Short intervals so the periodic tasks tick many times during the run (both with nothing to do).
    PATCHBAY_PSA_SYNC_INTERVAL_MS: '2000',
    PATCHBAY_PROBE_INTERVAL_MS: '2000',
    LOG_LEVEL: 'info',
  }
  const rx = new Receiver()
  await rx.start()
  const procs: Proc[] = []
  const client = new pg.Client({ connectionString: db.url })
  try {
    // 1. Two migrations at once on the empty database.
    log('scale-out: two `patchbay migrate` at once on a fresh database')
    const migrations = [1, 2].map((i) => spawnPatchbay(`migrate-${i}`, ['migrate'], o.runner, env))
    const migrateCodes = await Promise.all(migrations.map((m) => m.exited))
    for (const m of migrations) {
      if (!m.output().includes('migrations applied')) throw new Error(`${m.role} failed:\n${m.output()}`)
    }
    await client.connect()
    const applied = (await client.query('SELECT count(*)::int AS n FROM drizzle.__drizzle_migrations'))
      .rows[0].n as number
    const { readMigrationFiles } = await import('drizzle-orm/migrator')
    const expected = readMigrationFiles({ migrationsFolder: path.join(ROOT, 'drizzle') }).length

    // 2. Two API processes and two workers.
    const ports = [await freePort(), await freePort()]
    const apis = ports.map((port, i) =>
      spawnPatchbay(`api-${i + 1}`, ['api'], o.runner, { ...env, PORT: String(port) }),
    )
    procs.push(...apis)
    const urls = ports.map((p) => `http://127.0.0.1:${p}`)
    for (const [i, a] of apis.entries()) {
      await until('/readyz 200', a, async () => {
        try {
          return (await fetch(`${urls[i]}/readyz`)).status === 200
        } catch {
          return false
        }
      })
    }
    const workers = [1, 2].map((i) => spawnPatchbay(`worker-${i}`, ['worker'], o.runner, env))
    rx.workerPids = workers.map((w) => w.child.pid as number)
    procs.push(...workers)
    for (const w of workers)
      await until('"delivery worker started"', w, () => w.output().includes('delivery worker started'))
    log(`scale-out: 2 api (ports ${ports.join(', ')}) and 2 workers running`)

    const call = async (url: string, method: string, p: string, body?: unknown) => {
      const res = await fetch(`${url}${p}`, {
        method,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        ...(body ? { body: JSON.stringify(body) } : {}),
      })
      return { status: res.status, body: (await res.json()) as Record<string, unknown> }
    }
    const org = await call(urls[0] as string, 'POST', '/api/v1/orgs', { name: 'scale-out' })
    if (org.status !== 201) throw new Error(`create org: ${org.status} ${JSON.stringify(org.body)}`)
    const orgId = org.body.id as string
    const hookPath = new Map<string, string>()
    for (let i = 0; i < o.webhooks; i++) {
      const hook = await call(urls[i % 2] as string, 'POST', '/api/v1/webhooks', {
        orgId,
        name: `hook-${i}`,
        url: `http://127.0.0.1:${rx.port}/hook/${i}`,
        secret: `scale-out-secret-${i}`,
        events: ['device.online'],
      })
      if (hook.status !== 201) throw new Error(`create webhook: ${hook.status} ${JSON.stringify(hook.body)}`)
      hookPath.set(hook.body.id as string, `/hook/${i}`)
    }

    // 3. Load to both API processes in turn; kill -9 one worker half way.
    const acked: string[] = []
    const perApi = [0, 0]
    const loadStarts = Date.now()
    const loadEnds = loadStarts + o.seconds * 1000
    const killAt = Date.now() + (o.seconds * 1000) / 2
    let killedAt = 0
    let arrivedBeforeKill = 0
    let seq = 0
    let tick = 0
    let refused = 0
    const inflight = new Set<Promise<void>>()
    log(
      `scale-out: ${o.rate} events/s × ${o.webhooks} webhooks for ${o.seconds} s; worker-1 gets SIGKILL at ${o.seconds / 2} s`,
    )
    while (Date.now() < loadEnds) {
      if (!killedAt && Date.now() >= killAt) {
        const victim = workers[0]?.child.pid as number
        rx.killed = { pid: victim, ports: clientPortsOf(victim, rx.port) }
        workers[0]?.child.kill('SIGKILL')
        killedAt = Date.now()
        arrivedBeforeKill = rx.total
        log(`scale-out: killed worker-1 (pid ${workers[0]?.child.pid}) with ${rx.total} deliveries arrived`)
      }
      const api = tick++ % 2
      // Paced by the clock, not by the timer: a late timer (a busy machine) sends a bigger batch, not fewer events.
      const due = Math.floor(((Date.now() - loadStarts) / 1000) * o.rate) - seq
      const events = Array.from({ length: Math.max(0, due) }, () => ({
        orgId,
        id: `evt-${seq++}`,
        type: 'device.online',
        data: { n: seq },
      }))
      if (events.length === 0) {
        await new Promise((r) => setTimeout(r, o.tickMs))
        continue
      }
      const p = call(urls[api] as string, 'POST', '/api/v1/events/batch', { events }).then((r) => {
        // Only a 202 is an acknowledgement; anything else is the sender's to retry, not Patchbay's to deliver.
        if (r.status === 202) {
          for (const e of events) acked.push(e.id)
          perApi[api] = (perApi[api] ?? 0) + events.length
        } else {
          refused += events.length
        }
      })
      inflight.add(p)
      void p.finally(() => inflight.delete(p))
      await new Promise((r) => setTimeout(r, o.tickMs))
    }
    await Promise.all(inflight)
    await workers[0]?.exited

    // 4. Wait for every acknowledged delivery.
    const want = new Set<string>()
    for (const id of acked) for (let i = 0; i < o.webhooks; i++) want.add(`/hook/${i}|${id}`)
    // Until every delivery arrived, nothing is pending in the database, and every lease the dead worker held has
    // expired (plus 5 s), so a repeat of one of its attempts would have arrived too.
    const drainUntil = Date.now() + o.drainMs
    const missingNow = () => [...want].filter((k) => !rx.arrivals.has(k)).length
    const pendingNow = async () =>
      (
        await client.query<{ n: number }>(
          "SELECT count(*)::int AS n FROM deliveries WHERE status <> 'delivered'",
        )
      ).rows[0]?.n ?? 0
    while (Date.now() < drainUntil) {
      if (missingNow() === 0 && Date.now() > killedAt + LEASE_MS + 5000 && (await pendingNow()) === 0) break
      await new Promise((r) => setTimeout(r, 250))
    }

    let duplicates = 0
    // Patchbay's own count of each delivery's attempts: a timed-out attempt (PATCHBAY_DELIVERY_TIMEOUT_MS) that
    // the receiver still processed is retried and counted, so it may arrive twice.
    const recorded = new Map<string, number>()
    for (const r of (
      await client.query<{ target_id: string; event_id: string; attempts: number }>(
        'SELECT target_id, event_id, attempts FROM deliveries',
      )
    ).rows) {
      recorded.set(`${hookPath.get(r.target_id)}|${r.event_id}`, r.attempts)
    }
    let outside = 0
    let fromKilled = 0
    let fromRetries = 0
    let unknownOwner = 0
    let minGap: number | null = null
    let maxGap: number | null = null
    const killedPid = workers[0]?.child.pid
    for (const [key, copies] of rx.arrivals) {
      unknownOwner += copies.filter((c) => c.pid === undefined).length
      if (copies.length < 2) continue
      duplicates += copies.length - 1
      const gap = (copies[1] as Arrival).at - (copies[0] as Arrival).at
      minGap = Math.min(minGap ?? Number.POSITIVE_INFINITY, gap)
      maxGap = Math.max(maxGap ?? Number.NEGATIVE_INFINITY, gap)
      // Inside the window, each repeat is explained by an attempt the killed worker made (its outcome died with
      // it) or by an attempt Patchbay counted and retried (a timeout the receiver still answered). A copy beyond
      // both would be a send Patchbay neither counted nor lost to a crash: outside the window.
      const killed = copies.filter((c) => c.pid === killedPid).length
      const byKill = Math.min(killed, copies.length - 1)
      const byRetry = Math.min(Math.max(0, (recorded.get(key) ?? 1) - 1), copies.length - 1 - byKill)
      fromKilled += byKill
      fromRetries += byRetry
      outside += copies.length - 1 - byKill - byRetry
    }

    // 5. The database's side: delivery statuses and the periodic tasks' jobs.
    const statuses: Record<string, number> = {}
    for (const r of (
      await client.query<{ status: string; n: number }>(
        'SELECT status::text, count(*)::int AS n FROM deliveries GROUP BY status',
      )
    ).rows) {
      statuses[r.status] = r.n
    }
    const end = Date.now()
    const schedules: ScheduleCheck[] = []
    const sched = await client.query<{ name: string; interval_ms: number; next_run_at: Date }>(
      'SELECT name, interval_ms, next_run_at FROM job_schedules ORDER BY name',
    )
    for (const s of sched.rows) {
      const fired = await client.query<{ created_at: Date }>(
        'SELECT created_at FROM jobs WHERE dedupe_key = $1 ORDER BY created_at',
        [`schedule:${s.name}`],
      )
      // Ticks are next_run_at − k·interval; a job belongs to the tick at or before its creation.
      const anchor = s.next_run_at.getTime()
      const slot = (t: number) => Math.floor((t - anchor) / s.interval_ms)
      const perSlot = new Map<number, number>()
      for (const r of fired.rows) {
        const k = slot(r.created_at.getTime())
        perSlot.set(k, (perSlot.get(k) ?? 0) + 1)
      }
      const first = fired.rows[0]?.created_at.getTime() ?? end
      schedules.push({
        name: s.name,
        intervalMs: s.interval_ms,
        fired: fired.rows.length,
        ticks: slot(end) - slot(first) + 1,
        maxPerTick: Math.max(0, ...perSlot.values()),
      })
    }

    // 6. The survivors stop cleanly.
    const survivors = procs.filter((p) => p !== workers[0])
    for (const p of survivors) p.child.kill('SIGTERM')
    const cleanExit = await Promise.all(survivors.map((p) => p.exited))

    const arrived = [...want].filter((k) => rx.arrivals.has(k)).length
    return {
      processes: { api: 2, worker: 2 },
      migrate: { concurrent: 2, exitCodes: migrateCodes, applied, expected },
      eventsAcknowledged: acked.length,
      eventsPerApi: perApi,
      eventsRefused: refused,
      deliveriesExpected: want.size,
      deliveriesArrived: arrived,
      missing: want.size - arrived,
      duplicates,
      duplicatesOutsideWindow: outside,
      duplicatesOfKilledAttempts: fromKilled,
      duplicatesOfCountedRetries: fromRetries,
      duplicateGapMs: { min: minGap, max: maxGap },
      arrivalsOfUnknownSender: unknownOwner,
      arrivedBeforeKill,
      recoverySeconds: (rx.last - killedAt) / 1000,
      deliveriesPerSec: rx.total / ((rx.last - loadStarts) / 1000),
      leaseMs: LEASE_MS,
      databaseStatuses: statuses,
      schedules,
      cleanExit,
      seconds: (Date.now() - started) / 1000,
    }
  } finally {
    for (const p of procs) p.child.kill('SIGKILL')
    await Promise.all(procs.map((p) => p.exited))
    await client.end().catch(() => undefined)
    await rx.stop()
    await db.drop()
  }
}

/** The checks that make the proof; empty when it holds. */
export function scaleOutProblems(r: ScaleOutResult): string[] {
  const p: string[] = []
  if (r.migrate.exitCodes.some((c) => c !== 0)) p.push(`concurrent migrate exit codes ${r.migrate.exitCodes}`)
  if (r.migrate.applied !== r.migrate.expected)
    p.push(`migrations applied ${r.migrate.applied}, expected ${r.migrate.expected}`)
  if (r.eventsPerApi.some((n) => n === 0)) p.push(`an API process acknowledged nothing: ${r.eventsPerApi}`)
  if (r.missing > 0) p.push(`${r.missing} of ${r.deliveriesExpected} acknowledged deliveries never arrived`)
  if (r.duplicatesOutsideWindow > 0)
    p.push(
      `${r.duplicatesOutsideWindow} repeats explained neither by the killed worker nor by a counted retry (at-least-once window)`,
    )
  for (const s of r.schedules) {
    if (s.maxPerTick > 1)
      p.push(`schedule ${s.name} fired ${s.maxPerTick} times in one ${s.intervalMs} ms tick`)
    if (s.fired === 0) p.push(`schedule ${s.name} never fired`)
  }
  if (r.cleanExit.some((c) => c !== 0)) p.push(`surviving processes exited with ${r.cleanExit}`)
  return p
}

export function formatScaleOut(r: ScaleOutResult, o: ScaleOutOptions): string {
  const lines = [
    `Scale-out on served PostgreSQL: ${r.processes.api} api + ${r.processes.worker} worker processes, ` +
      `${o.rate} events/s × ${o.webhooks} webhooks for ${o.seconds} s, one worker killed with SIGKILL half way ` +
      `(${os.cpus().length} cores)`,
    `  concurrent migrate:         2 processes, exit codes ${r.migrate.exitCodes.join(', ')}; ${r.migrate.applied}/${r.migrate.expected} migrations applied once`,
    `  events acknowledged:        ${r.eventsAcknowledged} (api-1 ${r.eventsPerApi[0]}, api-2 ${r.eventsPerApi[1]}; not acknowledged ${r.eventsRefused})`,
    `  deliveries arrived:         ${r.deliveriesArrived} of ${r.deliveriesExpected} (missing ${r.missing})`,
    `  duplicates:                 ${r.duplicates}: ${r.duplicatesOfKilledAttempts} repeats of an attempt the killed worker made, ` +
      `${r.duplicatesOfCountedRetries} of a counted attempt that timed out but arrived, ${r.duplicatesOutsideWindow} others; second copy ${r.duplicateGapMs.min ?? '—'}–${r.duplicateGapMs.max ?? '—'} ms after the first ` +
      `(senders told by TCP connection; ${r.arrivalsOfUnknownSender} arrivals of unknown sender)`,
    `  arrived before the kill:    ${r.arrivedBeforeKill}; last delivery ${r.recoverySeconds.toFixed(1)} s after the kill (lease ${r.leaseMs} ms)`,
    `  deliveries/s at receiver:   ${Math.round(r.deliveriesPerSec)}`,
    `  delivery statuses in DB:    ${Object.entries(r.databaseStatuses)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}`,
    '  periodic tasks (jobs per tick across both workers):',
    ...r.schedules.map(
      (s) =>
        `    ${s.name.padEnd(30)} every ${String(s.intervalMs / 1000).padStart(5)} s: fired ${String(s.fired).padStart(3)} in ${String(s.ticks).padStart(3)} ticks, at most ${s.maxPerTick} per tick`,
    ),
    `  surviving processes exit:   ${r.cleanExit.join(', ')}`,
    `  took ${Math.round(r.seconds)} s`,
  ]
  return lines.join('\n')
}
