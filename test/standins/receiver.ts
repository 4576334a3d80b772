import type http from 'node:http'
import { type LoopbackServer, listenLoopback, type WireReply } from './standin.ts'

/**
 * A webhook receiver on loopback that records every request and answers as told, per path:
 * `receiver.respond('/hook', { status: 500 })`, `{ hang: true }` (never answers), `{ delayMs }`, custom
 * headers and body. `receiver.url('/hook')` is `http://<host>:<port>/hook` with a `*.test` host the test
 * harness resolves to 127.0.0.1. It runs on the stand-ins' loopback server (standin.ts).
 */
export interface Received {
  method: string
  path: string
  headers: http.IncomingHttpHeaders
  body: string
  at: number
}

export interface Answer {
  status?: number
  headers?: Record<string, string>
  body?: string
  hang?: boolean
  delayMs?: number
}

export class Receiver {
  readonly received: Received[] = []
  #server: LoopbackServer | undefined
  #answers = new Map<string, Answer[] | Answer>()
  port = 0

  constructor(readonly host = 'receiver.test') {}

  async start(): Promise<this> {
    this.#server = await listenLoopback(({ req, raw }) => this.#answer(req, raw))
    this.port = this.#server.port
    return this
  }

  #answer(req: http.IncomingMessage, raw: string): WireReply | undefined | Promise<WireReply> {
    const path = req.url ?? '/'
    this.received.push({
      method: req.method ?? '',
      path,
      headers: req.headers,
      body: raw,
      at: Date.now(),
    })
    const queued = this.#answers.get(path.split('?')[0] as string)
    const answer: Answer = Array.isArray(queued)
      ? queued.length > 1
        ? (queued.shift() as Answer)
        : (queued[0] ?? {})
      : (queued ?? {})
    if (answer.hang) return undefined
    const reply: WireReply = {
      status: answer.status ?? 200,
      headers: answer.headers ?? {},
      body: answer.body ?? 'ok',
    }
    const delayMs = answer.delayMs
    if (!delayMs) return reply
    return new Promise((resolve) => setTimeout(() => resolve(reply), delayMs))
  }

  url(path = '/hook'): string {
    return `http://${this.host}:${this.port}${path}`
  }

  /** Answers for a path: one answer for every request, or a list used in order (the last one repeats). */
  respond(path: string, answer: Answer | Answer[]): void {
    this.#answers.set(path, Array.isArray(answer) ? [...answer] : answer)
  }

  at(path: string): Received[] {
    return this.received.filter((r) => r.path.split('?')[0] === path)
  }

  async stop(): Promise<void> {
    await this.#server?.close()
  }
}
