import { sql } from 'drizzle-orm'
import { type Executor, rows } from '../store/db.ts'
import type { SealedColumn } from './sealed-columns.ts'
import type { Vault } from './vault.ts'

export interface RotationProgress {
  table: string
  column: string
  done: number
  total: number
}

export interface RotationResult {
  rotated: number
  /** Rows that changed while being rotated; they were sealed by the writer under the active key already. */
  skipped: number
}

/**
 * Re-seals every ciphertext not under the active key, in batches, each row with a compare-and-set so a
 * concurrent write is never overwritten. Only rows still under an old key are selected, so an interrupted
 * rotation resumes where it stopped when run again.
 */
export async function rotateKeys(
  db: Executor,
  vault: Vault,
  columns: readonly SealedColumn[],
  onProgress: (p: RotationProgress) => void = () => undefined,
  batchSize = 200,
): Promise<RotationResult> {
  const active = vault.ring.activeId
  const result: RotationResult = { rotated: 0, skipped: 0 }
  for (const { table, column } of columns) {
    const t = sql.identifier(table)
    const c = sql.identifier(column)
    const stale = sql`${c} IS NOT NULL AND split_part(${c}, ':', 2) <> ${active}`
    const [count] = await rows<{ n: number }>(db, sql`SELECT count(*)::int AS n FROM ${t} WHERE ${stale}`)
    const total = count?.n ?? 0
    let done = 0
    onProgress({ table, column, done, total })
    let after = ''
    for (;;) {
      const batch = await rows<{ id: string; value: string }>(
        db,
        sql`SELECT id::text AS id, ${c} AS value FROM ${t}
            WHERE ${stale} AND id::text > ${after} ORDER BY id::text LIMIT ${batchSize}`,
      )
      if (batch.length === 0) break
      for (const row of batch) {
        const next = vault.reseal(row.value, { table, field: column, id: row.id })
        const updated = await rows<{ id: string }>(
          db,
          sql`UPDATE ${t} SET ${c} = ${next} WHERE id::text = ${row.id} AND ${c} = ${row.value} RETURNING id`,
        )
        if (updated.length > 0) result.rotated++
        else result.skipped++
        done++
      }
      after = (batch.at(-1) as { id: string }).id
      onProgress({ table, column, done, total })
    }
  }
  return result
}
