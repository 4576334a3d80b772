import { randomBytes } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'

export interface KeyRing {
  /** The key new ciphertexts are sealed with. */
  readonly activeId: string
  readonly keys: ReadonlyMap<string, Buffer>
}

export class KeyRingError extends Error {
  override name = 'KeyRingError'
}

const KEY_ID_RE = /^[A-Za-z0-9_-]{1,32}$/

/** Parses `id:base64key,id:base64key`; the first entry is the active key. Keys are 32 bytes (AES-256). */
export function parseKeyRing(spec: string, source = 'PATCHBAY_ENCRYPTION_KEYS'): KeyRing {
  const keys = new Map<string, Buffer>()
  let activeId: string | undefined
  const entries = spec
    .split(',')
    .map((e) => e.trim())
    .filter(Boolean)
  if (entries.length === 0)
    throw new KeyRingError(`${source} is empty; expected id:base64key[,id:base64key…]`)
  for (const [i, entry] of entries.entries()) {
    const sep = entry.indexOf(':')
    if (sep < 1) throw new KeyRingError(`${source} entry ${i + 1} is not of the form id:base64key`)
    const id = entry.slice(0, sep)
    if (!KEY_ID_RE.test(id)) {
      throw new KeyRingError(`${source} entry ${i + 1}: key id must be 1-32 letters, digits, _ or -`)
    }
    const key = Buffer.from(entry.slice(sep + 1), 'base64')
    if (key.length !== 32) {
      throw new KeyRingError(
        `${source} key "${id}" decodes to ${key.length} bytes; AES-256 needs 32 (openssl rand -base64 32)`,
      )
    }
    if (keys.has(id)) throw new KeyRingError(`${source} lists key id "${id}" twice`)
    keys.set(id, key)
    activeId ??= id
  }
  return { activeId: activeId as string, keys }
}

export function formatKeyRing(ring: KeyRing): string {
  const ids = [ring.activeId, ...[...ring.keys.keys()].filter((id) => id !== ring.activeId)]
  return ids.map((id) => `${id}:${(ring.keys.get(id) as Buffer).toString('base64')}`).join(',')
}

export function generateKeyRing(
  id = `k${Date.now().toString(36)}${randomBytes(2).toString('hex')}`,
): KeyRing {
  return { activeId: id, keys: new Map([[id, randomBytes(32)]]) }
}

export interface ResolvedKeyRing {
  ring: KeyRing
  /** Where the ring came from, for the start log. */
  origin: 'environment' | 'generated' | 'data-dir' | 'environment+data-dir'
  file?: string
}

/**
 * Embedded mode keeps a generated key ring in DATA_DIR so `npm start` needs no setup. When an operator later
 * sets PATCHBAY_ENCRYPTION_KEYS, the stored keys stay readable (not active), so `patchbay keys rotate` can move
 * existing secrets onto the operator's key.
 */
export function resolveKeyRing(opts: {
  env?: string | undefined
  dataDir?: string | undefined
}): ResolvedKeyRing {
  const fromEnv = opts.env ? parseKeyRing(opts.env) : undefined
  if (!opts.dataDir) {
    if (!fromEnv) {
      throw new KeyRingError(
        'PATCHBAY_ENCRYPTION_KEYS is required with DATABASE_URL (a served database). ' +
          'Generate a key with `openssl rand -base64 32` and set PATCHBAY_ENCRYPTION_KEYS=k1:<that key>.',
      )
    }
    return { ring: fromEnv, origin: 'environment' }
  }
  const file = path.join(opts.dataDir, 'keyring')
  const stored = fs.existsSync(file) ? readKeyRingFile(file) : undefined
  if (fromEnv && stored) {
    const keys = new Map(fromEnv.keys)
    for (const [id, key] of stored.keys) {
      const clash = keys.get(id)
      if (clash && !clash.equals(key)) {
        throw new KeyRingError(
          `key id "${id}" in PATCHBAY_ENCRYPTION_KEYS differs from the one kept in ${file}`,
        )
      }
      keys.set(id, key)
    }
    return { ring: { activeId: fromEnv.activeId, keys }, origin: 'environment+data-dir', file }
  }
  if (fromEnv) return { ring: fromEnv, origin: 'environment' }
  if (stored) return { ring: stored, origin: 'data-dir', file }
  const ring = generateKeyRing()
  fs.mkdirSync(opts.dataDir, { recursive: true })
  fs.writeFileSync(file, `${formatKeyRing(ring)}\n`, { mode: 0o600, flag: 'wx' })
  return { ring, origin: 'generated', file }
}

function readKeyRingFile(file: string): KeyRing {
  const mode = fs.statSync(file).mode & 0o777
  if (mode & 0o077) fs.chmodSync(file, 0o600)
  return parseKeyRing(fs.readFileSync(file, 'utf8'), file)
}

/** Puts a freshly generated key first (active) in the data directory's key ring; returns its id. */
export function addGeneratedKey(dataDir: string): string {
  const file = path.join(dataDir, 'keyring')
  const current = fs.existsSync(file) ? readKeyRingFile(file) : undefined
  const fresh = generateKeyRing()
  const keys = new Map(fresh.keys)
  for (const [id, key] of current?.keys ?? []) if (!keys.has(id)) keys.set(id, key)
  fs.mkdirSync(dataDir, { recursive: true })
  const tmp = `${file}.tmp`
  fs.writeFileSync(tmp, `${formatKeyRing({ activeId: fresh.activeId, keys })}\n`, { mode: 0o600 })
  fs.renameSync(tmp, file)
  return fresh.activeId
}
