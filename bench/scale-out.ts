/**
 * `npm run bench -- --scenario scale-out`: the proof that Patchbay scales out on one served PostgreSQL.
 *
 * On a fresh database: two `patchbay migrate` at once (both must succeed, each migration applied once), then two
 * `patchbay api` and two `patchbay worker` processes. Events go to both API processes in turn at a fixed rate; half
 * way through, one worker is killed with SIGKILL. Checked afterwards:
 *  - every delivery of every acknowledged (202) event reached the receiver;
 *  - nothing arrived twice except attempts the killed worker had started before it died (at-least-once window);
 *  - every periodic task fired at most once per tick of its interval across both workers, read from the jobs
 *    table (a schedule's jobs carry `dedupe_key = schedule:<name>`);
 *  - the surviving processes stop cleanly (exit 0).
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
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
  /** Duplicates whose first copy arrived after the kill: outside the at-least-once window, must be 0. */
  duplicatesOutsideWindow: number
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

const LEASE_MS = 4000

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

/** The receiver: answers 200 after a short delay (so attempts are in flight when the worker dies). */
class Receiver {
  readonly arrivals = new Map<string, number[]>()
  total = 0
  last = 0
  #server = http.createServer((req, res) => {
    const id = `${req.url}|${req.headers['x-breeze-event-id']}`
    req.resume()
    req.on('end', () => {
      const now = Date.now()
      const seen = this.arrivals.get(id)
      if (seen) seen.push(now)
      else this.arrivals.set(id, [now])
      this.total++
      this.last = now
      setTimeout(() => res.writeHead(200).end('ok'), 15)
    })
  })
  port = 0
  async start() {
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
    PATCHBAY_DELIVERY_TIMEOUT_MS: '2000',
    // A short lease so the surviving worker takes over the dead one's deliveries within the run.
    PATCHBAY_DELIVERY_LEASE_MS: String(LEASE_MS),
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
    for (let i = 0; i < o.webhooks; i++) {
      const hook = await call(urls[i % 2] as string, 'POST', '/api/v1/webhooks', {
        orgId,
        name: `hook-${i}`,
        url: `http://127.0.0.1:${rx.port}/hook/${i}`,
        secret: `scale-out-secret-${i}`,
        events: ['device.online'],
      })
      if (hook.status !== 201) throw new Error(`create webhook: ${hook.status} ${JSON.stringify(hook.body)}`)
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
    const drainUntil = Date.now() + o.drainMs + LEASE_MS
    const missingNow = () => [...want].filter((k) => !rx.arrivals.has(k)).length
    while (missingNow() > 0 && Date.now() < drainUntil) await new Promise((r) => setTimeout(r, 200))
    // Anything the dead worker had claimed is retried once its lease expires: give late duplicates time to show.
    await new Promise((r) => setTimeout(r, 1000))

    let duplicates = 0
    let outside = 0
    for (const [, times] of rx.arrivals) {
      if (times.length < 2) continue
      duplicates += times.length - 1
      // Inside the window: the first copy came from an attempt made before the kill.
      if ((times[0] as number) >= killedAt) outside += times.length - 1
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
    p.push(`${r.duplicatesOutsideWindow} duplicates of deliveries first attempted after the kill`)
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
    `  duplicates:                 ${r.duplicates} (all of attempts started before the kill: ${r.duplicatesOutsideWindow === 0 ? 'yes' : `NO, ${r.duplicatesOutsideWindow} after`})`,
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
