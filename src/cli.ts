#!/usr/bin/env node
import fs from 'node:fs'
import path from 'node:path'
import { parseArgs } from 'node:util'
import v8 from 'node:v8'
import { type Config, ConfigError, loadConfig } from './config.ts'
import { createLogger, type Logger } from './lib/logger.ts'
import { LegacyDataError, openDatabase } from './open-database.ts'
import type { Runtime } from './runtime.ts'
import type { Service } from './server.ts'
import { BackupError } from './store/backup-error.ts'
import { MigrateEmbeddedError } from './store/migrate-embedded-error.ts'

// Only what every command needs is imported above: the rest of Patchbay (about 0.8 s of module loading on a
// small machine, most of a restart) is imported by the command that uses it, and `start` imports it while the
// embedded PostgreSQL server starts.

// V8 lets the old generation grow to several times what survives a full collection when collections look cheap:
// under sustained load Patchbay's heap reached ~160 MB for ~35 MB live, and its peak RSS 250-270 MB (bench
// throughput scenario). Growing by a fixed factor of 2 kept the peak at ~180 MB with no CPU cost we could measure
// (a factor of 1.2: ~165 MB, but ~25% more CPU per delivery). V8 reads the flag at each collection, so setting it
// now applies; one given to node on the command line wins.
if (!process.execArgv.some((a) => a.startsWith('--heap-growing-percent'))) {
  v8.setFlagsFromString('--heap-growing-percent=100')
}

const USAGE = `Usage: patchbay <command>

Commands:
  start                 API, delivery workers and scheduler in one process (the default)
  api                   the HTTP API only (served PostgreSQL; run workers separately)
  worker                delivery workers and scheduler only (served PostgreSQL)
  migrate               apply database migrations and exit
  backup <file>         (embedded database) write a consistent copy of it to <file>, a pg_dump plain-format SQL
                        script (gzip-compressed when <file> ends in .gz); works while Patchbay runs
  restore <file>        (embedded database) load <file> into a fresh DATA_DIR; Patchbay must not be running
      --force            replace the data the database already holds instead of refusing
  migrate-embedded      copy a DATA_DIR written by an older Patchbay (PGlite) into the embedded PostgreSQL, once
  token create          create an API key and print its token once
      --scope system|partner|organization   (default system)
      --partner-id <uuid>  --org-id <uuid>  --name <text>
  keys rotate           re-encrypt every stored secret under the active key
      --new-key          (embedded mode) first add a freshly generated key as the active key

Settings come from the environment; see README.md.`

const out = (line: string) => process.stdout.write(`${line}\n`)

function printToken(token: string, what: string) {
  out('')
  out('================================================================')
  out(`  ${what} (shown once, store it now):`)
  out(`  ${token}`)
  out('================================================================')
  out('')
}

async function serve(rt: Runtime, services: Service[]) {
  const [{ bootstrapSystemKey }, { runUntilSignalled }] = await Promise.all([
    import('./bootstrap.ts'),
    import('./server.ts'),
  ])
  const boot = await bootstrapSystemKey(rt)
  if (boot.kind === 'generated') printToken(boot.token, 'Patchbay system API token')
  if (boot.kind === 'from-env') rt.log.info('created the system API key from PATCHBAY_BOOTSTRAP_TOKEN')
  if (boot.kind === 'env-ignored') {
    rt.log.warn('PATCHBAY_BOOTSTRAP_TOKEN ignored: a system API key already exists')
  }
  await runUntilSignalled(rt, services, () => rt.close())
}

async function main(argv: string[]): Promise<number> {
  const [command = 'start', sub, ...rest] = argv
  if (command === 'help' || command === '--help' || command === '-h') {
    out(USAGE)
    return 0
  }
  const config = loadConfig()
  const log = createLogger(config.LOG_LEVEL)

  switch (command) {
    case 'start': {
      const rt = await openServing(config, log)
      const [{ DeliveryWorker }, { JobService }, { ApiService }, { transports, WIRED_JOBS }] =
        await Promise.all([
          import('./delivery/worker.ts'),
          import('./jobs/service.ts'),
          import('./server.ts'),
          import('./wiring.ts'),
        ])
      await serve(rt, [
        new DeliveryWorker(rt, transports(rt)),
        new JobService(rt, WIRED_JOBS),
        new ApiService(rt),
      ])
      return -1
    }
    case 'api':
    case 'worker': {
      if (!config.DATABASE_URL) {
        log.warn(`"patchbay ${command}" runs one role; with the embedded database use "patchbay start"`)
      }
      const rt = await openServing(config, log)
      const [{ DeliveryWorker }, { JobService }, { ApiService, MetricsService }, { transports, WIRED_JOBS }] =
        await Promise.all([
          import('./delivery/worker.ts'),
          import('./jobs/service.ts'),
          import('./server.ts'),
          import('./wiring.ts'),
        ])
      await serve(
        rt,
        command === 'api'
          ? [new ApiService(rt)]
          : [
              new DeliveryWorker(rt, transports(rt)),
              new JobService(rt, WIRED_JOBS),
              // A worker serves no API; with a metrics token it serves its own metrics on PORT.
              ...(config.PATCHBAY_METRICS_TOKEN ? [new MetricsService(rt)] : []),
            ],
      )
      return -1
    }
    case 'migrate': {
      const { openRuntime } = await import('./runtime.ts')
      const rt = await openRuntime(config, { log })
      await rt.close()
      out('migrations applied')
      return 0
    }
    case 'backup': {
      const file = backupFile('backup', sub, config.DATABASE_URL)
      if (fs.existsSync(file)) throw new UsageError(`${file} already exists: choose a new file name`)
      const [
        { writeBackup },
        { hasCluster, runningServerUrl, startEmbeddedServer },
        { DataDirInUseError, lockDataDir },
      ] = await Promise.all([
        import('./store/backup.ts'),
        import('./store/embedded.ts'),
        import('./store/lock.ts'),
      ])
      if (!hasCluster(config.dataDir)) {
        throw new BackupError(`nothing to back up: ${config.dataDir} holds no embedded database`)
      }
      const progress = (table: string, n: number) => out(`  ${table}: ${n} rows`)
      let summary: Awaited<ReturnType<typeof writeBackup>>
      let unlock: (() => Promise<void>) | undefined
      try {
        unlock = await lockDataDir(config.dataDir)
      } catch (err) {
        if (!(err instanceof DataDirInUseError)) throw err
      }
      if (unlock) {
        const server = await startEmbeddedServer({ dataDir: config.dataDir })
        try {
          out(`backing up the embedded database in ${config.dataDir} to ${file}`)
          summary = await writeBackup(server.url, file, progress)
        } finally {
          await server.stop()
          await unlock()
        }
      } else {
        // A repeatable-read snapshot needs no pause: back up from the running process's server.
        const url = await runningServerUrl(config.dataDir)
        if (!url)
          throw new BackupError(
            `${config.dataDir} is locked by a Patchbay process whose database does not answer`,
          )
        out(`Patchbay is running on ${config.dataDir}: backing up from its database to ${file}`)
        summary = await writeBackup(url, file, progress)
      }
      out(
        `done: ${summary.rows} rows in ${Object.keys(summary.tables).length} tables, ${summary.bytes} bytes`,
      )
      out(
        `the key ring is not in the backup: keep ${path.join(config.dataDir, 'keyring')} (or PATCHBAY_ENCRYPTION_KEYS) safe, apart from it`,
      )
      return 0
    }
    case 'restore': {
      const args = [sub, ...rest].filter((a): a is string => a !== undefined)
      const force = args.includes('--force')
      const unknown = args.filter((a) => a.startsWith('--') && a !== '--force')
      if (unknown.length > 0) throw new UsageError(`restore: unknown option ${unknown.join(', ')}`)
      const file = backupFile(
        'restore',
        args.find((a) => !a.startsWith('--')),
        config.DATABASE_URL,
      )
      const [{ readBackupHeader, restoreBackup }, { SEALED_COLUMNS }, { openRuntime }] = await Promise.all([
        import('./store/backup.ts'),
        import('./vault/sealed-columns.ts'),
        import('./runtime.ts'),
      ])
      const header = await readBackupHeader(file)
      if (!config.PATCHBAY_ENCRYPTION_KEYS && !fs.existsSync(path.join(config.dataDir, 'keyring'))) {
        throw new BackupError(
          `no key ring: copy the keyring file of the installation the backup came from into ${config.dataDir} ` +
            '(or set PATCHBAY_ENCRYPTION_KEYS) before restoring; without it the restored secrets cannot be opened',
        )
      }
      // Takes the DATA_DIR lock (refused while Patchbay runs there), creates the database and migrates it.
      const rt = await openRuntime(config, { log })
      try {
        out(`restoring ${file} (taken ${header.createdAt}) into ${config.dataDir}`)
        const summary = await restoreBackup(rt.embedded?.url as string, file, {
          force,
          progress: (table, n) => out(`  ${table}: ${n} rows`),
          verify: async (c) => {
            const missing = new Set<string>()
            for (const { table, column } of SEALED_COLUMNS) {
              const res = await c.query<{ v: string }>(
                `SELECT "${column}"::text AS v FROM "${table}" WHERE "${column}" IS NOT NULL`,
              )
              for (const { v } of res.rows) {
                for (const m of v.matchAll(/pb1:([A-Za-z0-9_-]+):/g)) {
                  if (!rt.vault.ring.keys.has(m[1] as string)) missing.add(m[1] as string)
                }
              }
            }
            if (missing.size > 0) {
              throw new BackupError(
                `the backup's secrets are sealed with key(s) ${[...missing].map((k) => `"${k}"`).join(', ')}, which the key ring lacks: ` +
                  `put the keyring file of the installation the backup came from in ${config.dataDir} (or add the keys to PATCHBAY_ENCRYPTION_KEYS); nothing was restored`,
              )
            }
          },
        })
        out(`done: ${summary.rows} rows in ${Object.keys(summary.tables).length} tables`)
      } finally {
        await rt.close()
      }
      return 0
    }
    case 'migrate-embedded': {
      if (config.DATABASE_URL) {
        throw new UsageError('migrate-embedded copies into the embedded database: unset DATABASE_URL')
      }
      const [{ hasLegacyPglite }, { migrateFromPglite }, { openRuntime }] = await Promise.all([
        import('./store/embedded.ts'),
        import('./store/migrate-pglite.ts'),
        import('./runtime.ts'),
      ])
      if (!hasLegacyPglite(config.dataDir)) {
        throw new MigrateEmbeddedError(
          `nothing to migrate: ${config.dataDir}/pgdata holds no PGlite database`,
        )
      }
      const rt = await openRuntime(config, { log, allowLegacyData: true })
      try {
        out(`copying ${config.dataDir}/pgdata (PGlite) into the embedded PostgreSQL`)
        const copied = await migrateFromPglite(config.dataDir, rt.embedded?.url as string, out)
        const total = copied.reduce((n, t) => n + t.rows, 0)
        out(
          `done: ${total} rows in ${copied.length} tables; the old directory was renamed to pgdata.migrated-*`,
        )
      } finally {
        await rt.close()
      }
      return 0
    }
    case 'token': {
      if (sub !== 'create') break
      const { values } = parseArgs({
        args: rest,
        options: {
          scope: { type: 'string', default: 'system' },
          'partner-id': { type: 'string' },
          'org-id': { type: 'string' },
          name: { type: 'string', default: 'created with patchbay token create' },
        },
      })
      const scope = values.scope
      if (scope !== 'system' && scope !== 'partner' && scope !== 'organization') {
        throw new UsageError('--scope must be system, partner or organization')
      }
      const [{ openRuntime }, { getOrg, getPartner, createApiKey }, { recordAudit }] = await Promise.all([
        import('./runtime.ts'),
        import('./store/tenancy.ts'),
        import('./store/audit.ts'),
      ])
      const rt = await openRuntime(config, { log })
      try {
        const partnerId = scope === 'partner' ? values['partner-id'] : undefined
        const orgId = scope === 'organization' ? values['org-id'] : undefined
        if (
          scope === 'partner' &&
          !(partnerId && (await getPartner(rt.db.orm, { kind: 'system' }, partnerId)))
        ) {
          throw new UsageError('--partner-id must name an existing partner')
        }
        if (scope === 'organization' && !(orgId && (await getOrg(rt.db.orm, { kind: 'system' }, orgId)))) {
          throw new UsageError('--org-id must name an existing organization')
        }
        const now = rt.clock.now()
        const { token } = await rt.db.orm.transaction(async (tx) => {
          const created = await createApiKey(tx, { name: values.name, scope, partnerId, orgId }, now)
          await recordAudit(
            tx,
            {
              actor: { type: 'system', name: 'cli' },
              orgId: orgId ?? null,
              partnerId: partnerId ?? null,
              action: 'api_key.create',
              targetType: 'api_key',
              targetId: created.key.id,
              summary: { name: values.name, scope, tokenPrefix: created.key.tokenPrefix },
            },
            now,
          )
          return created
        })
        printToken(token, `API token (${scope})`)
      } finally {
        await rt.close()
      }
      return 0
    }
    case 'keys': {
      if (sub !== 'rotate') break
      const { values } = parseArgs({
        args: rest,
        options: { 'new-key': { type: 'boolean', default: false } },
      })
      const [{ addGeneratedKey }, { openRuntime }, { rotateKeys }, { SEALED_COLUMNS }, { recordAudit }] =
        await Promise.all([
          import('./vault/keyring.ts'),
          import('./runtime.ts'),
          import('./vault/rotate.ts'),
          import('./vault/sealed-columns.ts'),
          import('./store/audit.ts'),
        ])
      if (values['new-key']) {
        if (config.DATABASE_URL) {
          throw new UsageError(
            '--new-key is for the embedded key ring; with DATABASE_URL, put the new key first in PATCHBAY_ENCRYPTION_KEYS',
          )
        }
        const id = addGeneratedKey(config.dataDir)
        out(`added key "${id}" as the active key in ${config.dataDir}/keyring`)
      }
      const rt = await openRuntime(config, { log })
      try {
        out(`re-encrypting every stored secret under key "${rt.vault.ring.activeId}"`)
        const result = await rotateKeys(rt.db.orm, rt.vault, SEALED_COLUMNS, (p) =>
          out(`  ${p.table}.${p.column}: ${p.done}/${p.total}`),
        )
        await recordAudit(
          rt.db.orm,
          {
            actor: { type: 'system', name: 'cli' },
            action: 'keys.rotate',
            targetType: 'key_ring',
            targetId: rt.vault.ring.activeId,
            summary: { ...result },
          },
          rt.clock.now(),
        )
        out(`done: ${result.rotated} re-encrypted, ${result.skipped} changed meanwhile (already current)`)
        out('keys other than the active one may now be removed from the key ring')
      } finally {
        await rt.close()
      }
      return 0
    }
  }
  throw new UsageError(`unknown command: ${[command, sub].filter(Boolean).join(' ')}`)
}

class UsageError extends Error {}

/**
 * The runtime of a serving command. The embedded server is launched first and Node loads the rest of Patchbay
 * while it starts (the postmaster runs on the other core): a restart took ~0.3 s longer doing one after the other.
 */
async function openServing(config: Config, log: Logger): Promise<Runtime> {
  let launched = () => {}
  const launching = new Promise<void>((resolve) => {
    launched = resolve
  })
  const database = openDatabase(config, { log, onLaunched: () => launched() })
  // Not before the launch: loading modules takes the event loop for long stretches, which would delay it.
  await Promise.race([launching, database])
  const { openRuntime } = await import('./runtime.ts')
  return openRuntime(config, { log, database: await database })
}

function backupFile(command: string, file: string | undefined, databaseUrl: string | undefined): string {
  if (databaseUrl) {
    throw new UsageError(
      `${command} is for the embedded database; with DATABASE_URL use PostgreSQL's own tools (pg_dump -Fc, pg_restore; see README)`,
    )
  }
  if (!file) throw new UsageError(`${command} needs a file: patchbay ${command} <file>`)
  return path.resolve(file)
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exit(code)
  },
  (err: unknown) => {
    if (err instanceof LegacyDataError || err instanceof MigrateEmbeddedError || err instanceof BackupError) {
      console.error(`patchbay: ${err.message}`)
      process.exit(2)
    }
    if (err instanceof ConfigError || err instanceof UsageError) {
      console.error(`patchbay: ${err.message}`)
      if (err instanceof UsageError) console.error(`\n${USAGE}`)
      process.exit(2)
    }
    console.error(`patchbay: ${err instanceof Error ? err.message : String(err)}`)
    process.exit(1)
  },
)
