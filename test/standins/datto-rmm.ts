/**
 * Datto RMM API v2 stand-in, after the vendor's OpenAPI document (build 235) and
 * https://rmm.datto.com/help/en/Content/2SETUP/APIv2.htm:
 *
 * - `POST /auth/oauth/token`: Basic `public-client:public`, form `grant_type=password&username=<key>&password=<secret>`
 *   → `{access_token, token_type: "bearer", expires_in, scope, jti}`; wrong client → 401, wrong key or secret, or
 *   the account on another platform → 400 `{error: "invalid_grant", error_description: "Bad credentials"}`.
 * - Platforms: every host `<platform>-api.datto-rmm.test` reaches this one server; the account lives on one
 *   platform (`platform`, default merlot), and the others refuse its key, as Datto's do.
 * - API under `/api/v2`, Bearer token; an unknown token → 401 `{error: "invalid_token", …}`, an expired one (by
 *   the stand-in's clock) → 401 "Access token expired". Errors otherwise in the `ErrorResponse` shape
 *   `{timestamp, status, error, path}` (Datto's ErrorResponse has no message: the reason phrase is all it says).
 * - Writes: `PUT /v2/device/{uid}/quickjob` `{jobName, jobComponent: {componentUid, variables}}` (both required;
 *   an unknown device 404; an unknown component, or a variable the component does not declare, 400) →
 *   `{job: {id, uid, name, dateCreated, status: "active"}, jobComponents}`, and a `job` entry in the activity log
 *   whose `details` carry the job name; `POST /v2/alert/{uid}/resolve` (unknown 404) → 200 with no body. Other
 *   writes answer 405.
 * - `GET /v2/alert/{uid}`; `GET /v2/activity-logs` (entities, categories, searchQuery as a quoted phrase or a
 *   word, from; default last 15 minutes) → `{pageDetails, activities}`.
 * - Reads: account, account/sites (siteName), account/devices and site/{uid}/devices (hostname, deviceType,
 *   operatingSystem, siteName, LIKE matching), account|site/{uid}|device/{uid}/alerts/open|resolved (muted),
 *   audit/device/{uid}. Pages: `page` from 0, `max` ≤ 250, `pageDetails {count, totalCount, prevPageUrl,
 *   nextPageUrl}` with absolute URLs on the requesting platform's host.
 *
 *   const rmm = await new DattoRmmStandIn({ clock, platform: 'vidal' }).start()
 *   rmm.credentials                  // apiKey, apiSecret, baseUrl (the account's platform host)
 *   rmm.platformUrl('merlot')        // http://merlot-api.datto-rmm.test:<port>
 *   rmm.tokenRequests()              // token requests, with the host each went to
 *   rmm.failNext(429, { retryAfter: 30 })
 */
import {
  basicCredentials,
  isoSeconds,
  type RecordedRequest,
  type Reply,
  StandIn,
  type StandInOptions,
} from './standin.ts'

export const DATTO_PLATFORMS = ['pinotage', 'merlot', 'concord', 'vidal', 'zinfandel', 'syrah'] as const
const MAX_PAGE = 250
const TOKEN_SECONDS = 360_000

export interface RmmSite {
  id: number
  uid: string
  name: string
  description: string
}
export interface RmmDevice {
  id: number
  uid: string
  siteUid: string
  hostname: string
  intIpAddress: string
  operatingSystem: string
  deviceType: { category: string; type: string }
  online: boolean
  lastSeen: string
  macAddress: string
  serialNumber: string
}
export interface RmmAlert {
  alertUid: string
  priority: 'Critical' | 'High' | 'Moderate' | 'Low' | 'Information' | 'Unknown'
  diagnostics: string
  resolved: boolean
  resolvedOn: string | null
  muted: boolean
  timestamp: string
  deviceUid: string
}

export interface RmmComponent {
  uid: string
  name: string
  variables: string[]
}

export interface RmmJob {
  uid: string
  name: string
  deviceUid: string
  componentUid: string
  variables: { name: string; value: string }[]
  dateCreated: string
}

export interface RmmActivity {
  id: string
  entity: 'DEVICE' | 'USER'
  category: string
  action: string
  date: number
  deviceId: number
  hostname: string
  details: string
}

export class DattoRmmStandIn extends StandIn {
  readonly vendor = 'datto-rmm'
  readonly apiKey = 'RMMKEY-9f2c4e7a1b'
  readonly apiSecret = 'RMMSECRET-5d8b3a6c0e'
  readonly platform: string
  readonly sites: RmmSite[]
  readonly devices: RmmDevice[] = []
  readonly alerts: RmmAlert[] = []
  readonly components: RmmComponent[] = [
    { uid: 'comp-restart-spooler', name: 'Restart Print Spooler', variables: [] },
    { uid: 'comp-clear-temp', name: 'Clear Temp Files', variables: ['olderThanDays', 'includeUserTemp'] },
  ]
  readonly jobs: RmmJob[] = []
  readonly activities: RmmActivity[] = []
  /** Answers a quick job only after this many ms (the job is created at once): an attempt cut short. */
  quickJobDelayMs = 0
  /** Access tokens issued, with when they expire (ms, the stand-in's clock). */
  readonly tokens = new Map<string, number>()
  #tokenSeq = 0

  constructor(opts: StandInOptions & { platform?: string } = {}) {
    super(opts)
    this.platform = opts.platform ?? 'merlot'
    this.sites = [
      { id: 1, uid: 'site-0001-contoso', name: 'Contoso HQ', description: 'Head office' },
      { id: 2, uid: 'site-0002-fabrikam', name: 'Fabrikam', description: '' },
    ]
    this.addDevices(3)
    const [d1, d2] = this.devices
    this.alerts.push(
      {
        alertUid: 'alert-open-1',
        priority: 'Critical',
        diagnostics: 'Disk C: is 97% full',
        resolved: false,
        resolvedOn: null,
        muted: false,
        timestamp: '2026-02-18T10:00:00Z',
        deviceUid: d1?.uid ?? '',
      },
      {
        alertUid: 'alert-open-2',
        priority: 'Moderate',
        diagnostics: 'Antivirus definitions are out of date',
        resolved: false,
        resolvedOn: null,
        muted: true,
        timestamp: '2026-02-18T10:30:00Z',
        deviceUid: d2?.uid ?? '',
      },
      {
        alertUid: 'alert-resolved-1',
        priority: 'High',
        diagnostics: 'Device went offline',
        resolved: true,
        resolvedOn: '2026-02-18T11:00:00Z',
        muted: false,
        timestamp: '2026-02-18T09:00:00Z',
        deviceUid: d1?.uid ?? '',
      },
    )
  }

  /** Adds devices, spread over the sites. */
  addDevices(count: number): RmmDevice[] {
    const added: RmmDevice[] = []
    for (let i = 0; i < count; i++) {
      const n = this.devices.length + 1
      const site = this.sites[n % this.sites.length] as RmmSite
      const d: RmmDevice = {
        id: 1000 + n,
        uid: `dev-${String(n).padStart(4, '0')}`,
        siteUid: site.uid,
        hostname: `WS-${String(n).padStart(4, '0')}`,
        intIpAddress: `10.0.${Math.floor(n / 250)}.${n % 250}`,
        operatingSystem: n % 2 ? 'Microsoft Windows 11 Pro 10.0.22631' : 'macOS Sonoma 14.4',
        deviceType: { category: n % 2 ? 'Desktop' : 'Laptop', type: n % 2 ? 'Desktop' : 'Laptop' },
        online: n % 3 !== 0,
        lastSeen: isoSeconds(new Date(Date.UTC(2026, 1, 18, 11, n % 60))),
        macAddress: `00:11:22:33:44:${(n % 256).toString(16).padStart(2, '0')}`,
        serialNumber: `SN${1000 + n}`,
      }
      this.devices.push(d)
      added.push(d)
    }
    return added
  }

  platformUrl(platform: string): string {
    const port = new URL(this.url).port
    return `http://${platform}-api.${this.vendor}.test:${port}`
  }

  get credentials(): Record<string, string> {
    return { apiKey: this.apiKey, apiSecret: this.apiSecret, baseUrl: this.platformUrl(this.platform) }
  }

  /** Token requests, each with the platform its host named. */
  tokenRequests(): (RecordedRequest & { platform: string })[] {
    return this.requests
      .filter((r) => r.path === '/auth/oauth/token')
      .map((r) => ({ ...r, platform: platformOf(r) ?? '' }))
  }

  /** Requests to the API (not the token endpoint). */
  apiRequests(): RecordedRequest[] {
    return this.requests.filter((r) => r.path.startsWith('/api/'))
  }

  /** Forgets every issued token: the next API call with an old one answers 401 (a rotated key, a restart). */
  revokeTokens(): void {
    this.tokens.clear()
  }

  protected errorReply(status: number, req: RecordedRequest): Reply {
    const error: Record<number, string> = {
      400: 'Bad Request',
      401: 'Unauthorized',
      403: 'Forbidden',
      404: 'Not Found',
      405: 'Method Not Allowed',
      429: 'Too Many Requests',
      500: 'Internal Server Error',
      503: 'Service Unavailable',
    }
    return {
      status,
      body: {
        timestamp: this.now().getTime(),
        status,
        error: error[status] ?? `HTTP ${status}`,
        path: req.path.replace(/^\/api/, ''),
      },
    }
  }

  protected handle(req: RecordedRequest): Reply | Promise<Reply> {
    const platform = platformOf(req)
    if (!platform) return this.errorReply(404, req)
    if (req.path === '/auth/oauth/token') return this.#token(req, platform)
    if (!req.path.startsWith('/api/v2/')) return this.errorReply(404, req)
    const bearer = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1]
    const expires = bearer ? this.tokens.get(bearer) : undefined
    if (expires === undefined || platform !== this.platform)
      return { status: 401, body: { error: 'invalid_token', error_description: 'Invalid access token' } }
    if (expires <= this.now().getTime())
      return {
        status: 401,
        body: { error: 'invalid_token', error_description: `Access token expired: ${bearer}` },
      }
    if (req.method !== 'GET') return this.#write(req)
    return this.#read(req, platform)
  }

  #write(req: RecordedRequest): Reply | Promise<Reply> {
    const p = req.path.slice('/api'.length)
    const job = /^\/v2\/device\/([^/]+)\/quickjob$/.exec(p)
    if (job && req.method === 'PUT') {
      const device = this.devices.find((d) => d.uid === decodeURIComponent(job[1] as string))
      if (!device) return this.errorReply(404, req)
      const b = (req.body ?? {}) as {
        jobName?: unknown
        jobComponent?: { componentUid?: unknown; variables?: { name?: unknown; value?: unknown }[] }
      }
      const component = this.components.find((c) => c.uid === b.jobComponent?.componentUid)
      const vars = b.jobComponent?.variables ?? []
      if (
        typeof b.jobName !== 'string' ||
        !component ||
        !Array.isArray(vars) ||
        vars.some((v) => typeof v.name !== 'string' || !component.variables.includes(v.name))
      )
        return this.errorReply(400, req)
      const n = this.jobs.length + 1
      const created: RmmJob = {
        uid: `job-${String(n).padStart(4, '0')}`,
        name: b.jobName,
        deviceUid: device.uid,
        componentUid: component.uid,
        variables: vars.map((v) => ({ name: String(v.name), value: String(v.value ?? '') })),
        dateCreated: this.now().toISOString(),
      }
      this.jobs.push(created)
      this.activities.push({
        id: `act-${n}`,
        entity: 'DEVICE',
        category: 'job',
        action: 'create',
        date: this.now().getTime() / 1000,
        deviceId: device.id,
        hostname: device.hostname,
        details: JSON.stringify({ 'job.name': created.name, 'job.uid': created.uid }),
      })
      const reply: Reply = {
        status: 200,
        body: {
          job: {
            id: 5000 + n,
            uid: created.uid,
            name: created.name,
            dateCreated: created.dateCreated,
            status: 'active',
          },
          jobComponents: [{ uid: component.uid, name: component.name, variables: created.variables }],
        },
      }
      if (this.quickJobDelayMs <= 0) return reply
      return new Promise((r) => setTimeout(() => r(reply), this.quickJobDelayMs))
    }
    const resolve = /^\/v2\/alert\/([^/]+)\/resolve$/.exec(p)
    if (resolve && req.method === 'POST') {
      const alert = this.alerts.find((a) => a.alertUid === decodeURIComponent(resolve[1] as string))
      if (!alert) return this.errorReply(404, req)
      alert.resolved = true
      alert.resolvedOn = this.now().toISOString()
      return { status: 200, body: '' }
    }
    return this.errorReply(405, req)
  }

  #token(req: RecordedRequest, platform: string): Reply {
    if (req.method !== 'POST') return this.errorReply(405, req)
    const client = basicCredentials(req.headers)
    if (client?.user !== 'public-client' || client.password !== 'public')
      return {
        status: 401,
        body: { error: 'unauthorized', error_description: 'Full authentication is required' },
      }
    const form = new URLSearchParams(req.raw)
    if (form.get('grant_type') !== 'password')
      return {
        status: 400,
        body: { error: 'unsupported_grant_type', error_description: 'Unsupported grant type' },
      }
    if (
      platform !== this.platform ||
      form.get('username') !== this.apiKey ||
      form.get('password') !== this.apiSecret
    ) {
      return { status: 400, body: { error: 'invalid_grant', error_description: 'Bad credentials' } }
    }
    const token = `rmm-token-${++this.#tokenSeq}`
    this.tokens.set(token, this.now().getTime() + TOKEN_SECONDS * 1000)
    return {
      status: 200,
      body: {
        access_token: token,
        token_type: 'bearer',
        expires_in: TOKEN_SECONDS,
        scope: 'default',
        jti: `jti-${this.#tokenSeq}`,
      },
    }
  }

  #read(req: RecordedRequest, platform: string): Reply {
    const p = req.path.slice('/api'.length)
    if (p === '/v2/account')
      return {
        status: 200,
        body: {
          id: 42,
          uid: 'acct-42',
          name: 'Acme MSP',
          currency: 'USD',
          descriptor: {},
          devicesStatus: {},
        },
      }
    if (p === '/v2/account/sites') {
      const like = req.query.get('siteName')?.toLowerCase()
      const sites = this.sites.filter((s) => !like || s.name.toLowerCase().includes(like))
      return this.#page(
        req,
        platform,
        'sites',
        sites.map((s) => this.#site(s)),
      )
    }
    const siteDevices = /^\/v2\/site\/([^/]+)\/devices$/.exec(p)
    if (p === '/v2/account/devices' || siteDevices) {
      const siteUid = siteDevices?.[1]
      if (siteUid && !this.sites.some((s) => s.uid === siteUid)) return this.errorReply(404, req)
      const like = (name: string) => req.query.get(name)?.toLowerCase()
      const devices = this.devices.filter((d) => {
        const site = this.sites.find((s) => s.uid === d.siteUid)
        return (
          (!siteUid || d.siteUid === siteUid) &&
          (!like('hostname') || d.hostname.toLowerCase().includes(like('hostname') as string)) &&
          (!like('deviceType') || d.deviceType.type.toLowerCase().includes(like('deviceType') as string)) &&
          (!like('operatingSystem') ||
            d.operatingSystem.toLowerCase().includes(like('operatingSystem') as string)) &&
          (!like('siteName') || (site?.name.toLowerCase().includes(like('siteName') as string) ?? false))
        )
      })
      return this.#page(
        req,
        platform,
        'devices',
        devices.map((d) => this.#device(d)),
      )
    }
    const alerts = /^\/v2\/(account|site\/([^/]+)|device\/([^/]+))\/alerts\/(open|resolved)$/.exec(p)
    if (alerts) {
      const [, , siteUid, deviceUid, status] = alerts
      if (siteUid && !this.sites.some((s) => s.uid === siteUid)) return this.errorReply(404, req)
      if (deviceUid && !this.devices.some((d) => d.uid === deviceUid)) return this.errorReply(404, req)
      const muted = req.query.get('muted')
      const list = this.alerts.filter((a) => {
        const device = this.devices.find((d) => d.uid === a.deviceUid)
        return (
          a.resolved === (status === 'resolved') &&
          (!deviceUid || a.deviceUid === deviceUid) &&
          (!siteUid || device?.siteUid === siteUid) &&
          (muted === null || String(a.muted) === muted)
        )
      })
      return this.#page(
        req,
        platform,
        'alerts',
        list.map((a) => this.#alert(a)),
      )
    }
    const one = /^\/v2\/alert\/([^/]+)$/.exec(p)
    if (one) {
      const a = this.alerts.find((x) => x.alertUid === decodeURIComponent(one[1] as string))
      return a ? { status: 200, body: this.#alert(a) } : this.errorReply(404, req)
    }
    if (p === '/v2/activity-logs') {
      const list = (name: string) =>
        req.query
          .get(name)
          ?.split(',')
          .map((v) => v.toLowerCase())
      const from = req.query.get('from')
      const since = from ? Date.parse(from) : this.now().getTime() - 15 * 60_000
      const phrase = req.query.get('searchQuery')?.replace(/^"(.*)"$/, '$1')
      const activities = this.activities.filter(
        (a) =>
          a.date * 1000 >= since &&
          (!list('entities') || list('entities')?.includes(a.entity.toLowerCase())) &&
          (!list('categories') || list('categories')?.includes(a.category)) &&
          (!phrase || a.details.includes(phrase)),
      )
      return {
        status: 200,
        body: { pageDetails: { count: activities.length, prevPageUrl: null, nextPageUrl: null }, activities },
      }
    }
    const audit = /^\/v2\/audit\/device\/([^/]+)$/.exec(p)
    if (audit) {
      const d = this.devices.find((x) => x.uid === audit[1])
      if (!d) return this.errorReply(404, req)
      return {
        status: 200,
        body: {
          portalUrl: `https://${platform}.centrastage.net/device/${d.id}`,
          systemInfo: { manufacturer: 'Dell Inc.', model: 'OptiPlex 7090', totalPhysicalMemory: 17179869184 },
          bios: { instance: 'BIOS', releaseDate: '2025-06-01', serialNumber: d.serialNumber },
          nics: [{ instance: 'Ethernet', ipv4: d.intIpAddress, macAddress: d.macAddress, type: 'Ethernet' }],
          logicalDisks: [],
          processors: [],
        },
      }
    }
    return this.errorReply(404, req)
  }

  #page(req: RecordedRequest, platform: string, key: string, all: unknown[]): Reply {
    const page = Number(req.query.get('page') ?? '0')
    const max = Math.min(Number(req.query.get('max') ?? String(MAX_PAGE)), MAX_PAGE)
    if (!Number.isInteger(page) || page < 0 || !Number.isInteger(max) || max < 1)
      return this.errorReply(400, req)
    const items = all.slice(page * max, (page + 1) * max)
    const link = (n: number) => {
      const q = new URLSearchParams(req.query)
      q.set('page', String(n))
      q.set('max', String(max))
      return `${this.platformUrl(platform)}${req.path}?${q.toString()}`
    }
    return {
      status: 200,
      body: {
        pageDetails: {
          count: items.length,
          totalCount: all.length,
          prevPageUrl: page > 0 ? link(page - 1) : null,
          nextPageUrl: (page + 1) * max < all.length ? link(page + 1) : null,
        },
        [key]: items,
      },
    }
  }

  #site(s: RmmSite) {
    const devices = this.devices.filter((d) => d.siteUid === s.uid)
    return {
      id: s.id,
      uid: s.uid,
      accountUid: 'acct-42',
      name: s.name,
      description: s.description,
      onDemand: false,
      devicesStatus: {
        numberOfDevices: devices.length,
        numberOfOnlineDevices: devices.filter((d) => d.online).length,
        numberOfOfflineDevices: devices.filter((d) => !d.online).length,
      },
      portalUrl: `https://merlot.centrastage.net/site/${s.id}`,
    }
  }

  #device(d: RmmDevice) {
    const site = this.sites.find((s) => s.uid === d.siteUid)
    return {
      id: d.id,
      uid: d.uid,
      siteId: site?.id,
      siteUid: d.siteUid,
      siteName: site?.name,
      deviceType: d.deviceType,
      hostname: d.hostname,
      intIpAddress: d.intIpAddress,
      operatingSystem: d.operatingSystem,
      online: d.online,
      suspended: false,
      deleted: false,
      lastSeen: d.lastSeen,
      a64Bit: true,
    }
  }

  #alert(a: RmmAlert) {
    const device = this.devices.find((d) => d.uid === a.deviceUid)
    const site = this.sites.find((s) => s.uid === device?.siteUid)
    return {
      alertUid: a.alertUid,
      priority: a.priority,
      diagnostics: a.diagnostics,
      resolved: a.resolved,
      resolvedBy: a.resolved ? 'system' : null,
      resolvedOn: a.resolvedOn,
      muted: a.muted,
      ticketNumber: null,
      timestamp: a.timestamp,
      alertMonitorInfo: { sendsEmails: false, createsTicket: true },
      alertContext: { '@class': 'perf_disk_usage_ctx' },
      alertSourceInfo: {
        deviceUid: a.deviceUid,
        deviceName: device?.hostname,
        siteUid: site?.uid,
        siteName: site?.name,
      },
      responseActions: [],
      autoresolveMins: 0,
    }
  }
}

/** The platform a request's Host header names (`merlot-api.datto-rmm.test:1234` → merlot). */
function platformOf(req: RecordedRequest): string | undefined {
  const m = /^([a-z]+)-api\./.exec(req.headers.host ?? '')
  return m?.[1] && (DATTO_PLATFORMS as readonly string[]).includes(m[1]) ? m[1] : undefined
}
