/**
 * Examples for the OpenAPI document, made from its own schemas where a route gives none (issue 19, item 10): every
 * operation's request body and success response gets one, so the reference page shows a request to copy and the
 * answer to expect. A schema's own `example` (set with zod's `.openapi({ example })`), `default`, `const` or first
 * allowed value wins over the generic value for its type and format.
 */
type Json = Record<string, unknown>

const BY_FORMAT: Record<string, unknown> = {
  uuid: '019c7000-0000-7000-8000-000000000001',
  'date-time': '2026-02-18T12:00:00.000Z',
  date: '2026-02-18',
  email: 'alice@msp.example',
  uri: 'https://hooks.example.com/patchbay',
  url: 'https://hooks.example.com/patchbay',
  ipv4: '192.0.2.10',
}

export function exampleOf(doc: Json, schema: unknown, depth = 0): unknown {
  if (!schema || typeof schema !== 'object' || depth > 8) return undefined
  const s = schema as Json
  if (typeof s.$ref === 'string') {
    const name = s.$ref.split('/').pop() as string
    const target = ((doc.components as Json | undefined)?.schemas as Json | undefined)?.[name]
    return exampleOf(doc, target, depth + 1)
  }
  if (s.example !== undefined) return s.example
  if (Array.isArray(s.examples) && s.examples.length) return s.examples[0]
  if (s.default !== undefined) return s.default
  if (s.const !== undefined) return s.const
  if (Array.isArray(s.enum)) return s.enum.find((v) => v !== null) ?? s.enum[0]
  const variants = (s.anyOf ?? s.oneOf) as unknown[] | undefined
  if (variants?.length) {
    const nonNull = variants.find((v) => (v as Json | undefined)?.type !== 'null') ?? variants[0]
    return exampleOf(doc, nonNull, depth + 1)
  }
  if (Array.isArray(s.allOf) && s.allOf.length) {
    return Object.assign({}, ...s.allOf.map((p) => exampleOf(doc, p, depth + 1) ?? {}))
  }
  const type = Array.isArray(s.type) ? s.type.find((t) => t !== 'null') : s.type
  switch (type) {
    case 'string': {
      const value = (typeof s.format === 'string' && BY_FORMAT[s.format]) || 'string'
      // Long enough for the schema (a webhook secret has a minimum length).
      return typeof value === 'string' && typeof s.minLength === 'number' && value.length < s.minLength
        ? value.padEnd(s.minLength, 'x')
        : value
    }
    case 'integer':
    case 'number':
      return typeof s.minimum === 'number'
        ? s.minimum
        : typeof s.exclusiveMinimum === 'number'
          ? s.exclusiveMinimum + 1
          : 1
    case 'boolean':
      return true
    case 'null':
      return null
    case 'array': {
      const item = exampleOf(doc, s.items, depth + 1)
      return item === undefined ? [] : [item]
    }
    default: {
      const props = s.properties as Record<string, unknown> | undefined
      if (!props) return {}
      const out: Json = {}
      for (const [k, v] of Object.entries(props)) {
        const value = exampleOf(doc, v, depth + 1)
        if (value !== undefined) out[k] = value
      }
      return out
    }
  }
}

interface Media {
  schema?: unknown
  example?: unknown
  examples?: unknown
}
interface Operation {
  requestBody?: { content?: Record<string, Media> }
  responses?: Record<string, { content?: Record<string, Media> }>
}

/** Adds an `example` to each operation's JSON request body and success responses that have none. */
export function withExamples<D extends Json>(doc: D): D {
  const fill = (media: Media | undefined) => {
    if (!media || media.example !== undefined || media.examples !== undefined) return
    const example = exampleOf(doc, media.schema)
    if (example !== undefined) media.example = example
  }
  for (const ops of Object.values((doc.paths ?? {}) as Record<string, Record<string, Operation>>)) {
    for (const op of Object.values(ops)) {
      fill(op.requestBody?.content?.['application/json'])
      for (const [status, r] of Object.entries(op.responses ?? {})) {
        if (status.startsWith('2')) fill(r.content?.['application/json'])
      }
    }
  }
  return doc
}
