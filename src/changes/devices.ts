import { and, asc, eq, sql } from 'drizzle-orm'
import { VendorError } from '../connectors/vendor-error.ts'
import type { AppContext } from '../context.ts'
import { ApiError } from '../lib/errors.ts'
import { newId } from '../lib/ids.ts'
import { scrubSecrets } from '../lib/redact.ts'
import { recordAudit } from '../store/audit.ts'
import { changeSettings, devices } from '../store/schema/changes.ts'
import { type AuditContext, psaFor } from './service.ts'

interface SyncState {
  cursor: string | null
  created: number
  updated: number
  skipped: number
  pages: number
}

export interface DeviceSyncResult {
  created: number
  updated: number
  skipped: number
  pages: number
  /** False when the PSA stopped it (its error in `error`); the next sync resumes from the page it reached. */
  complete: boolean
  error: string | null
}

const MAX_PAGES = 1000

/**
 * Imports the mapped company's configurations as devices of the organization (setup step 5): only mapped types
 * (others counted as skipped); new ones created, changed ones (name or type) updated. The position is saved after
 * every page, so a sync the PSA stopped (rate limit, outage) resumes where it was, like the PSA ticket sync.
 */
export async function runDeviceSync(
  ctx: AppContext,
  orgId: string,
  audit: AuditContext,
): Promise<DeviceSyncResult> {
  const psa = await psaFor(ctx, orgId)
  const company = psa.settings.company
  if (!company) throw ApiError.conflict('No PSA company is mapped to this organization')
  if (!psa.settings.configurationTypes.length)
    throw ApiError.conflict('No configuration type is mapped to a device type; nothing would be imported')
  const mapped = new Map(psa.settings.configurationTypes.map((t) => [t.typeId, t.deviceType]))
  const [row] = await ctx.db.orm.select().from(changeSettings).where(eq(changeSettings.orgId, orgId))
  const state: SyncState = (row?.deviceSync as SyncState | null) ?? {
    cursor: null,
    created: 0,
    updated: 0,
    skipped: 0,
    pages: 0,
  }
  const save = (s: SyncState | null, finished: boolean) =>
    ctx.db.orm
      .update(changeSettings)
      .set({ deviceSync: s, ...(finished ? { lastDeviceSyncAt: ctx.clock.now() } : {}) })
      .where(eq(changeSettings.orgId, orgId))
  let error: string | null = null
  try {
    for (let i = 0; i < MAX_PAGES; i++) {
      const page = await psa.ops.listConfigurations(
        psa.credentials,
        { companyId: company.id, typeIds: [], cursor: state.cursor ?? undefined },
        psa.env,
      )
      const now = ctx.clock.now()
      for (const cfg of page.items) {
        const deviceType = mapped.get(cfg.typeId)
        if (!deviceType) {
          state.skipped++
          continue
        }
        const [existing] = await ctx.db.orm
          .select()
          .from(devices)
          .where(
            and(
              eq(devices.orgId, orgId),
              eq(devices.integrationId, psa.integration.id),
              eq(devices.externalId, cfg.id),
            ),
          )
        if (!existing) {
          await ctx.db.orm.insert(devices).values({
            id: newId(now.getTime()),
            orgId,
            integrationId: psa.integration.id,
            externalId: cfg.id,
            hostname: cfg.name,
            deviceType,
            sourceType: cfg.typeName,
            createdAt: now,
            updatedAt: now,
          })
          state.created++
        } else if (existing.hostname !== cfg.name || existing.deviceType !== deviceType) {
          await ctx.db.orm
            .update(devices)
            .set({ hostname: cfg.name, deviceType, sourceType: cfg.typeName, updatedAt: now })
            .where(and(eq(devices.orgId, orgId), eq(devices.id, existing.id)))
          state.updated++
        } else state.skipped++
      }
      state.pages++
      state.cursor = page.next ?? null
      if (!page.next) break
      await save(state, false)
    }
  } catch (err) {
    if (!(err instanceof VendorError)) throw err
    error = scrubSecrets(err.message, psa.secrets)
    await save(state, false)
    return { ...counts(state), complete: false, error }
  }
  await save(null, true)
  await recordAudit(
    ctx.db.orm,
    {
      actor: audit.actor,
      requestId: audit.requestId ?? null,
      orgId,
      action: 'change.device_sync',
      targetType: 'change_settings',
      targetId: orgId,
      summary: counts(state),
    },
    ctx.clock.now(),
  )
  return { ...counts(state), complete: true, error: null }
}

function counts(s: SyncState) {
  return { created: s.created, updated: s.updated, skipped: s.skipped, pages: s.pages }
}

export async function listDevices(ctx: AppContext, orgId: string, page: { page: number; limit: number }) {
  const where = eq(devices.orgId, orgId)
  const [items, total] = await Promise.all([
    ctx.db.orm
      .select()
      .from(devices)
      .where(where)
      .orderBy(asc(sql`lower(${devices.hostname})`), asc(devices.id))
      .limit(page.limit)
      .offset((page.page - 1) * page.limit),
    ctx.db.orm.$count(devices, where),
  ])
  return { items, total }
}
