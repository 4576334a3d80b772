import type { Connector } from '../connectors/types.ts'

/**
 * What a chat channel is told to post when it is first saved without `notifyOn`: alerts that need a human. One
 * default for every way a channel is created (the chat doors and `POST /integrations`).
 */
export const DEFAULT_NOTIFY_ON = ['alert.critical', 'alert.warning'] as const

/** The settings a new integration starts with: what was sent, plus the defaults of its kind for what was not. */
export function initialSettings(
  connector: Connector,
  sent: Record<string, unknown> | undefined,
): Record<string, unknown> {
  const settings = { ...sent }
  if (connector.chat && settings.notifyOn === undefined) settings.notifyOn = [...DEFAULT_NOTIFY_ON]
  return settings
}
