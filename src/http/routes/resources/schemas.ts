/**
 * What the resources routes share: the page of one kind, the vendor's error as they pass it on, the listing's
 * query (its own parameters; every other one a filter of the kind) and the answers a vendor read may give.
 */
import { z } from '@hono/zod-openapi'
import { RESOURCE_KINDS, type ResourceKind, resourceSchemas } from '../../../resources/kinds.ts'

export const TAG = 'Resources'
const MAX_LIMIT = 100
const DEFAULT_LIMIT = 50
/** Query parameters of the listing itself; every other one is a filter of the kind. */
export const RESERVED = new Set(['cursor', 'limit', 'orgId'])

export const kindEnum = z.enum(RESOURCE_KINDS as [ResourceKind, ...ResourceKind[]])

const itemSchema = z
  .union(Object.values(resourceSchemas) as unknown as [z.ZodType, z.ZodType, ...z.ZodType[]])
  .openapi('ResourceItem', {
    description:
      "One normalized item of the kind (see the kind's shape); `raw` is the vendor's object as sent",
  })

export const listSchema = z
  .object({
    success: z.literal(true),
    data: z.array(itemSchema),
    meta: z.object({
      kind: kindEnum,
      integration_id: z.uuid(),
      provider: z.string(),
      count: z.number().int(),
      next_cursor: z.string().nullable().openapi({
        description: 'Pass as `cursor` (with the same filters) for the next page; null on the last',
      }),
    }),
  })
  .openapi('ResourcePage')

export const vendorErrorSchema = z
  .object({
    success: z.literal(false),
    message: z.string().openapi({ description: "The vendor's own words, credentials removed" }),
    code: z.enum(['vendor_error', 'vendor_rate_limited', 'vendor_unreachable', 'invalid_filter']),
    vendor_status: z.number().int().nullable(),
    retry_after_ms: z.number().int().nullable(),
  })
  .openapi('VendorErrorResponse')

export const listQuery = z
  .object({
    cursor: z
      .string()
      .max(8192)
      .optional()
      .openapi({ description: 'From the previous page’s `next_cursor`' }),
    limit: z.coerce
      .number()
      .int()
      .min(1, 'must be at least 1')
      .max(MAX_LIMIT, `may not be greater than ${MAX_LIMIT}`)
      .default(DEFAULT_LIMIT)
      .openapi({
        description: `Page size (default ${DEFAULT_LIMIT}, max ${MAX_LIMIT}); vendors may return fewer`,
      }),
  })
  .catchall(z.string())
  .openapi({ description: "Any other parameter is a filter of the kind (see the kind's `filters`)" })

export const vendorResponses = {
  400: {
    description: 'An unknown filter, a bad filter value, or a cursor not issued for this listing',
    content: { 'application/json': { schema: vendorErrorSchema } },
  },
  429: {
    description: "The vendor's rate limit or its per-account budget; `Retry-After` says when to try again",
    content: { 'application/json': { schema: vendorErrorSchema } },
  },
  502: {
    description: 'The vendor refused (e.g. the stored credentials, 401/403) or failed; its message verbatim',
    content: { 'application/json': { schema: vendorErrorSchema } },
  },
} as const
