import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { ManualClock } from '../src/lib/clock.ts'
import { type Database, openServed } from '../src/store/db.ts'
import { DatabaseRequestBudget } from '../src/store/request-budget.ts'
import { openTestDatabase, type TestDatabase } from './databases.ts'

/**
 * The per-account request budget is shared by every Patchbay process through the database: two handles (two
 * processes' pools on a served database; the one embedded database's handle twice otherwise, since an embedded
 * database has a single owner) take from one window.
 */
let database: TestDatabase
let second: Database | undefined
const clock = new ManualClock('2026-02-18T12:00:00.000Z')
let a: DatabaseRequestBudget
let b: DatabaseRequestBudget

beforeAll(async () => {
  database = await openTestDatabase(inject('dbTemplate'))
  second = database.url ? openServed({ url: database.url, poolSize: 3 }) : undefined
  a = new DatabaseRequestBudget(database.db.orm, clock)
  b = new DatabaseRequestBudget((second ?? database.db).orm, clock)
})
afterAll(async () => {
  await second?.close()
  await database.drop()
})

describe('DatabaseRequestBudget', () => {
  it('counts both handles against one window and says how long to wait', async () => {
    const taken = []
    for (let i = 0; i < 6; i++) taken.push(await (i % 2 ? b : a).take('acct-1', 5, 60_000))
    expect(taken).toEqual([0, 0, 0, 0, 0, 60_000])
    clock.advance(20_000)
    expect(await a.take('acct-1', 5, 60_000)).toBe(40_000)
    expect(await b.take('acct-1', 5, 60_000)).toBe(40_000)
    // Another account has its own window.
    expect(await b.take('acct-2', 5, 60_000)).toBe(0)
    clock.advance(40_000)
    expect(await b.take('acct-1', 5, 60_000)).toBe(0)
  })

  it('admits exactly the limit when both handles take at once', async () => {
    const results = await Promise.all(
      Array.from({ length: 24 }, (_, i) => (i % 2 ? a : b).take('acct-concurrent', 7, 60_000)),
    )
    expect(results.filter((w) => w === 0)).toHaveLength(7)
    expect(results.filter((w) => w === 60_000)).toHaveLength(17)
  })

  it('refuses a window it cannot keep', async () => {
    await expect(a.take('acct-3', 0, 60_000)).rejects.toThrow(/positive/)
  })
})
