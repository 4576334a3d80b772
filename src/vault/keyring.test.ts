import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { addGeneratedKey, formatKeyRing, generateKeyRing, resolveKeyRing } from './keyring.ts'

const dirs: string[] = []
function tmpDir() {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'pb-keyring-'))
  dirs.push(d)
  return d
}
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true })
})

describe('resolveKeyRing', () => {
  it('refuses a served database without PATCHBAY_ENCRYPTION_KEYS, saying how to make one', () => {
    expect(() => resolveKeyRing({})).toThrow(
      /PATCHBAY_ENCRYPTION_KEYS is required with DATABASE_URL.*openssl rand -base64 32/,
    )
  })

  it('generates and keeps an embedded key ring with mode 0600, then reuses it', () => {
    const dir = tmpDir()
    const first = resolveKeyRing({ dataDir: dir })
    expect(first.origin).toBe('generated')
    const file = path.join(dir, 'keyring')
    expect(fs.statSync(file).mode & 0o777).toBe(0o600)
    const again = resolveKeyRing({ dataDir: dir })
    expect(again.origin).toBe('data-dir')
    expect(again.ring.activeId).toBe(first.ring.activeId)
    expect(again.ring.keys.get(again.ring.activeId)).toEqual(first.ring.keys.get(first.ring.activeId))
  })

  it('keeps the stored keys readable when the operator supplies a ring of their own', () => {
    const dir = tmpDir()
    const stored = resolveKeyRing({ dataDir: dir }).ring
    const mine = generateKeyRing('mine')
    const merged = resolveKeyRing({ env: formatKeyRing(mine), dataDir: dir })
    expect(merged.ring.activeId).toBe('mine')
    expect(merged.ring.keys.has(stored.activeId)).toBe(true)
  })

  it('adds a generated key as the active one, keeping the old', () => {
    const dir = tmpDir()
    const before = resolveKeyRing({ dataDir: dir }).ring
    const id = addGeneratedKey(dir)
    const after = resolveKeyRing({ dataDir: dir }).ring
    expect(after.activeId).toBe(id)
    expect(id).not.toBe(before.activeId)
    expect(after.keys.get(before.activeId)).toEqual(before.keys.get(before.activeId))
    expect(fs.statSync(path.join(dir, 'keyring')).mode & 0o777).toBe(0o600)
  })
})
