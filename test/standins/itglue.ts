/**
 * IT Glue API stand-in, after https://api.itglue.com/developer/ and the (unofficial) OpenAPI transcription of it:
 *
 * - `x-api-key` header; a key unknown to the server answers 401 `{errors: [{status: "401", title: "Unauthorized",
 *   detail: …}]}` (JSON:API errors).
 * - Regions: every host `<region>.itglue.test` (us, eu, au) reaches this one server; the account lives on one
 *   (`region`, default eu), and the others do not know its key.
 * - Reads: /organizations, /configurations, /contacts, /passwords, with `filter[...]` (name, organization_id,
 *   serial_number), `sort`, `page[number]` (from 1) and `page[size]` (≤ 1000, else 400); responses
 *   `{data: [{id, type, attributes}], meta: {current-page, next-page, prev-page, total-pages, total-count}, links}`
 *   with dasherized attribute names.
 * - Passwords: the value is returned only with `show_password=true` (or on /passwords/{id}, which serves it
 *   unless `show_password=false`), as IT Glue does. `leakPasswordsInLists` makes list answers carry it anyway,
 *   for checking that the connector drops what a server should not have sent.
 * - Writes are served too (POST/PATCH/DELETE answer as IT Glue would), so a test can prove none is ever sent.
 *
 *   const itg = await new ItGlueStandIn({ region: 'eu' }).start()
 *   itg.regionUrl('eu')          // http://eu.itglue.test:<port>
 *   itg.credentials              // apiKey, baseUrl (the account's region)
 */
import type { RecordedRequest, Reply, StandInOptions } from './standin.ts'
import { StandIn } from './standin.ts'

export const ITGLUE_REGIONS = ['us', 'eu', 'au'] as const
const MAX_PAGE = 1000

type Attributes = Record<string, unknown>
interface Row {
  id: string
  attributes: Attributes
}

export class ItGlueStandIn extends StandIn {
  readonly vendor = 'itglue'
  readonly apiKey = 'ITG.5c1f0e2b7a9d4c3e8f6a.key'
  readonly region: string
  leakPasswordsInLists = false
  readonly data: Record<'organizations' | 'configurations' | 'contacts' | 'passwords', Row[]>

  constructor(opts: StandInOptions & { region?: string } = {}) {
    super(opts)
    this.region = opts.region ?? 'eu'
    const organizations = Array.from({ length: 5 }, (_, i) => ({
      id: String(100 + i),
      attributes: {
        name: ['Contoso', 'Fabrikam', 'Initech', 'Globex', 'Umbrella'][i],
        'organization-type-name': 'Customer',
        'organization-status-name': 'Active',
        'short-name': null,
        'created-at': '2025-01-01T00:00:00.000Z',
        'updated-at': '2026-01-01T00:00:00.000Z',
      },
    }))
    this.data = {
      organizations,
      configurations: [
        {
          id: '9001',
          attributes: {
            'organization-id': 100,
            'organization-name': 'Contoso',
            name: 'CONTOSO-DC01',
            hostname: 'contoso-dc01.contoso.local',
            'primary-ip': '10.1.0.10',
            'mac-address': '00:15:5D:01:02:03',
            'serial-number': 'VMW-1234',
            'configuration-type-name': 'Server',
          },
        },
        {
          id: '9002',
          attributes: {
            'organization-id': 101,
            'organization-name': 'Fabrikam',
            name: 'FAB-LAPTOP-7',
            hostname: null,
            'primary-ip': null,
            'mac-address': null,
            'serial-number': 'SN-77',
            'configuration-type-name': 'Laptop',
          },
        },
      ],
      contacts: [
        {
          id: '5001',
          attributes: {
            'organization-id': 100,
            name: 'Dana Admin',
            'first-name': 'Dana',
            'last-name': 'Admin',
            'contact-emails': [
              { value: 'dana.home@example.com', primary: false, 'label-name': 'Home' },
              { value: 'dana@contoso.example', primary: true, 'label-name': 'Work' },
            ],
          },
        },
      ],
      passwords: [
        {
          id: '7001',
          attributes: {
            'organization-id': 100,
            name: 'Domain admin',
            username: 'CONTOSO\\administrator',
            url: 'https://contoso-dc01',
            'password-category-name': 'Active Directory',
            'updated-at': '2026-02-01T08:00:00.000Z',
            password: 'Hunter2-NeverLeaves!',
          },
        },
        {
          id: '7002',
          attributes: {
            'organization-id': 101,
            name: 'Firewall',
            username: 'admin',
            url: null,
            'password-category-name': 'Network',
            'updated-at': '2026-02-02T08:00:00.000Z',
            password: 'Fw-S3cret-NeverLeaves!',
          },
        },
      ],
    }
  }

  regionUrl(region: string): string {
    return `http://${region}.itglue.test:${new URL(this.url).port}`
  }

  /** The servers as the connector's `regions` option takes them. */
  regions(): Record<'us' | 'eu' | 'au', string> {
    return { us: this.regionUrl('us'), eu: this.regionUrl('eu'), au: this.regionUrl('au') }
  }

  get credentials(): Record<string, string> {
    return { apiKey: this.apiKey, baseUrl: this.regionUrl(this.region) }
  }

  protected errorReply(status: number): Reply {
    const titles: Record<number, [string, string]> = {
      400: ['Bad Request', 'The request was malformed'],
      401: ['Unauthorized', 'Invalid API key'],
      403: ['Forbidden', 'The API key does not have access to this resource'],
      404: ['Not Found', 'Record not found'],
      429: ['Too Many Requests', 'Rate limit exceeded: 3000 requests per 5 minutes'],
      500: ['Internal Server Error', 'Something went wrong'],
    }
    const [title, detail] = titles[status] ?? [`HTTP ${status}`, `HTTP ${status}`]
    return {
      status,
      body: { errors: [{ status: String(status), title, detail }] },
      headers: { 'content-type': 'application/vnd.api+json' },
    }
  }

  protected handle(req: RecordedRequest): Reply {
    const region = /^([a-z]+)\.itglue\.test/.exec(req.headers.host ?? '')?.[1]
    if (!region || !(ITGLUE_REGIONS as readonly string[]).includes(region)) return this.errorReply(404)
    if (req.headers['x-api-key'] !== this.apiKey || region !== this.region) return this.errorReply(401)
    const m = /^\/(organizations|configurations|contacts|passwords)(?:\/(\d+))?$/.exec(req.path)
    if (!m) return this.errorReply(404)
    const type = m[1] as keyof ItGlueStandIn['data']
    const rows = this.data[type]
    if (req.method !== 'GET') {
      // IT Glue accepts writes to these; a read-only integration must never send one.
      return {
        status: req.method === 'DELETE' ? 204 : 200,
        body: req.method === 'DELETE' ? undefined : { data: {} },
      }
    }
    if (m[2]) {
      const row = rows.find((r) => r.id === m[2])
      if (!row) return this.errorReply(404)
      const show = type === 'passwords' && req.query.get('show_password') !== 'false'
      return { status: 200, body: { data: this.#resource(type, row, show) } }
    }
    const size = Number(req.query.get('page[size]') ?? '50')
    const number = Number(req.query.get('page[number]') ?? '1')
    if (!Number.isInteger(size) || size < 1 || size > MAX_PAGE || !Number.isInteger(number) || number < 1) {
      return {
        status: 400,
        body: {
          errors: [{ status: '400', title: 'Bad Request', detail: 'page[size] must be between 1 and 1000' }],
        },
      }
    }
    const filters: [string, string][] = []
    for (const [k, v] of req.query) {
      const f = /^filter\[(.+)\]$/.exec(k)?.[1]
      if (f) filters.push([f, v])
    }
    const matching = rows.filter((r) =>
      filters.every(([f, v]) => String(r.attributes[f.replace(/_/g, '-')] ?? '') === v),
    )
    const total = matching.length
    const pages = Math.max(1, Math.ceil(total / size))
    const items = matching.slice((number - 1) * size, number * size)
    const show =
      type === 'passwords' && (req.query.get('show_password') === 'true' || this.leakPasswordsInLists)
    return {
      status: 200,
      headers: { 'content-type': 'application/vnd.api+json' },
      body: {
        data: items.map((r) => this.#resource(type, r, show)),
        meta: {
          'current-page': number,
          'next-page': number < pages ? number + 1 : null,
          'prev-page': number > 1 ? number - 1 : null,
          'total-pages': pages,
          'total-count': total,
          filters: {},
        },
        links: {},
      },
    }
  }

  #resource(type: string, row: Row, showPassword: boolean) {
    const { password, ...rest } = row.attributes
    return {
      id: row.id,
      type,
      attributes: showPassword ? { ...rest, password } : rest,
    }
  }
}
