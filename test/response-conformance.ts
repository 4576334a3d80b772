/**
 * Checks live responses against the app's own OpenAPI document (issue 19, item 10): the document is generated from
 * the same zod schemas the routes use, but nothing made a route answer what its response schema says. Every JSON
 * response a test receives through the harness (when checking is on) and every response the fuzz test gets is
 * looked up by method + path template and validated with Ajv (JSON Schema 2020-12, the dialect OpenAPI 3.1 uses).
 */
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js'
import addFormatsModule from 'ajv-formats'

// ajv-formats is CommonJS: its default export arrives wrapped under `default` when loaded from ESM.
const addFormats = ((addFormatsModule as unknown as { default?: typeof addFormatsModule }).default ??
  addFormatsModule) as unknown as (ajv: Ajv2020) => Ajv2020

type Schema = Record<string, unknown>
interface Doc {
  paths: Record<string, Record<string, { responses?: Record<string, ResponseObject> }>>
  components?: { schemas?: Record<string, Schema> }
}
interface ResponseObject {
  content?: Record<string, { schema?: Schema }>
}

/**
 * Operations whose live responses are known to disagree with the document, and not yet fixed. This list may only
 * shrink: an entry is removed when its schema is fixed (the checker then fails the test that sees a mismatch).
 */
export const CONFORMANCE_ALLOW_LIST: ReadonlySet<string> = new Set<string>([])

export class ResponseConformance {
  private readonly ajv: Ajv2020
  private readonly routes: { method: string; template: string; re: RegExp }[] = []
  private readonly validators = new Map<string, ValidateFunction | null>()

  constructor(private readonly doc: Doc) {
    this.ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: true })
    addFormats(this.ajv)
    // Components are registered under the id their $refs use, so `#/components/schemas/X` resolves.
    this.ajv.addSchema({ $id: 'doc', components: doc.components ?? {} })
    for (const [template, ops] of Object.entries(doc.paths)) {
      const re = new RegExp(
        `^${template.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{[^}]+\}/g, '[^/]+')}$`,
      )
      for (const method of Object.keys(ops)) this.routes.push({ method: method.toUpperCase(), template, re })
    }
    // Literal segments win over parameters (`/deliveries/retry` before `/deliveries/{id}`).
    this.routes.sort((a, b) => paramCount(a.template) - paramCount(b.template))
  }

  /** The documented operation a request reached, as "METHOD /template", or undefined if undocumented. */
  operation(method: string, url: string): string | undefined {
    const path = url.split('?')[0] ?? url
    const m = method.toUpperCase()
    const r = this.routes.find((x) => x.method === m && x.re.test(path))
    return r ? `${r.method} ${r.template}` : undefined
  }

  /**
   * What is wrong with a JSON response, or undefined when it matches the document (or is not JSON, or answers an
   * undocumented path — the OpenAPI route-coverage test covers those).
   */
  check(
    method: string,
    url: string,
    status: number,
    contentType: string | null,
    body: unknown,
  ): string | undefined {
    const op = this.operation(method, url)
    if (!op || !contentType?.includes('application/json')) return undefined
    if (CONFORMANCE_ALLOW_LIST.has(op)) return undefined
    const [m, template] = op.split(' ') as [string, string]
    const responses = this.doc.paths[template]?.[m.toLowerCase()]?.responses ?? {}
    const key =
      String(status) in responses
        ? String(status)
        : `${String(status)[0]}XX` in responses
          ? `${String(status)[0]}XX`
          : 'default'
    const response = responses[key]
    if (!response) return `${op} answered ${status}, which the document does not list`
    const validate = this.validator(`${op} ${key}`, response)
    if (!validate || validate(body)) return undefined
    const errors = (validate.errors ?? [])
      .slice(0, 5)
      .map((e) => `${e.instancePath || '/'} ${e.message}${e.params ? ` ${JSON.stringify(e.params)}` : ''}`)
    return `${op} → ${status} does not match the document: ${errors.join('; ')}; body ${JSON.stringify(body).slice(0, 300)}`
  }

  /** What is wrong with `value` against a schema of the document (its $refs resolved), or undefined. */
  validate(schema: Schema, value: unknown): string | undefined {
    const v = this.ajv.compile(rebase(schema) as Schema)
    return v(value)
      ? undefined
      : (v.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message}`).join('; ')
  }

  private validator(key: string, response: ResponseObject): ValidateFunction | null {
    if (this.validators.has(key)) return this.validators.get(key) ?? null
    const schema = response.content?.['application/json']?.schema
    const v = schema ? this.ajv.compile(rebase(schema) as Schema) : null
    this.validators.set(key, v)
    return v
  }
}

const paramCount = (t: string) => (t.match(/\{/g) ?? []).length

/** The schema with its `#/components/...` references pointed at the registered document. */
function rebase(s: unknown): unknown {
  if (Array.isArray(s)) return s.map(rebase)
  if (!s || typeof s !== 'object') return s
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(s)) {
    out[k] = k === '$ref' && typeof v === 'string' && v.startsWith('#/') ? `doc${v}` : rebase(v)
  }
  return out
}
