import { sql } from 'drizzle-orm'
import type { AppContext } from './context.ts'
import { recordAudit } from './store/audit.ts'
import { activeSystemKeyCount, createApiKey, tokenExists } from './store/tenancy.ts'

export type BootstrapOutcome =
  | { kind: 'none' }
  | { kind: 'from-env' }
  | { kind: 'env-ignored' }
  | { kind: 'generated'; token: string }

// Serialises bootstrap across processes starting at once against one served database.
const BOOTSTRAP_LOCK_ID = 7_206_311_022

/**
 * The first system key. With PATCHBAY_BOOTSTRAP_TOKEN it is exactly that token; otherwise one is generated and
 * returned so the caller can print it once. Nothing happens while a live system key exists.
 */
export async function bootstrapSystemKey(ctx: AppContext): Promise<BootstrapOutcome> {
  const wanted = ctx.config.PATCHBAY_BOOTSTRAP_TOKEN
  return ctx.db.orm.transaction(async (tx) => {
    await tx.execute(sql`SELECT pg_advisory_xact_lock(${BOOTSTRAP_LOCK_ID})`)
    if (wanted && (await tokenExists(tx, wanted))) return { kind: 'none' } as const
    if ((await activeSystemKeyCount(tx)) > 0)
      return wanted ? ({ kind: 'env-ignored' } as const) : ({ kind: 'none' } as const)
    const now = ctx.clock.now()
    const { key, token } = await createApiKey(
      tx,
      {
        name: wanted ? 'bootstrap (PATCHBAY_BOOTSTRAP_TOKEN)' : 'bootstrap',
        scope: 'system',
        ...(wanted ? { token: wanted } : {}),
      },
      now,
    )
    await recordAudit(
      tx,
      {
        actor: { type: 'system', name: 'bootstrap' },
        action: 'api_key.create',
        targetType: 'api_key',
        targetId: key.id,
        summary: { name: key.name, scope: 'system', tokenPrefix: key.tokenPrefix },
      },
      now,
    )
    return wanted ? ({ kind: 'from-env' } as const) : ({ kind: 'generated', token } as const)
  })
}
