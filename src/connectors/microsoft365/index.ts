import type { ResourceItem, ResourceKind } from '../../resources/kinds.ts'
import { defineConnector } from '../define.ts'
import { isoDate, verifyBy } from '../shared/credentials.ts'
import { decodeCursor, encodeCursor } from '../shared/cursor.ts'
import { arr, type Json, obj, str } from '../shared/json.ts'
import {
  type GraphCredentials as Creds,
  graphBase,
  graphCredentialSchema,
  graphCredentials,
  graphGet,
  url,
} from '../shared/microsoft-graph.ts'
import type {
  Connector,
  ConnectorEnv,
  PageOf,
  ResourceKindInfo,
  ResourceOperations,
  ResourceQuery,
} from '../types.ts'
import { VendorError } from '../vendor-error.ts'
import { actions } from './actions.ts'
import { parseCsv } from './csv.ts'

/**
 * Microsoft 365 through Microsoft Graph v1.0 (https://learn.microsoft.com/graph/api/overview), one integration
 * per customer tenant, app-only: the partner's multi-tenant app signs in to the customer's tenant with client
 * credentials (see shared/microsoft-identity.ts) and reads users, groups, subscribed SKUs and the mailbox usage report.
 *
 * - Paging follows `@odata.nextLink` (https://learn.microsoft.com/graph/paging), hidden in an opaque cursor; a
 *   cursor whose link leaves the Graph base URL is refused, so a forged cursor never carries the token elsewhere.
 * - 429 and 503 carry Graph's Retry-After (https://learn.microsoft.com/graph/throttling); nothing here sleeps.
 * - A 401 with a cached token drops it and signs in once more (a revoked or rotated token).
 * - The mailbox usage report is CSV by default and answers with a 302 to a pre-authenticated download URL; with
 *   `$format=application/json` it is JSON with paging
 *   (https://learn.microsoft.com/graph/api/reportroot-getmailboxusagedetail). We ask for JSON and read either.
 */
const VENDOR = 'Microsoft Graph'
const MAX_PAGE = 999

/** The cursor's link, refused unless it stays on this integration's Graph host. */
function nextUrl(creds: Creds, cursor: string | undefined): string | undefined {
  const c = decodeCursor<{ next: string }>(VENDOR, cursor)
  if (!c) return undefined
  const base = `${graphBase(creds)}/`
  if (typeof c.next !== 'string' || !c.next.startsWith(base)) {
    throw new VendorError(`${VENDOR}: the page cursor is not one this connector issued`, 400)
  }
  return c.next
}

interface ODataPage {
  rows: Json[]
  next: string | undefined
}

async function odataPage(creds: Creds, env: ConnectorEnv, target: string): Promise<ODataPage> {
  const res = await graphGet(creds, env, target)
  const body = obj(res.data)
  if (!body) throw new VendorError(`${VENDOR} answered with something other than an OData collection`, 502)
  const rows = arr(body.value)
    .map(obj)
    .filter((r): r is Json => r !== undefined)
  const next = str(body['@odata.nextLink'])
  return { rows, next: next ? encodeCursor({ next }) : undefined }
}

const pageSize = (q: ResourceQuery) => Math.max(1, Math.min(MAX_PAGE, q.limit))

function refuseFilters(kind: string, filter: Record<string, string>, allowed: readonly string[]): void {
  const unknown = Object.keys(filter).filter((k) => !allowed.includes(k))
  if (unknown.length) {
    throw new VendorError(
      `${VENDOR}: ${kind} has no filter ${unknown.map((k) => `"${k}"`).join(', ')}${allowed.length ? ` (filters: ${allowed.join(', ')})` : ''}`,
      400,
    )
  }
}

/** SKU id → part number, to name users' licenses the way admins know them (ENTERPRISEPACK, SPE_E3…). */
async function skuNames(creds: Creds, env: ConnectorEnv): Promise<Map<string, string>> {
  const res = await graphGet(creds, env, url(creds, '/subscribedSkus'))
  const names = new Map<string, string>()
  for (const s of arr(obj(res.data)?.value)) {
    const id = str(obj(s)?.skuId)
    const part = str(obj(s)?.skuPartNumber)
    if (id && part) names.set(id.toLowerCase(), part)
  }
  return names
}

async function listUsers(
  creds: Creds,
  q: ResourceQuery,
  env: ConnectorEnv,
): Promise<PageOf<ResourceItem<'users'>>> {
  refuseFilters('users', q.filter, [])
  const target =
    nextUrl(creds, q.cursor) ??
    url(creds, '/users', {
      $select: 'id,displayName,userPrincipalName,mail,accountEnabled,assignedLicenses',
      $top: pageSize(q),
    })
  const page = await odataPage(creds, env, target)
  const skus = page.rows.some((u) => arr(u.assignedLicenses).length)
    ? await skuNames(creds, env)
    : new Map<string, string>()
  return {
    items: page.rows.map((u) => {
      const id = str(u.id) ?? ''
      return {
        id,
        name: str(u.displayName) ?? str(u.userPrincipalName) ?? id,
        email: str(u.mail) ?? str(u.userPrincipalName) ?? null,
        enabled: typeof u.accountEnabled === 'boolean' ? u.accountEnabled : null,
        licenses: arr(u.assignedLicenses)
          .map((l) => str(obj(l)?.skuId))
          .filter((s): s is string => !!s)
          .map((s) => skus.get(s.toLowerCase()) ?? s),
        raw: u,
      }
    }),
    next: page.next,
  }
}

async function listGroups(
  creds: Creds,
  q: ResourceQuery,
  env: ConnectorEnv,
): Promise<PageOf<ResourceItem<'groups'>>> {
  refuseFilters('groups', q.filter, [])
  const target =
    nextUrl(creds, q.cursor) ??
    url(creds, '/groups', {
      $select: 'id,displayName,mail,mailEnabled,securityEnabled,groupTypes,description',
      $top: pageSize(q),
    })
  const page = await odataPage(creds, env, target)
  return {
    items: page.rows.map((g) => {
      const id = str(g.id) ?? ''
      return { id, name: str(g.displayName) ?? id, email: str(g.mail) ?? null, raw: g }
    }),
    next: page.next,
  }
}

async function listLicenses(
  creds: Creds,
  q: ResourceQuery,
  env: ConnectorEnv,
): Promise<PageOf<ResourceItem<'licenses'>>> {
  refuseFilters('licenses', q.filter, [])
  const page = await odataPage(creds, env, nextUrl(creds, q.cursor) ?? url(creds, '/subscribedSkus'))
  return {
    items: page.rows.map((s) => {
      const units = obj(s.prepaidUnits)
      const enabled = units?.enabled
      return {
        id: str(s.skuId) ?? str(s.id) ?? '',
        sku: str(s.skuPartNumber) ?? str(s.skuId) ?? '',
        total: typeof enabled === 'number' ? enabled : null,
        consumed: typeof s.consumedUnits === 'number' ? s.consumedUnits : null,
        raw: s,
      }
    }),
    next: page.next,
  }
}

const PERIODS = ['D7', 'D30', 'D90', 'D180'] as const

function num(v: unknown): number | null {
  if (typeof v === 'number' && Number.isFinite(v)) return v
  if (typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v))) return Number(v)
  return null
}

function mailboxItem(r: Json): ResourceItem<'mailbox-usage'> {
  const upn = str(r.userPrincipalName) ?? ''
  return {
    id: upn,
    name: str(r.displayName) ?? null,
    storageUsedBytes: num(r.storageUsedInBytes),
    itemCount: num(r.itemCount),
    lastActivity: isoDate(r.lastActivityDate) ?? null,
    raw: r,
  }
}

/** The CSV report's columns, as Microsoft documents them, to the JSON report's property names. */
const CSV_COLUMNS: Record<string, string> = {
  'Report Refresh Date': 'reportRefreshDate',
  'User Principal Name': 'userPrincipalName',
  'Display Name': 'displayName',
  'Is Deleted': 'isDeleted',
  'Deleted Date': 'deletedDate',
  'Created Date': 'createdDate',
  'Last Activity Date': 'lastActivityDate',
  'Item Count': 'itemCount',
  'Storage Used (Byte)': 'storageUsedInBytes',
  'Issue Warning Quota (Byte)': 'issueWarningQuotaInBytes',
  'Prohibit Send Quota (Byte)': 'prohibitSendQuotaInBytes',
  'Prohibit Send/Receive Quota (Byte)': 'prohibitSendReceiveQuotaInBytes',
  'Deleted Item Count': 'deletedItemCount',
  'Deleted Item Size (Byte)': 'deletedItemSizeInBytes',
  'Deleted Item Quota (Byte)': 'deletedItemQuotaInBytes',
  'Has Archive': 'hasArchive',
  'Report Period': 'reportPeriod',
}

async function listMailboxUsage(
  creds: Creds,
  q: ResourceQuery,
  env: ConnectorEnv,
): Promise<PageOf<ResourceItem<'mailbox-usage'>>> {
  refuseFilters('mailbox-usage', q.filter, ['period'])
  const period = q.filter.period ?? 'D7'
  if (!(PERIODS as readonly string[]).includes(period)) {
    throw new VendorError(`${VENDOR}: period must be one of ${PERIODS.join(', ')}`, 400)
  }
  const target =
    nextUrl(creds, q.cursor) ??
    url(creds, `/reports/getMailboxUsageDetail(period='${period}')`, { $format: 'application/json' })
  const res = await graphGet(creds, env, target)
  const body = obj(res.data)
  if (body) {
    const next = str(body['@odata.nextLink'])
    return {
      items: arr(body.value)
        .map(obj)
        .filter((r): r is Json => r !== undefined)
        .map(mailboxItem),
      next: next ? encodeCursor({ next }) : undefined,
    }
  }
  if (typeof res.data !== 'string') {
    throw new VendorError(`${VENDOR} answered the mailbox usage report with neither JSON nor CSV`, 502)
  }
  // The CSV report comes whole: every row in one page.
  const [header, ...lines] = parseCsv(res.data)
  if (!header) return { items: [] }
  const names = header.map((h) => CSV_COLUMNS[h.trim()] ?? h.trim())
  return {
    items: lines
      .filter((l) => l.some((cell) => cell !== ''))
      .map((cells) => {
        const r: Json = {}
        names.forEach((n, i) => {
          r[n] = cells[i] ?? ''
        })
        return mailboxItem(r)
      }),
  }
}

const KINDS: readonly ResourceKindInfo[] = [
  { kind: 'users', description: 'Users of the tenant, with their assigned licenses (SKU part numbers).' },
  { kind: 'groups', description: 'Microsoft 365, security and distribution groups.' },
  { kind: 'licenses', description: "The tenant's subscribed SKUs: units bought (enabled) and consumed." },
  {
    kind: 'mailbox-usage',
    description: "Exchange Online mailbox usage per user, from Microsoft 365's usage reports.",
    filters: { period: 'Report period: D7 (default), D30, D90 or D180 days.' },
  },
]

export const resources: ResourceOperations<Creds> = {
  kinds: KINDS,
  async list<K extends ResourceKind>(
    creds: Creds,
    kind: K,
    query: ResourceQuery,
    env: ConnectorEnv,
  ): Promise<PageOf<ResourceItem<K>>> {
    const lists: Partial<
      Record<ResourceKind, (c: Creds, q: ResourceQuery, e: ConnectorEnv) => Promise<PageOf<unknown>>>
    > = {
      users: listUsers,
      groups: listGroups,
      licenses: listLicenses,
      'mailbox-usage': listMailboxUsage,
    }
    const list = lists[kind]
    if (!list) throw new VendorError(`${VENDOR}: Microsoft 365 offers no "${kind}"`, 400)
    return (await list(creds, query, env)) as PageOf<ResourceItem<K>>
  },
}

export const microsoft365: Connector = defineConnector(graphCredentials, {
  descriptor: {
    id: 'microsoft365',
    displayName: 'Microsoft 365',
    category: 'productivity',
    capabilities: ['read_resources'],
    credentialSchema: graphCredentialSchema,
    docsUrl: 'https://learn.microsoft.com/graph/api/overview',
  },
  // The tenant's organization object: proves the sign-in, the consent and a Graph permission at once.
  verify: (creds, env) =>
    verifyBy(async () => {
      const res = await graphGet(creds, env, url(creds, '/organization', { $select: 'id,displayName' }))
      const org = obj(arr(obj(res.data)?.value)[0])
      return str(org?.displayName) ?? str(org?.id)
    }),
  // One user, the cheapest authenticated read of what this integration is for.
  probe: (creds, env) =>
    verifyBy(async () => {
      await graphGet(creds, env, url(creds, '/users', { $select: 'id', $top: 1 }))
      return undefined
    }),
  resources,
  actions,
})
