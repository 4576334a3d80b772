/**
 * A stand-in for Microsoft Graph v1.0, the reads the Microsoft 365 connector makes, over the directory shared with
 * microsoft-login.ts:
 *
 *   const graph = await startGraph(dir)        // graph.baseUrl = http://graph.test:<port>
 *   graph.failNext({ status: 429, retryAfter: 12 })
 *   graph.reportsAsCsv = true                  // ignore $format: answer the report with a 302 to a CSV download
 *
 * As Graph documents it: errors are `{error: {code, message, innerError: {date, request-id, client-request-id}}}`
 * (https://learn.microsoft.com/graph/errors); no or an expired token 401 `InvalidAuthenticationToken`; an app with
 * no service principal in the tenant (consent removed after the token was issued) 401
 * `Authorization_IdentityNotFound`; a missing application permission 403 `Authorization_RequestDenied`; 429 and
 * 503 with Retry-After (https://learn.microsoft.com/graph/throttling). Collections page with `$top` (1–999) and
 * `@odata.nextLink` carrying `$skiptoken` (https://learn.microsoft.com/graph/paging); `/subscribedSkus` does not
 * page. `getMailboxUsageDetail(period='D7'|'D30'|'D90'|'D180')` answers JSON pages with
 * `$format=application/json`, else a 302 to a pre-authenticated CSV download with the documented columns
 * (https://learn.microsoft.com/graph/api/reportroot-getmailboxusagedetail).
 *
 * Change-notification subscriptions (https://learn.microsoft.com/graph/api/subscription-post-subscriptions,
 * ChangeNotifications.yml): POST /v1.0/subscriptions requires changeType (created/updated/deleted, comma-separated),
 * an https notificationUrl, resource, expirationDateTime in the future and at most 41,760 minutes away, clientState
 * ≤ 255; before answering 201 it POSTs `notificationUrl?validationToken=<token>` through `graph.notify` (the test
 * routes it to the app) and requires 200, text/plain and the token verbatim, else 400 ValidationError. PATCH
 * /v1.0/subscriptions/{id} takes a new expirationDateTime; DELETE answers 204; an unknown id 404 ResourceNotFound.
 *   graph.subscriptions                        // Map id → the subscription as created (clientState included)
 *   graph.notify = (url, init) => app.request(…)
 *
 * User writes, as the v1.0 reference documents them:
 * - POST /v1.0/users (https://learn.microsoft.com/graph/api/user-post-users) needs User.ReadWrite.All or
 *   Directory.ReadWrite.All and accountEnabled, displayName, mailNickname, userPrincipalName (on one of the tenant's
 *   verified domains) and passwordProfile.password; answers 201 with the user, passwordProfile null. A UPN already
 *   taken is 400 Request_BadRequest "Another object with the same value for property userPrincipalName already
 *   exists." with details [{target, code: ObjectConflict}]; a password shorter than 8 characters is refused for
 *   complexity.
 * - GET /v1.0/users/{id | userPrincipalName}: the user ($select honoured), 404 Request_ResourceNotFound otherwise.
 * - PATCH /v1.0/users/{id} (https://learn.microsoft.com/graph/api/user-update) answers 204; accountEnabled also
 *   with User.EnableDisableAccount.All.
 * - POST /v1.0/users/{id}/revokeSignInSessions (https://learn.microsoft.com/graph/api/user-revokesigninsessions)
 *   answers 200 `{value: true}`; also with User.RevokeSessions.All.
 * - POST /v1.0/users/{id}/assignLicense (https://learn.microsoft.com/graph/api/user-assignlicense) needs both
 *   addLicenses and removeLicenses (either may be empty), LicenseAssignment.ReadWrite.All; a SKU the tenant has not
 *   subscribed, no free units, or a user without usageLocation is 400; answers 200 with the user. Atomic.
 *   graph.loseNextWriteAnswer = true           // apply the next write, then answer 504 (the answer lost)
 */
import { randomUUID } from 'node:crypto'
import { type RecordedRequest, type Reply, type StandIn, startStandIn } from '../fixtures/stand-in.ts'
import {
  GRAPH_RESOURCE,
  type MicrosoftDirectory,
  type MsSku,
  type MsTenant,
  type MsUser,
  tokenOf,
} from './microsoft-login.ts'

export interface GraphStandIn {
  baseUrl: string
  server: StandIn
  /** Mailbox usage report rows per JSON page. */
  reportPageSize: number
  reportsAsCsv: boolean
  failNext(f: { status: 429 | 503; retryAfter?: number }): void
  /** Apply the next user write, then answer 504 as if the answer were lost on the way. */
  loseNextWriteAnswer: boolean
  subscriptions: Map<string, Record<string, unknown>>
  /** How the stand-in reaches a notificationUrl (the validation handshake). */
  notify:
    | ((url: string, init: { method: 'POST'; headers: Record<string, string> }) => Promise<Response>)
    | undefined
  close(): Promise<void>
}

const MAX_SUBSCRIPTION_MINUTES = 41_760
const CHANGE_TYPES = /^(created|updated|deleted)(,(created|updated|deleted))*$/

/** Application permissions that allow each read (a narrower one, or Directory.Read.All). */
const USER_READ = ['User.Read.All', 'User.ReadWrite.All', 'Directory.Read.All', 'Directory.ReadWrite.All']
const NEEDS: [RegExp, string[]][] = [
  [/^\/v1\.0\/users$/, USER_READ],
  [/^\/v1\.0\/groups$/, ['Group.Read.All', 'Directory.Read.All']],
  [/^\/v1\.0\/(subscribedSkus|organization)$/, ['Organization.Read.All', 'Directory.Read.All']],
  [/^\/v1\.0\/reports\//, ['Reports.Read.All']],
]

export async function startGraph(dir: MicrosoftDirectory): Promise<GraphStandIn> {
  const failures: { status: number; retryAfter?: number }[] = []
  const downloads = new Map<string, string>()
  const state = { reportPageSize: 2, reportsAsCsv: false, loseNextWriteAnswer: false }
  const subscriptions = new Map<string, Record<string, unknown>>()
  const hooks: { notify: GraphStandIn['notify'] } = { notify: undefined }

  /** The notificationUrl handshake, as Graph makes it before creating a subscription. */
  const validate = async (url: string): Promise<string | undefined> => {
    const token = `Validation: Testing client application reachability for subscription Request-Id: ${randomUUID()}`
    const target = new URL(url)
    target.searchParams.set('validationToken', token)
    if (!hooks.notify) return 'no notify function set on the stand-in'
    const res = await hooks.notify(target.toString(), {
      method: 'POST',
      headers: { 'content-type': 'text/plain; charset=utf-8' },
    })
    const body = await res.text()
    if (res.status !== 200) return `the endpoint answered ${res.status}`
    if (!(res.headers.get('content-type') ?? '').startsWith('text/plain'))
      return 'the answer is not text/plain'
    if (body !== token) return 'the answer is not the validation token'
    return undefined
  }

  const subscriptionsRoute = async (req: RecordedRequest, path: string): Promise<Reply | undefined> => {
    const one = /^\/v1\.0\/subscriptions\/([\w-]+)$/.exec(path)
    if (path !== '/v1.0/subscriptions' && !one) return undefined
    const b = (req.json && typeof req.json === 'object' ? req.json : {}) as Record<string, unknown>
    const expiry = (v: unknown): Reply | Date => {
      const d = typeof v === 'string' ? new Date(v) : new Date(Number.NaN)
      if (Number.isNaN(d.getTime())) return error(400, 'InvalidRequest', 'expirationDateTime is required.')
      const minutes = (d.getTime() - dir.clock.now().getTime()) / 60_000
      if (minutes <= 0)
        return error(400, 'InvalidRequest', 'Subscription expiration can only be in the future.')
      if (minutes > MAX_SUBSCRIPTION_MINUTES) {
        return error(
          400,
          'InvalidRequest',
          `Subscription expiration exceeds the maximum allowed ${MAX_SUBSCRIPTION_MINUTES} minutes.`,
        )
      }
      return d
    }
    if (!one && req.method === 'POST') {
      if (typeof b.changeType !== 'string' || !CHANGE_TYPES.test(b.changeType))
        return error(400, 'InvalidRequest', 'changeType is invalid.')
      if (typeof b.resource !== 'string' || !b.resource)
        return error(400, 'InvalidRequest', 'resource is required.')
      if (typeof b.notificationUrl !== 'string' || !b.notificationUrl.startsWith('https://'))
        return error(400, 'InvalidRequest', 'The notification URL must use https.')
      if (b.clientState !== undefined && (typeof b.clientState !== 'string' || b.clientState.length > 255))
        return error(400, 'InvalidRequest', 'clientState must be at most 255 characters.')
      const until = expiry(b.expirationDateTime)
      if (!(until instanceof Date)) return until
      const problem = await validate(b.notificationUrl)
      if (problem) {
        return error(
          400,
          'ValidationError',
          `Subscription validation request failed. Notification endpoint must respond with 200 OK to validation request (${problem}).`,
        )
      }
      const sub = { ...b, id: randomUUID(), expirationDateTime: until.toISOString() }
      subscriptions.set(sub.id, sub)
      return {
        status: 201,
        body: { '@odata.context': `${base}/v1.0/$metadata#subscriptions/$entity`, ...sub },
      }
    }
    if (!one)
      return error(405, 'Request_BadRequest', 'Specified HTTP method is not allowed for the request target.')
    const sub = subscriptions.get(one[1] as string)
    if (!sub) return error(404, 'ResourceNotFound', `The object was not found.`)
    if (req.method === 'DELETE') {
      subscriptions.delete(one[1] as string)
      return { status: 204, body: '' }
    }
    if (req.method === 'PATCH') {
      const until = expiry(b.expirationDateTime)
      if (!(until instanceof Date)) return until
      sub.expirationDateTime = until.toISOString()
      return { status: 200, body: sub }
    }
    return error(405, 'Request_BadRequest', 'Specified HTTP method is not allowed for the request target.')
  }
  const denied = (granted: string[], needs: string[]): Reply | undefined =>
    needs.some((p) => granted.includes(p))
      ? undefined
      : error(403, 'Authorization_RequestDenied', 'Insufficient privileges to complete the operation.')
  const notFound = (id: string) =>
    error(
      404,
      'Request_ResourceNotFound',
      `Resource '${id}' does not exist or one of its queried reference-property objects are not present.`,
    )
  const WRITE = ['User.ReadWrite.All', 'Directory.ReadWrite.All']
  const userView = (u: MsUser) => {
    const { passwordProfile: _secret, ...rest } = u
    return {
      businessPhones: [],
      givenName: null,
      surname: null,
      jobTitle: null,
      ...rest,
      mail: u.mail,
      usageLocation: u.usageLocation ?? null,
      passwordProfile: null,
    }
  }

  /** POST /users, GET/PATCH /users/{id}, revokeSignInSessions, assignLicense; undefined for other paths. */
  const usersRoute = (
    req: RecordedRequest,
    tenant: MsTenant,
    granted: string[],
    u: URL,
  ): Reply | undefined => {
    const path = decodeURIComponent(u.pathname)
    const b = (req.json && typeof req.json === 'object' ? req.json : {}) as Record<string, unknown>
    if (path === '/v1.0/users' && req.method === 'POST') {
      const no = denied(granted, WRITE)
      if (no) return no
      for (const field of ['accountEnabled', 'displayName', 'mailNickname', 'userPrincipalName'] as const) {
        const v = b[field]
        const ok = field === 'accountEnabled' ? typeof v === 'boolean' : typeof v === 'string' && v !== ''
        if (!ok)
          return error(
            400,
            'Request_BadRequest',
            `Invalid value specified for property '${field}' of resource 'User'.`,
          )
      }
      const profile = (b.passwordProfile ?? undefined) as Record<string, unknown> | undefined
      if (!profile || typeof profile.password !== 'string' || !profile.password)
        return error(400, 'Request_BadRequest', 'A password must be specified to create a new user.')
      const upn = b.userPrincipalName as string
      const domain = upn.split('@')[1]?.toLowerCase()
      if (!domain || domain !== tenant.domain.toLowerCase()) {
        return error(
          400,
          'Request_BadRequest',
          'The domain portion of the userPrincipalName property is invalid. You must use one of the verified domain names in your organization.',
        )
      }
      if (tenant.users.some((x) => x.userPrincipalName.toLowerCase() === upn.toLowerCase())) {
        const e = error(
          400,
          'Request_BadRequest',
          'Another object with the same value for property userPrincipalName already exists.',
        )
        const body = e.body as { error: Record<string, unknown> }
        body.error.details = [{ target: 'userPrincipalName', code: 'ObjectConflict' }]
        return e
      }
      if (profile.password.length < 8) {
        return error(
          400,
          'Request_BadRequest',
          'The specified password does not comply with password complexity requirements. Please provide a different password.',
        )
      }
      const user: MsUser = {
        id: randomUUID(),
        displayName: b.displayName as string,
        userPrincipalName: upn,
        mail: null,
        accountEnabled: b.accountEnabled as boolean,
        assignedLicenses: [],
        mailNickname: b.mailNickname as string,
        usageLocation: typeof b.usageLocation === 'string' ? b.usageLocation : null,
        passwordProfile: {
          password: profile.password,
          forceChangePasswordNextSignIn: profile.forceChangePasswordNextSignIn !== false,
        },
      }
      tenant.users.push(user)
      return {
        status: 201,
        body: { '@odata.context': `${base}/v1.0/$metadata#users/$entity`, ...userView(user) },
      }
    }
    const m = /^\/v1\.0\/users\/([^/]+)(?:\/(revokeSignInSessions|assignLicense))?$/.exec(path)
    if (!m) return undefined
    const key = (m[1] as string).toLowerCase()
    const verb = m[2]
    const user = tenant.users.find(
      (x) => x.id.toLowerCase() === key || x.userPrincipalName.toLowerCase() === key,
    )
    if (req.method === 'GET' && !verb) {
      const no = denied(granted, USER_READ)
      if (no) return no
      if (!user) return notFound(m[1] as string)
      return {
        status: 200,
        body: {
          '@odata.context': `${base}/v1.0/$metadata#users/$entity`,
          ...selectFields(u)(userView(user)),
        },
      }
    }
    if (req.method === 'PATCH' && !verb) {
      const no = denied(
        granted,
        Object.keys(b).every((k) => k === 'accountEnabled')
          ? [...WRITE, 'User.EnableDisableAccount.All']
          : WRITE,
      )
      if (no) return no
      if (!user) return notFound(m[1] as string)
      if ('accountEnabled' in b && typeof b.accountEnabled !== 'boolean')
        return error(
          400,
          'Request_BadRequest',
          "Invalid value specified for property 'accountEnabled' of resource 'User'.",
        )
      if (typeof b.accountEnabled === 'boolean') user.accountEnabled = b.accountEnabled
      if (typeof b.displayName === 'string') user.displayName = b.displayName
      if (typeof b.usageLocation === 'string') user.usageLocation = b.usageLocation
      return { status: 204, body: '' }
    }
    if (req.method === 'POST' && verb === 'revokeSignInSessions') {
      const no = denied(granted, [...WRITE, 'User.RevokeSessions.All'])
      if (no) return no
      if (!user) return notFound(m[1] as string)
      user.signInSessionsValidFromDateTime = dir.clock.now().toISOString()
      return { status: 200, body: { '@odata.context': `${base}/v1.0/$metadata#Edm.Boolean`, value: true } }
    }
    if (req.method === 'POST' && verb === 'assignLicense') {
      const no = denied(granted, [...WRITE, 'LicenseAssignment.ReadWrite.All'])
      if (no) return no
      if (!user) return notFound(m[1] as string)
      if (!Array.isArray(b.addLicenses) || !Array.isArray(b.removeLicenses)) {
        return error(
          400,
          'Request_BadRequest',
          "Invalid value specified for property 'addLicenses' or 'removeLicenses': both are required (either may be empty).",
        )
      }
      const adds = b.addLicenses as { skuId?: unknown; disabledPlans?: unknown }[]
      const removes = b.removeLicenses as unknown[]
      const sku = (id: unknown) => tenant.skus.find((s) => s.skuId.toLowerCase() === String(id).toLowerCase())
      for (const id of [...adds.map((a) => a.skuId), ...removes]) {
        if (!sku(id))
          return error(
            400,
            'Request_BadRequest',
            `License ${String(id)} does not correspond to a valid company License.`,
          )
      }
      if (adds.length && !user.usageLocation) {
        return error(
          400,
          'Request_BadRequest',
          'License assignment cannot be done for user with invalid usage location.',
        )
      }
      const has = (id: unknown) =>
        user.assignedLicenses.some((l) => l.skuId.toLowerCase() === String(id).toLowerCase())
      for (const a of adds) {
        const s = sku(a.skuId) as MsSku
        if (!has(a.skuId) && s.consumedUnits >= s.prepaidUnits.enabled)
          return error(
            400,
            'Request_BadRequest',
            `Subscription ${s.skuId} does not have any available licenses.`,
          )
      }
      // Atomic: every check passed, now the change.
      for (const id of removes) {
        if (!has(id)) continue
        user.assignedLicenses = user.assignedLicenses.filter(
          (l) => l.skuId.toLowerCase() !== String(id).toLowerCase(),
        )
        ;(sku(id) as MsSku).consumedUnits--
      }
      for (const a of adds) {
        const plans = Array.isArray(a.disabledPlans) ? a.disabledPlans.map(String) : []
        const existing = user.assignedLicenses.find(
          (l) => l.skuId.toLowerCase() === String(a.skuId).toLowerCase(),
        )
        if (existing) existing.disabledPlans = plans
        else {
          user.assignedLicenses.push({ skuId: String(a.skuId), disabledPlans: plans })
          ;(sku(a.skuId) as MsSku).consumedUnits++
        }
      }
      return {
        status: 200,
        body: { '@odata.context': `${base}/v1.0/$metadata#users/$entity`, ...userView(user) },
      }
    }
    return error(405, 'Request_BadRequest', 'Specified HTTP method is not allowed for the request target.')
  }
  let base = ''
  const error = (
    status: number,
    code: string,
    message: string,
    headers: Record<string, string> = {},
  ): Reply => ({
    status,
    headers: { 'request-id': randomUUID(), ...headers },
    body: {
      error: {
        code,
        message,
        innerError: {
          date: dir.clock
            .now()
            .toISOString()
            .replace(/\.\d+Z$/, ''),
          'request-id': randomUUID(),
          'client-request-id': randomUUID(),
        },
      },
    },
  })

  function page<T>(rows: T[], u: URL, select?: (r: T) => unknown): Reply {
    const topText = u.searchParams.get('$top')
    const top = topText === null ? 100 : Number(topText)
    if (!Number.isInteger(top) || top < 1 || top > 999) {
      return error(
        400,
        'Request_UnsupportedQuery',
        `Invalid page size specified: '${topText}'. Must be between 1 and 999 inclusive.`,
      )
    }
    const skip = Number(u.searchParams.get('$skiptoken') ?? '0')
    const slice = rows.slice(skip, skip + top)
    const body: Record<string, unknown> = {
      '@odata.context': `${base}/v1.0/$metadata#${u.pathname.split('/').pop()}`,
      value: slice.map((r) => (select ? select(r) : r)),
    }
    if (skip + top < rows.length) {
      const next = new URL(u.toString())
      next.searchParams.set('$skiptoken', String(skip + top))
      body['@odata.nextLink'] = `${base}${next.pathname}${next.search}`
    }
    return { status: 200, body }
  }

  function selectFields(u: URL) {
    const fields = u.searchParams.get('$select')?.split(',')
    return (r: object) =>
      fields ? Object.fromEntries(Object.entries(r).filter(([k]) => fields.includes(k))) : r
  }

  function report(tenant: MsTenant, u: URL, period: string): Reply {
    if (!['D7', 'D30', 'D90', 'D180'].includes(period)) {
      return error(400, 'BadRequest', `Invalid value '${period}' for parameter 'period'.`)
    }
    const days = period.slice(1)
    const refresh = dir.clock.now().toISOString().slice(0, 10)
    const rows = tenant.mailboxes.map((m) => ({
      reportRefreshDate: refresh,
      userPrincipalName: m.userPrincipalName,
      displayName: m.displayName,
      isDeleted: false,
      deletedDate: null,
      createdDate: '2024-01-02',
      lastActivityDate: m.lastActivityDate,
      itemCount: m.itemCount,
      storageUsedInBytes: m.storageUsedInBytes,
      deletedItemCount: 0,
      deletedItemSizeInBytes: 0,
      deletedItemQuotaInBytes: 32212254720,
      hasArchive: false,
      issueWarningQuotaInBytes: 105226698752,
      prohibitSendQuotaInBytes: 106300440576,
      prohibitSendReceiveQuotaInBytes: 107374182400,
      reportPeriod: days,
    }))
    if (u.searchParams.get('$format') === 'application/json' && !state.reportsAsCsv) {
      const skip = Number(u.searchParams.get('$skiptoken') ?? '0')
      const body: Record<string, unknown> = { value: rows.slice(skip, skip + state.reportPageSize) }
      if (skip + state.reportPageSize < rows.length) {
        const next = new URL(u.toString())
        next.searchParams.set('$skiptoken', String(skip + state.reportPageSize))
        body['@odata.nextLink'] = `${base}${next.pathname}${next.search}`
      }
      return { status: 200, body }
    }
    const header =
      'Report Refresh Date,User Principal Name,Display Name,Is Deleted,Deleted Date,Created Date,Last Activity Date,Item Count,Storage Used (Byte),Issue Warning Quota (Byte),Prohibit Send Quota (Byte),Prohibit Send/Receive Quota (Byte),Deleted Item Count,Deleted Item Size (Byte),Deleted Item Quota (Byte),Has Archive,Report Period'
    const q = (v: unknown) => {
      const s = v === null ? '' : String(v)
      return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s
    }
    const lines = rows.map((r) =>
      [
        r.reportRefreshDate,
        r.userPrincipalName,
        r.displayName,
        'False',
        '',
        r.createdDate,
        r.lastActivityDate,
        r.itemCount,
        r.storageUsedInBytes,
        r.issueWarningQuotaInBytes,
        r.prohibitSendQuotaInBytes,
        r.prohibitSendReceiveQuotaInBytes,
        0,
        0,
        r.deletedItemQuotaInBytes,
        'False',
        days,
      ]
        .map(q)
        .join(','),
    )
    const id = randomUUID()
    downloads.set(id, `\ufeff${[header, ...lines].join('\r\n')}\r\n`)
    return { status: 302, headers: { location: `${base}/download/reports/${id}.csv` }, body: '' }
  }

  const handle = async (req: RecordedRequest): Promise<Reply> => {
    const u = new URL(req.path, 'http://graph.test')
    const dl = /^\/download\/reports\/([\w-]+)\.csv$/.exec(u.pathname)
    if (dl) {
      if (req.headers.authorization)
        return { status: 400, body: 'Pre-authenticated download: no Authorization header.' }
      const csv = downloads.get(dl[1] as string)
      return csv === undefined
        ? { status: 404, body: 'Not found' }
        : { status: 200, headers: { 'content-type': 'application/octet-stream' }, body: csv }
    }
    const failure = failures.shift()
    if (failure) {
      return error(
        failure.status,
        failure.status === 429 ? 'TooManyRequests' : 'ServiceUnavailable',
        failure.status === 429 ? 'Too many requests.' : 'Service is temporarily unavailable.',
        failure.retryAfter !== undefined ? { 'retry-after': String(failure.retryAfter) } : {},
      )
    }
    const token = tokenOf(dir, req, GRAPH_RESOURCE)
    if ('problem' in token) return error(401, 'InvalidAuthenticationToken', token.problem)
    const tenant = dir.tenants.get(token.tenant) as MsTenant
    const app = dir.apps.get(token.appId)
    const granted = tenant.consents.get(token.appId)
    if (app?.homeTenant !== tenant.id && !granted) {
      return error(
        401,
        'Authorization_IdentityNotFound',
        'The identity of the calling application could not be established.',
      )
    }
    const subs = await subscriptionsRoute(req, decodeURIComponent(u.pathname))
    if (subs) return subs
    const users = usersRoute(req, tenant, granted ?? [], u)
    if (users) {
      if (req.method !== 'GET' && users.status < 300 && state.loseNextWriteAnswer) {
        state.loseNextWriteAnswer = false
        return error(504, 'GatewayTimeout', 'The gateway did not receive a timely response.')
      }
      return users
    }
    if (req.method !== 'GET')
      return error(405, 'Request_BadRequest', 'Specified HTTP method is not allowed for the request target.')
    const needs = NEEDS.find(([re]) => re.test(u.pathname))?.[1]
    if (needs && !needs.some((p) => granted?.includes(p))) {
      return error(403, 'Authorization_RequestDenied', 'Insufficient privileges to complete the operation.')
    }
    const path = decodeURIComponent(u.pathname)
    if (path === '/v1.0/users') return page(tenant.users, u, selectFields(u))
    if (path === '/v1.0/groups') return page(tenant.groups, u, selectFields(u))
    if (path === '/v1.0/subscribedSkus') {
      return {
        status: 200,
        body: {
          '@odata.context': `${base}/v1.0/$metadata#subscribedSkus`,
          value: tenant.skus.map((s) => ({
            ...s,
            id: `${tenant.id}_${s.skuId}`,
            appliesTo: 'User',
            servicePlans: [],
          })),
        },
      }
    }
    if (path === '/v1.0/organization') {
      return {
        status: 200,
        body: {
          value: [
            selectFields(u)({
              id: tenant.id,
              displayName: tenant.name,
              verifiedDomains: [{ name: tenant.domain, isDefault: true }],
            }),
          ],
        },
      }
    }
    const r = /^\/v1\.0\/reports\/getMailboxUsageDetail\(period='([^']*)'\)$/.exec(path)
    if (r) return report(tenant, u, r[1] as string)
    return error(400, 'BadRequest', `Resource not found for the segment '${path.split('/').pop()}'.`)
  }
  const server = await startStandIn(handle)
  base = server.url('graph.test')
  return {
    baseUrl: base,
    server,
    get reportPageSize() {
      return state.reportPageSize
    },
    set reportPageSize(n: number) {
      state.reportPageSize = n
    },
    get reportsAsCsv() {
      return state.reportsAsCsv
    },
    set reportsAsCsv(v: boolean) {
      state.reportsAsCsv = v
    },
    failNext: (f) => failures.push(f),
    get loseNextWriteAnswer() {
      return state.loseNextWriteAnswer
    },
    set loseNextWriteAnswer(v: boolean) {
      state.loseNextWriteAnswer = v
    },
    subscriptions,
    get notify() {
      return hooks.notify
    },
    set notify(f) {
      hooks.notify = f
    },
    close: () => server.close(),
  }
}
