import { describe, expect, it } from 'vitest'
import {
  consoleLink,
  humanize,
  notificationFromEvent,
  type PatchbayEvent,
  testNotification,
} from './from-event.ts'

const ORG = '11111111-1111-1111-1111-111111111111'

function event(type: string, data: Record<string, unknown>): PatchbayEvent {
  return { id: 'evt-1', type, orgId: ORG, timestamp: '2026-02-18T12:34:56.789Z', data }
}

describe('notificationFromEvent', () => {
  it('turns a critical alert into a message with device, alert, severity, time and a console link', () => {
    const n = notificationFromEvent(
      event('alert.triggered', {
        alertId: 'al-9',
        alertName: 'CPU above 95%',
        severity: 'critical',
        deviceId: 'dev-1',
        hostname: 'WORKSTATION-01',
        message: 'CPU has been above 95% for 10 minutes.',
        cpuPercent: 97.5,
      }),
      {
        consoleUrl: 'https://console.example.com/',
        orgName: 'Contoso',
        channel: '#ops',
        username: 'Patchbay',
      },
    )
    expect(n).toEqual({
      title: 'Critical alert: CPU above 95% on WORKSTATION-01',
      text: 'CPU has been above 95% for 10 minutes.',
      severity: 'critical',
      eventType: 'alert.triggered',
      eventId: 'evt-1',
      org: { id: ORG, name: 'Contoso' },
      device: { id: 'dev-1', hostname: 'WORKSTATION-01' },
      alert: { id: 'al-9', name: 'CPU above 95%', status: 'triggered' },
      occurredAt: '2026-02-18T12:34:56.789Z',
      link: 'https://console.example.com/alerts/al-9',
      facts: [{ name: 'Cpu percent', value: '97.5' }],
      channel: '#ops',
      username: 'Patchbay',
    })
  })

  it('reads severity in any case and nested device/alert objects; escalations say so', () => {
    const n = notificationFromEvent(
      event('alert.escalated', {
        severity: 'Warning',
        alert: { id: 'al-2', name: 'Disk almost full', status: 'escalated' },
        device: { id: 'dev-2', hostname: 'SRV-DB' },
      }),
    )
    expect(n).toMatchObject({
      title: 'Escalated warning alert: Disk almost full on SRV-DB',
      severity: 'warning',
      device: { id: 'dev-2', hostname: 'SRV-DB' },
      alert: { id: 'al-2', name: 'Disk almost full', status: 'escalated' },
      text: 'The alert has been escalated to a higher tier.',
    })
    expect(n.link).toBeUndefined()
  })

  it('gives resolved alerts the ok severity whatever they were, and unknown severities the usual level', () => {
    expect(
      notificationFromEvent(event('alert.resolved', { severity: 'critical', alertName: 'X' })),
    ).toMatchObject({
      severity: 'ok',
      title: 'Resolved: X',
    })
    expect(notificationFromEvent(event('alert.triggered', { severity: 'apocalyptic' })).severity).toBe(
      'warning',
    )
    expect(notificationFromEvent(event('device.offline', { hostname: 'PC-7' }))).toMatchObject({
      severity: 'warning',
      title: 'Device offline: PC-7',
      text: 'The device has stopped sending heartbeats.',
    })
    expect(notificationFromEvent(event('patch.installed', {})).severity).toBe('ok')
  })

  it('links devices when there is no alert, and names unknown event types readably', () => {
    const n = notificationFromEvent(
      event('device.offline', { deviceId: 'd 1', lastSeen: '2026-02-18T12:30:00Z' }),
      {
        consoleUrl: 'https://console.example.com/msp',
      },
    )
    expect(n.link).toBe('https://console.example.com/msp/devices/d%201')
    expect(n.facts).toEqual([{ name: 'Last seen', value: '2026-02-18T12:30:00Z' }])
    expect(notificationFromEvent(event('backup.job_failed', {})).title).toBe('Backup job failed')
  })

  it('never shows secret-named fields and keeps extra facts short and few', () => {
    const data: Record<string, unknown> = { apiKey: 'k-123456', password: 'hunter22', note: 'x'.repeat(500) }
    for (let i = 0; i < 20; i++) data[`field${i}`] = i
    const n = notificationFromEvent(event('script.failed', data))
    const names = (n.facts ?? []).map((f) => f.name)
    expect(names).not.toContain('Api key')
    expect(names).not.toContain('Password')
    expect(n.facts).toHaveLength(10)
    expect(n.facts?.[0]).toEqual({ name: 'Note', value: `${'x'.repeat(199)}…` })
  })

  it('keeps non-alert names and statuses as facts', () => {
    const n = notificationFromEvent(
      event('script.completed', { name: 'Cleanup', status: 'done', exitCode: 0 }),
    )
    expect(n.alert).toBeUndefined()
    expect(n.facts).toEqual([
      { name: 'Name', value: 'Cleanup' },
      { name: 'Status', value: 'done' },
      { name: 'Exit code', value: '0' },
    ])
  })
})

describe('testNotification', () => {
  it('is flagged as a test, at the given time, linking to the console root', () => {
    expect(
      testNotification({
        orgId: ORG,
        at: new Date('2026-02-18T12:00:00Z'),
        consoleUrl: 'https://c.example.com/',
      }),
    ).toEqual({
      title: 'Test notification from Patchbay',
      text: 'If you can read this, Patchbay can post alerts to this channel.',
      severity: 'info',
      eventType: 'webhook.test',
      org: { id: ORG },
      occurredAt: '2026-02-18T12:00:00.000Z',
      link: 'https://c.example.com',
      test: true,
    })
  })
})

describe('helpers', () => {
  it('consoleLink ignores unusable base URLs', () => {
    expect(consoleLink(undefined, { alertId: 'a' })).toBeUndefined()
    expect(consoleLink('not a url', { alertId: 'a' })).toBeUndefined()
    expect(consoleLink('javascript:alert(1)', { alertId: 'a' })).toBeUndefined()
  })

  it('humanize', () => {
    expect(humanize('lastSeen')).toBe('Last seen')
    expect(humanize('exit_code')).toBe('Exit code')
    expect(humanize('security.score_changed')).toBe('Security score changed')
  })
})
