import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import type { TestProject } from 'vitest/node'
import { startEmbeddedServer } from '../src/store/embedded.ts'
import { createTemplate, dropTemplate } from './databases.ts'

declare module 'vitest' {
  export interface ProvidedContext {
    /** The server every test file's database is created on (with credentials). */
    dbServerUrl: string
    /** A migrated database on it, cloned for each test file. */
    dbTemplate: string
  }
}

/**
 * Without DATABASE_URL the run starts one embedded PostgreSQL, the same server `patchbay start` runs, in a
 * temporary DATA_DIR; durability is off, since nothing outlives the run.
 */
export default async function setup(project: TestProject) {
  let url = process.env.DATABASE_URL || undefined
  let stopServer = async () => {}
  if (!url) {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'patchbay-test-pg-'))
    const server = await startEmbeddedServer({
      dataDir,
      noSync: true,
      settings: { fsync: 'off', synchronous_commit: 'off', full_page_writes: 'off', max_connections: '300' },
    })
    url = server.urlFor('postgres')
    stopServer = async () => {
      await server.stop()
      fs.rmSync(dataDir, { recursive: true, force: true })
    }
  }
  const template = await createTemplate(url)
  project.provide('dbServerUrl', url)
  project.provide('dbTemplate', template)
  return async () => {
    await dropTemplate(url, template)
    await stopServer()
  }
}
