import { afterAll, beforeAll, expect } from 'vitest'
import type { ConnectorRegistry } from '../src/connectors/registry.ts'
import { JobService } from '../src/jobs/service.ts'
import { WIRED_JOBS } from '../src/wiring.ts'
import { createHarness, type Harness, seedTenants } from './harness.ts'

export type Tenants = Awaited<ReturnType<typeof seedTenants>>
// biome-ignore lint/suspicious/noExplicitAny: tests read response bodies loosely and assert on them
type Reply = { status: number; body: any }

/**
 * What every actions test sets up the same way: the app on a test database with the seeded tenants, the vendor's
 * stand-in, an integration of the provider in organization A pointed at it (its first verification job run), and
 * a second key of organization A to approve with (the key that asks may not approve its own action).
 */
export interface ActionsFixture<S> {
  /** Set before the test file's own beforeAll hooks run (the fixture's hook is registered first). */
  h: Harness
  t: Tenants
  standIn: S
  integrationId: string
  approverKey: string
  /** Requests an action on the integration (as organization A's key unless told otherwise). */
  act(action: string, input: unknown, token?: string): Promise<Reply>
  approve(id: string, token?: string): Promise<Reply>
  /** The action as the API shows it to organization A. */
  // biome-ignore lint/suspicious/noExplicitAny: tests read response bodies loosely and assert on them
  get(id: string): Promise<any>
  /** Approves (expecting 202), lets the worker attempt what is due, and returns the action. */
  // biome-ignore lint/suspicious/noExplicitAny: tests read response bodies loosely and assert on them
  approveAndRun(id: string): Promise<any>
  /**
   * For each action needing approval, with valid input: the requester's own key is refused (403), and nothing
   * reaches the vendor (`writes` counts the vendor requests that change something) before an approval, after a
   * rejection, or after the approval time ran out (the late approval refused with 409, the action `expired`).
   * Moves the clock past the approval time: call it last in a file.
   */
  neverSentUnapproved(cases: { action: string; input: unknown }[], writes: () => number): Promise<void>
}

/**
 * Registers the beforeAll/afterAll hooks of an actions test file and returns what they set up. Call it at the top
 * level of the test file, before its own hooks.
 */
export function actionsFixture<S extends { close(): Promise<unknown> }>(
  provider: string,
  o: {
    /** Starts the vendor's stand-in(s), after the harness (so a stand-in can share its clock). */
    standIn: (h: Harness) => Promise<S>
    /** The integration's credentials, pointing at the stand-in. */
    credentials: (s: S) => Record<string, unknown>
    capabilities?: string[]
    /** The connectors the app knows, when a test points one at its stand-in; the real registry by default. */
    connectors?: () => ConnectorRegistry
    /** The approving key's name. */
    approverName?: string
    /** Configuration beside the harness's own (PATCHBAY_ACTION_APPROVAL_TTL_MS…). */
    env?: Record<string, string>
  },
): ActionsFixture<S> {
  const fx = {
    act: (action: string, input: unknown, token = fx.t.orgAToken) =>
      fx.h.json('POST', `/api/v1/integrations/${fx.integrationId}/actions`, {
        token,
        body: { action, input },
      }),
    approve: (id: string, token = fx.approverKey) =>
      fx.h.json('POST', `/api/v1/actions/${id}/approve`, { token }),
    get: async (id: string) =>
      (await fx.h.json('GET', `/api/v1/actions/${id}`, { token: fx.t.orgAToken })).body,
    approveAndRun: async (id: string) => {
      expect((await fx.approve(id)).status).toBe(202)
      await fx.h.worker.drain()
      return fx.get(id)
    },
    neverSentUnapproved: async (cases: { action: string; input: unknown }[], writes: () => number) => {
      const before = writes()
      const pending: string[] = []
      for (const c of cases) {
        const asked = await fx.act(c.action, c.input)
        expect(asked.status, `${c.action}: ${JSON.stringify(asked.body)}`).toBe(202)
        expect(asked.body).toMatchObject({ status: 'pending_approval', needsApproval: true })
        const own = await fx.approve(asked.body.id, fx.t.orgAToken)
        expect(own.status, c.action).toBe(403)
        pending.push(asked.body.id)

        const refused = await fx.act(c.action, c.input)
        const rejected = await fx.h.json('POST', `/api/v1/actions/${refused.body.id}/reject`, {
          token: fx.approverKey,
          body: { reason: 'Not this one' },
        })
        expect(rejected.status, c.action).toBe(200)
        expect((await fx.approve(refused.body.id)).status, c.action).toBe(409)
        expect((await fx.get(refused.body.id)).status, c.action).toBe('rejected')
      }
      await fx.h.worker.drain()
      expect(writes(), 'nothing sent before approval nor after a rejection').toBe(before)

      fx.h.clock.advance(fx.h.ctx.config.PATCHBAY_ACTION_APPROVAL_TTL_MS + 1)
      for (const id of pending) {
        const late = await fx.approve(id)
        expect(late.status).toBe(409)
        expect(late.body.error).toContain('expired')
        expect((await fx.get(id)).status).toBe('expired')
      }
      await fx.h.worker.drain()
      expect(writes(), 'nothing sent once expired').toBe(before)
    },
  } as ActionsFixture<S>

  beforeAll(async () => {
    const h = await createHarness({
      ...(o.connectors ? { connectors: o.connectors() } : {}),
      env: { PATCHBAY_PROBE_INTERVAL_MS: '0', ...o.env },
    })
    fx.h = h
    fx.t = await seedTenants(h)
    fx.standIn = await o.standIn(h)
    fx.approverKey = (
      await h.json('POST', '/api/v1/api-keys', {
        body: { name: o.approverName ?? 'approver', scope: 'organization', orgId: fx.t.orgA.id },
      })
    ).body.token
    const r = await h.json('POST', '/api/v1/integrations', {
      token: fx.t.orgAToken,
      body: {
        provider,
        credentials: o.credentials(fx.standIn),
        enabled_capabilities: o.capabilities ?? ['read_resources'],
      },
    })
    expect(r.status, JSON.stringify(r.body)).toBe(201)
    fx.integrationId = r.body.data.id
    await new JobService(h.ctx, WIRED_JOBS).runDue()
  })
  afterAll(async () => {
    await fx.h?.close()
    await fx.standIn?.close()
  })
  return fx
}
