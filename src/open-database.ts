import fs from 'node:fs'
import path from 'node:path'
import type { Config } from './config.ts'
import type { Logger } from './lib/logger.ts'
import {
  CLUSTER_DIR,
  type EmbeddedServer,
  hasLegacyPglite,
  LEGACY_PGLITE_DIR,
  startEmbeddedServer,
} from './store/embedded.ts'
import { lockDataDir } from './store/lock.ts'
import { resolveKeyRing } from './vault/keyring.ts'

/** DATA_DIR holds a database written by the old in-process driver (PGlite), which this version does not read. */
export class LegacyDataError extends Error {
  constructor(dataDir: string) {
    super(
      `${dataDir}/${LEGACY_PGLITE_DIR} holds a database written by an older Patchbay (PGlite); copy it into the embedded PostgreSQL once with "patchbay migrate-embedded" (see README, Upgrading), then start again`,
    )
  }
}

/** The database a runtime opens: where it is, the key ring that goes with it, and how to let go of it. */
export interface DatabaseServer {
  url: string
  /** The embedded server, when Patchbay runs one (no DATABASE_URL). */
  embedded: EmbeddedServer | undefined
  ring: ReturnType<typeof resolveKeyRing>
  /** Stops the embedded server and releases the DATA_DIR lock (nothing for a served database). */
  release(): Promise<void>
}

export interface OpenDatabaseOptions {
  log: Logger
  /** Apply migrations (all commands do; tests may skip when restoring a template). */
  migrate?: boolean
  /** Start even though DATA_DIR holds an old PGlite database (`patchbay migrate-embedded` does, to copy it). */
  allowLegacyData?: boolean
  /** Called when the embedded server is being started by other processes (see `startEmbeddedServer`). */
  onLaunched?: () => void
}

/**
 * Locks DATA_DIR and starts the embedded server (or finds the served database), then applies migrations.
 * Kept apart from the runtime, and light to import, so `patchbay start` can launch the server before Node has
 * loaded the rest of Patchbay (most of a restart's time) and the two happen at once.
 */
export async function openDatabase(config: Config, opts: OpenDatabaseOptions): Promise<DatabaseServer> {
  const { log } = opts
  // Loaded here, not above: drizzle's migrator is not needed to launch the server, which starts meanwhile.
  const migrate = async (url: string) => {
    const { applyMigrations } = await import('./store/migrate.ts')
    await applyMigrations(url)
  }
  if (config.DATABASE_URL) {
    const ring = resolveKeyRing({ env: config.PATCHBAY_ENCRYPTION_KEYS })
    if (opts.migrate !== false) {
      log.info({ database: 'served' }, 'applying database migrations')
      await migrate(config.DATABASE_URL)
    }
    return { url: config.DATABASE_URL, embedded: undefined, ring, release: async () => {} }
  }
  const unlock = await lockDataDir(config.dataDir)
  let server: EmbeddedServer | undefined
  try {
    if (hasLegacyPglite(config.dataDir) && !opts.allowLegacyData) throw new LegacyDataError(config.dataDir)
    const ring = resolveKeyRing({ env: config.PATCHBAY_ENCRYPTION_KEYS, dataDir: config.dataDir })
    const started = performance.now()
    // A first start is silent for seconds otherwise (initdb, then the server's own start): say what is happening.
    log.info(
      { database: 'embedded', dataDir: config.dataDir },
      fs.existsSync(path.join(config.dataDir, CLUSTER_DIR))
        ? 'starting the embedded PostgreSQL server'
        : 'first start: creating the embedded PostgreSQL database in DATA_DIR (initdb), then starting it',
    )
    server = await startEmbeddedServer({
      dataDir: config.dataDir,
      onNotice: (msg, details) => log.warn(details, msg),
      ...(opts.onLaunched ? { onLaunched: opts.onLaunched } : {}),
    })
    if (opts.migrate !== false) {
      log.info({ database: 'embedded' }, 'applying database migrations')
      await migrate(server.url)
    }
    log.info(
      {
        database: 'embedded',
        dataDir: config.dataDir,
        pid: server.pid,
        port: server.port,
        ms: Math.round(performance.now() - started),
      },
      'using embedded PostgreSQL',
    )
    const running = server
    return {
      url: server.url,
      embedded: server,
      ring,
      async release() {
        await running.stop()
        await unlock()
      },
    }
  } catch (err) {
    await server?.stop()
    await unlock()
    throw err
  }
}
