import { randomBytes } from 'node:crypto'
import pg from 'pg'
import { inject } from 'vitest'
import { type Database, openServed } from '../src/store/db.ts'
import { applyMigrations } from '../src/store/migrate.ts'

/**
 * Test databases. With DATABASE_URL, on that served PostgreSQL; without, on one embedded PostgreSQL server that
 * test/global-setup.ts starts for the run, exactly as `patchbay start` does. Either way each test file gets its
 * own database cloned from a migrated template.
 */
export const servedUrl = process.env.DATABASE_URL || undefined

/** The server test databases live on: DATABASE_URL, or the run's embedded server. */
export function serverUrl(): string {
  return servedUrl ?? inject('dbServerUrl')
}

export function withDatabase(url: string, name: string): string {
  const u = new URL(url)
  u.pathname = `/${name}`
  return u.toString()
}

async function admin<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    return await fn(client)
  } finally {
    await client.end()
  }
}

export async function createTemplate(url: string): Promise<string> {
  const name = `pbt_tpl_${randomBytes(4).toString('hex')}`
  await admin(url, (c) => c.query(`CREATE DATABASE ${name}`))
  await applyMigrations(withDatabase(url, name))
  return name
}

export async function dropTemplate(url: string, template: string): Promise<void> {
  await admin(url, (c) => c.query(`DROP DATABASE IF EXISTS ${template} WITH (FORCE)`))
}

export interface TestDatabase {
  db: Database
  /** The database's URL. */
  url: string
  drop(): Promise<void>
}

export async function openTestDatabase(template: string): Promise<TestDatabase> {
  const server = serverUrl()
  const name = `pbt_${randomBytes(6).toString('hex')}`
  await admin(server, (c) => c.query(`CREATE DATABASE ${name} TEMPLATE ${template}`))
  const url = withDatabase(server, name)
  const db = openServed({ url, poolSize: 5 })
  return {
    db,
    url,
    async drop() {
      await db.close()
      await admin(server, (c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`))
    },
  }
}
