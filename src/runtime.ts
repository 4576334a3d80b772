import fs from 'node:fs'
import path from 'node:path'
import type { Config } from './config.ts'
import { type ConnectorRegistry, defaultRegistry } from './connectors/registry.ts'
import { MemoryTokenCache } from './connectors/shared/token-cache.ts'
import type { AppContext } from './context.ts'
import { type Clock, systemClock } from './lib/clock.ts'
import { createLogger, type Logger } from './lib/logger.ts'
import { Metrics } from './lib/metrics.ts'
import { AddressPolicy } from './net/address-policy.ts'
import { HttpClient, type Resolver } from './net/http-client.ts'
import { type Database, openServed } from './store/db.ts'
import {
  CLUSTER_DIR,
  type EmbeddedServer,
  hasLegacyPglite,
  LEGACY_PGLITE_DIR,
  startEmbeddedServer,
} from './store/embedded.ts'
import { lockDataDir } from './store/lock.ts'
import { applyMigrations } from './store/migrate.ts'
import { DatabaseRequestBudget } from './store/request-budget.ts'
import { resolveKeyRing } from './vault/keyring.ts'
import { Vault } from './vault/vault.ts'
import { sealPlaintextHeaders } from './webhooks/headers.ts'
import { wire } from './wiring.ts'

export interface Runtime extends AppContext {
  /** The embedded server, when Patchbay runs one (no DATABASE_URL). */
  embedded?: EmbeddedServer | undefined
  /** Releases the database, stops the embedded server and releases the data-directory lock. */
  close(): Promise<void>
}

export interface OpenOptions {
  /** Apply migrations before returning (all commands do; tests may skip when restoring a template). */
  migrate?: boolean
  clock?: Clock
  log?: Logger
  resolver?: Resolver
  connectors?: ConnectorRegistry
  /** Start even though DATA_DIR holds an old PGlite database (`patchbay migrate-embedded` does, to copy it). */
  allowLegacyData?: boolean
}

/** DATA_DIR holds a database written by the old in-process driver (PGlite), which this version does not read. */
export class LegacyDataError extends Error {
  constructor(dataDir: string) {
    super(
      `${dataDir}/${LEGACY_PGLITE_DIR} holds a database written by an older Patchbay (PGlite); copy it into the embedded PostgreSQL once with "patchbay migrate-embedded" (see README, Upgrading), then start again`,
    )
  }
}

/** Opens the database (embedded or served), applies migrations and loads the key ring. */
export async function openRuntime(config: Config, opts: OpenOptions = {}): Promise<Runtime> {
  const log = opts.log ?? createLogger(config.LOG_LEVEL)
  const clock = opts.clock ?? systemClock
  let db: Database
  let server: EmbeddedServer | undefined
  let unlock = async () => {}
  let ring: ReturnType<typeof resolveKeyRing>
  const onError = (err: Error) => log.warn({ error: err.message }, 'database connection error')
  if (config.DATABASE_URL) {
    ring = resolveKeyRing({ env: config.PATCHBAY_ENCRYPTION_KEYS })
    if (opts.migrate !== false) {
      log.info({ database: 'served' }, 'applying database migrations')
      await applyMigrations(config.DATABASE_URL)
    }
    db = openServed({ url: config.DATABASE_URL, poolSize: config.DATABASE_POOL_SIZE, onError })
    log.info({ database: 'served' }, 'using served PostgreSQL')
  } else {
    unlock = await lockDataDir(config.dataDir)
    try {
      if (hasLegacyPglite(config.dataDir) && !opts.allowLegacyData) throw new LegacyDataError(config.dataDir)
      ring = resolveKeyRing({ env: config.PATCHBAY_ENCRYPTION_KEYS, dataDir: config.dataDir })
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
      })
      if (opts.migrate !== false) {
        log.info({ database: 'embedded' }, 'applying database migrations')
        await applyMigrations(server.url)
      }
      db = openServed({ url: server.url, poolSize: config.DATABASE_POOL_SIZE, onError })
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
    } catch (err) {
      await server?.stop()
      await unlock()
      throw err
    }
  }
  if (ring.origin === 'generated') {
    log.warn(
      { file: ring.file },
      'generated an encryption key ring for the embedded database and stored it (mode 0600); back it up with the data directory',
    )
  }
  if (config.PATCHBAY_ALLOWED_TARGET_CIDRS) {
    log.warn(
      { cidrs: config.PATCHBAY_ALLOWED_TARGET_CIDRS },
      'PATCHBAY_ALLOWED_TARGET_CIDRS is set: outbound requests may reach these private ranges, over plain http too',
    )
  }
  const http = new HttpClient({
    policy: AddressPolicy.fromSetting(config.PATCHBAY_ALLOWED_TARGET_CIDRS),
    clock,
    defaultTimeoutMs: config.PATCHBAY_DELIVERY_TIMEOUT_MS,
    ...(opts.resolver ? { resolver: opts.resolver } : {}),
  })
  const vault = new Vault(ring.ring)
  if (opts.migrate !== false) {
    // The data half of migration 0010: header values stored in plain text before they were sealed.
    const sealed = await sealPlaintextHeaders(db.orm, vault).catch(async (err: unknown) => {
      await db.close()
      unlock()
      throw err
    })
    if (sealed > 0) log.info({ webhooks: sealed }, 'sealed webhook header values stored in plain text')
  }
  return wire({
    config,
    db,
    vault,
    clock,
    log,
    http,
    connectors: opts.connectors ?? defaultRegistry,
    embedded: server,
    tokens: new MemoryTokenCache(() => clock.now().getTime()),
    budget: new DatabaseRequestBudget(db.orm, clock),
    metrics: new Metrics().withProcessMetrics(),
    async close() {
      await http.close()
      await db.close()
      await server?.stop()
      await unlock()
    },
  })
}
