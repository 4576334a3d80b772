/** What the `/api-keys` routes share: the key as they show it and the rate limits a key may carry. */
import { z } from '@hono/zod-openapi'
import type { AppContext } from '../../../context.ts'
import type { ApiKey } from '../../../store/tenancy.ts'
import { iso, timestamp } from '../../schemas.ts'

export const TAG = 'Tenancy'

export const scopeEnum = z.enum(['system', 'partner', 'organization'])

const perMinute = (what: string) =>
  z
    .number()
    .int()
    .min(1)
    .max(100_000_000)
    .nullable()
    .optional()
    .openapi({ description: `${what} requests per minute for this key; null: the server default` })

export const rateLimitsInput = z
  .strictObject({
    ingest: perMinute('Event-ingest (POST /events, /events/batch)'),
    configuration: perMinute('All other API'),
  })
  .openapi('ApiKeyRateLimitsInput', {
    description:
      'Own rate limits for the key. Only a system key, or a partner key for the keys of its organizations, may set them.',
  })

export const apiKeySchema = z
  .object({
    id: z.uuid(),
    name: z.string(),
    scope: scopeEnum,
    partnerId: z.uuid().nullable(),
    orgId: z.uuid().nullable(),
    tokenPrefix: z.string().openapi({
      description: 'The `pbk_` type prefix and at most four characters after it, to tell keys apart',
    }),
    createdAt: timestamp,
    lastUsedAt: timestamp.nullable(),
    revokedAt: timestamp.nullable(),
    rateLimits: z
      .object({
        ingest: z.number().int().openapi({ description: 'Event-ingest requests per minute' }),
        configuration: z.number().int().openapi({ description: 'Other API requests per minute' }),
        custom: z
          .object({ ingest: z.number().int().nullable(), configuration: z.number().int().nullable() })
          .openapi({ description: "The key's own settings; null where it uses the server default" }),
      })
      .openapi({ description: 'The budgets in force for this key (see README, Rate limits)' }),
  })
  .openapi('ApiKey')

export function toApiKey(ctx: AppContext, k: ApiKey) {
  return {
    id: k.id,
    name: k.name,
    scope: k.scope,
    partnerId: k.partnerId,
    orgId: k.orgId,
    tokenPrefix: k.tokenPrefix,
    createdAt: iso(k.createdAt) as string,
    lastUsedAt: iso(k.lastUsedAt),
    revokedAt: iso(k.revokedAt),
    rateLimits: {
      ingest: k.rateLimitIngest ?? ctx.config.PATCHBAY_RATE_LIMIT_INGEST,
      configuration: k.rateLimitConfig ?? ctx.config.PATCHBAY_RATE_LIMIT_CONFIG,
      custom: { ingest: k.rateLimitIngest, configuration: k.rateLimitConfig },
    },
  }
}
