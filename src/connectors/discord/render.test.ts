import { describe, expect, it } from 'vitest'
import { executeWebhookProblems } from '../../../test/standins/discord.ts'
import type { Notification } from '../shared/notification.ts'
import { DISCORD_LIMITS, type DiscordEmbed, renderDiscordMessage } from './render.ts'

const base: Notification = {
  title: 'Critical alert: CPU above 95% on WORKSTATION-01',
  text: 'CPU has been above 95% for 10 minutes.',
  severity: 'critical',
  eventType: 'alert.triggered',
  org: { id: 'org-1', name: 'Contoso' },
  device: { id: 'dev-1', hostname: 'WORKSTATION-01' },
  alert: { id: 'al-9', name: 'CPU above 95%', status: 'triggered' },
  occurredAt: '2026-02-18T12:34:56.000Z',
  link: 'https://console.example.com/alerts/al-9',
}

function embedChars(e: DiscordEmbed): number {
  return (
    e.title.length +
    (e.description?.length ?? 0) +
    e.footer.text.length +
    (e.fields ?? []).reduce((s, f) => s + f.name.length + f.value.length, 0)
  )
}

function only(msg: ReturnType<typeof renderDiscordMessage>): DiscordEmbed {
  expect(msg.embeds).toHaveLength(1)
  return msg.embeds[0] as DiscordEmbed
}

describe('renderDiscordMessage', () => {
  it('renders content and one embed with colour, fields, time and footer', () => {
    expect(renderDiscordMessage({ ...base, username: 'Patchbay' })).toEqual({
      content: '🔴 Critical alert: CPU above 95% on WORKSTATION-01',
      username: 'Patchbay',
      allowed_mentions: { parse: [] },
      embeds: [
        {
          title: 'Critical alert: CPU above 95% on WORKSTATION-01',
          description: 'CPU has been above 95% for 10 minutes.',
          url: 'https://console.example.com/alerts/al-9',
          color: 0xd32f2f,
          fields: [
            { name: 'Severity', value: 'Critical', inline: true },
            { name: 'Device', value: 'WORKSTATION-01 (dev-1)', inline: true },
            { name: 'Alert', value: 'CPU above 95%', inline: true },
            { name: 'Status', value: 'triggered', inline: true },
            { name: 'Organization', value: 'Contoso', inline: true },
            { name: 'Event', value: 'alert.triggered', inline: true },
          ],
          timestamp: '2026-02-18T12:34:56.000Z',
          footer: { text: 'Patchbay · alert.triggered' },
        },
      ],
    })
    expect(executeWebhookProblems(renderDiscordMessage(base))).toEqual([])
  })

  it('escapes markdown so event text shows as written, and pings nobody', () => {
    const msg = renderDiscordMessage({
      ...base,
      text: '# big\n> quote *bold* __u__ ||spoiler|| `code` @everyone [click](https://evil.example)',
    })
    expect(only(msg).description).toBe(
      '\\# big\n\\> quote \\*bold\\* \\_\\_u\\_\\_ \\|\\|spoiler\\|\\| \\`code\\` @everyone [click]\\(https://evil.example)',
    )
    expect(msg.allowed_mentions).toEqual({ parse: [] })
  })

  it('cuts content, title, description, field names and values, footer and username to their limits', () => {
    const msg = renderDiscordMessage({
      ...base,
      title: 'T'.repeat(3_000),
      text: 'd'.repeat(10_000),
      eventType: 'e'.repeat(3_000),
      username: 'u'.repeat(200),
      facts: [{ name: 'n'.repeat(1_000), value: 'v'.repeat(5_000) }],
    })
    const e = only(msg)
    expect(msg.content.length).toBeLessThanOrEqual(DISCORD_LIMITS.content)
    expect(e.title).toHaveLength(DISCORD_LIMITS.title)
    expect(e.footer.text).toHaveLength(DISCORD_LIMITS.footer)
    expect(msg.username).toHaveLength(DISCORD_LIMITS.username)
    for (const f of e.fields ?? []) {
      expect(f.name.length).toBeLessThanOrEqual(DISCORD_LIMITS.fieldName)
      expect(f.value.length).toBeLessThanOrEqual(DISCORD_LIMITS.fieldValue)
    }
    expect((e.description ?? '').length).toBeLessThanOrEqual(DISCORD_LIMITS.description)
    expect(embedChars(e)).toBeLessThanOrEqual(DISCORD_LIMITS.embedTotal)
    expect(executeWebhookProblems(msg)).toEqual([])
  })

  it('gives the description its full 4,096 characters when the rest is small', () => {
    const e = only(renderDiscordMessage({ ...base, text: 'd'.repeat(10_000) }))
    expect(e.description).toHaveLength(DISCORD_LIMITS.description)
    expect(e.description?.endsWith('d…')).toBe(true)
  })

  it('keeps at most 25 fields, the last one counting the rest', () => {
    const facts = Array.from({ length: 40 }, (_, i) => ({ name: `F${i}`, value: `${i}` }))
    const e = only(renderDiscordMessage({ ...base, facts }))
    expect(e.fields).toHaveLength(DISCORD_LIMITS.fields)
    expect(e.fields?.at(-1)).toEqual({ name: 'More', value: '…and 22 more', inline: false })
    expect(e.fields?.[23]).toEqual({ name: 'F17', value: '17', inline: true })
  })

  it('shares the 6,000-character total between description and fields, dropping fields that do not fit', () => {
    const facts = Array.from({ length: 25 }, (_, i) => ({ name: `Fact ${i}`, value: 'v'.repeat(1_000) }))
    const msg = renderDiscordMessage({ ...base, text: 'd'.repeat(4_000), facts })
    const e = only(msg)
    expect(embedChars(e)).toBeLessThanOrEqual(DISCORD_LIMITS.embedTotal)
    expect((e.description ?? '').length).toBeGreaterThanOrEqual(2_048)
    expect(e.fields?.at(-1)?.name).toBe('More')
    expect(e.fields?.at(-1)?.value).toMatch(/^…and \d+ more$/)
    expect(executeWebhookProblems(msg)).toEqual([])
  })

  it('leaves out an unusable timestamp and an over-long link rather than send something Discord refuses', () => {
    const e = only(
      renderDiscordMessage({
        ...base,
        occurredAt: 'yesterday',
        link: `https://x.example/${'a'.repeat(3_000)}`,
      }),
    )
    expect(e.timestamp).toBeUndefined()
    expect(e.url).toBeUndefined()
  })

  it('the stand-in check agrees: an over-long body is what Discord refuses', () => {
    const bad = {
      content: 'c'.repeat(2_001),
      embeds: [{ title: 't'.repeat(257), fields: [{ name: '', value: 'x' }] }],
    }
    const codes = executeWebhookProblems(bad).map((e) => `${e.path.join('.')}:${e.code}`)
    expect(codes).toEqual(['content:BASE_TYPE_MAX_LENGTH', 'embeds.0.title:BASE_TYPE_MAX_LENGTH'])
    expect(executeWebhookProblems({ embeds: [] }).map((e) => e.code)).toEqual(['EMPTY_MESSAGE'])
  })
})
