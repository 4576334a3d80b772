import { z } from '@hono/zod-openapi'

/** The Breeze webhooks seed's defaults: 5 retries after the first attempt, 1 s doubling to at most 5 min. */
export const retryPolicySchema = z.strictObject({
  maxRetries: z.number().int().min(0).max(50),
  initialDelayMs: z.number().int().min(0).max(86_400_000),
  backoffMultiplier: z.number().min(1).max(10),
  maxDelayMs: z
    .number()
    .int()
    .min(0)
    .max(7 * 86_400_000),
})

export type RetryPolicy = z.infer<typeof retryPolicySchema>

export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  maxRetries: 5,
  initialDelayMs: 1_000,
  backoffMultiplier: 2,
  maxDelayMs: 300_000,
}

/** A Retry-After longer than this is capped, so one answer cannot park a delivery for days. */
export const MAX_RETRY_AFTER_MS = 24 * 3_600_000

/**
 * Delay before retry number `retry` (0 for the first retry): `min(initialDelay × multiplier^retry, maxDelay)`,
 * exactly as the seed documents, without jitter, so schedules are predictable. A Retry-After from the target
 * wins when it asks for a longer wait.
 */
export function retryDelayMs(policy: RetryPolicy, retry: number, retryAfterMs?: number): number {
  const computed = Math.min(policy.initialDelayMs * policy.backoffMultiplier ** retry, policy.maxDelayMs)
  if (retryAfterMs === undefined) return Math.round(computed)
  return Math.round(Math.max(computed, Math.min(retryAfterMs, MAX_RETRY_AFTER_MS)))
}

export type HttpVerdict = 'delivered' | 'retry' | 'permanent' | 'gone'

/**
 * 2xx is delivered. 410 Gone is permanent and disables the target. Other 4xx are permanent — the request
 * itself is wrong — except 408, 409, 425 and 429, which say "try again". 3xx (never followed), 5xx and the rest
 * are retried.
 */
export function classifyStatus(status: number): HttpVerdict {
  if (status >= 200 && status < 300) return 'delivered'
  if (status === 410) return 'gone'
  if (status >= 400 && status < 500 && ![408, 409, 425, 429].includes(status)) return 'permanent'
  return 'retry'
}
