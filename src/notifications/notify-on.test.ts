import { describe, expect, it } from 'vitest'
import { isSeveritySelector, matchesNotifyOn } from './notify-on.ts'

const alert = (type: string, severity?: string) => ({ type, data: severity ? { severity } : {} })

describe('matchesNotifyOn', () => {
  it('alert.critical means a triggered or escalated alert of critical severity, nothing else', () => {
    const on = ['alert.critical']
    expect(matchesNotifyOn(on, alert('alert.triggered', 'critical'))).toBe(true)
    expect(matchesNotifyOn(on, alert('alert.escalated', 'CRITICAL'))).toBe(true)
    expect(matchesNotifyOn(on, alert('alert.triggered', 'warning'))).toBe(false)
    expect(matchesNotifyOn(on, alert('alert.resolved', 'critical'))).toBe(false)
    expect(matchesNotifyOn(on, alert('alert.acknowledged', 'critical'))).toBe(false)
    expect(matchesNotifyOn(on, alert('alert.triggered'))).toBe(false)
    expect(matchesNotifyOn(on, { type: 'alert.critical' })).toBe(false)
  })

  it('warning and info select their own severities', () => {
    expect(matchesNotifyOn(['alert.warning'], alert('alert.triggered', 'warning'))).toBe(true)
    expect(matchesNotifyOn(['alert.warning'], alert('alert.triggered', 'info'))).toBe(false)
    expect(matchesNotifyOn(['alert.info'], alert('alert.escalated', 'info'))).toBe(true)
  })

  it('plain event types match exactly, whatever the data', () => {
    const on = ['device.offline', 'alert.triggered']
    expect(matchesNotifyOn(on, { type: 'device.offline', data: {} })).toBe(true)
    expect(matchesNotifyOn(on, alert('alert.triggered', 'info'))).toBe(true)
    expect(matchesNotifyOn(on, { type: 'device.online' })).toBe(false)
  })

  it('wildcards work as for webhook subscriptions; an empty list wants nothing', () => {
    expect(matchesNotifyOn(['alert.*'], alert('alert.resolved'))).toBe(true)
    expect(matchesNotifyOn(['alert.*'], { type: 'device.offline' })).toBe(false)
    expect(matchesNotifyOn(['*'], { type: 'patch.failed' })).toBe(true)
    expect(matchesNotifyOn([], { type: 'patch.failed' })).toBe(false)
    expect(matchesNotifyOn(['', '  '], { type: 'patch.failed' })).toBe(false)
  })

  it('a channel with several entries gets an event once any of them matches', () => {
    const on = ['alert.critical', 'alert.warning', 'device.offline']
    expect(matchesNotifyOn(on, alert('alert.triggered', 'warning'))).toBe(true)
    expect(matchesNotifyOn(on, alert('alert.triggered', 'info'))).toBe(false)
  })

  it('isSeveritySelector', () => {
    expect(isSeveritySelector('alert.critical')).toBe(true)
    expect(isSeveritySelector('alert.triggered')).toBe(false)
  })
})
