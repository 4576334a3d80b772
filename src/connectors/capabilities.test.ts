import { describe, expect, it } from 'vitest'
import { MONITORING_PROVIDER } from '../monitoring/settings.ts'
import { CHAT_PROVIDERS } from '../notifications/channels.ts'
import { TICKETING_PROVIDER } from '../ticketing/settings.ts'
import { defaultRegistry } from './registry.ts'

// Features name these providers by id and reach their code only through the registry: a provider that lost its
// capability module (or its id) would fail at run time, so the registry is held to it here.
describe('capability modules the features look up in the registry', () => {
  it('every chat door provider has a chat module that judges its own webhook URLs', () => {
    const problem = (provider: string, url: string) =>
      defaultRegistry.get(provider)?.chat?.webhookUrlProblem(new URL(url))
    expect(CHAT_PROVIDERS.map((p) => defaultRegistry.get(p)?.descriptor.displayName)).toEqual([
      'Slack',
      'Microsoft Teams',
      'Discord',
    ])
    expect(problem('slack', 'https://hooks.slack.com/services/T0/B0/abc')).toBeUndefined()
    expect(problem('slack', 'https://example.com/services/T0/B0/abc')).toBe(
      'Slack webhookUrl must be an incoming webhook on hooks.slack.com (got host example.com)',
    )
    expect(problem('discord', 'https://discord.com/api/webhooks/1/tok')).toBeUndefined()
    expect(problem('discord', 'https://hooks.slack.com/services/T0/B0/abc')).toBe(
      'Discord webhookUrl must be a webhook on discord.com (got host hooks.slack.com)',
    )
    expect(
      problem('teams', 'https://contoso.webhook.office.com/webhookb2/a/IncomingWebhook/b/c'),
    ).toBeUndefined()
    expect(problem('teams', 'https://discord.com/api/webhooks/1/tok')).toMatch(
      /^Microsoft Teams webhookUrl must be a Workflows webhook .* got host discord\.com$/,
    )
  })

  it('only a legacy Office 365 connector URL is one that nothing but a real post verifies', () => {
    const onlyByPost = (provider: string, url: string) =>
      defaultRegistry.get(provider)?.chat?.verifiedOnlyByPost?.(new URL(url)) ?? false
    expect(onlyByPost('teams', 'https://contoso.webhook.office.com/webhookb2/a/IncomingWebhook/b/c')).toBe(
      true,
    )
    expect(onlyByPost('teams', 'https://outlook.office.com/webhook/abc@def/IncomingWebhook/123/456')).toBe(
      true,
    )
    expect(
      onlyByPost(
        'teams',
        'https://prod-1.westus.logic.azure.com/workflows/f/triggers/manual/paths/invoke?sig=x',
      ),
    ).toBe(false)
    // The same legacy-looking URL under another provider is not a Teams connector.
    expect(onlyByPost('slack', 'https://contoso.webhook.office.com/webhookb2/a/IncomingWebhook/b/c')).toBe(
      false,
    )
  })

  it('the monitoring and ticketing doors’ providers forward events and create tickets', () => {
    const monitoring = defaultRegistry.get(MONITORING_PROVIDER)
    expect(monitoring?.descriptor.capabilities).toContain('forward_events')
    expect(typeof monitoring?.forwarding?.post).toBe('function')
    const ticketing = defaultRegistry.get(TICKETING_PROVIDER)
    expect(ticketing?.descriptor.capabilities).toContain('create_ticket')
    expect(typeof ticketing?.genericTickets?.create).toBe('function')
    expect(
      defaultRegistry
        .all()
        .filter((c) => c.forwarding)
        .map((c) => c.descriptor.id),
    ).toEqual(['generic-monitoring'])
  })
})
