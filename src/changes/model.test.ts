import { describe, expect, it } from 'vitest'
import { hostnameRefs } from './model.ts'

describe('@hostname references', () => {
  it('finds each hostname once, lower-cased, without trailing punctuation, and ignores email addresses', () => {
    expect(
      hostnameRefs('Reboot @srv01 and @FW-Main.corp. Then @srv01 again; mail ops@contoso.com, not @-x or @.'),
    ).toEqual(['srv01', 'fw-main.corp'])
  })

  it('finds none in text without references', () => {
    expect(hostnameRefs('Routine patching, no devices named.')).toEqual([])
  })
})
