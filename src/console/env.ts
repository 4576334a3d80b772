import type { Context } from 'hono'
import type { Child } from 'hono/jsx'
import type { Api } from './api.ts'

export interface ConsoleEnv {
  Variables: {
    requestId: string
    keyId: string
    keyScope: 'system' | 'partner' | 'organization'
    keyOrgId: string | null
    csrf: string
    api: Api
    org: { id: string; name: string }
  }
}

export type C = Context<ConsoleEnv>

/** `/o/<org>/<rest>`: every organization page keeps its organization in the URL. */
export function orgUrl(c: C, rest: string): string {
  return `/o/${c.var.org.id}/${rest}`
}

export type Render = (c: C, title: string, section: string, body: Child, status?: number) => Response
