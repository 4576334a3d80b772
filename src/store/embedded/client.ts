import { createRequire } from 'node:module'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { Worker } from 'node:worker_threads'
import {
  fromWire,
  type HostOptions,
  type QueryResult,
  type Request,
  type Response,
  type RowMode,
  type WireError,
} from './protocol.ts'

/** What drizzle's PGlite driver and Patchbay call on a PGlite handle, answered by the database thread. */
export interface EmbeddedQuerier {
  query(
    sql: string,
    params?: unknown[],
    opts?: { rowMode?: RowMode; parsers?: Record<number, unknown> },
  ): Promise<QueryResult>
}

export interface EmbeddedClient extends EmbeddedQuerier {
  transaction<T>(fn: (tx: EmbeddedQuerier) => Promise<T>): Promise<T>
  listen(channel: string, fn: (payload: string) => void): Promise<() => Promise<void>>
  /** The data directory as an uncompressed tarball (what `loadDataDir` takes back). */
  dumpDataDir(): Promise<Blob>
  close(): Promise<void>
}

/**
 * The thread's entry, as code. Built, the host is host.js beside this file. From source (tests, `node --import
 * tsx`) it is host.ts, and a worker thread does not inherit the parent's module hooks in Node 20, so the thread
 * registers tsx itself first.
 */
function hostEntry(): string {
  const fromSource = import.meta.url.endsWith('.ts')
  const host = JSON.stringify(new URL(`./host.${fromSource ? 'ts' : 'js'}`, import.meta.url).href)
  if (!fromSource) return `import(${host})`
  // The ESM build of tsx's API (require.resolve would give the CommonJS one): package.json's exports, by hand.
  const tsxRoot = path.dirname(createRequire(import.meta.url).resolve('tsx/package.json'))
  const tsx = JSON.stringify(pathToFileURL(path.join(tsxRoot, 'dist/esm/api/index.mjs')).href)
  return `import(${tsx}).then((tsx) => { tsx.register(); return import(${host}) })`
}

type Pending = { resolve: (value: unknown) => void; reject: (err: Error) => void }
type Op = Request extends infer R ? (R extends { op: infer O } ? O : never) : never
type Body<O extends Op> = Omit<Extract<Request, { op: O }>, 'op' | 'id'>

/**
 * Starts PGlite in a thread of its own (host.ts) and returns a handle shaped like PGlite's, for drizzle and for
 * the raw hot-path queries. Errors come back as errors with PostgreSQL's fields (`code`, `detail`, …).
 */
export async function startEmbeddedThread(opts: HostOptions): Promise<EmbeddedClient> {
  const worker = new Worker(hostEntry(), {
    eval: true,
    workerData: opts,
    ...(opts.loadDataDir ? { transferList: [opts.loadDataDir.buffer as ArrayBuffer] } : {}),
  })
  const pending = new Map<number, Pending>()
  const listeners = new Map<string, Set<(payload: string) => void>>()
  let nextId = 1
  let failure: Error | undefined

  // The thread keeps the process alive only while something waits on it, as an in-thread database would.
  const settle = () => {
    if (pending.size === 0) worker.unref()
  }

  const ready = new Promise<void>((resolve, reject) => {
    worker.on('message', (msg: Response) => {
      if ('ready' in msg) {
        if (msg.ready) resolve()
        else reject(fromWire(msg.error))
        return
      }
      if ('notify' in msg) {
        for (const fn of listeners.get(msg.notify) ?? []) fn(msg.payload)
        return
      }
      const p = pending.get(msg.id)
      if (!p) return
      pending.delete(msg.id)
      settle()
      if (msg.ok) p.resolve(msg.value)
      else p.reject(fromWire(msg.error as WireError))
    })
    const die = (err: Error) => {
      failure = err
      reject(err)
      for (const p of pending.values()) p.reject(err)
      pending.clear()
    }
    worker.on('error', die)
    worker.on('exit', (code) => die(new Error(`the embedded database thread exited (code ${code})`)))
  })
  await ready
  settle()

  function call<O extends Op>(op: O, body: Body<O>): Promise<unknown> {
    if (failure) return Promise.reject(failure)
    const id = nextId++
    return new Promise((resolve, reject) => {
      pending.set(id, { resolve, reject })
      worker.ref()
      worker.postMessage({ op, id, ...body } as Request)
    })
  }

  const querier = (tx: number | undefined): EmbeddedQuerier => ({
    query: (sql, params = [], o = {}) =>
      call('query', {
        sql,
        params,
        rowMode: o.rowMode,
        // drizzle's parsers all leave a type's text as it is; functions cannot cross threads, type ids can.
        rawTypes: Object.keys(o.parsers ?? {}).map(Number),
        tx,
      }) as Promise<QueryResult>,
  })

  return {
    ...querier(undefined),
    async transaction(fn) {
      const tx = (await call('begin', {})) as number
      let result: Awaited<ReturnType<typeof fn>>
      try {
        result = await fn(querier(tx))
      } catch (err) {
        await call('end', { tx, commit: false })
        throw err
      }
      await call('end', { tx, commit: true })
      return result
    },
    async listen(channel, fn) {
      let set = listeners.get(channel)
      if (!set) {
        set = new Set()
        listeners.set(channel, set)
        await call('listen', { channel })
      }
      set.add(fn)
      return async () => {
        const s = listeners.get(channel)
        s?.delete(fn)
        if (s?.size === 0) {
          listeners.delete(channel)
          if (!failure) await call('unlisten', { channel })
        }
      }
    },
    async dumpDataDir() {
      const bytes = (await call('dump', {})) as Uint8Array
      return new Blob([bytes])
    },
    async close() {
      if (failure) return
      await call('close', {})
      worker.removeAllListeners('exit')
      await worker.terminate()
    },
  }
}
