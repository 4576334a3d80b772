import { describe, expect, it } from 'vitest'
import { ConfigError, loadConfig } from './config.ts'

function problems(env: Record<string, string>): string[] {
  try {
    loadConfig(env)
  } catch (err) {
    if (err instanceof ConfigError) return err.problems
    throw err
  }
  return []
}

describe('configuration', () => {
  it('validates target CIDRs and the key ring with everything else, reporting every problem at once', () => {
    const found = problems({
      PATCHBAY_ALLOWED_TARGET_CIDRS: '10.0.0.0/8, 999.0.0.0/8,fd00::/8,nonsense',
      PATCHBAY_ENCRYPTION_KEYS: 'k1',
      PORT: 'eighty',
    })
    expect(found).toEqual([
      'PORT: Invalid input: expected number, received NaN',
      'PATCHBAY_ENCRYPTION_KEYS: entry 1 is not of the form id:base64key',
      'PATCHBAY_ALLOWED_TARGET_CIDRS: "999.0.0.0/8" is not a CIDR range (e.g. 10.0.0.0/8)',
      'PATCHBAY_ALLOWED_TARGET_CIDRS: "nonsense" is not a CIDR range (e.g. 10.0.0.0/8)',
    ])
    expect(problems({ PATCHBAY_ALLOWED_TARGET_CIDRS: '10.0.0.0/8,::1/128' })).toEqual([])
  })
})

describe('the README configuration table', () => {
  it('is the one generated from the config schema (run `npm run docs:config` after changing a setting)', async () => {
    const { configSchema, configTable } = await import('./config.ts')
    const fs = await import('node:fs')
    const readme = fs.readFileSync(new URL('../README.md', import.meta.url), 'utf8')
    const start = readme.indexOf('<!-- config-table:')
    const end = readme.indexOf('<!-- /config-table -->')
    expect(start).toBeGreaterThan(0)
    const block = readme.slice(readme.indexOf('\n', start) + 1, end).trim()
    expect(block).toBe(configTable())
    // Every setting once, none twice.
    const names = [...block.matchAll(/^\| `(\w+)` \|/gm)].map((m) => m[1])
    expect(names.sort()).toEqual(Object.keys(configSchema.shape).sort())
  })
})

describe('install scripts', () => {
  it('every dependency with an install script is reviewed in package.json allowScripts (npm ci warns otherwise)', async () => {
    const fs = await import('node:fs')
    const read = (f: string) => JSON.parse(fs.readFileSync(new URL(`../${f}`, import.meta.url), 'utf8'))
    const lock = read('package-lock.json') as { packages: Record<string, { hasInstallScript?: boolean }> }
    const allow = (read('package.json') as { allowScripts?: Record<string, boolean> }).allowScripts ?? {}
    const withScripts = new Set(
      Object.entries(lock.packages)
        .filter(([, p]) => p.hasInstallScript)
        .map(([k]) => k.split('node_modules/').at(-1) as string),
    )
    expect([...withScripts].filter((name) => !(name in allow))).toEqual([])
  })
})
