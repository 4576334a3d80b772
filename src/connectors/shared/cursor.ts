import { VendorError } from '../vendor-error.ts'

/**
 * Page cursors handed to callers are opaque: a connector writes whatever it needs to fetch the next page (a page
 * number, the vendor's own token, the filter it paged through) as base64url JSON, and reads it back.
 */
export function encodeCursor(value: Record<string, unknown>): string {
  return Buffer.from(JSON.stringify(value), 'utf8').toString('base64url')
}

export function decodeCursor<T extends Record<string, unknown>>(
  vendor: string,
  cursor: string | undefined,
): Partial<T> | undefined {
  if (cursor === undefined || cursor === '') return undefined
  try {
    const value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown
    if (value && typeof value === 'object' && !Array.isArray(value)) return value as Partial<T>
  } catch {
    // falls through to the error below
  }
  throw new VendorError(`${vendor}: the page cursor is not one this connector issued`, 400)
}
