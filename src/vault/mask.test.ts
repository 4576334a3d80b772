import { describe, expect, it } from 'vitest'
import { type CredentialSchema, maskCredentials, maskSecret, maskUrl } from './mask.ts'

describe('maskCredentials', () => {
  const schema: CredentialSchema = {
    publishable_key: { type: 'string', sensitive: false, required: true },
    secret_key: { type: 'string', sensitive: true, required: true },
    webhook_secret: { type: 'string', sensitive: true, required: false },
    region: { type: 'string', sensitive: false, required: false },
  }

  it('nulls sensitive fields, shows the rest, and lists every schema field', () => {
    expect(
      maskCredentials(schema, {
        publishable_key: 'pk_test_1',
        secret_key: 'sk_test_1',
        webhook_secret: 'whsec_1',
      }),
    ).toEqual({ publishable_key: 'pk_test_1', secret_key: null, webhook_secret: null, region: null })
  })

  it('never echoes fields outside the schema', () => {
    const masked = maskCredentials(schema, { publishable_key: 'pk', smuggled: 'sk_live_x' })
    expect(JSON.stringify(masked)).not.toContain('sk_live_x')
  })
})

describe('maskUrl and maskSecret', () => {
  it('keeps the host and the last four characters only', () => {
    const url = 'https://hooks.slack.com/services/T000/B000/XXXXXXXXXXXXabcd'
    const masked = maskUrl(url)
    expect(masked).toBe('https://hooks.slack.com/****abcd')
    expect(masked).not.toContain('T000/B000')
    expect(maskUrl('not a url')).toBe('****')
    expect(maskSecret('mon_1234567890abcdef')).toBe('****cdef')
    expect(maskSecret('short')).toBe('****')
  })
})
