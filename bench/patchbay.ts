import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import pg from 'pg'
import { Pool } from 'undici'

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')

export type Mode = 'embedded' | 'served' | 'split'
export type Runner = 'dist' | 'source'

/** Settings a developer may set in the bench's environment to try engine tunings; passed to Patchbay as is. */
export const TUNABLES = [
  'PATCHBAY_DELIVERY_CONCURRENCY',
  'PATCHBAY_TARGET_CONCURRENCY',
  'PATCHBAY_DELIVERY_LEASE_MS',
  'DATABASE_POOL_SIZE',
  // node-postgres passes it to the server, e.g. PGOPTIONS='-c plan_cache_mode=force_custom_plan'.
  'PGOPTIONS',
] as const

/** Builds dist/ from the current sources (as `npm run build` does), so the bench never measures stale code. */
export function build(): void {
  execFileSync('npm', ['run', '--silent', 'build'], { cwd: ROOT, stdio: 'inherit' })
}

async function freePort(): Promise<number> {
  const server = net.createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as net.AddressInfo).port
  await new Promise((resolve) => server.close(resolve))
  return port
}

/** A fresh database on the served PostgreSQL, dropped when the bench is done with it. */
export async function createDatabase(
  baseUrl: string,
): Promise<{ url: string; name: string; drop(): Promise<void> }> {
  const name = `pb_bench_${randomBytes(5).toString('hex')}`
  const admin = async (text: string) => {
    const client = new pg.Client({ connectionString: baseUrl })
    await client.connect()
    try {
      await client.query(text)
    } finally {
      await client.end()
    }
  }
  await admin(`CREATE DATABASE ${name}`)
  const u = new URL(baseUrl)
  u.pathname = `/${name}`
  return { url: u.toString(), name, drop: () => admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`) }
}

export interface Role {
  role: 'start' | 'api' | 'worker'
  child: ChildProcess
  pid: number
  output(): string
  exited: Promise<number | null>
}

export const SQL_TRACE = path.join(ROOT, 'bench/sql-trace.mjs')

export function sqlTraceFile(dir: string, mode: string, role: string): string {
  return path.join(dir, `sql-${mode}-${role}.json`)
}

function spawnRole(
  role: Role['role'],
  runner: Runner,
  env: Record<string, string>,
  profile: { dir: string; name: string } | undefined,
  sqlTrace: { dir: string; name: string } | undefined,
): Role {
  const nodeArgs = profile
    ? ['--cpu-prof', '--cpu-prof-dir', profile.dir, '--cpu-prof-name', `${profile.name}-${role}.cpuprofile`]
    : []
  if (sqlTrace) {
    nodeArgs.push('--import', pathToFileURL(SQL_TRACE).href)
    env = { ...env, PATCHBAY_BENCH_SQL_TRACE: sqlTraceFile(sqlTrace.dir, sqlTrace.name, role) }
  }
  const entry = runner === 'dist' ? ['dist/cli.js'] : ['--import', 'tsx', 'src/cli.ts']
  const child = spawn(process.execPath, [...nodeArgs, ...entry, role], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  const keep = (d: Buffer) => {
    out = (out + d.toString()).slice(-20_000)
  }
  child.stdout?.on('data', keep)
  child.stderr?.on('data', keep)
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
  return { role, child, pid: child.pid as number, output: () => out, exited }
}

export interface StartOptions {
  mode: Mode
  runner: Runner
  servedUrl: string | undefined
  timeoutMs: number
  profileDir: string | undefined
  /** A directory to write per-role SQL statement tallies into (bench/sql-trace.mjs), or undefined. */
  sqlTraceDir: string | undefined
}

/** A running Patchbay (one `start` process, or an `api` and a `worker`) on its own fresh database. */
export class Patchbay {
  /** Every instance not stopped yet, so an interrupted bench can still stop them and drop their databases. */
  static readonly running = new Set<Patchbay>()

  readonly roles: Role[]
  readonly url: string
  readonly token: string
  readonly settings: Record<string, string>
  readonly mode: Mode
  /** Patchbay's database (with its credentials; not for printing): served, or the embedded server's. */
  readonly databaseUrl: string | undefined
  /** The embedded server's postmaster (embedded mode). */
  readonly postmaster: number | undefined
  readonly #cleanup: () => Promise<void>
  readonly #api: Pool

  private constructor(o: {
    roles: Role[]
    url: string
    token: string
    settings: Record<string, string>
    mode: Mode
    databaseUrl: string | undefined
    postmaster: number | undefined
    cleanup: () => Promise<void>
  }) {
    this.mode = o.mode
    this.databaseUrl = o.databaseUrl
    this.postmaster = o.postmaster
    this.roles = o.roles
    this.url = o.url
    this.token = o.token
    this.settings = o.settings
    this.#cleanup = o.cleanup
    // Enough connections that the bench never queues a batch behind a slow one (that would be its own latency).
    this.#api = new Pool(o.url, { connections: 32, keepAliveTimeout: 60_000 })
    Patchbay.running.add(this)
  }

  static async start(o: StartOptions): Promise<Patchbay> {
    const token = `pbk_bench_${randomBytes(16).toString('hex')}`
    const port = await freePort()
    let cleanup: () => Promise<void>
    const settings: Record<string, string> = {
      PORT: String(port),
      HOST: '127.0.0.1',
      PATCHBAY_BOOTSTRAP_TOKEN: token,
      PATCHBAY_ENCRYPTION_KEYS: `bench:${randomBytes(32).toString('base64')}`,
      PATCHBAY_ALLOWED_TARGET_CIDRS: '127.0.0.0/8',
      PATCHBAY_DELIVERY_TIMEOUT_MS: String(o.timeoutMs),
      // The fairness scenario keeps its bad endpoints subscribed for the whole run instead of measuring
      // the auto-disable rule, which would take them out part-way through.
      PATCHBAY_WEBHOOK_FAILURE_THRESHOLD: '1000000',
      LOG_LEVEL: 'warn',
    }
    for (const k of TUNABLES) {
      const v = process.env[k]
      if (v) settings[k] = v
    }
    // Node options for Patchbay's processes only (V8 heap flags, a memory probe), not for the bench's own.
    if (process.env.PATCHBAY_BENCH_NODE_OPTIONS)
      settings.NODE_OPTIONS = process.env.PATCHBAY_BENCH_NODE_OPTIONS
    if (o.mode === 'embedded') {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pb-bench-'))
      settings.DATA_DIR = dir
      cleanup = async () => fs.rmSync(dir, { recursive: true, force: true })
    } else {
      if (!o.servedUrl) throw new Error(`mode ${o.mode} needs DATABASE_URL`)
      const db = await createDatabase(o.servedUrl)
      settings.DATABASE_URL = db.url
      cleanup = () => db.drop()
    }
    const env = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...settings }
    const profile = (name: string) => (o.profileDir ? { dir: o.profileDir, name } : undefined)
    const trace = o.sqlTraceDir ? { dir: o.sqlTraceDir, name: o.mode } : undefined
    const roles: Role[] = []
    try {
      if (o.mode === 'split') {
        // The API migrates first (under a lock); the worker is told apart by its info log line.
        roles.push(spawnRole('api', o.runner, env, profile(o.mode), trace))
        await waitReady(`http://127.0.0.1:${port}`, roles[0] as Role)
        const worker = spawnRole('worker', o.runner, { ...env, LOG_LEVEL: 'info' }, profile(o.mode), trace)
        roles.push(worker)
        await waitOutput(worker, /delivery worker started/)
      } else {
        roles.push(spawnRole('start', o.runner, env, profile(o.mode), trace))
        await waitReady(`http://127.0.0.1:${port}`, roles[0] as Role)
      }
    } catch (err) {
      for (const r of roles) r.child.kill('SIGKILL')
      await Promise.all(roles.map((r) => r.exited))
      await cleanup()
      throw err
    }
    const { PATCHBAY_BOOTSTRAP_TOKEN: _t, PATCHBAY_ENCRYPTION_KEYS: _k, ...shown } = settings
    if (shown.DATABASE_URL) {
      const u = new URL(shown.DATABASE_URL)
      if (u.password) u.password = '***'
      shown.DATABASE_URL = u.toString()
    }
    const embedded = settings.DATA_DIR ? embeddedServer(settings.DATA_DIR) : undefined
    return new Patchbay({
      roles,
      url: `http://127.0.0.1:${port}`,
      token,
      settings: shown,
      mode: o.mode,
      databaseUrl: settings.DATABASE_URL ?? embedded?.url,
      postmaster: embedded?.pid,
      cleanup,
    })
  }

  async request<T>(
    method: 'GET' | 'POST' | 'PATCH',
    p: string,
    body?: unknown,
  ): Promise<{ status: number; body: T }> {
    const res = await this.#api.request({
      method,
      path: p,
      headers: { authorization: `Bearer ${this.token}`, 'content-type': 'application/json' },
      body: body === undefined ? null : JSON.stringify(body),
      headersTimeout: 120_000,
      bodyTimeout: 120_000,
    })
    const text = await res.body.text()
    return { status: res.statusCode, body: (text ? JSON.parse(text) : undefined) as T }
  }

  async createOrg(name: string): Promise<string> {
    const res = await this.request<{ id: string }>('POST', '/api/v1/orgs', { name })
    if (res.status !== 201) throw new Error(`create org: HTTP ${res.status} ${JSON.stringify(res.body)}`)
    return res.body.id
  }

  async createWebhook(o: {
    orgId: string
    name: string
    url: string
    secret: string
    events: string[]
  }): Promise<string> {
    const res = await this.request<{ id: string }>('POST', '/api/v1/webhooks', o)
    if (res.status !== 201) throw new Error(`create webhook: HTTP ${res.status} ${JSON.stringify(res.body)}`)
    return res.body.id
  }

  /** How many of a webhook's deliveries are in each status (GET /deliveries, one row per status asked). */
  async deliveryCounts(webhookId: string, statuses: string[]): Promise<Record<string, number>> {
    const out: Record<string, number> = {}
    for (const status of statuses) {
      const res = await this.request<{ pagination: { total: number } }>(
        'GET',
        `/api/v1/deliveries?webhookId=${webhookId}&status=${status}&limit=1`,
      )
      if (res.status !== 200)
        throw new Error(`list deliveries: HTTP ${res.status} ${JSON.stringify(res.body)}`)
      out[status] = res.body.pagination.total
    }
    return out
  }

  /** A few of a webhook's dead-lettered deliveries, as evidence of why they failed. */
  async failedSamples(webhookId: string, limit = 3): Promise<{ total: number; errors: string[] }> {
    const res = await this.request<{
      data: { errorMessage: string | null; attempt: number; eventId: string }[]
      pagination: { total: number }
    }>('GET', `/api/v1/deliveries?webhookId=${webhookId}&status=failed&limit=${limit}`)
    if (res.status !== 200) throw new Error(`list deliveries: HTTP ${res.status} ${JSON.stringify(res.body)}`)
    return {
      total: res.body.pagination.total,
      errors: res.body.data.map((d) => `${d.eventId} after ${d.attempt} attempts: ${d.errorMessage}`),
    }
  }

  /** Posts a pre-serialised `{events: [...]}` body; returns the deliveries queued. */
  async postBatch(body: string): Promise<number> {
    const res = await this.#api.request({
      method: 'POST',
      path: '/api/v1/events/batch',
      headers: { authorization: `Bearer ${this.token}`, 'content-type': 'application/json' },
      body,
      headersTimeout: 120_000,
      bodyTimeout: 120_000,
    })
    const text = await res.body.text()
    if (res.statusCode !== 202) throw new Error(`events/batch: HTTP ${res.statusCode} ${text.slice(0, 500)}`)
    return (JSON.parse(text) as { deliveriesQueued: number }).deliveriesQueued
  }

  /** SIGTERM, a clean drain and exit (which also writes CPU profiles), then the database is removed. */
  async stop(): Promise<void> {
    if (!Patchbay.running.delete(this)) return
    await this.#api.destroy()
    for (const r of [...this.roles].reverse()) {
      r.child.kill('SIGTERM')
      const timer = setTimeout(() => r.child.kill('SIGKILL'), 30_000)
      await r.exited
      clearTimeout(timer)
      // The last of what each process logged (warnings and errors), to look at after a run.
      const file = path.join(
        ROOT,
        'bench/results',
        `${this.mode === 'embedded' ? 'embedded' : 'served'}-${r.role}.log`,
      )
      fs.mkdirSync(path.dirname(file), { recursive: true })
      fs.writeFileSync(file, r.output())
    }
    await this.#cleanup()
  }
}

async function waitReady(url: string, role: Role, timeoutMs = 90_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  let exited = false
  void role.exited.then(() => {
    exited = true
  })
  while (Date.now() < deadline) {
    if (exited) throw new Error(`patchbay ${role.role} exited before it was ready:\n${role.output()}`)
    try {
      const res = await fetch(`${url}/readyz`)
      if (res.status === 200) return
    } catch {}
    await new Promise((r) => setTimeout(r, 200))
  }
  throw new Error(`patchbay ${role.role} not ready after ${timeoutMs} ms:\n${role.output()}`)
}

async function waitOutput(role: Role, re: RegExp, timeoutMs = 90_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  let exited = false
  void role.exited.then(() => {
    exited = true
  })
  while (!re.test(role.output())) {
    if (exited) throw new Error(`patchbay ${role.role} exited before it was ready:\n${role.output()}`)
    if (Date.now() > deadline) throw new Error(`patchbay ${role.role} not ready:\n${role.output()}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

/** The embedded server Patchbay runs on `dataDir`: its postmaster and the URL of Patchbay's database. */
function embeddedServer(dataDir: string): { pid: number; url: string } {
  const lines = fs.readFileSync(path.join(dataDir, 'postgres', 'postmaster.pid'), 'utf8').split('\n')
  const password = fs.readFileSync(path.join(dataDir, 'postgres.password'), 'utf8').trim()
  return {
    pid: Number(lines[0]),
    url: `postgres://patchbay:${encodeURIComponent(password)}@127.0.0.1:${lines[3]}/patchbay`,
  }
}
