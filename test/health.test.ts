import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { migrationState } from '../src/store/migrate.ts'
import { createHarness, type Harness } from './harness.ts'

let h: Harness
beforeAll(async () => {
  h = await createHarness()
})
afterAll(() => h.close())

describe('health and migrations', () => {
  it(`applies every migration (on the ${process.env.DATABASE_URL ? 'served' : 'embedded'} database)`, async () => {
    const state = await migrationState(h.ctx.db)
    expect(state.expected).toBeGreaterThan(0)
    expect(state).toMatchObject({ applied: state.expected, upToDate: true })
  })

  it('reports alive and ready without authentication', async () => {
    expect(await h.json('GET', '/healthz', { token: null })).toEqual({ status: 200, body: { status: 'ok' } })
    const ready = await h.json('GET', '/readyz', { token: null })
    expect(ready).toMatchObject({ status: 200, body: { status: 'ready', database: 'ok' } })
  })
})
