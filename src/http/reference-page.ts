/**
 * The API reference page: Scalar's reference renderer (descriptions, examples, allowed values, a request
 * builder), its standalone browser bundle served by Patchbay itself from node_modules (`REFERENCE_SCRIPT_PATH`),
 * never from a CDN, so it works on an air-gapped install. Without scripts the page falls back to a plain rendering
 * done here on the server. Tools that want the machine form read /api/v1/openapi.json.
 */
import { readFile } from 'node:fs/promises'
import { createRequire } from 'node:module'

/** Where the renderer's bundle is served (public, like the page). */
export const REFERENCE_SCRIPT_PATH = '/api/v1/docs/reference.js'

/**
 * `npm run build` copies the bundle to dist/assets (scripts/copy-assets.mjs): the package itself (with ~100 MB of
 * dependencies the one 3.5 MB file does not need) is a dev dependency, so a production install never carries it.
 * Run from source (tsx, tests), the bundle is read from node_modules.
 */
const BUILT_BUNDLE = new URL('../assets/scalar-standalone.js', import.meta.url)

let bundle: Promise<string> | undefined
/** The renderer's standalone browser bundle (one self-contained file of `@scalar/api-reference`). */
export function referenceScript(): Promise<string> {
  bundle ??= readFile(BUILT_BUNDLE, 'utf8').catch(() =>
    readFile(createRequire(import.meta.url).resolve('@scalar/api-reference/browser/standalone.js'), 'utf8'),
  )
  return bundle
}

type Json = Record<string, unknown>

const esc = (s: unknown) => String(s ?? '').replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`)

function resolve(doc: Json, schema: unknown, depth = 0): unknown {
  if (depth > 6 || !schema || typeof schema !== 'object') return schema
  const ref = (schema as Json).$ref
  if (typeof ref === 'string') {
    const name = ref.split('/').pop() as string
    const target = ((doc.components as Json | undefined)?.schemas as Json | undefined)?.[name]
    return resolve(doc, target, depth + 1)
  }
  if (Array.isArray(schema)) return schema.map((s) => resolve(doc, s, depth + 1))
  return Object.fromEntries(Object.entries(schema as Json).map(([k, v]) => [k, resolve(doc, v, depth + 1)]))
}

function schemaBlock(doc: Json, schema: unknown): string {
  if (!schema) return ''
  return `<pre>${esc(JSON.stringify(resolve(doc, schema), null, 2))}</pre>`
}

export function renderReferencePage(doc: Json): string {
  const info = (doc.info ?? {}) as Json
  const byTag = new Map<string, string[]>()
  const paths = (doc.paths ?? {}) as Record<string, Record<string, Json>>
  for (const [path, ops] of Object.entries(paths)) {
    for (const [method, op] of Object.entries(ops)) {
      const tag = ((op.tags as string[] | undefined) ?? ['Other'])[0] as string
      const params = ((op.parameters as Json[] | undefined) ?? [])
        .map(
          (p) =>
            `<tr><td><code>${esc(p.name)}</code></td><td>${esc(p.in)}</td><td>${p.required ? 'yes' : ''}</td><td>${esc(
              (p.description as string | undefined) ??
                ((p.schema as Json | undefined)?.description as string | undefined),
            )}</td></tr>`,
        )
        .join('')
      const body = ((op.requestBody as Json | undefined)?.content as Json | undefined)?.[
        'application/json'
      ] as Json | undefined
      const responses = Object.entries((op.responses ?? {}) as Record<string, Json>)
        .map(([status, r]) => {
          const schema = ((r.content as Json | undefined)?.['application/json'] as Json | undefined)?.schema
          return `<details><summary><b>${esc(status)}</b> ${esc(r.description)}</summary>${schemaBlock(doc, schema)}</details>`
        })
        .join('')
      const html = `<section id="${esc(`${method}-${path}`)}">
<h3><span class="m ${esc(method)}">${esc(method.toUpperCase())}</span> <code>${esc(path)}</code></h3>
<p>${esc(op.summary)}</p>${op.description ? `<p class="d">${esc(op.description)}</p>` : ''}
${params ? `<table><tr><th>Parameter</th><th>In</th><th>Required</th><th>Description</th></tr>${params}</table>` : ''}
${body ? `<details><summary>Request body</summary>${schemaBlock(doc, body.schema)}</details>` : ''}
${responses}</section>`
      byTag.set(tag, [...(byTag.get(tag) ?? []), html])
    }
  }
  const toc = [...byTag.keys()].map((t) => `<a href="#tag-${esc(t)}">${esc(t)}</a>`).join(' · ')
  const sections = [...byTag.entries()]
    .map(([tag, ops]) => `<h2 id="tag-${esc(tag)}">${esc(tag)}</h2>${ops.join('\n')}`)
    .join('\n')
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${esc(info.title)} API reference</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font:15px/1.5 system-ui,sans-serif;max-width:980px;margin:2rem auto;padding:0 1rem;color:#1d232b}
code,pre{font-family:ui-monospace,monospace;font-size:13px}pre{background:#f4f6f8;padding:.75rem;overflow:auto;border-radius:6px}
section{border-top:1px solid #dde3e9;padding:.5rem 0}.m{display:inline-block;min-width:4.2em;text-align:center;border-radius:4px;color:#fff;font-size:12px;padding:2px 6px}
.get{background:#2f7d4f}.post{background:#2456a6}.put,.patch{background:#a66a00}.delete{background:#b23b3b}
table{border-collapse:collapse;margin:.5rem 0}td,th{border:1px solid #dde3e9;padding:3px 8px;text-align:left;font-size:13px}.d{color:#4a5561}</style>
</head><body>
<script id="api-reference" data-url="/api/v1/openapi.json" data-configuration="${esc(
    // Nothing from Scalar's servers: no web fonts (their CDN), no AI agent (it searches their registry).
    JSON.stringify({ withDefaultFonts: false, agent: { disabled: true } }),
  )}"></script>
<script src="${REFERENCE_SCRIPT_PATH}"></script>
<noscript><h1>${esc(info.title)} <small>${esc(info.version)}</small></h1><p>${esc(info.description)}</p>
<p>Machine-readable: <a href="/api/v1/openapi.json">/api/v1/openapi.json</a> (OpenAPI 3.1). Authenticate with
<code>Authorization: Bearer &lt;token&gt;</code>.</p><nav>${toc}</nav>${sections}</noscript></body></html>`
}
