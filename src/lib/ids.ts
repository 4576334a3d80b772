import { randomBytes } from 'node:crypto'

let lastMs = 0
let sequence = 0

/**
 * UUID version 7 (RFC 9562): time-ordered, so rows inserted together sit together in the primary-key index,
 * which keeps inserts of large delivery batches cheap. Within one millisecond the 12-bit `rand_a` field counts up
 * (RFC 9562 §6.2, method 1), so ids made by one process sort in creation order.
 */
export function newId(nowMs: number = Date.now()): string {
  let ms = nowMs
  if (ms <= lastMs) {
    ms = lastMs
    sequence++
    if (sequence > 0xfff) {
      ms = ++lastMs
      sequence = 0
    }
  } else {
    lastMs = ms
    sequence = randomBytes(2).readUInt16BE(0) & 0x7ff
  }
  const bytes = randomBytes(16)
  bytes.writeUIntBE(ms, 0, 6)
  bytes[6] = 0x70 | (sequence >> 8)
  bytes[7] = sequence & 0xff
  bytes[8] = ((bytes[8] as number) & 0x3f) | 0x80
  const hex = bytes.toString('hex')
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`
}

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

export function isUuid(value: string): boolean {
  return UUID_RE.test(value)
}
