/** Helpers of the `/changes` handlers: who acts (with the events they raise) and which organization. */
import type { Context } from 'hono'
import type { Acting } from '../../../changes/service.ts'
import type { AppContext } from '../../../context.ts'
import { ingestEvents } from '../../../delivery/ingest.ts'
import type { Fanout } from '../../../delivery/types.ts'
import type { Database } from '../../../store/db.ts'
import type { AppEnv } from '../../env.ts'
import { resolveOrgId } from '../../principal.ts'
import { auditOf } from '../shared.ts'

/** The caller, for the audit log, and how the change's events are raised. */
export function actingOf(ctx: AppContext, fanouts: readonly Fanout[], c: Context<AppEnv>): Acting {
  return {
    ...auditOf(c),
    // The events join the caller's transaction: ingestEvents asks for a database and opens a transaction on it,
    // here the one already open.
    emit: (q, events) =>
      ingestEvents({ transaction: (fn) => fn(q) } as Database, fanouts, events, ctx.clock.now()),
  }
}

/** The organization the request is about (`orgId`, required for partner and system keys). */
export function orgOf(ctx: AppContext, c: Context<AppEnv>, orgId: string | undefined) {
  return resolveOrgId(ctx.db.orm, c.var.principal, orgId)
}
