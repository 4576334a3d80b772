import { type ChildProcess, spawn } from 'node:child_process'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
const CLI = path.join(ROOT, 'src/cli.ts')

export interface PatchbayProcess {
  child: ChildProcess
  stdout: () => string
  stderr: () => string
  /** Resolves with the first stdout match of `re`, or rejects when the process exits first. */
  waitFor(re: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
}

/** Runs `patchbay <args>` from source as its own process, the way an operator runs it. */
export function runPatchbay(args: string[], env: Record<string, string | undefined>): PatchbayProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', CLI, ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  let err = ''
  const waiters: { re: RegExp; resolve: (m: RegExpMatchArray) => void }[] = []
  child.stdout?.on('data', (d: Buffer) => {
    out += d.toString()
    for (const w of [...waiters]) {
      const m = out.match(w.re)
      if (m) {
        waiters.splice(waiters.indexOf(w), 1)
        w.resolve(m)
      }
    }
  })
  child.stderr?.on('data', (d: Buffer) => {
    err += d.toString()
  })
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  )
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    waitFor(re, timeoutMs = 120_000) {
      const m = out.match(re)
      if (m) return Promise.resolve(m)
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`timed out waiting for ${re}\n${out}\n${err}`)),
          timeoutMs,
        )
        waiters.push({
          re,
          resolve: (match) => {
            clearTimeout(timer)
            resolve(match)
          },
        })
        void exited.then(({ code }) => {
          clearTimeout(timer)
          reject(new Error(`patchbay exited (${code}) before ${re}\n${out}\n${err}`))
        })
      })
    },
  }
}

/** A JSON call to a running Patchbay with `token`, answering status and the parsed body. */
export function apiClient(token: string) {
  return async (url: string, method: string, p: string, body?: unknown) => {
    const res = await fetch(`${url}${p}`, {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      ...(body ? { body: JSON.stringify(body) } : {}),
    })
    // biome-ignore lint/suspicious/noExplicitAny: the tests read response bodies loosely and assert on them
    return { status: res.status, body: (await res.json()) as any }
  }
}
