import { z } from '@hono/zod-openapi'

export const uuidSchema = z.uuid({ message: 'must be a UUID' })

export const idParams = z.object({ id: uuidSchema.openapi({ param: { name: 'id', in: 'path' } }) })

export const pageQuery = {
  page: z.coerce.number().int().min(1).default(1).openapi({ description: 'Page number (default 1)' }),
  limit: z.coerce
    .number()
    .int()
    .min(1)
    .max(100)
    .default(50)
    .openapi({ description: 'Results per page (default 50, max 100)' }),
}

export const paginationSchema = z
  .object({ page: z.number().int(), limit: z.number().int(), total: z.number().int() })
  .openapi('Pagination')

export const timestamp = z.iso.datetime({ offset: true }).openapi({ example: '2026-02-18T12:00:00.000Z' })

/** Query-string time bound: ISO 8601, parsed to a Date. */
export const timeQuery = z.iso
  .datetime({ offset: true, message: 'must be an ISO 8601 date-time' })
  .transform((s) => new Date(s))

export function iso(d: Date | null | undefined): string | null {
  return d ? d.toISOString() : null
}

export function paginated<T extends z.ZodType>(item: T) {
  return z.object({ data: z.array(item), pagination: paginationSchema })
}
