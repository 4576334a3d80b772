/** What the `/psa` routes share: the PSA connection as they show it. */
import { z } from '@hono/zod-openapi'
import type { PsaConnection } from '../../../psa/service.ts'
import { iso, timestamp } from '../../schemas.ts'

export const TAG = 'PSA'

export const CONNECTIONS = '/connections'

export const syncStatusEnum = z.enum(['queued', 'running', 'completed', 'failed'])

export const connectionSchema = z
  .object({
    id: z.uuid(),
    orgId: z.uuid(),
    provider: z.string().openapi({ example: 'connectwise' }),
    name: z.string().nullable(),
    settings: z
      .record(z.string(), z.unknown())
      .openapi({ description: 'The automation settings (PsaSettings)' }),
    status: z.enum(['pending_verify', 'active', 'inactive', 'error']).openapi({
      description:
        '`pending_verify` until the credentials are checked, then `active` or `error`; `inactive` while paused',
    }),
    enabled: z.boolean().openapi({ description: 'Not paused' }),
    isDefault: z
      .boolean()
      .openapi({ description: 'The default instance of its provider in the organization' }),
    hasCredentials: z.boolean(),
    syncSettings: z
      .object({
        lastTestedAt: timestamp.nullable(),
        status: z.enum(['verified', 'failed']).nullable().openapi({ description: 'The last test’s outcome' }),
      })
      .openapi({ description: 'What the last connection test found' }),
    lastError: z.string().nullable().openapi({ description: "The vendor's message while an error stands" }),
    lastTestedAt: timestamp.nullable(),
    lastSyncedAt: timestamp.nullable().openapi({ description: 'Same as lastSyncAt' }),
    lastSyncAt: timestamp.nullable().openapi({ description: 'When the last successful sync finished' }),
    lastSyncStatus: syncStatusEnum.nullable(),
    lastSyncError: z.string().nullable(),
    lastSync: z
      .object({
        id: z.uuid(),
        trigger: z.enum(['manual', 'scheduled']),
        status: syncStatusEnum,
        queuedAt: timestamp,
        startedAt: timestamp.nullable(),
        finishedAt: timestamp.nullable(),
        error: z.string().nullable(),
        counts: z.object({
          pages: z.number().int().openapi({ description: 'Pages of changed tickets listed' }),
          ticketsListed: z.number().int().openapi({ description: 'Changed tickets the vendor listed' }),
          mappingsChecked: z.number().int().openapi({ description: 'Mapped tickets fetched one by one' }),
          mappingsUpdated: z.number().int().openapi({ description: 'Mappings whose status changed' }),
          ticketsMissing: z
            .number()
            .int()
            .openapi({ description: 'Mapped tickets the vendor no longer has' }),
        }),
      })
      .nullable()
      .openapi({ description: 'The latest sync, with its counts' }),
    createdAt: timestamp,
    updatedAt: timestamp,
  })
  .openapi('PsaConnection')

export function toConnection({ integration: v, lastSync: r }: PsaConnection) {
  // A successful test sets verifiedAt; a failed one clears it.
  const tested = v.lastTestedAt ? (v.verifiedAt ? ('verified' as const) : ('failed' as const)) : null
  return {
    id: v.id,
    orgId: v.orgId,
    provider: v.provider,
    name: v.name,
    settings: v.settings,
    status: v.status,
    enabled: v.status !== 'inactive',
    isDefault: v.isDefault,
    hasCredentials: v.hasCredentials,
    syncSettings: { lastTestedAt: iso(v.lastTestedAt), status: tested },
    lastError: v.lastError?.message ?? null,
    lastTestedAt: iso(v.lastTestedAt),
    lastSyncedAt: iso(v.lastSyncAt),
    lastSyncAt: iso(v.lastSyncAt),
    lastSyncStatus: (v.lastSyncStatus as z.infer<typeof syncStatusEnum> | null) ?? null,
    lastSyncError: v.lastSyncError,
    lastSync: r
      ? {
          id: r.id,
          trigger: r.trigger as 'manual' | 'scheduled',
          status: r.status as z.infer<typeof syncStatusEnum>,
          queuedAt: r.queuedAt.toISOString(),
          startedAt: iso(r.startedAt),
          finishedAt: iso(r.finishedAt),
          error: r.error,
          counts: {
            pages: r.pages,
            ticketsListed: r.ticketsListed,
            mappingsChecked: r.mappingsChecked,
            mappingsUpdated: r.mappingsUpdated,
            ticketsMissing: r.ticketsMissing,
          },
        }
      : null,
    createdAt: v.createdAt.toISOString(),
    updatedAt: v.updatedAt.toISOString(),
  }
}
