import { randomBytes } from 'node:crypto'
import fs from 'node:fs'
import pg from 'pg'
import { type Database, openEmbedded, openServed, pgliteOf } from '../src/store/db.ts'
import { migrateEmbedded, migrateServed } from '../src/store/migrate.ts'

/**
 * Test databases: with DATABASE_URL, a served PostgreSQL (each test file gets its own database cloned from a
 * migrated template); without, embedded PGlite (each test file restores a migrated data-directory dump).
 */
export const servedUrl = process.env.DATABASE_URL || undefined

export function withDatabase(url: string, name: string): string {
  const u = new URL(url)
  u.pathname = `/${name}`
  return u.toString()
}

async function admin<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: servedUrl })
  await client.connect()
  try {
    return await fn(client)
  } finally {
    await client.end()
  }
}

export async function createTemplate(): Promise<string> {
  if (servedUrl) {
    const name = `pbt_tpl_${randomBytes(4).toString('hex')}`
    await admin((c) => c.query(`CREATE DATABASE ${name}`))
    await migrateServed(withDatabase(servedUrl, name))
    return name
  }
  const db = await openEmbedded({})
  await migrateEmbedded(db)
  const dump = await pgliteOf(db).dumpDataDir('none')
  await db.close()
  const file = `${process.env.TMPDIR ?? '/tmp'}/patchbay-test-template-${process.pid}.tar`
  fs.writeFileSync(file, Buffer.from(await dump.arrayBuffer()))
  return file
}

export async function dropTemplate(template: string): Promise<void> {
  if (servedUrl) await admin((c) => c.query(`DROP DATABASE IF EXISTS ${template} WITH (FORCE)`))
  else fs.rmSync(template, { force: true })
}

export interface TestDatabase {
  db: Database
  /** The served database's URL (undefined when embedded). */
  url: string | undefined
  drop(): Promise<void>
}

export async function openTestDatabase(template: string): Promise<TestDatabase> {
  if (servedUrl) {
    const name = `pbt_${randomBytes(6).toString('hex')}`
    await admin((c) => c.query(`CREATE DATABASE ${name} TEMPLATE ${template}`))
    const url = withDatabase(servedUrl, name)
    const db = openServed({ url, poolSize: 5 })
    return {
      db,
      url,
      async drop() {
        await db.close()
        await admin((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`))
      },
    }
  }
  const db = await openEmbedded({ loadDataDir: new Blob([fs.readFileSync(template)]) })
  return { db, url: undefined, drop: () => db.close() }
}
