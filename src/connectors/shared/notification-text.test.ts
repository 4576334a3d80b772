import { describe, expect, it } from 'vitest'
import type { Notification } from './notification.ts'
import { escapeAndTruncate, notificationFacts, truncate } from './notification-text.ts'

describe('truncate', () => {
  it('keeps short text, cuts long text to the limit with an ellipsis', () => {
    expect(truncate('hello', 5)).toBe('hello')
    expect(truncate('hello!', 5)).toBe('hell…')
    expect(truncate('hello', 1)).toBe('…')
    expect(truncate('hello', 0)).toBe('')
  })

  it('never splits a surrogate pair', () => {
    const cut = truncate('ab🔴cd', 4)
    expect(cut).toBe('ab…')
    expect(cut.length).toBeLessThanOrEqual(4)
  })
})

describe('escapeAndTruncate', () => {
  const esc = (ch: string) => (ch === '<' ? '&lt;' : ch)

  it('measures the escaped text and never cuts an escape in two', () => {
    expect(escapeAndTruncate('a<b', 10, esc)).toBe('a&lt;b')
    const cut = escapeAndTruncate('ab<<<<', 8, esc)
    expect(cut).toBe('ab&lt;…')
    expect(cut.length).toBeLessThanOrEqual(8)
  })

  it('gives the escaper the previous character', () => {
    const lineStart = (ch: string, prev: string | undefined) =>
      ch === '#' && (prev === undefined || prev === '\n') ? '\\#' : ch
    expect(escapeAndTruncate('#a #b\n#c', 100, lineStart)).toBe('\\#a #b\n\\#c')
  })
})

describe('notificationFacts', () => {
  it('lists what is known, in a fixed order, without empty values', () => {
    const n: Notification = {
      title: 't',
      text: '',
      severity: 'critical',
      eventType: 'alert.triggered',
      org: { id: 'org-1', name: 'Contoso' },
      device: { id: 'dev-1', hostname: 'PC-1' },
      alert: { name: 'CPU', status: 'triggered' },
      occurredAt: '2026-02-18T12:00:00Z',
      facts: [
        { name: 'Exit code', value: '2' },
        { name: 'Empty', value: ' ' },
      ],
    }
    expect(notificationFacts(n)).toEqual([
      { name: 'Severity', value: 'Critical' },
      { name: 'Device', value: 'PC-1 (dev-1)' },
      { name: 'Alert', value: 'CPU' },
      { name: 'Status', value: 'triggered' },
      { name: 'Organization', value: 'Contoso' },
      { name: 'Event', value: 'alert.triggered' },
      { name: 'Exit code', value: '2' },
    ])
  })
})
