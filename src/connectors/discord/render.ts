import type { Notification, NotificationFact } from '../shared/notification.ts'
import {
  displayTitle,
  escapeAndTruncate,
  notificationFacts,
  SEVERITY_COLOR,
  summaryLine,
  truncate,
  validIso,
} from '../shared/notification-text.ts'

/**
 * Discord's limits for an execute-webhook body: `content` 2,000, at most 10 embeds, `username` 1–80 (the
 * OpenAPI description, https://github.com/discord/discord-api-spec, IncomingWebhookRequestPartial / RichEmbed);
 * per embed title 256, description 4,096, at most 25 fields, field name 256 and value 1,024, footer 2,048,
 * author 256, and all embeds of a message together at most 6,000 characters
 * (https://discord.com/developers/docs/resources/message#embed-object-embed-limits).
 */
export const DISCORD_LIMITS = {
  content: 2_000,
  embeds: 10,
  username: 80,
  url: 2_048,
  title: 256,
  description: 4_096,
  fields: 25,
  fieldName: 256,
  fieldValue: 1_024,
  footer: 2_048,
  author: 256,
  embedTotal: 6_000,
} as const

export interface DiscordEmbed {
  title: string
  description?: string
  url?: string
  color: number
  fields?: { name: string; value: string; inline: boolean }[]
  timestamp?: string
  footer: { text: string }
}

export interface DiscordMessage {
  content: string
  embeds: DiscordEmbed[]
  username?: string
  /** Nothing in a notification pings anyone, whatever an event's text contains (`@everyone`, `<@id>`). */
  allowed_mentions: { parse: [] }
}

/**
 * Discord markdown: `\ * _ ~ ` |` anywhere, `> # -` at the start of a line (quotes, headings, lists), and the
 * `(` of a masked link `[text](url)` are escaped with a backslash so event text shows as written and cannot
 * dress up a link
 * (https://support.discord.com/hc/en-us/articles/210298617-Markdown-Text-101-Chat-Formatting-Bold-Italic-Underline).
 */
function escapeChar(ch: string, prev: string | undefined): string {
  if ('\\*_~`|'.includes(ch)) return `\\${ch}`
  if ((prev === undefined || prev === '\n') && '>#-'.includes(ch)) return `\\${ch}`
  if (ch === '(' && prev === ']') return '\\('
  return ch
}

export function discordEscape(text: string, max: number): string {
  return /[\\*_~`|>#-]|\]\(/.test(text) ? escapeAndTruncate(text, max, escapeChar) : truncate(text, max)
}

/**
 * A notification as one embed (severity colour, title linking to the console, text, facts as fields, time,
 * footer) with a one-line `content` for push previews. Each piece is cut to its own limit, then the description
 * and fields share what is left of the 6,000-character total; facts beyond 25 fields are summarised. Pure.
 */
export function renderDiscordMessage(n: Notification): DiscordMessage {
  const title = discordEscape(displayTitle(n), DISCORD_LIMITS.title)
  const footer = truncate(
    n.test ? 'Patchbay · test message' : `Patchbay · ${n.eventType}`,
    DISCORD_LIMITS.footer,
  )
  let budget = DISCORD_LIMITS.embedTotal - title.length - footer.length

  const body = n.text.trim()
  const fullDescription = discordEscape(body, DISCORD_LIMITS.description)
  // The text matters more than the facts: keep up to 2,048 characters of it before fields take their share.
  const reserved = Math.min(fullDescription.length, 2_048)
  const fields = fitFields(notificationFacts(n), budget - reserved)
  budget -= fields.reduce((sum, f) => sum + f.name.length + f.value.length, 0)
  const description = body ? discordEscape(body, Math.min(DISCORD_LIMITS.description, budget)) : ''

  const embed: DiscordEmbed = { title, color: SEVERITY_COLOR[n.severity], footer: { text: footer } }
  if (description) embed.description = description
  if (n.link && n.link.length <= DISCORD_LIMITS.url) embed.url = n.link
  if (fields.length) embed.fields = fields
  const timestamp = validIso(n.occurredAt)
  if (timestamp) embed.timestamp = timestamp

  const msg: DiscordMessage = {
    content: discordEscape(summaryLine(n), DISCORD_LIMITS.content),
    embeds: [embed],
    allowed_mentions: { parse: [] },
  }
  const username = n.username?.trim()
  if (username) msg.username = truncate(username, DISCORD_LIMITS.username)
  return msg
}

const MORE_RESERVE = 30

/** At most 25 fields within `budget` characters (names and values together); the overflow becomes a last field. */
function fitFields(
  facts: NotificationFact[],
  budget: number,
): { name: string; value: string; inline: boolean }[] {
  const all = facts.map((f) => ({
    name: discordEscape(f.name, DISCORD_LIMITS.fieldName),
    value: discordEscape(f.value, DISCORD_LIMITS.fieldValue),
  }))
  const out: { name: string; value: string; inline: boolean }[] = []
  let used = 0
  for (const [i, f] of all.entries()) {
    const rest = all.length - i
    const size = f.name.length + f.value.length
    // While more facts follow, keep room for the summary field that would stand in for them.
    const room = budget - used - (rest > 1 ? MORE_RESERVE : 0)
    if ((rest > 1 && out.length === DISCORD_LIMITS.fields - 1) || size > room) {
      const more = { name: 'More', value: `…and ${rest} more` }
      if (used + more.name.length + more.value.length <= budget) out.push({ ...more, inline: false })
      break
    }
    out.push({ ...f, inline: f.value.length <= 40 })
    used += size
  }
  return out
}
