import type { AddressInfo } from 'node:net'
import { type ServerType, serve } from '@hono/node-server'
import { Hono } from 'hono'
import type { AppContext } from './context.ts'
import { createApp } from './http/app.ts'
import type { AppEnv } from './http/env.ts'
import { metricsHandler } from './http/metrics.ts'
import { metricsOf } from './lib/metrics.ts'

import type { Service } from './lib/service.ts'

export type { Service }

export class ApiService implements Service {
  readonly name = 'api'
  #server: ServerType | undefined
  address: AddressInfo | undefined

  constructor(private readonly ctx: AppContext) {}

  async start(): Promise<void> {
    const app = createApp(this.ctx)
    await new Promise<void>((resolve, reject) => {
      const server = serve(
        { fetch: app.fetch, port: this.ctx.config.PORT, hostname: this.ctx.config.HOST },
        (info) => {
          this.address = info
          resolve()
        },
      )
      server.once('error', reject)
      this.#server = server
    })
    const a = this.address as AddressInfo
    const host = a.family === 'IPv6' ? `[${a.address}]` : a.address
    this.ctx.log.info(
      { url: `http://${host}:${a.port}`, docs: `http://${host}:${a.port}/api/v1/docs` },
      'API listening',
    )
    const publicUrl = this.ctx.config.PATCHBAY_PUBLIC_URL
    if (publicUrl) this.ctx.log.info({ publicUrl }, 'inbound webhook URLs use PATCHBAY_PUBLIC_URL')
    else {
      this.ctx.log.warn(
        "PATCHBAY_PUBLIC_URL is not set: inbound webhook URLs are built from each request's Host; set it to the address vendors reach",
      )
    }
  }

  async stop(): Promise<void> {
    const server = this.#server
    if (!server) return
    await new Promise<void>((resolve) => {
      server.close(() => resolve())
      if ('closeIdleConnections' in server) server.closeIdleConnections()
    })
  }
}

/**
 * `GET /metrics` alone, on PORT, for a `patchbay worker` process (which serves no API): its delivery, probe and
 * inbound counters live in its own memory, so Prometheus scrapes each worker as it scrapes each API process.
 */
export class MetricsService implements Service {
  readonly name = 'metrics'
  #server: ServerType | undefined
  address: AddressInfo | undefined

  constructor(private readonly ctx: AppContext) {}

  async start(): Promise<void> {
    const app = new Hono<AppEnv>()
    app.get('/metrics', metricsHandler(this.ctx, metricsOf(this.ctx)))
    await new Promise<void>((resolve, reject) => {
      const server = serve(
        { fetch: app.fetch, port: this.ctx.config.PORT, hostname: this.ctx.config.HOST },
        (info) => {
          this.address = info
          resolve()
        },
      )
      server.once('error', reject)
      this.#server = server
    })
    this.ctx.log.info({ port: this.address?.port }, 'metrics listening (GET /metrics)')
  }

  async stop(): Promise<void> {
    const server = this.#server
    if (!server) return
    await new Promise<void>((resolve) => server.close(() => resolve()))
  }
}

/**
 * Starts services together and stops them in reverse order, once, on the first SIGTERM or SIGINT. Started
 * together because each start is mostly waiting (the workers' LISTEN connections and first queries) or mostly
 * CPU (the API builds its routes): one after the other, a restart waited ~0.1-0.2 s longer for /readyz. The
 * signal handlers come first: the API may answer before the other services have started, and a SIGTERM then
 * must still stop them (and the embedded server) rather than kill the process.
 */
export async function runUntilSignalled(
  ctx: AppContext,
  services: Service[],
  onStopped: () => Promise<void>,
) {
  const starting = Promise.allSettled(services.map((s) => s.start()))
  let stopping = false
  const stop = async (signal: string) => {
    if (stopping) {
      ctx.log.warn({ signal }, 'second signal: exiting without waiting')
      process.exit(1)
    }
    stopping = true
    await starting
    ctx.log.info({ signal }, 'shutting down: draining work in progress')
    for (const s of [...services].reverse()) {
      try {
        await s.stop()
      } catch (err) {
        ctx.log.error({ err, service: s.name }, 'error while stopping')
      }
    }
    await onStopped()
    ctx.log.info('stopped')
    process.exit(0)
  }
  process.on('SIGTERM', () => void stop('SIGTERM'))
  process.on('SIGINT', () => void stop('SIGINT'))
  const failed = (await starting).find((r) => r.status === 'rejected')
  if (failed) throw failed.reason
}
