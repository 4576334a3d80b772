import type { MiddlewareHandler } from 'hono'
import type { AppEnv } from './env.ts'
import { ApiError, type ErrorDetail } from './errors.ts'
import { INPUT_BOUNDS } from './schemas.ts'

/**
 * The request-input guard: every JSON body and query string under /api/v1 is held to INPUT_BOUNDS before a
 * route's own schema sees it, so a route — and a free-form field such as event data or metadata — cannot forget
 * a bound. Problems are 422s naming the field, e.g. `name: must not contain NUL`.
 */

const JSON_TYPE = /^application\/([a-z-.]+\+)?json(;|$)/i
// A high surrogate not followed by a low one, or a low one not preceded by a high one.
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/
// More problems than this in one request are not worth listing.
const MAX_DETAILS = 20

type Segment = string | number

function pathText(path: Segment[]): string {
  return path.length ? path.join('.') : '(body)'
}

/** What is wrong with one string (a value, an object key or a query value), if anything. */
export function stringProblem(s: string): string | undefined {
  if (s.length > INPUT_BOUNDS.maxStringLength) {
    return `longer than ${INPUT_BOUNDS.maxStringLength} characters`
  }
  if (s.includes('\u0000')) return 'must not contain NUL (\\u0000)'
  if (LONE_SURROGATE.test(s)) return 'must be valid Unicode (no lone surrogate)'
  return undefined
}

/**
 * Where a JSON text first nests deeper than `maxDepth`, as the path of keys and indexes leading there, or
 * undefined if it does not. A single pass over the text without recursion, run before JSON.parse, so a body
 * nested thousands of levels deep is refused cheaply and never reaches code that recurses. The text need not
 * be valid JSON: the parse that follows reports that.
 */
export function tooDeep(text: string, maxDepth: number): Segment[] | undefined {
  const stack: { object: boolean; key: Segment; expectKey: boolean }[] = []
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i)
    if (ch === 0x22 /* " */) {
      const start = i
      for (i++; i < text.length; i++) {
        const c = text.charCodeAt(i)
        if (c === 0x5c /* \ */) i++
        else if (c === 0x22) break
      }
      const top = stack[stack.length - 1]
      if (top?.object && top.expectKey) {
        try {
          top.key = JSON.parse(text.slice(start, i + 1)) as string
        } catch {
          top.key = '?'
        }
      }
    } else if (ch === 0x7b /* { */ || ch === 0x5b /* [ */) {
      if (stack.length >= maxDepth) return stack.map((s) => s.key)
      const object = ch === 0x7b
      stack.push({ object, key: object ? '' : 0, expectKey: object })
    } else if (ch === 0x7d /* } */ || ch === 0x5d /* ] */) {
      stack.pop()
    } else if (ch === 0x2c /* , */) {
      const top = stack[stack.length - 1]
      if (top?.object) top.expectKey = true
      else if (top) top.key = (top.key as number) + 1
    } else if (ch === 0x3a /* : */) {
      const top = stack[stack.length - 1]
      if (top) top.expectKey = false
    }
  }
  return undefined
}

/**
 * The field a too-deep path is reported as: the field named in the request (`data`, or `events.3.data` in a
 * batch), not the dozens of levels inside it.
 */
function deepField(path: Segment[]): string {
  const out: Segment[] = []
  for (const [i, seg] of path.entries()) {
    out.push(seg)
    if (typeof seg === 'string' && typeof path[i + 1] !== 'number') break
  }
  while (out.length && typeof out[out.length - 1] === 'number') out.pop()
  return pathText(out)
}

/** Every string, key and container of a parsed body checked against INPUT_BOUNDS; depth is already bounded. */
export function bodyProblems(value: unknown): ErrorDetail[] {
  const out: ErrorDetail[] = []
  const walk = (v: unknown, path: Segment[]): void => {
    if (out.length >= MAX_DETAILS) return
    if (typeof v === 'string') {
      const problem = stringProblem(v)
      if (problem) out.push({ path: pathText(path), message: problem })
    } else if (Array.isArray(v)) {
      if (v.length > INPUT_BOUNDS.maxItems) {
        out.push({ path: pathText(path), message: `more than ${INPUT_BOUNDS.maxItems} items` })
        return
      }
      for (const [i, item] of v.entries()) walk(item, [...path, i])
    } else if (v !== null && typeof v === 'object') {
      const entries = Object.entries(v)
      if (entries.length > INPUT_BOUNDS.maxItems) {
        out.push({ path: pathText(path), message: `more than ${INPUT_BOUNDS.maxItems} fields` })
        return
      }
      for (const [k, item] of entries) {
        const problem = stringProblem(k)
        // The key itself is the problem: name the object holding it, with the key made printable.
        if (problem)
          out.push({ path: pathText([...path, JSON.stringify(k).slice(1, -1)]), message: `key ${problem}` })
        else walk(item, [...path, k])
      }
    }
  }
  walk(value, [])
  return out
}

/** A refusal by the guard, which runs before any router: the app renders it in the shape of the route asked for. */
export class InputBoundsError extends ApiError {
  override name = 'InputBoundsError'
  constructor(where: string, details: ErrorDetail[]) {
    const summary = details.map((d) => `${d.path}: ${d.message}`).join('; ')
    super(422, 'validation_failed', `Invalid ${where}: ${summary}`, details)
  }
}

function invalid(where: string, details: ErrorDetail[]): ApiError {
  return new InputBoundsError(where, details)
}

/** The middleware: query first (every request has one), then a JSON body if the request sends one. */
export function inputGuard(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const queryDetails: ErrorDetail[] = []
    for (const [key, values] of Object.entries(c.req.queries())) {
      const keyProblem = stringProblem(key)
      if (keyProblem) {
        queryDetails.push({ path: JSON.stringify(key).slice(1, -1), message: `name ${keyProblem}` })
        continue
      }
      for (const v of values) {
        const problem = stringProblem(v)
        if (problem) queryDetails.push({ path: key, message: problem })
      }
    }
    if (queryDetails.length) throw invalid('query', queryDetails.slice(0, MAX_DETAILS))

    const type = c.req.header('content-type')
    if (type && JSON_TYPE.test(type) && c.req.method !== 'GET' && c.req.method !== 'HEAD') {
      const text = await c.req.text()
      if (text.trim() !== '') {
        const deep = tooDeep(text, INPUT_BOUNDS.maxDepth)
        if (deep) {
          throw invalid('request body', [
            { path: deepField(deep), message: `nested deeper than ${INPUT_BOUNDS.maxDepth} levels` },
          ])
        }
        let parsed: unknown
        let malformed = false
        try {
          parsed = JSON.parse(text)
        } catch {
          // The route's own validator answers malformed JSON, in the route's own error shape.
          malformed = true
        }
        const details = malformed ? [] : bodyProblems(parsed)
        if (details.length) throw invalid('request body', details)
      }
    }
    await next()
  }
}
