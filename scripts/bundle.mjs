// Bundles Patchbay's own modules into a few files in dist/bundle/ and points dist/cli.js at them. Node spends
// most of a restart's module loading resolving, reading and linking modules (about 270 of ours, each its own
// file), not running them; one bundle cuts that (see README, Quick start). The dependencies stay external:
// node_modules is installed as it is, and npm audits and licenses what it holds.
//
// dist/bundle/ sits one level below dist/, like the folders tsc writes, so paths built from import.meta.url
// (the migrations in ../../drizzle, the API reference's ../assets/) point where they do in the unbundled files.
// The tsc output stays in dist/ beside it, and tests and tools that import single modules keep working.
import fs from 'node:fs'
import { build } from 'esbuild'

const root = new URL('../', import.meta.url)
const outdir = new URL('dist/bundle/', root)
fs.rmSync(outdir, { recursive: true, force: true })
await build({
  absWorkingDir: new URL('.', root).pathname,
  entryPoints: ['src/cli.ts'],
  outdir: 'dist/bundle',
  bundle: true,
  // The CLI imports each command's modules when it runs; shared code goes to chunks, loaded once.
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20.18',
  packages: 'external',
  jsx: 'automatic',
  jsxImportSource: 'hono/jsx',
  sourcemap: 'linked',
  // Stack traces keep our names (class names also appear in logs).
  keepNames: true,
  logLevel: 'warning',
})
// The entry point that package.json's bin, `npm start` and the Docker image run. Source maps are on before the
// bundle loads, so a stack trace in a log names src/…ts lines rather than a chunk's (it cost a restart about
// 0.05-0.1 s in bench/boot.ts: 0.56-0.61 s without, 0.56-0.76 s with).
fs.writeFileSync(
  new URL('dist/cli.js', root),
  "#!/usr/bin/env node\nprocess.setSourceMapsEnabled(true)\nawait import('./bundle/cli.js')\n",
  { mode: 0o755 },
)
fs.rmSync(new URL('dist/cli.js.map', root), { force: true })
