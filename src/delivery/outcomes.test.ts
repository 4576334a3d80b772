import { describe, expect, it } from 'vitest'
import { BODY_LIMIT, judge, OutcomeBatcher } from './outcomes.ts'
import type { RetryPolicy } from './policy.ts'
import type { Timers } from './timers.ts'
import { type ClaimedDelivery, claimedEvent, type Transport } from './types.ts'

const NOW = new Date('2026-01-01T00:00:00Z')

function delivery(attempt: number): ClaimedDelivery {
  return {
    id: `d${attempt}`,
    orgId: 'org',
    targetType: 'webhook',
    targetId: 't1',
    eventId: 'e1',
    eventType: 'ticket.created',
    operation: null,
    attempt,
    createdAt: NOW,
    event: claimedEvent(NOW, '{}'),
  }
}

const policy: RetryPolicy = { maxRetries: 2, initialDelayMs: 1000, backoffMultiplier: 3, maxDelayMs: 60_000 }
const transport: Transport = {
  type: 'webhook',
  attempt: async () => ({ kind: 'delivered' }),
  retryPolicy: () => policy,
}

describe('judging an outcome', () => {
  it('records a delivery, keeping the response', () => {
    const j = judge(
      delivery(1),
      { kind: 'delivered', responseStatus: 200, responseBody: 'ok', responseTimeMs: 12 },
      transport,
      NOW,
    )
    expect(j.settled.status).toBe('delivered')
    expect(j.settled.nextAttemptAt).toBeNull()
    expect(j.completion).toEqual({
      id: 'd1',
      attempt: 1,
      status: 'delivered',
      nextAttemptAt: null,
      responseStatus: 200,
      responseBody: 'ok',
      responseTimeMs: 12,
      errorMessage: null,
      requestHeaders: null,
    })
  })

  it('fails for good on a final answer, or when there is no transport', () => {
    expect(
      judge(delivery(1), { kind: 'failed', responseStatus: 400 }, transport, NOW).completion,
    ).toMatchObject({
      status: 'failed',
      nextAttemptAt: null,
      responseStatus: 400,
      errorMessage: null,
    })
    expect(
      judge(delivery(1), { kind: 'retry', errorMessage: 'timeout' }, undefined, NOW).completion,
    ).toMatchObject({
      status: 'failed',
      nextAttemptAt: null,
      errorMessage: 'timeout',
    })
  })

  it('retries on the policy schedule, or after a longer Retry-After', () => {
    const first = judge(delivery(1), { kind: 'retry', responseStatus: 503 }, transport, NOW)
    expect(first.settled).toMatchObject({ status: 'retrying', nextAttemptAt: new Date(NOW.getTime() + 1000) })
    expect(first.completion.nextAttemptAt).toEqual(new Date(NOW.getTime() + 1000))
    const second = judge(delivery(2), { kind: 'retry', responseStatus: 503 }, transport, NOW)
    expect(second.completion.nextAttemptAt).toEqual(new Date(NOW.getTime() + 3000))
    const asked = judge(
      delivery(1),
      { kind: 'retry', responseStatus: 429, retryAfterMs: 30_000 },
      transport,
      NOW,
    )
    expect(asked.completion.nextAttemptAt).toEqual(new Date(NOW.getTime() + 30_000))
  })

  it('gives up once the retries are used, saying why', () => {
    expect(
      judge(delivery(3), { kind: 'retry', responseStatus: 503 }, transport, NOW).completion,
    ).toMatchObject({
      status: 'failed',
      nextAttemptAt: null,
      errorMessage: 'HTTP 503 (gave up after 3 attempts)',
    })
    expect(
      judge(delivery(3), { kind: 'retry', errorMessage: 'connection refused' }, transport, NOW).completion
        .errorMessage,
    ).toBe('connection refused (gave up after 3 attempts)')
  })

  it('keeps at most BODY_LIMIT characters of the response body', () => {
    const long = 'x'.repeat(BODY_LIMIT + 5)
    const j = judge(delivery(1), { kind: 'delivered', responseBody: long }, transport, NOW)
    expect(j.completion.responseBody).toBe('x'.repeat(BODY_LIMIT))
    // The transport still sees the whole answer.
    expect(j.settled.outcome.responseBody).toBe(long)
  })
})

/** Timers run by hand: the batch window passes when the test says so. */
function manualTimers() {
  const due = new Map<number, { fn: () => void; ms: number }>()
  let next = 1
  const timers: Timers = {
    set(fn, ms) {
      const id = next++
      due.set(id, { fn, ms })
      return id
    },
    clear(handle) {
      due.delete(handle as number)
    },
  }
  return {
    timers,
    due,
    fire() {
      const all = [...due.values()]
      due.clear()
      for (const t of all) t.fn()
    },
  }
}

/** A writer whose writes finish when the test lets them. */
function gatedWriter() {
  const batches: number[][] = []
  const gates: (() => void)[] = []
  return {
    batches,
    open: () => gates.shift()?.(),
    write: (items: number[]) => {
      batches.push(items)
      return new Promise<void>((resolve) => gates.push(resolve))
    },
  }
}

describe('outcome batching', () => {
  it('writes what gathered within the window in one batch', async () => {
    const t = manualTimers()
    const batches: number[][] = []
    const b = new OutcomeBatcher<number>({
      write: async (items) => {
        batches.push(items)
      },
      maxItems: 10,
      windowMs: 20,
      timers: t.timers,
    })
    b.add(1)
    b.add(2)
    b.add(3)
    expect([...t.due.values()].map((d) => d.ms)).toEqual([20])
    expect(batches).toEqual([])
    expect(b.pending).toBe(3)
    t.fire()
    await Promise.resolve()
    expect(batches).toEqual([[1, 2, 3]])
    expect(b.pending).toBe(0)
    await b.flush()
    expect(batches).toEqual([[1, 2, 3]])
  })

  it('writes at once when maxItems are waiting, without waiting for the window', async () => {
    const t = manualTimers()
    const w = gatedWriter()
    const b = new OutcomeBatcher<number>({ write: w.write, maxItems: 3, windowMs: 20, timers: t.timers })
    b.add(1)
    b.add(2)
    expect(w.batches).toEqual([])
    b.add(3)
    await Promise.resolve()
    expect(w.batches).toEqual([[1, 2, 3]])
    expect(t.due.size).toBe(0)
    w.open()
  })

  it('writes one batch at a time, in order: a flush waits for the write under way', async () => {
    const t = manualTimers()
    const w = gatedWriter()
    const b = new OutcomeBatcher<number>({ write: w.write, maxItems: 100, windowMs: 20, timers: t.timers })
    b.add(1)
    const first = b.flush()
    await Promise.resolve()
    expect(w.batches).toEqual([[1]])
    b.add(2)
    b.add(3)
    let secondDone = false
    const second = b.flush().then(() => {
      secondDone = true
    })
    for (let i = 0; i < 5; i++) await Promise.resolve()
    // The second batch waits for the first write.
    expect(w.batches).toEqual([[1]])
    w.open()
    await first
    for (let i = 0; i < 5; i++) await Promise.resolve()
    expect(w.batches).toEqual([[1], [2, 3]])
    expect(secondDone).toBe(false)
    w.open()
    await second
    expect(secondDone).toBe(true)
    expect(b.pending).toBe(0)
  })
})
