import { sql } from 'drizzle-orm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { rows } from '../src/store/db.ts'
import { generateKeyRing } from '../src/vault/keyring.ts'
import { rotateKeys } from '../src/vault/rotate.ts'
import { keyIdOf, Vault } from '../src/vault/vault.ts'
import { createHarness, type Harness } from './harness.ts'

let h: Harness
beforeAll(async () => {
  h = await createHarness()
})
afterAll(() => h.close())

describe('key rotation', () => {
  it('re-encrypts every ciphertext under the new key, resumably, and data survives', async () => {
    const db = h.ctx.db.orm
    await db.execute(sql`CREATE TABLE rotation_probe (id uuid PRIMARY KEY, secret text, other text)`)
    const oldRing = generateKeyRing('old')
    const oldVault = new Vault(oldRing)
    const ids = Array.from({ length: 25 }, (_, i) => `00000000-0000-7000-8000-${String(i).padStart(12, '0')}`)
    for (const id of ids) {
      const secret = oldVault.seal(`secret-${id}`, { table: 'rotation_probe', field: 'secret', id })
      await db.execute(sql`INSERT INTO rotation_probe (id, secret) VALUES (${id}, ${secret})`)
    }
    await db.execute(
      sql`INSERT INTO rotation_probe (id, secret) VALUES ('00000000-0000-7000-8000-999999999999', NULL)`,
    )

    const newRing = generateKeyRing('new')
    const both = new Vault({ activeId: 'new', keys: new Map([...newRing.keys, ...oldRing.keys]) })
    const columns = [{ table: 'rotation_probe', column: 'secret' }]

    // Interrupt after the first batch: a crash mid-rotation.
    const progress: number[] = []
    await expect(
      rotateKeys(
        db,
        both,
        columns,
        (p) => {
          progress.push(p.done)
          if (p.done >= 10) throw new Error('simulated crash')
        },
        10,
      ),
    ).rejects.toThrow('simulated crash')
    const midway = await rows<{ n: number }>(
      db,
      sql`SELECT count(*)::int AS n FROM rotation_probe WHERE split_part(secret, ':', 2) = 'new'`,
    )
    expect(midway[0]?.n).toBe(10)

    // Running it again picks up the rest.
    const seen: { done: number; total: number }[] = []
    const result = await rotateKeys(db, both, columns, (p) => seen.push(p), 10)
    expect(result).toEqual({ rotated: 15, skipped: 0 })
    expect(seen.at(0)).toMatchObject({ done: 0, total: 15 })
    expect(seen.at(-1)).toMatchObject({ done: 15, total: 15 })

    // Everything opens with the new key alone: the old key can be dropped.
    const onlyNew = new Vault(newRing)
    const all = await rows<{ id: string; secret: string }>(
      db,
      sql`SELECT id::text AS id, secret FROM rotation_probe WHERE secret IS NOT NULL`,
    )
    expect(all).toHaveLength(25)
    for (const row of all) {
      expect(keyIdOf(row.secret)).toBe('new')
      expect(onlyNew.open(row.secret, { table: 'rotation_probe', field: 'secret', id: row.id })).toBe(
        `secret-${row.id}`,
      )
    }
    // A second run has nothing to do.
    expect(await rotateKeys(db, both, columns)).toEqual({ rotated: 0, skipped: 0 })
  })
})
