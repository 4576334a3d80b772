/**
 * Patchbay's import boundaries, checked by `npm run lint:deps` (part of `npm test`). README, "Layout", says why
 * each one exists. Violations that predate a rule are listed in .dependency-cruiser-known-violations.json and
 * skipped with `--ignore-known`, so they do not block the build, but any new one fails it.
 *
 * Known violations (regenerate the file with `npm run lint:deps:baseline` only when removing some): none. The last,
 *   the type-only circle connectors/types.ts ↔ connectors/shared/inbound.ts, ended when ConnectorEnv and the
 *   token/budget types it names moved to connectors/env.ts.
 * Folder-level circles are checked by scripts/folder-cycles.mjs against scripts/known-folder-cycles.json.
 */

/** Every folder under src/connectors/ except shared/ is one vendor's connector. */
const VENDOR_FOLDER = '^src/connectors/(?!shared/)[^/]+/'
/** Feature folders: what the product does, built on the engine and the connectors. */
const FEATURES =
  '^src/(psa|notifications|monitoring|ticketing|webhooks|inbound|onboarding|actions|changes|integrations|console)/'

/** @type {import('dependency-cruiser').IConfiguration} */
// dependency-cruiser parses every TypeScript file with swc's `typescript` syntax and no `tsx` flag (a TODO in its
// src/extract/swc/parse.mjs), so the console's JSX pages (src/console/*.tsx) would not parse. It imports the same
// @swc/core instance this config does; turn `tsx` on for .tsx files only, leaving every .ts file parsed as before.
const swc = require('@swc/core')
const parseFileSync = swc.parseFileSync
swc.parseFileSync = (file, options) =>
  parseFileSync(file, String(file).endsWith('.tsx') ? { ...options, tsx: true } : options)

module.exports = {
  forbidden: [
    {
      name: 'vendor-only-via-registry',
      comment:
        'Features reach a connector through the registry (ctx.connectors) or its descriptor, never by importing a ' +
        "vendor's folder: src/connectors/registry.ts is the one list of vendors. Tests may import vendor folders.",
      severity: 'error',
      from: {
        path: '^src/',
        pathNot: ['^src/connectors/registry\\.ts$', '^src/connectors/[^/]+/', '\\.test\\.ts$'],
      },
      to: { path: VENDOR_FOLDER },
    },
    {
      name: 'vendor-stays-in-its-folder',
      comment:
        "A vendor's folder imports only itself, connectors/shared and connectors/*.ts (types, HTTP helpers); " +
        'connectors/shared imports no vendor. What two vendors share goes to connectors/shared.',
      severity: 'error',
      from: { path: '^src/connectors/([^/]+)/' },
      to: { path: VENDOR_FOLDER, pathNot: '^src/connectors/$1/' },
    },
    {
      name: 'http-is-the-edge',
      comment:
        'Only http/ and the wiring at src/ top level (server.ts, runtime.ts, cli.ts) import http/; a feature that ' +
        'needs an API-shaped error throws lib/errors.ts ApiError, which http/ turns into the response.',
      severity: 'error',
      from: { path: '^src/', pathNot: ['^src/http/', '^src/[^/]+\\.ts$'] },
      to: { path: '^src/http/' },
    },
    {
      name: 'engine-knows-no-feature',
      comment:
        'delivery/ and jobs/ are the engine: they run the fan-outs, transports and job kinds that src/wiring.ts ' +
        'hands them (through the context or a constructor) and know no feature folder.',
      severity: 'error',
      from: { path: '^src/(delivery|jobs)/' },
      to: { path: FEATURES },
    },
    {
      name: 'no-circular',
      comment:
        'Modules import each other without circles (type-only imports count: they tie the folders just the same). ' +
        'Folder-level circles: see `npm run deps:folders` (README, "Layout").',
      severity: 'error',
      from: { path: '^src/' },
      to: { circular: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^src/.*\\.test\\.tsx?$' },
    // TypeScript 7 (the native compiler) has no JavaScript API for dependency-cruiser to parse with; swc reads the
    // sources as written, so type-only imports are edges too.
    parser: 'swc',
    enhancedResolveOptions: {
      extensions: ['.ts', '.tsx', '.js'],
      conditionNames: ['import', 'node', 'default'],
    },
  },
}
