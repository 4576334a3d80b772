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

/**
 * The bounds every request is held to, decided once: the request-input guard (input.ts) applies them to every
 * JSON body (free-form fields included) and every query parameter before any route sees it, and `dateTime`
 * applies the year range to every date-time field. Route schemas may be stricter, never looser. PostgreSQL
 * refuses NUL in text and jsonb, lone surrogates cannot be encoded as UTF-8, and its calendar has no year 0:
 * without these a careless request reaches the database and fails there.
 */
export const INPUT_BOUNDS = {
  /** Objects and arrays inside one another, counting the body itself as level 1. */
  maxDepth: 64,
  /** Items in any one array, and members in any one object. */
  maxItems: 1000,
  /** Characters in any one string, object key or query value. */
  maxStringLength: 262_144,
  /** The years a date-time may fall in (UTC). */
  minYear: 1970,
  maxYear: 9999,
} as const

const yearMessage = `year must be between ${INPUT_BOUNDS.minYear} and ${INPUT_BOUNDS.maxYear}`

function inYearRange(s: string): boolean {
  const year = new Date(s).getUTCFullYear()
  return year >= INPUT_BOUNDS.minYear && year <= INPUT_BOUNDS.maxYear
}

/** An ISO 8601 date-time with an offset, within the years of INPUT_BOUNDS. Every date-time input uses this. */
export function dateTime(message = 'must be an ISO 8601 date-time') {
  return z.iso
    .datetime({ offset: true, message })
    .refine(inYearRange, { message: yearMessage, abort: true })
    .openapi({
      description: `ISO 8601 with an offset, years ${INPUT_BOUNDS.minYear}–${INPUT_BOUNDS.maxYear}`,
    })
}

export const timestamp = z.iso.datetime({ offset: true }).openapi({ example: '2026-02-18T12:00:00.000Z' })

/** Query-string time bound: ISO 8601, parsed to a Date. */
export const timeQuery = dateTime().transform((s) => new Date(s))

export function iso(d: Date | null | undefined): string | null {
  return d ? d.toISOString() : null
}

export function paginated<T extends z.ZodType>(item: T) {
  return z.object({ data: z.array(item), pagination: paginationSchema })
}
