import pino, { type Logger } from 'pino'
import { describeError } from './error-log.ts'

export type { Logger }

// Paths are pino redaction paths; the wildcard covers one nesting level, and request logs carry headers.
const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  'authorization',
  'token',
  'secret',
  'password',
  'credentials',
  'apiKey',
  'webhookUrl',
  'privateKey',
  '*.token',
  '*.secret',
  '*.password',
  '*.credentials',
  '*.apiKey',
  '*.webhookUrl',
  '*.privateKey',
  '*.authorization',
  '*.*.secret',
  '*.*.password',
  '*.*.token',
  '*.*.apiKey',
  '*.*.privateKey',
]

export function createLogger(
  level: string,
  destination?: pino.DestinationStream,
  bindings: Record<string, unknown> = {},
): Logger {
  return pino(
    {
      level,
      base: { service: 'patchbay', ...bindings },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      // Not pino's own, which logs every property of an error, a database error's parameters and detail included.
      serializers: { err: describeError },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    destination,
  )
}
