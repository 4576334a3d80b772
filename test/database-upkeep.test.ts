import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { servedUrl } from './databases.ts'
import { createHarness, type Harness } from './harness.ts'

// Patchbay schedules no vacuum or checkpoint of its own (the PGlite driver had to): the server does that work.
// The embedded server is Patchbay's to configure; a served one is its operator's (this machine's has autovacuum off).
describe.skipIf(servedUrl)('database upkeep on the embedded server', () => {
  let h: Harness
  beforeAll(async () => {
    h = await createHarness()
  })
  afterAll(async () => {
    await h.close()
  })

  it("is the server's: autovacuum (with the statistics it needs) is on", async () => {
    const settings = await h.ctx.db.query<{ name: string; setting: string }>(
      `SELECT name, setting FROM pg_settings WHERE name IN ('autovacuum', 'track_counts') ORDER BY name`,
    )
    expect(settings).toEqual([
      { name: 'autovacuum', setting: 'on' },
      { name: 'track_counts', setting: 'on' },
    ])
    const [queue] = await h.ctx.db.query<{ enabled: boolean }>(
      `SELECT coalesce(NOT ('autovacuum_enabled=false' = ANY (reloptions)), true) AS enabled
       FROM pg_class WHERE relname = 'delivery_queue'`,
    )
    expect(queue).toEqual({ enabled: true })
  })
})
