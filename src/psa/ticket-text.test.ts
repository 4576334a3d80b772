import { describe, expect, it } from 'vitest'
import { alertIdOf, deviceIdOf, noteText, ticketText } from './ticket-text.ts'

const event = (type: string, data: Record<string, unknown>) => ({
  id: 'evt-1',
  type,
  orgId: '00000000-0000-4000-8000-000000000001',
  timestamp: '2026-02-18T12:00:00.000Z',
  data,
})

describe('ticket text', () => {
  it('puts the alert name, severity, device, message, time and console link in the ticket', () => {
    const t = ticketText(
      event('alert.triggered', {
        alertId: 'a-1',
        name: 'Disk almost full',
        severity: 'critical',
        hostname: 'SRV-01',
        deviceId: 'dev-1',
        message: 'Free space on C: is 3%.',
        drive: 'C:',
      }),
      'https://console.example/',
    )
    expect(t.title).toBe('Critical alert: Disk almost full on SRV-01')
    expect(t.description).toBe(
      [
        'Alert: Disk almost full',
        'Severity: critical',
        'Device: SRV-01 (dev-1)',
        'Triggered: 2026-02-18T12:00:00.000Z',
        '',
        'Free space on C: is 3%.',
        '',
        'Drive: C:',
        '',
        'Alert ID: a-1',
        'Open in the console: https://console.example/alerts/a-1',
      ].join('\n'),
    )
  })

  it('leaves out what the alert does not say, and the link without a console URL', () => {
    const t = ticketText(event('alert.triggered', { alert: { id: 'a-2' } }), undefined)
    expect(t.title).toBe('Warning alert')
    expect(t.description).not.toContain('Open in the console')
    expect(t.description).toContain('Alert ID: a-2')
  })

  it('writes notes for acknowledgements and resolutions', () => {
    expect(noteText(event('alert.acknowledged', { alertId: 'a', acknowledgedBy: 'Ann' }), undefined)).toBe(
      'Alert acknowledged by Ann at 2026-02-18T12:00:00.000Z.',
    )
    expect(
      noteText(event('alert.resolved', { alertId: 'a', message: 'Space freed.' }), 'https://console.example'),
    ).toBe(
      'Alert resolved at 2026-02-18T12:00:00.000Z.\n\nSpace freed.\n\nOpen in the console: https://console.example/alerts/a',
    )
  })

  it('writes notes for escalations, naming the tier and severity the event gives', () => {
    expect(
      noteText(
        event('alert.escalated', { alertId: 'a', escalatedTo: 'Tier 2', severity: 'critical' }),
        undefined,
      ),
    ).toBe('Alert escalated to Tier 2 (severity critical) at 2026-02-18T12:00:00.000Z.')
    expect(noteText(event('alert.escalated', { alertId: 'a', escalatedBy: 'Eve' }), undefined)).toBe(
      'Alert escalated by Eve at 2026-02-18T12:00:00.000Z.',
    )
    expect(ticketText(event('alert.escalated', { alertId: 'a' }), undefined).description).toContain(
      'Escalated: 2026-02-18T12:00:00.000Z',
    )
  })

  it('finds the alert and device ids, flat or nested, and refuses absurd ones', () => {
    expect(alertIdOf({ alertId: 'x' })).toBe('x')
    expect(alertIdOf({ alert: { id: 42 } })).toBe('42')
    expect(alertIdOf({ alertId: ' ' })).toBeUndefined()
    expect(alertIdOf({ alertId: 'x'.repeat(201) })).toBeUndefined()
    expect(alertIdOf(null)).toBeUndefined()
    expect(deviceIdOf({ device: { id: 'd-1' } })).toBe('d-1')
  })
})
