/**
 * UniFi stand-in: the cloud Site Manager API (after the Site Manager API document, https://developer.ui.com) and one
 * console's Network Integration API 10.5.66 (after the OpenAPI document extracted from a controller), the console
 * behind real HTTPS with a self-signed certificate made for each run.
 *
 * Site Manager (`http://unifi.test:<port>`, as `baseUrl`): `GET /v1/hosts`, `/v1/sites`, `/v1/devices` (with
 * `hostIds[]`), `X-API-KEY` on every call, `pageSize` ≤ 200 and an opaque `nextToken`, errors as
 * `{httpStatusCode, traceId, message}`, any other query parameter refused.
 * Console (`https://unifi-console.test:<port>`, as `consoleUrl`): `GET /proxy/network/integration/v1/info`,
 * `/sites`, `/sites/{siteId}/devices`, `/sites/{siteId}/clients`, `X-API-KEY`, `offset`/`limit` (≤ 200) answered
 * as `{offset, limit, count, totalCount, data}`, errors as `{statusCode, statusName, code, message, timestamp,
 * requestPath}`. A TLS front on its own port terminates HTTPS with the run's certificate and hands the bytes to the
 * same recorder, so both APIs share `requests` and `failNext`.
 *
 * Console writes: `POST /sites/{siteId}/devices/{deviceId}/actions` `{action: "RESTART"}` (the device turns
 * `RESTARTING`), `POST …/devices/{deviceId}/interfaces/ports/{portIdx}/actions` `{action: "POWER_CYCLE"}` (an
 * unknown port 404; `unifi.portCycles`), `GET /sites/{siteId}/devices/{deviceId}`, and from Network 10.1 on
 * (`unifi.applicationVersion`, answered by `/info`) `GET|POST /sites/{siteId}/firewall/policies` and
 * `PUT|DELETE …/firewall/policies/{id}`: the body needs action, destination, enabled, ipProtocolScope,
 * loggingEnabled, name and source (400 `api.request.invalid` naming the missing ones); a policy name already
 * used 400 as well; create answers 201; on an older version these paths answer 404, as the API did not have
 * them. Every other write 404.
 *
 * API for tests:
 *   const unifi = await new UniFiStandIn({ clock }).start()
 *   unifi.credentials        // siteManagerApiKey, baseUrl, consoleUrl, networkApiKey, consoleCertSha256
 *   unifi.fingerprint        // SHA-256 of the console's certificate, as Node prints it
 *   unifi.raw.hosts / cloudSites / cloudDevices / sites / devices / clients   // vendor-shaped, mutable
 *   unifi.failNext(429, { retryAfter: 5, path: '/v1/hosts' })
 */
import { execFileSync } from 'node:child_process'
import { X509Certificate } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import net from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import tls from 'node:tls'
import type { Json } from '../../src/connectors/shared/json.ts'
import { type RecordedRequest, type Reply, StandIn, type StandInOptions } from './standin.ts'

const SITE_MANAGER_KEY = 'sm-key-Rk29Vn4Xq7Lp1Zt8'
const NETWORK_KEY = 'net-key-Hb6Jw3Yc8Ud2Qm5F'
const CONSOLE_PREFIX = '/proxy/network/integration/v1'

/** A self-signed certificate for `unifi-console.test`, made with openssl (node:crypto cannot make X.509). */
export function selfSignedCertificate(commonName: string): {
  key: string
  cert: string
  fingerprint: string
} {
  const dir = mkdtempSync(path.join(tmpdir(), 'patchbay-unifi-'))
  try {
    const key = path.join(dir, 'key.pem')
    const cert = path.join(dir, 'cert.pem')
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-days',
        '2',
      ].concat([
        '-keyout',
        key,
        '-out',
        cert,
        '-subj',
        `/CN=${commonName}`,
        '-addext',
        `subjectAltName=DNS:${commonName}`,
      ]),
      { stdio: 'ignore' },
    )
    const pem = readFileSync(cert, 'utf8')
    return { key: readFileSync(key, 'utf8'), cert: pem, fingerprint: new X509Certificate(pem).fingerprint256 }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

const uuid = (a: number, b: number) =>
  `${a.toString(16).padStart(8, '0')}-0000-4000-8000-${b.toString(16).padStart(12, '0')}`

export class UniFiStandIn extends StandIn {
  readonly vendor = 'unifi'
  readonly fingerprint: string
  readonly raw: {
    hosts: Json[]
    cloudSites: Json[]
    cloudDevices: Json[]
    sites: Json[]
    devices: Record<string, Json[]>
    clients: Record<string, Json[]>
  }
  /** What `/info` answers; firewall policies exist from 10.1. */
  applicationVersion = '10.5.66'
  readonly firewallPolicies: Record<string, Json[]> = {}
  readonly portCycles: { siteId: string; deviceId: string; portIdx: number }[] = []
  #tls: tls.Server | undefined
  #consoleUrl = ''
  readonly #pem: { key: string; cert: string }

  constructor(opts: StandInOptions = {}) {
    super(opts)
    const made = selfSignedCertificate('unifi-console.test')
    this.#pem = { key: made.key, cert: made.cert }
    this.fingerprint = made.fingerprint
    const hosts = [
      {
        id: 'host-udm-pro-1',
        hardwareId: 'hw-1',
        type: 'console',
        ipAddress: '203.0.113.10',
        owner: true,
        isBlocked: false,
        lastConnectionStateChange: '2026-02-18T08:00:00Z',
        reportedState: { name: 'HQ UDM Pro', hostname: 'udm-hq', state: 'connected' },
      },
      {
        id: 'host-ucg-2',
        hardwareId: 'hw-2',
        type: 'console',
        ipAddress: '198.51.100.20',
        owner: true,
        isBlocked: false,
        lastConnectionStateChange: '2026-02-17T22:15:00Z',
        reportedState: { name: 'Branch Gateway', hostname: 'ucg-branch', state: 'disconnected' },
      },
    ]
    const sites = [
      { id: uuid(1, 1), internalReference: 'default', name: 'Default' },
      { id: uuid(1, 2), internalReference: 'branch', name: 'Branch Office' },
    ]
    const device = (site: number, n: number, state: string) => ({
      id: uuid(10 + site, n),
      macAddress: `94:2a:6f:0${site}:00:0${n}`,
      ipAddress: `192.168.${site}.${n + 1}`,
      name: `AP ${site}-${n}`,
      model: 'U6LR',
      state,
      supported: true,
      firmwareVersion: '6.6.55',
      firmwareUpdatable: false,
      features: ['accessPoint'],
      interfaces: ['radios'],
    })
    const client = (site: number, n: number, type: string) => ({
      type,
      id: uuid(20 + site, n),
      name: `client-${site}-${n}`,
      connectedAt: '2026-02-18T09:00:00Z',
      ipAddress: `192.168.${site}.${100 + n}`,
      ...(type === 'VPN'
        ? {}
        : { macAddress: `aa:bb:cc:0${site}:00:0${n}`, uplinkDeviceId: uuid(10 + site, 1) }),
      access: { type: 'DEFAULT' },
    })
    this.raw = {
      hosts,
      cloudSites: [
        { siteId: 'cloud-site-1', hostId: 'host-udm-pro-1', meta: { name: 'default', desc: 'Default' } },
        { siteId: 'cloud-site-2', hostId: 'host-ucg-2', meta: { name: 'default', desc: 'Branch' } },
      ],
      cloudDevices: [
        {
          hostId: 'host-udm-pro-1',
          hostName: 'HQ UDM Pro',
          devices: [
            {
              id: 'dev-a',
              mac: '70a7410000a1',
              name: 'UDM Pro',
              model: 'UDM-Pro',
              ip: '203.0.113.10',
              status: 'online',
            },
            {
              id: 'dev-b',
              mac: '70a7410000b2',
              name: 'USW 24',
              model: 'USW-24',
              ip: '192.168.1.2',
              status: 'offline',
            },
          ],
        },
        {
          hostId: 'host-ucg-2',
          hostName: 'Branch Gateway',
          devices: [
            { id: 'dev-c', mac: '70a7410000c3', name: 'UCG Ultra', model: 'UCG-Ultra', status: 'online' },
          ],
        },
      ],
      sites,
      devices: {
        [uuid(1, 1)]: [device(1, 1, 'ONLINE'), device(1, 2, 'OFFLINE'), device(1, 3, 'ONLINE')],
        [uuid(1, 2)]: [device(2, 1, 'ONLINE')],
      },
      clients: {
        [uuid(1, 1)]: [client(1, 1, 'WIRED'), client(1, 2, 'WIRELESS')],
        [uuid(1, 2)]: [client(2, 1, 'VPN')],
      },
    }
  }

  get consoleUrl(): string {
    if (!this.#consoleUrl) throw new Error('unifi stand-in is not started')
    return this.#consoleUrl
  }

  get credentials(): Record<string, string> {
    return {
      siteManagerApiKey: SITE_MANAGER_KEY,
      baseUrl: this.url,
      consoleUrl: this.consoleUrl,
      networkApiKey: NETWORK_KEY,
      consoleCertSha256: this.fingerprint,
    }
  }

  override async start(): Promise<this> {
    await super.start()
    const plainPort = Number(new URL(this.url).port)
    const front = tls.createServer({ key: this.#pem.key, cert: this.#pem.cert }, (socket) => {
      const upstream = net.connect(plainPort, '127.0.0.1')
      socket.pipe(upstream).pipe(socket)
      const end = () => {
        socket.destroy()
        upstream.destroy()
      }
      socket.on('error', end).on('close', end)
      upstream.on('error', end).on('close', end)
    })
    // A client that refuses the certificate drops the handshake; that is the point, not a failure here.
    front.on('tlsClientError', () => undefined)
    await new Promise<void>((resolve) => front.listen(0, '127.0.0.1', resolve))
    this.#tls = front
    this.#consoleUrl = `https://unifi-console.test:${(front.address() as net.AddressInfo).port}`
    return this
  }

  override async close(): Promise<void> {
    const front = this.#tls
    this.#tls = undefined
    if (front) await new Promise<void>((resolve) => front.close(() => resolve()))
    await super.close()
  }

  protected errorReply(status: number, req: RecordedRequest): Reply {
    const names: Record<number, [string, string, string]> = {
      400: ['BAD_REQUEST', 'api.request.invalid', 'Bad request'],
      401: ['UNAUTHORIZED', 'api.authentication.missing-credentials', 'Missing credentials'],
      404: ['NOT_FOUND', 'api.request.not-found', 'Not found'],
      429: ['TOO_MANY_REQUESTS', 'api.request.rate-limited', 'Too many requests'],
      500: ['INTERNAL_SERVER_ERROR', 'api.internal', 'Internal server error'],
    }
    const [statusName, code, message] = names[status] ?? names[500] ?? ['', '', '']
    if (req.path.startsWith('/proxy/'))
      return {
        status,
        body: {
          statusCode: status,
          statusName,
          code,
          message,
          timestamp: this.now().toISOString(),
          requestPath: req.path.replace('/proxy/network', ''),
        },
      }
    const cloud = { 401: 'Unauthorized', 404: 'Not Found', 429: 'Rate limit exceeded' } as Record<
      number,
      string
    >
    return {
      status,
      body: { httpStatusCode: status, traceId: 'trace-0001', message: cloud[status] ?? message },
    }
  }

  protected handle(req: RecordedRequest): Reply {
    if (req.path.startsWith(CONSOLE_PREFIX)) {
      if (req.headers['x-api-key'] !== NETWORK_KEY) return this.errorReply(401, req)
      const written = this.#consoleWrite(req)
      if (written) return written
    }
    if (req.method !== 'GET') return this.errorReply(404, req)
    return req.path.startsWith(CONSOLE_PREFIX) ? this.#console(req) : this.#cloud(req)
  }

  #invalid(req: RecordedRequest, message: string): Reply {
    return {
      status: 400,
      body: {
        statusCode: 400,
        statusName: 'BAD_REQUEST',
        code: 'api.request.invalid',
        message,
        timestamp: this.now().toISOString(),
        requestPath: req.path.replace('/proxy/network', ''),
      },
    }
  }

  /** The console's writes and single reads; undefined for the listings #console serves. */
  #consoleWrite(req: RecordedRequest): Reply | undefined {
    const rest = req.path.slice(CONSOLE_PREFIX.length)
    const dev = /^\/sites\/([^/]+)\/devices\/([^/]+)(\/actions|\/interfaces\/ports\/(\d+)\/actions)?$/.exec(
      rest,
    )
    if (dev) {
      const [siteId, deviceId] = [decodeURIComponent(dev[1] as string), decodeURIComponent(dev[2] as string)]
      const device = this.raw.devices[siteId]?.find((d) => d.id === deviceId)
      if (!device) return this.errorReply(404, req)
      const body = (req.body ?? {}) as Json
      if (!dev[3] && req.method === 'GET') return { status: 200, body: device }
      if (dev[3] === '/actions' && req.method === 'POST') {
        if (body.action !== 'RESTART') return this.#invalid(req, `Unsupported action ${String(body.action)}`)
        device.state = 'RESTARTING'
        return { status: 200, body: '' }
      }
      if (dev[4] !== undefined && req.method === 'POST') {
        if (body.action !== 'POWER_CYCLE')
          return this.#invalid(req, `Unsupported action ${String(body.action)}`)
        const portIdx = Number(dev[4])
        if (portIdx < 1 || portIdx > 48) return this.errorReply(404, req)
        this.portCycles.push({ siteId, deviceId, portIdx })
        return { status: 200, body: '' }
      }
      return this.errorReply(404, req)
    }
    const fw = /^\/sites\/([^/]+)\/firewall\/policies(?:\/([^/]+))?$/.exec(rest)
    if (!fw) return undefined
    const [major = 0, minor = 0] = this.applicationVersion.split('.').map(Number)
    if (major < 10 || (major === 10 && minor < 1)) return this.errorReply(404, req)
    const siteId = decodeURIComponent(fw[1] as string)
    if (!this.raw.sites.some((x) => x.id === siteId)) return this.errorReply(404, req)
    if (!this.firewallPolicies[siteId]) this.firewallPolicies[siteId] = []
    const list = this.firewallPolicies[siteId] as Json[]
    if (!fw[2] && req.method === 'GET')
      return {
        status: 200,
        body: { offset: 0, limit: 200, count: list.length, totalCount: list.length, data: list },
      }
    const body = (req.body ?? {}) as Json
    const required = [
      'action',
      'destination',
      'enabled',
      'ipProtocolScope',
      'loggingEnabled',
      'name',
      'source',
    ]
    const check = () => {
      const missing = required.filter((k) => body[k] === undefined)
      return missing.length ? this.#invalid(req, `Missing required fields: ${missing.join(', ')}`) : undefined
    }
    if (!fw[2] && req.method === 'POST') {
      const bad = check()
      if (bad) return bad
      if (list.some((x) => x.name === body.name))
        return this.#invalid(req, `A firewall policy named ${String(body.name)} already exists`)
      const created = { ...body, id: uuid(9, list.length + 1) }
      list.push(created)
      return { status: 201, body: created }
    }
    const id = fw[2] ? decodeURIComponent(fw[2]) : ''
    const at = list.findIndex((x) => x.id === id)
    if (at < 0) return this.errorReply(404, req)
    if (req.method === 'PUT') {
      const bad = check()
      if (bad) return bad
      list[at] = { ...body, id }
      return { status: 200, body: list[at] }
    }
    if (req.method === 'DELETE') {
      list.splice(at, 1)
      return { status: 200, body: '' }
    }
    return this.errorReply(404, req)
  }

  #cloud(req: RecordedRequest): Reply {
    if (req.headers['x-api-key'] !== SITE_MANAGER_KEY) return this.errorReply(401, req)
    const all: Record<string, Json[]> = {
      '/v1/hosts': this.raw.hosts,
      '/v1/sites': this.raw.cloudSites,
      '/v1/devices': this.raw.cloudDevices,
    }
    let data = all[req.path]
    if (!data) return this.errorReply(404, req)
    const allowed =
      req.path === '/v1/devices' ? ['pageSize', 'nextToken', 'hostIds[]', 'time'] : ['pageSize', 'nextToken']
    const unknown = [...req.query.keys()].filter((k) => !allowed.includes(k))
    const size = Number(req.query.get('pageSize') ?? '25')
    if (unknown.length || !Number.isInteger(size) || size < 1 || size > 200)
      return {
        status: 400,
        body: { httpStatusCode: 400, traceId: 'trace-0002', message: 'Invalid request parameters' },
      }
    const hostIds = req.query.getAll('hostIds[]')
    if (hostIds.length) data = data.filter((g) => hostIds.includes(String(g.hostId)))
    const token = req.query.get('nextToken')
    const start = token ? Number(Buffer.from(token, 'base64url').toString('utf8').replace('offset:', '')) : 0
    const page = data.slice(start, start + size)
    const next =
      start + size < data.length ? Buffer.from(`offset:${start + size}`).toString('base64url') : undefined
    return {
      status: 200,
      body: { data: page, httpStatusCode: 200, traceId: 'trace-0003', ...(next ? { nextToken: next } : {}) },
    }
  }

  #console(req: RecordedRequest): Reply {
    if (req.headers['x-api-key'] !== NETWORK_KEY) return this.errorReply(401, req)
    const rest = req.path.slice(CONSOLE_PREFIX.length)
    if (rest === '/info') return { status: 200, body: { applicationVersion: this.applicationVersion } }
    let data: Json[] | undefined
    if (rest === '/sites') data = this.raw.sites
    const perSite = /^\/sites\/([^/]+)\/(devices|clients)$/.exec(rest)
    if (perSite?.[1]) {
      const site = decodeURIComponent(perSite[1])
      if (!this.raw.sites.some((s) => s.id === site)) return this.errorReply(404, req)
      data = (perSite[2] === 'devices' ? this.raw.devices : this.raw.clients)[site] ?? []
    }
    if (!data) return this.errorReply(404, req)
    const unknown = [...req.query.keys()].filter((k) => !['offset', 'limit', 'filter'].includes(k))
    const offset = Number(req.query.get('offset') ?? '0')
    const limit = Number(req.query.get('limit') ?? '25')
    if (
      unknown.length ||
      !Number.isInteger(offset) ||
      offset < 0 ||
      !Number.isInteger(limit) ||
      limit < 0 ||
      limit > 200
    )
      return this.errorReply(400, req)
    const page = data.slice(offset, offset + limit)
    return { status: 200, body: { offset, limit, count: page.length, totalCount: data.length, data: page } }
  }
}
