/**
 * Datto EDR (Infocyte) stand-in. Datto publishes no API document; this follows the vendor's PowerShell module
 * (Infocyte/PowershellTools, "Datto EDR Powershell Module": requestHelpers.ps1, auth.ps1, data.ps1) and LoopBack 3,
 * the framework the API is built on.
 *
 * Checks: the API token in an `Authorization` header or an `access_token` query parameter, refused once the
 * token's expiry (by the stand-in's clock) has passed; `GET /api/Version`, `/api/AlertDetails`, `/api/Agents`;
 * the `filter` query parameter as LoopBack JSON `{where, order, limit, skip, fields}` (`where` by equality, with
 * `and`), `limit` at most 1000; errors as LoopBack's `{error: {statusCode, name, message, code}}`.
 *
 * Host isolation (the module's Invoke-ICResponse): `GET /api/extensions` (filter by name) lists the instance's
 * extensions ("Host Isolation", "Host Isolation Restore"); `POST /api/targets/scan` `{target, targetGroup, options:
 * {…collections, extensions: [{id, args, order}]}}` needs `target` and a known extension id, answers
 * `{scanTaskId}`, and runs the extension on the agent whose hostname or ip is the target (`isolated` on the agent);
 * an unknown target 500 "No active agent or accessible address", as the module warns. `where` also takes `or`.
 *
 * API for tests:
 *   const edr = await new DattoEdrStandIn({ clock }).start()
 *   edr.credentials            // instance, apiToken, tokenExpiresAt, baseUrl
 *   edr.tokenExpiresAt         // when the token stops working (a year after 2025-03-01 by default)
 *   edr.raw.alerts / edr.raw.agents   // vendor-shaped, mutable
 *   edr.failNext(429, { retryAfter: 20 })
 */
import type { Json } from '../../src/connectors/shared/json.ts'
import { type RecordedRequest, type Reply, StandIn, type StandInOptions } from './standin.ts'

const TOKEN = 'edr0123456789abcdefABCDEF0123456789abcdefABCDEF0123456789abcdef12'

export class DattoEdrStandIn extends StandIn {
  readonly vendor = 'datto-edr'
  tokenExpiresAt = new Date('2026-03-01T00:00:00Z')
  readonly raw: { alerts: Json[]; agents: Json[] }
  readonly extensions = [
    { id: 'a1b2c3d4-0000-4000-8000-000000000001', name: 'Host Isolation', type: 'action', active: true },
    {
      id: 'a1b2c3d4-0000-4000-8000-000000000002',
      name: 'Host Isolation Restore',
      type: 'action',
      active: true,
    },
  ]
  readonly scans: Json[] = []

  constructor(opts: StandInOptions = {}) {
    super(opts)
    const agents = Array.from({ length: 5 }, (_, i) => ({
      id: `agent-${String(i + 1).padStart(3, '0')}`,
      hostname: `WS-${String(i + 1).padStart(3, '0')}`,
      ip: `10.0.0.${i + 10}`,
      osVersion: 'Windows 11 Pro 23H2',
      status: i === 3 ? 'Inactive' : 'Active',
      heartbeat: `Tue Feb 17 2026 1${i}:30:00 GMT+0000 (Coordinated Universal Time)`,
      organizationName: 'Contoso',
      locationName: i < 3 ? 'HQ' : 'Branch',
      version: '3.12.0',
      authorized: true,
      isolated: false,
    }))
    const alert = (n: number, over: Json) => ({
      id: `alert-${String(n).padStart(3, '0')}`,
      name: `payload${n}.exe`,
      type: 'Process',
      hostname: 'WS-001',
      hostId: 'host-ws-001',
      scanId: 'scan-1',
      createdOn: `2026-02-1${n}T08:00:00.000Z`,
      flagName: null,
      threatName: 'Bad',
      threatWeight: 8,
      threatScore: 8,
      archived: false,
      ...over,
    })
    this.raw = {
      agents,
      alerts: [
        alert(1, { threatName: 'Blacklist', threatWeight: 10 }),
        alert(2, { hostname: 'WS-002', hostId: 'host-ws-002', threatName: 'Suspicious', threatWeight: 5 }),
        alert(3, { archived: true, archivedOn: '2026-02-17T09:00:00.000Z' }),
        alert(4, { threatName: undefined, threatWeight: 2, type: 'Autostart' }),
      ],
    }
  }

  get credentials(): Record<string, string> {
    return {
      instance: 'contoso',
      apiToken: TOKEN,
      tokenExpiresAt: this.tokenExpiresAt.toISOString().slice(0, 10),
      baseUrl: this.url,
    }
  }

  protected errorReply(status: number): Reply {
    const known: Record<number, [string, string, string]> = {
      400: ['BadRequestError', 'Bad Request', 'INVALID_FILTER'],
      401: ['Error', 'Authorization Required', 'AUTHORIZATION_REQUIRED'],
      404: ['Error', 'Shared class  "AlertDetail" has no method handling GET /nothing', 'NOT_FOUND'],
      429: ['Error', 'Too many requests, please try again later.', 'TOO_MANY_REQUESTS'],
    }
    const [name, message, code] = known[status] ?? ['Error', 'Internal Server Error', 'INTERNAL']
    return { status, body: { error: { statusCode: status, name, message, code } } }
  }

  protected handle(req: RecordedRequest): Reply {
    const token = req.headers.authorization ?? req.query.get('access_token')
    if (token !== TOKEN || this.now() >= this.tokenExpiresAt) return this.errorReply(401)
    if (req.path === '/api/targets/scan' && req.method === 'POST') return this.#scan(req)
    if (req.method !== 'GET') return this.errorReply(404)
    if (req.path === '/api/Version') return { status: 200, body: { version: '4.3.1' } }
    const rows =
      req.path === '/api/AlertDetails'
        ? this.raw.alerts
        : req.path === '/api/Agents'
          ? this.raw.agents
          : req.path === '/api/extensions'
            ? (this.extensions as Json[])
            : undefined
    if (!rows) return this.errorReply(404)
    let filter: Json = {}
    const rawFilter = req.query.get('filter')
    if (rawFilter) {
      try {
        filter = JSON.parse(rawFilter) as Json
      } catch {
        return {
          status: 400,
          body: {
            error: {
              statusCode: 400,
              name: 'SyntaxError',
              message: `Unexpected token in JSON: ${rawFilter.slice(0, 20)}`,
            },
          },
        }
      }
    }
    const limit = filter.limit === undefined ? 1000 : Number(filter.limit)
    const skip = filter.skip === undefined ? 0 : Number(filter.skip)
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000 || !Number.isInteger(skip) || skip < 0) {
      return {
        status: 400,
        body: {
          error: {
            statusCode: 400,
            name: 'Error',
            message: `The limit parameter ${filter.limit} is not valid (1 to 1000)`,
            code: 'INVALID_FILTER',
          },
        },
      }
    }
    const matches = (row: Json, where: Json): boolean =>
      Object.entries(where).every(([k, v]) =>
        k === 'and'
          ? (v as Json[]).every((w) => matches(row, w))
          : k === 'or'
            ? (v as Json[]).some((w) => matches(row, w))
            : (row[k] ?? null) === v,
      )
    const where = (filter.where as Json | undefined) ?? {}
    const found = rows
      .filter((r) => matches(r, where))
      .sort((a, b) => String(a.id).localeCompare(String(b.id)))
    return { status: 200, body: found.slice(skip, skip + limit) }
  }

  #scan(req: RecordedRequest): Reply {
    const b = (req.body ?? {}) as Json
    const options = (b.options ?? {}) as Json
    const exts = Array.isArray(options.extensions) ? (options.extensions as Json[]) : []
    const fail = (statusCode: number, message: string): Reply => ({
      status: statusCode,
      body: { error: { statusCode, name: 'Error', message } },
    })
    if (typeof b.target !== 'string' || !b.target) return fail(422, 'target is required')
    const chosen = exts.map((e) => this.extensions.find((x) => x.id === e.id))
    if (exts.length === 0 || chosen.some((x) => !x))
      return fail(422, 'options.extensions names an unknown extension')
    const agent = this.raw.agents.find((a) => a.hostname === b.target || a.ip === b.target)
    if (!agent) return fail(500, `No active agent or accessible address found for ${b.target}`)
    for (const x of chosen) agent.isolated = x?.name === 'Host Isolation'
    const scanTaskId = `task-${this.scans.length + 1}`
    this.scans.push({ ...b, scanTaskId })
    return { status: 200, body: { scanTaskId } }
  }
}
