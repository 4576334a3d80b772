import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createHarness, type Harness } from './harness.ts'

let h: Harness
beforeAll(async () => {
  h = await createHarness({ env: { PATCHBAY_MAX_BODY_BYTES: '2048' } })
})
afterAll(() => h.close())

async function partnerCount() {
  return (await h.json('GET', '/api/v1/partners')).body.pagination.total as number
}

describe('request validation', () => {
  it('answers malformed JSON with 400 and writes nothing', async () => {
    const before = await partnerCount()
    const r = await h.json('POST', '/api/v1/partners', { body: '{"name": "x"' })
    expect(r).toMatchObject({
      status: 400,
      body: { code: 'invalid_json', error: 'Malformed JSON in request body' },
    })
    expect(await partnerCount()).toBe(before)
  })

  it('names unknown fields, wrong types and out-of-range values with 422', async () => {
    const unknown = await h.json('POST', '/api/v1/partners', { body: { name: 'x', colour: 'red' } })
    expect(unknown.status).toBe(422)
    expect(unknown.body.details).toEqual([{ path: 'colour', message: 'Unknown field' }])

    const wrongType = await h.json('POST', '/api/v1/orgs', { body: { name: 42, partnerId: 'nope' } })
    expect(wrongType.status).toBe(422)
    expect(wrongType.body.details.map((d: { path: string }) => d.path).sort()).toEqual(['name', 'partnerId'])
    expect(wrongType.body.error).toMatch(/name: .*partnerId: must be a UUID/)

    const range = await h.json('GET', '/api/v1/orgs?limit=1000&page=0')
    expect(range.status).toBe(422)
    expect(range.body.details.map((d: { path: string }) => d.path).sort()).toEqual(['limit', 'page'])

    const empty = await h.json('POST', '/api/v1/partners', { body: { name: '   ' } })
    expect(empty.status).toBe(422)
    expect(empty.body.details[0].path).toBe('name')
  })

  it('rejects a body that is not JSON with 415, and an oversized body with 413', async () => {
    const before = await partnerCount()
    const form = await h.json('POST', '/api/v1/partners', {
      body: 'name=x',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    })
    expect(form.status).toBe(415)
    const big = await h.json('POST', '/api/v1/partners', { body: { name: 'x'.repeat(5000) } })
    expect(big).toMatchObject({ status: 413, body: { code: 'payload_too_large' } })
    expect(await partnerCount()).toBe(before)
  })

  it('answers an unknown route with the error shape', async () => {
    const r = await h.json('GET', '/api/v1/nothing-here')
    expect(r).toMatchObject({ status: 404, body: { code: 'not_found' } })
  })

  it('rejects an invalid path id with 422', async () => {
    const r = await h.json('GET', '/api/v1/orgs/not-a-uuid')
    expect(r.status).toBe(422)
    expect(r.body.details[0].path).toBe('id')
  })

  it('echoes a request id, or makes one', async () => {
    const res = await h.request('GET', '/api/v1/orgs', { headers: { 'x-request-id': 'abc-123' } })
    expect(res.headers.get('x-request-id')).toBe('abc-123')
    const other = await h.request('GET', '/api/v1/orgs')
    expect(other.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/)
  })
})

describe('logging', () => {
  it('never logs the bearer token', async () => {
    await h.request('GET', '/api/v1/orgs')
    expect(h.logs.length).toBeGreaterThan(0)
    expect(h.logs.join('\n')).not.toContain(h.systemToken)
  })
})
