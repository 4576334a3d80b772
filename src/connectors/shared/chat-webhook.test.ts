import { describe, expect, it } from 'vitest'
import { scrubSecrets } from '../../lib/redact.ts'
import { resolveWebhookTarget } from './chat-webhook.ts'
import { NotificationError } from './notification.ts'

describe('resolveWebhookTarget', () => {
  it('without baseUrl, calls the webhook URL itself', () => {
    const t = resolveWebhookTarget(
      { webhookUrl: 'https://hooks.slack.com/services/T1/B2/abcdefghijklmnopqrstuvwx' },
      'Slack',
    )
    expect(t.url.href).toBe('https://hooks.slack.com/services/T1/B2/abcdefghijklmnopqrstuvwx')
  })

  it('baseUrl replaces scheme, host and port, adds its path in front, and keeps path and query', () => {
    const t = resolveWebhookTarget(
      {
        webhookUrl:
          'https://prod-00.westus.logic.azure.com:443/workflows/abc/triggers/manual/paths/invoke?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=SIGNATURE_VALUE_1234567890',
        baseUrl: 'http://proxy.test:8080/teams/',
      },
      'Microsoft Teams',
    )
    expect(t.webhook.hostname).toBe('prod-00.westus.logic.azure.com')
    expect(t.url.href).toBe(
      'http://proxy.test:8080/teams/workflows/abc/triggers/manual/paths/invoke?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=SIGNATURE_VALUE_1234567890',
    )
  })

  it('knows every form of the secret, so scrubbing removes the URL, the token and the signature', () => {
    const webhookUrl = 'https://discord.com/api/webhooks/123456789012345678/TOKEN_abcdefghijklmnopqrstuvwxyz'
    const t = resolveWebhookTarget({ webhookUrl, baseUrl: 'http://discord.test:1' }, 'Discord')
    const text = [
      `posted to ${webhookUrl}`,
      `via ${t.url.href}`,
      'token TOKEN_abcdefghijklmnopqrstuvwxyz',
      `encoded ${encodeURIComponent(webhookUrl)}`,
    ].join('\n')
    const scrubbed = scrubSecrets(text, t.secrets)
    expect(scrubbed).not.toContain('TOKEN_abcdefghijklmnopqrstuvwxyz')
    expect(scrubbed).not.toContain('123456789012345678')
    expect(scrubbed).toContain('[redacted]')
  })

  it('refuses a missing or unparseable URL without echoing it', () => {
    expect(() => resolveWebhookTarget({}, 'Slack')).toThrow(
      new NotificationError('Slack webhookUrl is missing', 400),
    )
    const bad = () => resolveWebhookTarget({ webhookUrl: 'hooks slack secret-token' }, 'Slack')
    expect(bad).toThrow('Slack webhookUrl is not a valid URL')
    expect(() =>
      resolveWebhookTarget({ webhookUrl: 'https://hooks.slack.com/services/a/b/c', baseUrl: '::' }, 'Slack'),
    ).toThrow('Slack baseUrl is not a valid URL')
  })
})
