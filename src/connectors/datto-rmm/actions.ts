import { z } from 'zod'
import { arr, obj, str } from '../shared/json.ts'
import type { ActionRunContext, ConnectorAction, ConnectorEnv } from '../types.ts'

/**
 * Datto RMM writes (https://rmm.datto.com/help/en/Content/2SETUP/APIv2.htm, OpenAPI build 235):
 *
 * - `run_quick_job`: `PUT /v2/device/{deviceUid}/quickjob` with `{jobName, jobComponent: {componentUid,
 *   variables: [{name, value}]}}`. Datto takes no idempotency key and lists no jobs per device, so the job name
 *   carries `[patchbay:<action id>]`, and a retry after an attempt that may have reached Datto first searches the
 *   activity log (`GET /v2/activity-logs?entities=device&categories=job&searchQuery=…`) for that tag: a job found
 *   there is not created again.
 * - `resolve_alert`: `POST /v2/alert/{alertUid}/resolve`. Before a retry the alert is read
 *   (`GET /v2/alert/{alertUid}`): one already resolved is not resolved again.
 */
type Api<C> = <T = unknown>(
  c: C,
  e: ConnectorEnv,
  base: string,
  pathOrUrl: string,
  init?: { method?: 'POST' | 'PUT'; body?: unknown; timeoutMs?: number | undefined },
) => Promise<{ status: number; data: T }>

const uid = z
  .string()
  .trim()
  .min(1)
  .max(100)
  .regex(/^[A-Za-z0-9-]+$/, 'must be a Datto uid (letters, digits, -)')

const quickJobInput = z.strictObject({
  deviceUid: uid,
  jobName: z.string().trim().min(1).max(200).default('Patchbay quick job'),
  componentUid: uid,
  variables: z
    .array(z.strictObject({ name: z.string().min(1).max(200), value: z.string().max(10_000) }))
    .max(100)
    .default([]),
})

const resolveInput = z.strictObject({ alertUid: uid })

export function jobTag(key: string): string {
  return `[patchbay:${key}]`
}

function answer(data: unknown): string {
  return typeof data === 'string' ? data : JSON.stringify(data ?? null)
}

export function dattoRmmActions<C>(deps: {
  host: (c: C, e: ConnectorEnv) => Promise<{ url: string }>
  api: Api<C>
}): ConnectorAction<unknown, C>[] {
  const { host, api } = deps

  /** A job this action created already, found by its tag in the device activity log. */
  async function findJob(creds: C, env: ConnectorEnv, base: string, run: ActionRunContext) {
    const tag = jobTag(run.idempotencyKey)
    const from = new Date(env.clock.now().getTime() - 7 * 86_400_000).toISOString().replace(/\.\d+Z$/, 'Z')
    const q = new URLSearchParams({
      entities: 'device',
      categories: 'job',
      searchQuery: `"${tag}"`,
      from,
      size: '50',
    })
    const res = await api<Record<string, unknown>>(creds, env, base, `/v2/activity-logs?${q}`)
    return arr(obj(res.data)?.activities).find((a) => (str(obj(a)?.details) ?? '').includes(tag))
  }

  const runQuickJob: ConnectorAction<z.infer<typeof quickJobInput>, C> = {
    name: 'run_quick_job',
    description: 'Runs a component (script) as a quick job on one device, with the component’s variables',
    input: quickJobInput,
    needsApproval: true,
    idempotency:
      'No idempotency key at Datto: the job name carries [patchbay:<action id>], and a retry first looks for it ' +
      'in the device activity log; a job found there is not created again.',
    async run(creds, input, env, run) {
      const base = (await host(creds, env)).url
      if (run.mayHaveRun) {
        const found = await findJob(creds, env, base, run)
        if (found) return { status: 200, body: `Found in the activity log: ${JSON.stringify(found)}` }
      }
      const res = await api(creds, env, base, `/v2/device/${encodeURIComponent(input.deviceUid)}/quickjob`, {
        method: 'PUT',
        body: {
          jobName: `${input.jobName} ${jobTag(run.idempotencyKey)}`,
          jobComponent: { componentUid: input.componentUid, variables: input.variables },
        },
        timeoutMs: run.timeoutMs,
      })
      const job = obj(obj(res.data)?.job)
      return { status: res.status, body: answer(res.data), vendorRef: str(job?.uid) }
    },
  }

  const resolveAlert: ConnectorAction<z.infer<typeof resolveInput>, C> = {
    name: 'resolve_alert',
    description: 'Resolves an open alert',
    input: resolveInput,
    needsApproval: false,
    idempotency: 'Before a retry the alert is read; one already resolved is not resolved again.',
    async run(creds, input, env, run) {
      const base = (await host(creds, env)).url
      const path = `/v2/alert/${encodeURIComponent(input.alertUid)}`
      if (run.mayHaveRun) {
        const got = await api(creds, env, base, path)
        if (obj(got.data)?.resolved === true)
          return { status: got.status, body: 'The alert was already resolved', vendorRef: input.alertUid }
      }
      const res = await api(creds, env, base, `${path}/resolve`, { method: 'POST', timeoutMs: run.timeoutMs })
      return { status: res.status, body: answer(res.data), vendorRef: input.alertUid }
    },
  }

  return [runQuickJob, resolveAlert]
}
