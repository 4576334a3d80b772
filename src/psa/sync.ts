import { and, eq, inArray, isNull, sql } from 'drizzle-orm'
import type { ExternalTicket } from '../connectors/types.ts'
import { VendorError } from '../connectors/vendor-error.ts'
import type { AppContext } from '../context.ts'
import { classifyStatus } from '../delivery/policy.ts'
import { secretValues } from '../integrations/credentials.ts'
import { IntegrationError, loadCredentials } from '../integrations/service.ts'
import { checkConnector, connectorEnv } from '../integrations/verification.ts'
import { type JobInfo, PermanentJobError, RetryJob } from '../jobs/define.ts'
import { newId } from '../lib/ids.ts'
import { scrubSecrets } from '../lib/redact.ts'
import type { Executor } from '../store/db.ts'
import { updateIntegrationRow } from '../store/integrations.ts'
import { integrations } from '../store/schema/integrations.ts'
import { psaTicketMappings } from '../store/schema/psa.ts'
import { autoSyncEnabled, readSettings } from './settings.ts'
import {
  applyTickets,
  changesSince,
  getSyncRun,
  mappingsToCheck,
  queueSyncRun,
  type SyncRunRow,
  updateSyncRun,
} from './store.ts'

export interface SyncTarget {
  runId: string
  orgId: string
  connectionId: string
  provider: string
}

/** The change listing starts this much before the last sync began, so a vendor clock a little behind ours loses nothing. */
export const SINCE_OVERLAP_MS = 60_000
/** The sync's row is gone: its connection was deleted while it ran. */
class RunGone extends Error {}

function present(run: SyncRunRow | undefined): SyncRunRow {
  if (!run) throw new RunGone('sync run removed')
  return run
}

/** Mapped tickets fetched one by one per saved step. */
const CHECK_BATCH = 25

/**
 * Queues a sync of a PSA connection (or finds the one already queued or running) and its job, in one
 * transaction; the connection's `lastSyncStatus` becomes `queued`. `enqueue` adds the job in that transaction.
 */
export async function queueSync(
  ctx: AppContext,
  c: { orgId: string; connectionId: string; provider: string },
  trigger: 'manual' | 'scheduled',
  enqueue: (tx: Executor, target: SyncTarget) => Promise<void>,
): Promise<{ run: SyncRunRow; created: boolean }> {
  const now = ctx.clock.now()
  return ctx.db.orm.transaction(async (tx) => {
    const queued = await queueSyncRun(tx, {
      id: newId(now.getTime()),
      orgId: c.orgId,
      connectionId: c.connectionId,
      trigger,
      now,
    })
    if (queued.created) {
      await updateIntegrationRow(tx, c.connectionId, { lastSyncStatus: 'queued', lastSyncError: null })
      await enqueue(tx, {
        runId: queued.run.id,
        orgId: c.orgId,
        connectionId: c.connectionId,
        provider: c.provider,
      })
    }
    return queued
  })
}

async function finish(
  ctx: AppContext,
  run: SyncRunRow,
  outcome: { status: 'completed' } | { status: 'failed'; error: string },
): Promise<void> {
  const now = ctx.clock.now()
  await ctx.db.orm.transaction(async (tx) => {
    await updateSyncRun(tx, run.id, {
      status: outcome.status,
      error: outcome.status === 'failed' ? outcome.error : null,
      cursor: null,
      finishedAt: now,
      updatedAt: now,
    })
    await updateIntegrationRow(tx, run.connectionId, {
      lastSyncStatus: outcome.status,
      lastSyncError: outcome.status === 'failed' ? outcome.error : null,
      ...(outcome.status === 'completed' ? { lastSyncAt: now } : {}),
    })
  })
}

/**
 * One sync: lists the tickets changed since the last sync (page by page, the connector's cursor saved after
 * each page), then fetches the mapped tickets of open alerts that listing did not show (a batch at a time, the
 * last one checked saved), and writes their status into the mappings. Any interruption — a crash, a rate limit,
 * an outage — resumes from the saved place: rate limits and outages reschedule the job (Retry-After honoured)
 * until its attempts run out; a refusal (bad credentials, no permission) fails the sync with the vendor's message.
 */
export async function runSync(ctx: AppContext, p: SyncTarget, job: JobInfo): Promise<void> {
  let run = await getSyncRun(ctx.db.orm, p.orgId, p.runId)
  if (!run || run.status === 'completed' || run.status === 'failed') return
  let loaded: Awaited<ReturnType<typeof loadCredentials>>
  try {
    loaded = await loadCredentials(ctx, { kind: 'org', orgId: p.orgId }, p.connectionId)
  } catch (err) {
    if (!(err instanceof IntegrationError)) throw err
    await finish(ctx, run, { status: 'failed', error: 'The PSA connection no longer exists' })
    return
  }
  const { integration, connector, credentials } = loaded
  const ops = connector.tickets
  if (integration.status === 'inactive' || !ops) {
    await finish(ctx, run, {
      status: 'failed',
      error: ops
        ? 'The PSA connection is paused'
        : `${connector.descriptor.displayName} has no tickets to sync`,
    })
    return
  }
  if (integration.status === 'error' && run.status === 'queued') {
    // A connection in error may have nothing mapped, so the walk below would call no one and report success:
    // check the credentials with the vendor first, and fail the sync in its words if they still do not work.
    const check = await checkConnector(ctx, connector, credentials, 'verify')
    if (!check.ok) {
      await finish(ctx, run, {
        status: 'failed',
        error: `The PSA connection is in error: ${check.error ?? 'verification failed'}`,
      })
      return
    }
  }
  const db = ctx.db.orm
  if (run.status === 'queued') {
    const now = ctx.clock.now()
    const since = await changesSince(db, p.orgId, p.connectionId)
    run = await db.transaction(async (tx) => {
      const started = present(
        await updateSyncRun(tx, p.runId, {
          status: 'running',
          startedAt: now,
          since: since ? new Date(since.getTime() - SINCE_OVERLAP_MS) : null,
          // Without a mapped ticket there is nothing to bring up to date.
          phase: since ? 'changes' : 'done',
          updatedAt: now,
        }),
      )
      await updateIntegrationRow(tx, p.connectionId, { lastSyncStatus: 'running' })
      return started
    })
  }
  const env = connectorEnv(ctx, integration.provider)
  const startedAt = run.startedAt ?? ctx.clock.now()
  try {
    while (run.phase === 'changes') {
      const page = await ops.listChangedTickets(
        credentials,
        { since: run.since ?? undefined, cursor: run.cursor ?? undefined },
        env,
      )
      const current: SyncRunRow = run
      run = await db.transaction(async (tx) => {
        const applied = await applyTickets(tx, p.orgId, p.connectionId, page.items, ctx.clock.now())
        const next = await updateSyncRun(tx, current.id, {
          cursor: page.next ?? null,
          phase: page.next ? 'changes' : 'mapped',
          pages: current.pages + 1,
          ticketsListed: current.ticketsListed + page.items.length,
          mappingsUpdated: current.mappingsUpdated + applied.changed,
          updatedAt: ctx.clock.now(),
        })
        return present(next)
      })
    }
    while (run.phase === 'mapped') {
      const batch = await mappingsToCheck(
        db,
        p.orgId,
        p.connectionId,
        startedAt,
        run.mappedAfter,
        CHECK_BATCH,
      )
      if (batch.length === 0) {
        run = present(await updateSyncRun(db, run.id, { phase: 'done', updatedAt: ctx.clock.now() }))
        break
      }
      const fetched: ExternalTicket[] = []
      let missing = 0
      let lastId: string | null = run.mappedAfter
      const save = async () => {
        const current: SyncRunRow = run as SyncRunRow
        run = await db.transaction(async (tx) => {
          const applied = await applyTickets(tx, p.orgId, p.connectionId, fetched, ctx.clock.now())
          const next = await updateSyncRun(tx, current.id, {
            mappedAfter: lastId,
            mappingsChecked: current.mappingsChecked + fetched.length + missing,
            mappingsUpdated: current.mappingsUpdated + applied.changed,
            ticketsMissing: current.ticketsMissing + missing,
            updatedAt: ctx.clock.now(),
          })
          return present(next)
        })
      }
      try {
        for (const m of batch) {
          try {
            fetched.push(await ops.getTicket(credentials, m.externalTicketId as string, env))
          } catch (err) {
            // A ticket deleted at the vendor is counted, not fatal.
            if (!(err instanceof VendorError) || err.status !== 404) throw err
            missing++
          }
          lastId = m.id
        }
      } finally {
        // What was fetched before an interruption is kept, and the walk resumes after it.
        if (lastId !== run.mappedAfter) await save()
      }
    }
    await finish(ctx, run, { status: 'completed' })
  } catch (err) {
    if (err instanceof RunGone) return
    const secrets = secretValues(connector.descriptor.credentialSchema, credentials)
    const message = scrubSecrets(err instanceof Error ? err.message : String(err), secrets).slice(0, 2000)
    const lastAttempt = job.attempt >= job.maxAttempts
    const refused =
      err instanceof VendorError &&
      err.status !== undefined &&
      ['permanent', 'gone'].includes(classifyStatus(err.status))
    if (err instanceof VendorError && !refused && !lastAttempt) {
      await updateSyncRun(db, run.id, { error: `${message} (will resume)`, updatedAt: ctx.clock.now() })
      throw new RetryJob(message, err.retryAfterMs)
    }
    if (err instanceof VendorError || lastAttempt) {
      await finish(ctx, run, { status: 'failed', error: message })
      throw new PermanentJobError(message)
    }
    throw err
  }
}

/**
 * The scheduled sync: every active PSA connection with mapped tickets and `autoSync` not turned off gets a sync
 * queued (unless one is queued or running). Connections without tickets have nothing to sync and are skipped.
 */
export async function sweepSyncs(
  ctx: AppContext,
  enqueue: (tx: Executor, target: SyncTarget) => Promise<void>,
): Promise<number> {
  const providers = ctx.connectors
    .all()
    .filter((c) => c.descriptor.category === 'psa')
    .map((c) => c.descriptor.id)
  if (providers.length === 0) return 0
  const candidates = await ctx.db.orm
    .select({
      id: integrations.id,
      orgId: integrations.orgId,
      provider: integrations.provider,
      settings: integrations.settings,
    })
    .from(integrations)
    .where(
      and(
        isNull(integrations.deletedAt),
        eq(integrations.status, 'active'),
        inArray(integrations.provider, providers),
        sql`EXISTS (SELECT 1 FROM ${psaTicketMappings} m WHERE m.connection_id = ${integrations.id}
                    AND m.external_ticket_id IS NOT NULL)`,
      ),
    )
  let queued = 0
  for (const c of candidates) {
    if (!autoSyncEnabled(readSettings(c.settings))) continue
    const r = await queueSync(
      ctx,
      { orgId: c.orgId, connectionId: c.id, provider: c.provider },
      'scheduled',
      enqueue,
    )
    if (r.created) queued++
  }
  return queued
}
