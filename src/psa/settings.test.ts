import { describe, expect, it } from 'vitest'
import { priorityFor, psaSettingsSchema, queueOf, readSettings, severityWanted } from './settings.ts'

describe('PSA settings', () => {
  it('validates strictly at the edge', () => {
    expect(
      psaSettingsSchema.safeParse({ autoCreateTickets: true, defaultBoard: 'Service Board' }).success,
    ).toBe(true)
    expect(psaSettingsSchema.safeParse({ board: 'x' }).success).toBe(false)
    expect(psaSettingsSchema.safeParse({ defaultBoard: 'a', defaultProject: 'b' }).success).toBe(false)
  })

  it('reads stored settings key by key, keeping the valid ones', () => {
    // Written through the SynthesQ door, which takes any object.
    const s = readSettings({
      autoCreateTickets: true,
      priorityMap: { critical: 'P1' },
      colour: 'red',
      autoSync: 'no',
    })
    expect(s).toEqual({ autoCreateTickets: true, priorityMap: { critical: 'P1' } })
    expect(readSettings(null)).toEqual({})
    expect(readSettings(['x'])).toEqual({})
  })

  it('maps severities to priorities and filters them', () => {
    const s = readSettings({ priorityMap: { critical: 'P1' }, defaultPriority: 'P3', defaultQueue: 'NOC' })
    expect(priorityFor(s, 'critical')).toBe('P1')
    expect(priorityFor(s, 'warning')).toBe('P3')
    expect(priorityFor(s, undefined)).toBe('P3')
    expect(queueOf(s)).toBe('NOC')
    expect(severityWanted({}, undefined)).toBe(true)
    expect(severityWanted({ severities: ['critical'] }, 'warning')).toBe(false)
    expect(severityWanted({ severities: ['critical'] }, undefined)).toBe(false)
  })
})
