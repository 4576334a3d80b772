// Copies the browser assets Patchbay serves but does not import into dist/assets, so a production install
// (npm ci --omit=dev, the Docker image) needs neither the packages they come from nor their dependencies.
import fs from 'node:fs'
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
const out = new URL('../dist/assets/', import.meta.url)
fs.mkdirSync(out, { recursive: true })
fs.copyFileSync(
  require.resolve('@scalar/api-reference/browser/standalone.js'),
  new URL('scalar-standalone.js', out),
)
