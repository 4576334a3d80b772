import type { ConnectorEnv } from '../../src/connectors/types.ts'
import { type Clock, ManualClock } from '../../src/lib/clock.ts'
import { createLogger } from '../../src/lib/logger.ts'
import { AddressPolicy } from '../../src/net/address-policy.ts'
import { HttpClient } from '../../src/net/http-client.ts'

/**
 * A ConnectorEnv for connector tests without a database: Patchbay's real HTTP client, with loopback allowed and
 * every `*.test` host name resolving to 127.0.0.1 (where the stand-ins listen), and a manual clock.
 */
export function connectorTestEnv(clock: Clock = new ManualClock('2026-02-18T12:00:00.000Z')): ConnectorEnv & {
  close(): Promise<void>
} {
  const http = new HttpClient({
    policy: new AddressPolicy(['127.0.0.0/8']),
    resolver: async (host) => (host.endsWith('.test') ? ['127.0.0.1'] : []),
    clock,
    dnsCacheMs: 0,
    defaultTimeoutMs: 10_000,
  })
  return { http, clock, log: createLogger('silent'), close: () => http.close() }
}
