import type { Config } from './config.ts'
import { type ConnectorRegistry, defaultRegistry } from './connectors/registry.ts'
import { MemoryTokenCache } from './connectors/shared/token-cache.ts'
import type { AppContext } from './context.ts'
import { type Clock, systemClock } from './lib/clock.ts'
import { createLogger, type Logger } from './lib/logger.ts'
import { Metrics } from './lib/metrics.ts'
import { AddressPolicy } from './net/address-policy.ts'
import { HttpClient, type Resolver } from './net/http-client.ts'
import { type DatabaseServer, openDatabase } from './open-database.ts'
import { openServed } from './store/db.ts'
import type { EmbeddedServer } from './store/embedded.ts'
import { DatabaseRequestBudget } from './store/request-budget.ts'
import { Vault } from './vault/vault.ts'
import { sealPlaintextHeaders } from './webhooks/headers.ts'
import { wire } from './wiring.ts'

export { LegacyDataError } from './open-database.ts'

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
  /** The database, already opened with `openDatabase` (then `migrate` and `allowLegacyData` were given there). */
  database?: DatabaseServer
}

/** Opens the database (embedded or served), applies migrations and loads the key ring. */
export async function openRuntime(config: Config, opts: OpenOptions = {}): Promise<Runtime> {
  const log = opts.log ?? createLogger(config.LOG_LEVEL)
  const clock = opts.clock ?? systemClock
  const database =
    opts.database ??
    (await openDatabase(config, {
      log,
      ...(opts.migrate !== undefined ? { migrate: opts.migrate } : {}),
      ...(opts.allowLegacyData !== undefined ? { allowLegacyData: opts.allowLegacyData } : {}),
    }))
  const { ring, embedded: server } = database
  const onError = (err: Error) => log.warn({ error: err.message }, 'database connection error')
  const db = openServed({ url: database.url, poolSize: config.DATABASE_POOL_SIZE, onError })
  if (!server) log.info({ database: 'served' }, 'using served PostgreSQL')
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
      await database.release()
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
      await database.release()
    },
  })
}
