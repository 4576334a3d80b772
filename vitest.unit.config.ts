import { defineConfig } from 'vitest/config'

/**
 * `npm run test:unit`: the fast tier, tests beside the code that need no database (pure logic, connectors against
 * loopback stand-ins). No global setup, so no database server is started. `npm test` runs everything.
 */
export default defineConfig({
  test: {
    include: ['src/**/*.test.ts'],
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 30_000,
  },
})
