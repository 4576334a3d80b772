import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto'
import type { KeyRing } from './keyring.ts'

/** Where a ciphertext belongs. Bound into every ciphertext, so one copied elsewhere does not open. */
export interface SealContext {
  table: string
  field: string
  id: string
}

export class VaultError extends Error {
  override name = 'VaultError'
}

const VERSION = 'pb1'
const IV_BYTES = 12
const TAG_BYTES = 16

/**
 * AES-256-GCM envelope encryption. Each value gets its own random data key; the data key is wrapped with the
 * key ring's active key. Format: `pb1:<keyId>:<wrapped data key>:<sealed value>` (base64url parts, each
 * iv‖ciphertext‖tag). The owning table, field and record id are the additional authenticated data of both
 * layers, so a ciphertext moved to another row or column fails to open.
 */
export class Vault {
  constructor(readonly ring: KeyRing) {}

  seal(plaintext: string, ctx: SealContext): string {
    const kek = this.ring.keys.get(this.ring.activeId) as Buffer
    const aad = aadOf(ctx)
    const dek = randomBytes(32)
    try {
      const wrapped = gcmSeal(kek, dek, aad)
      const body = gcmSeal(dek, Buffer.from(plaintext, 'utf8'), aad)
      return `${VERSION}:${this.ring.activeId}:${wrapped.toString('base64url')}:${body.toString('base64url')}`
    } finally {
      dek.fill(0)
    }
  }

  open(ciphertext: string, ctx: SealContext): string {
    const parts = ciphertext.split(':')
    if (parts.length !== 4 || parts[0] !== VERSION) throw new VaultError('not a Patchbay vault ciphertext')
    const [, keyId, wrappedB64, bodyB64] = parts as [string, string, string, string]
    const kek = this.ring.keys.get(keyId)
    if (!kek) {
      throw new VaultError(
        `sealed with key "${keyId}", which is not in the key ring; add it back to PATCHBAY_ENCRYPTION_KEYS`,
      )
    }
    const aad = aadOf(ctx)
    const dek = gcmOpen(kek, Buffer.from(wrappedB64, 'base64url'), aad)
    try {
      return gcmOpen(dek, Buffer.from(bodyB64, 'base64url'), aad).toString('utf8')
    } finally {
      dek.fill(0)
    }
  }

  sealJson(value: unknown, ctx: SealContext): string {
    return this.seal(JSON.stringify(value), ctx)
  }

  openJson<T>(ciphertext: string, ctx: SealContext): T {
    return JSON.parse(this.open(ciphertext, ctx)) as T
  }

  /** A fresh ciphertext of the same value under the active key (and a new data key). */
  reseal(ciphertext: string, ctx: SealContext): string {
    return this.seal(this.open(ciphertext, ctx), ctx)
  }

  isCurrent(ciphertext: string): boolean {
    return keyIdOf(ciphertext) === this.ring.activeId
  }
}

export function keyIdOf(ciphertext: string): string | undefined {
  return ciphertext.split(':', 3)[1]
}

function aadOf(ctx: SealContext): Buffer {
  return Buffer.from(`patchbay/${VERSION}/${ctx.table}.${ctx.field}/${ctx.id}`, 'utf8')
}

function gcmSeal(key: Buffer, plaintext: Buffer, aad: Buffer): Buffer {
  const iv = randomBytes(IV_BYTES)
  const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES })
  cipher.setAAD(aad)
  const ct = Buffer.concat([cipher.update(plaintext), cipher.final()])
  return Buffer.concat([iv, ct, cipher.getAuthTag()])
}

function gcmOpen(key: Buffer, sealed: Buffer, aad: Buffer): Buffer {
  if (sealed.length < IV_BYTES + TAG_BYTES) throw new VaultError('ciphertext is truncated')
  const iv = sealed.subarray(0, IV_BYTES)
  const tag = sealed.subarray(sealed.length - TAG_BYTES)
  const ct = sealed.subarray(IV_BYTES, sealed.length - TAG_BYTES)
  const decipher = createDecipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES })
  decipher.setAAD(aad)
  decipher.setAuthTag(tag)
  try {
    return Buffer.concat([decipher.update(ct), decipher.final()])
  } catch {
    // GCM says only "unable to authenticate"; the cause is tampering or a context/key mismatch.
    throw new VaultError(
      'ciphertext failed authentication (tampered, or it belongs to another record or field)',
    )
  }
}
