import path from 'node:path'
import type { Config } from './config.ts'
import { type ConnectorRegistry, defaultRegistry } from './connectors/registry.ts'
import { MemoryTokenCache } from './connectors/shared/token-cache.ts'
import type { AppContext } from './context.ts'
import { type Clock, systemClock } from './lib/clock.ts'
import { createLogger, type Logger } from './lib/logger.ts'
import { AddressPolicy } from './net/address-policy.ts'
import { HttpClient, type Resolver } from './net/http-client.ts'
import { type Database, lockDataDir, openEmbedded, openServed } from './store/db.ts'
import { migrateEmbedded, migrateServed } from './store/migrate.ts'
import { DatabaseRequestBudget } from './store/request-budget.ts'
import { resolveKeyRing } from './vault/keyring.ts'
import { Vault } from './vault/vault.ts'

export interface Runtime extends AppContext {
  /** Releases the database and the data-directory lock. */
  close(): Promise<void>
}

export interface OpenOptions {
  /** Apply migrations before returning (all commands do; tests may skip when restoring a template). */
  migrate?: boolean
  clock?: Clock
  log?: Logger
  resolver?: Resolver
  connectors?: ConnectorRegistry
}

/** Opens the database (embedded or served), applies migrations and loads the key ring. */
export async function openRuntime(config: Config, opts: OpenOptions = {}): Promise<Runtime> {
  const log = opts.log ?? createLogger(config.LOG_LEVEL)
  const clock = opts.clock ?? systemClock
  let db: Database
  let unlock = () => {}
  let ring: ReturnType<typeof resolveKeyRing>
  if (config.DATABASE_URL) {
    ring = resolveKeyRing({ env: config.PATCHBAY_ENCRYPTION_KEYS })
    if (opts.migrate !== false) await migrateServed(config.DATABASE_URL)
    db = openServed({
      url: config.DATABASE_URL,
      poolSize: config.DATABASE_POOL_SIZE,
      onError: (err) => log.warn({ err: err.message }, 'database connection error'),
    })
    log.info({ database: 'served' }, 'using served PostgreSQL')
  } else {
    unlock = lockDataDir(config.dataDir)
    try {
      ring = resolveKeyRing({ env: config.PATCHBAY_ENCRYPTION_KEYS, dataDir: config.dataDir })
      const started = performance.now()
      db = await openEmbedded({ dataDir: path.join(config.dataDir, 'pgdata') })
      if (opts.migrate !== false) await migrateEmbedded(db)
      log.info(
        { database: 'embedded', dataDir: config.dataDir, ms: Math.round(performance.now() - started) },
        'using embedded PostgreSQL',
      )
    } catch (err) {
      unlock()
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
  return {
    config,
    db,
    vault: new Vault(ring.ring),
    clock,
    log,
    http,
    connectors: opts.connectors ?? defaultRegistry,
    tokens: new MemoryTokenCache(() => clock.now().getTime()),
    budget: new DatabaseRequestBudget(db.orm, clock),
    async close() {
      await http.close()
      await db.close()
      unlock()
    },
  }
}
