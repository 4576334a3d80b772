import { sql } from 'drizzle-orm'
import type { ErrorDetail } from '../lib/errors.ts'
import { type Executor, rows } from '../store/db.ts'
import { maskSecret } from '../vault/mask.ts'
import type { SealContext, Vault } from '../vault/vault.ts'

/** A custom header with its real value: what the API accepts and what a delivery sends. */
export interface WebhookHeader {
  key: string
  value: string
}

/**
 * One entry of `webhooks.headers`: the name and the masked value responses show. Rows written before values
 * were sealed hold `{key, value}` in plain text until `sealPlaintextHeaders` runs (at startup).
 */
type StoredHeader = { key: string; masked: string } | WebhookHeader

function headerSeal(id: string): SealContext {
  return { table: 'webhooks', field: 'header_values', id }
}

/** How a header value is shown: `****` and its last four characters, or only `****` when it is short. */
export function maskHeaderValue(value: string): string {
  return maskSecret(value)
}

/** A value that looks like what `maskHeaderValue` shows, i.e. a client sending back what it was given. */
export function isMaskedForm(value: string): boolean {
  return /^\*{4}(?:.{4})?$/s.test(value)
}

function storedList(stored: unknown): StoredHeader[] {
  return Array.isArray(stored) ? (stored as StoredHeader[]) : []
}

/** The headers as every response shows them: names, and values masked (also on rows not sealed yet). */
export function shownHeaders(stored: unknown): WebhookHeader[] {
  return storedList(stored).map((h) => ({
    key: h.key,
    value: 'masked' in h ? h.masked : maskHeaderValue(h.value),
  }))
}

/** What to store for a webhook's headers: the masked list for display and the sealed real values. */
export function sealHeaders(
  vault: Vault,
  id: string,
  headers: WebhookHeader[],
): { headers: { key: string; masked: string }[]; headerValues: string | null } {
  return {
    headers: headers.map((h) => ({ key: h.key, masked: maskHeaderValue(h.value) })),
    headerValues: headers.length > 0 ? vault.sealJson(headers, headerSeal(id)) : null,
  }
}

/**
 * The real header values of a stored webhook, for delivery (and to carry a kept value over in a PATCH): opened
 * from the vault, or, on a row not sealed yet, the plain values it still holds.
 */
export function openHeaders(
  vault: Vault,
  row: { id: string; headers: unknown; headerValues: string | null },
): WebhookHeader[] {
  if (row.headerValues) return vault.openJson<WebhookHeader[]>(row.headerValues, headerSeal(row.id))
  return storedList(row.headers).filter((h): h is WebhookHeader => 'value' in h)
}

/**
 * Resolves the headers of a create or PATCH. A value in the masked form keeps the value stored for the same
 * header name (case-insensitive), when what was sent is exactly how that value is shown; any other masked-form
 * value is refused, so a client echoing a listing can never overwrite a credential with its mask.
 */
export function resolveHeaders(
  vault: Vault,
  current: { id: string; headers: unknown; headerValues: string | null } | undefined,
  incoming: WebhookHeader[],
): { headers: WebhookHeader[]; problems: ErrorDetail[] } {
  const problems: ErrorDetail[] = []
  if (!incoming.some((h) => isMaskedForm(h.value))) return { headers: incoming, problems }
  const shown = new Map(shownHeaders(current?.headers).map((h) => [h.key.toLowerCase(), h.value]))
  let real: Map<string, string> | undefined
  const headers = incoming.map((h, i) => {
    if (!isMaskedForm(h.value)) return h
    const lower = h.key.toLowerCase()
    if (current && shown.get(lower) === h.value) {
      real ??= new Map(openHeaders(vault, current).map((r) => [r.key.toLowerCase(), r.value]))
      const value = real.get(lower)
      if (value !== undefined) return { key: h.key, value }
    }
    problems.push({
      path: `headers.${i}.value`,
      message: `is a masked value ("${h.value}") that does not match the stored value of "${h.key}"; send the real value`,
    })
    return h
  })
  return { headers, problems }
}

/**
 * Seals the header values of rows written before they were sealed, each with a compare-and-set so a concurrent
 * update is never overwritten (that update sealed its own values). Runs at every start, after migrations (the
 * vault key is not available to a SQL migration); once everything is sealed it finds nothing and costs one query.
 */
export async function sealPlaintextHeaders(db: Executor, vault: Vault, batchSize = 200): Promise<number> {
  let sealed = 0
  let after = ''
  for (;;) {
    const batch = await rows<{ id: string; headers: string }>(
      db,
      sql`SELECT id::text AS id, headers::text AS headers FROM webhooks
          WHERE header_values IS NULL AND id::text > ${after}
            AND EXISTS (SELECT 1 FROM jsonb_array_elements(headers) e WHERE e->>'value' IS NOT NULL)
          ORDER BY id::text LIMIT ${batchSize}`,
    )
    if (batch.length === 0) return sealed
    for (const row of batch) {
      const plain = openHeaders(vault, {
        id: row.id,
        headers: JSON.parse(row.headers) as unknown,
        headerValues: null,
      })
      const next = sealHeaders(vault, row.id, plain)
      const updated = await rows<{ id: string }>(
        db,
        sql`UPDATE webhooks SET headers = ${JSON.stringify(next.headers)}::jsonb, header_values = ${next.headerValues}
            WHERE id::text = ${row.id} AND header_values IS NULL AND headers = ${row.headers}::jsonb RETURNING id`,
      )
      sealed += updated.length
    }
    after = (batch.at(-1) as { id: string }).id
  }
}
