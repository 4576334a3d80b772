import { type ChildProcess, fork } from 'node:child_process'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import {
  type CheckReport,
  type EndpointSpec,
  type LatencyStats,
  type PhaseReport,
  type Progress,
  type Reply,
  type Request,
  revive,
  type SentRange,
} from './protocol.ts'

const ENTRY = path.join(path.dirname(fileURLToPath(import.meta.url)), 'receiver-process.ts')

/** The bench's handle on the receiver process. */
export class Receiver {
  readonly #child: ChildProcess
  readonly #waiting = new Map<number, { resolve: (r: Reply) => void; reject: (e: Error) => void }>()
  #next = 0

  private constructor(child: ChildProcess) {
    this.#child = child
    child.on('message', (msg: { id: number; reply?: Reply; error?: string }) => {
      const w = this.#waiting.get(msg.id)
      if (!w) return
      this.#waiting.delete(msg.id)
      if (msg.reply) w.resolve(msg.reply)
      else w.reject(new Error(`receiver: ${msg.error}`))
    })
    child.on('exit', (code) => {
      for (const w of this.#waiting.values()) w.reject(new Error(`receiver exited (${code})`))
      this.#waiting.clear()
    })
  }

  static start(): Receiver {
    return new Receiver(
      fork(ENTRY, [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }),
    )
  }

  get pid(): number {
    return this.#child.pid as number
  }

  #call<T extends Reply['op']>(req: Request & { op: T }): Promise<Extract<Reply, { op: T }>> {
    const id = this.#next++
    return new Promise((resolve, reject) => {
      this.#waiting.set(id, { resolve: resolve as (r: Reply) => void, reject })
      this.#child.send({ id, req })
    })
  }

  /** Adds endpoints; returns their URLs (one port per endpoint unless `sharedOrigin`). */
  async add(endpoints: EndpointSpec[], sharedOrigin: boolean): Promise<string[]> {
    return (await this.#call({ op: 'add', endpoints, sharedOrigin })).urls
  }

  /** Starts a new phase: arrival and latency samples and request counters start from zero. */
  async phase(): Promise<void> {
    await this.#call({ op: 'phase' })
  }

  async progress(): Promise<Progress> {
    return (await this.#call({ op: 'progress' })).progress
  }

  /** Latency and count of healthy deliveries since the last call (soak intervals). */
  async interval(): Promise<{ latency: LatencyStats; delivered: number }> {
    const r = await this.#call({ op: 'interval' })
    return { latency: revive(r.latency), delivered: r.delivered }
  }

  async report(o: {
    windowFrom: number
    windowTo: number
    sentFrom: number
    sentTo: number
    expected: number
  }): Promise<PhaseReport> {
    const report = (await this.#call({ op: 'report', ...o })).report
    return { ...report, latency: revive(report.latency) }
  }

  async check(ranges: SentRange[]): Promise<CheckReport> {
    return (await this.#call({ op: 'check', ranges })).check
  }

  async stop(): Promise<void> {
    if (this.#child.exitCode !== null) return
    const exited = new Promise((r) => this.#child.once('exit', r))
    this.#child.disconnect()
    await exited
  }
}
