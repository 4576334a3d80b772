import { spawn } from 'node:child_process'
import fs from 'node:fs'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { parse } from 'yaml'
import { configSchema } from '../src/config.ts'

// CI pulls no images and may have no docker: these checks read the deployment files for what they must say, and
// run the image's health check command against a live server.
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const read = (f: string) => fs.readFileSync(path.join(ROOT, f), 'utf8')

interface Instruction {
  op: string
  args: string
}

/** Dockerfile instructions, continuation lines joined, comments dropped, grouped by build stage. */
function stages(text: string): Instruction[][] {
  const joined = text
    .split('\n')
    .filter((l) => !/^\s*#/.test(l))
    .join('\n')
    .replace(/\\\n/g, ' ')
  const out: Instruction[][] = []
  for (const line of joined.split('\n')) {
    const m = line.trim().match(/^([A-Z]+)\s+(.*)$/)
    if (!m) continue
    const ins = { op: m[1] as string, args: (m[2] as string).trim() }
    if (ins.op === 'FROM') out.push([])
    out.at(-1)?.push(ins)
  }
  return out
}

describe('Dockerfile', () => {
  const all = stages(read('Dockerfile'))
  const final = all.at(-1) ?? []
  const one = (op: string) => final.filter((i) => i.op === op)

  it('builds in stages on Debian-based Node 20 images', () => {
    expect(all.length).toBeGreaterThanOrEqual(2)
    for (const s of all) expect(s[0]?.args).toMatch(/^node:20-bookworm(-slim)?\b/)
  })

  it('runs as an unprivileged user', () => {
    const user = one('USER').at(-1)?.args
    expect(user).toBeDefined()
    expect(user).not.toMatch(/^(root|0)(:|$)/)
  })

  it('checks health on /readyz, and starts the patchbay command', () => {
    expect(one('HEALTHCHECK')).toHaveLength(1)
    expect(one('HEALTHCHECK')[0]?.args).toContain('/readyz')
    expect(JSON.parse(one('ENTRYPOINT')[0]?.args ?? '[]')).toEqual(['node', 'dist/cli.js'])
    expect(
      one('ENV')
        .map((e) => e.args)
        .join(' '),
    ).toContain('HOST=0.0.0.0')
  })

  it('ships the compiled code, the production dependencies and the migrations, built from files it is given', () => {
    const copied = one('COPY').map((c) => c.args)
    for (const want of ['/app/dist', '/app/node_modules', '/app/drizzle']) {
      expect(copied.some((c) => c.startsWith('--from=build') && c.includes(want))).toBe(true)
    }
    const ignored = read('.dockerignore')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'))
    for (const c of (all[0] ?? []).filter((i) => i.op === 'COPY')) {
      const sources = c.args.split(/\s+/).slice(0, -1)
      for (const s of sources) {
        expect(fs.existsSync(path.join(ROOT, s)), `${s} exists`).toBe(true)
        expect(ignored, `${s} is not in .dockerignore`).not.toContain(s)
      }
    }
  })

  it('the health check command answers 0 for a ready server and 1 otherwise', async () => {
    const cmd = JSON.parse((one('HEALTHCHECK')[0]?.args ?? '').replace(/^.*?CMD\s+/, '')) as string[]
    let status = 200
    const seen: string[] = []
    const server = http.createServer((req, res) => {
      seen.push(req.url ?? '')
      res.writeHead(status).end()
    })
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    const port = (server.address() as AddressInfo).port
    // Asynchronously: a synchronous spawn would keep this server from answering it.
    const run = () =>
      new Promise<number | null>((resolve) => {
        const child = spawn(cmd[0] as string, cmd.slice(1), {
          env: { ...process.env, PORT: String(port) },
          stdio: 'ignore',
        })
        child.on('exit', resolve)
      })
    try {
      expect(await run()).toBe(0)
      status = 503
      expect(await run()).toBe(1)
      expect(seen).toEqual(['/readyz', '/readyz'])
    } finally {
      await new Promise((r) => server.close(r))
    }
    // Nothing listening any more.
    expect(await run()).toBe(1)
  })
})

describe('docker-compose.yml', () => {
  const doc = parse(read('docker-compose.yml'), { merge: true }) as {
    services: Record<
      string,
      {
        image?: string
        build?: string
        command?: string[]
        environment?: Record<string, string>
        depends_on?: Record<string, { condition: string }>
        healthcheck?: { disable?: boolean }
      }
    >
  }
  const services = Object.entries(doc.services)
  const byCommand = (c: string) => services.filter(([, s]) => s.command?.[0] === c)

  it('has PostgreSQL, one migrate run, two API processes and two workers, from the one image', () => {
    expect(doc.services.postgres?.image).toMatch(/^postgres:\d+/)
    expect(byCommand('migrate')).toHaveLength(1)
    expect(byCommand('api')).toHaveLength(2)
    expect(byCommand('worker')).toHaveLength(2)
    for (const [, s] of [...byCommand('migrate'), ...byCommand('api'), ...byCommand('worker')]) {
      expect(s.build).toBe('.')
      expect(s.image).toBe('patchbay:local')
    }
  })

  it('migrates once the database is healthy, and starts the rest only after the migration succeeded', () => {
    const migrate = byCommand('migrate')[0]?.[0] as string
    expect(doc.services[migrate]?.depends_on?.postgres?.condition).toBe('service_healthy')
    for (const [, s] of [...byCommand('api'), ...byCommand('worker')]) {
      expect(s.depends_on?.[migrate]?.condition).toBe('service_completed_successfully')
    }
  })

  it('gives every Patchbay process the same database and key ring, with settings Patchbay knows', () => {
    const known = new Set(Object.keys(configSchema.shape))
    const patchbay = [...byCommand('migrate'), ...byCommand('api'), ...byCommand('worker')]
    const first = patchbay[0]?.[1].environment
    expect(first?.DATABASE_URL).toMatch(/^postgres:\/\/patchbay:.*@postgres:5432\/patchbay$/)
    for (const [name, s] of patchbay) {
      expect(s.environment, name).toEqual(first)
      for (const k of Object.keys(s.environment ?? {})) expect(known, `${name}: ${k}`).toContain(k)
    }
  })

  it('turns the /readyz health check off where no HTTP is served', () => {
    for (const [, s] of [...byCommand('migrate'), ...byCommand('worker')])
      expect(s.healthcheck?.disable).toBe(true)
    for (const [, s] of byCommand('api')) expect(s.healthcheck?.disable).not.toBe(true)
  })
})
