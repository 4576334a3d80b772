// Quick in-process throughput probe (not committed): Patchbay worker + receiver in one process.
import http from 'node:http'
import pg from 'pg'
import { loadConfig } from './src/config.ts'
import { transports } from './src/delivery/registry.ts'
import { DeliveryWorker } from './src/delivery/worker.ts'
import { createApp } from './src/http/app.ts'
import { openRuntime } from './src/runtime.ts'
import { createApiKey } from './src/store/tenancy.ts'

const N = Number(process.env.N ?? 4000)
const HOOKS = Number(process.env.HOOKS ?? 4)
let got = 0
const server = http.createServer((req, res) => {
  req.resume()
  req.on('end', () => {
    got++
    res.end('ok')
  })
})
server.keepAliveTimeout = 60000
await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
const port = (server.address() as any).port
const url = process.env.DATABASE_URL
if (url) {
  const c = new pg.Client({ connectionString: 'postgres://postgres@127.0.0.1:5432/postgres' })
  await c.connect()
  await c.query('DROP DATABASE IF EXISTS pb_perf WITH (FORCE)')
  await c.query('CREATE DATABASE pb_perf')
  await c.end()
}
const cfg = loadConfig({
  ...process.env,
  DATABASE_URL: url ? 'postgres://postgres@127.0.0.1:5432/pb_perf' : '',
  DATA_DIR: '/tmp/pb-perf-' + Date.now(),
  PATCHBAY_ENCRYPTION_KEYS: 'k:' + Buffer.alloc(32, 1).toString('base64'),
  PATCHBAY_ALLOWED_TARGET_CIDRS: '127.0.0.0/8',
  LOG_LEVEL: 'warn',
})
const rt = await openRuntime(cfg)
const app = createApp(rt)
const { token } = await createApiKey(rt.db.orm, { name: 's', scope: 'system' }, new Date())
const call = async (m: string, p: string, b?: unknown) => {
  const r = await app.request(p, {
    method: m,
    headers: { authorization: 'Bearer ' + token, 'content-type': 'application/json' },
    body: b ? JSON.stringify(b) : undefined,
  })
  return r.json() as any
}
const org = await call('POST', '/api/v1/orgs', { name: 'o' })
for (let i = 0; i < HOOKS; i++)
  await call('POST', '/api/v1/webhooks', {
    orgId: org.id,
    name: 'h' + i,
    url: `http://127.0.0.1:${port}/h${i}`,
    secret: 'secret-secret',
    events: ['*'],
  })
let t = performance.now()
for (let i = 0; i < N; i += 1000)
  await call('POST', '/api/v1/events/batch', {
    events: Array.from({ length: Math.min(1000, N - i) }, () => ({
      orgId: org.id,
      type: 'device.online',
      data: { x: 1 },
    })),
  })
console.log('ingest', N, 'events x', HOOKS, 'hooks in', Math.round(performance.now() - t), 'ms')
const w = new DeliveryWorker(rt, transports(rt))
t = performance.now()
await w.start()
while (got < N * HOOKS) await new Promise((r) => setTimeout(r, 5))
const ms = performance.now() - t
console.log('delivered', got, 'in', Math.round(ms), 'ms =', Math.round((got / ms) * 1000), '/s')
await w.stop()
await rt.close()
server.close()
process.exit(0)
