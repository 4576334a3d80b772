import { describe, expect, it } from 'vitest'
import { isUuid, newId } from './ids.ts'

describe('newId', () => {
  it('makes version-7 UUIDs that sort in creation order, even within one millisecond', () => {
    const ids = Array.from({ length: 5000 }, () => newId(1_771_416_000_000))
    expect(ids.every(isUuid)).toBe(true)
    expect(ids.every((id) => id[14] === '7' && '89ab'.includes(id[19] as string))).toBe(true)
    expect([...ids].sort()).toEqual(ids)
    expect(new Set(ids).size).toBe(ids.length)
    expect(newId(1_771_416_000_000 + 60_000) > (ids.at(-1) as string)).toBe(true)
  })
})
