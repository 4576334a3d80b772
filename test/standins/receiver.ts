import http from 'node:http'
import type { AddressInfo } from 'node:net'

/**
 * A webhook receiver on loopback that records every request and answers as told, per path:
 * `receiver.respond('/hook', { status: 500 })`, `{ hang: true }` (never answers), `{ delayMs }`, custom
 * headers and body. `receiver.url('/hook')` is `http://<host>:<port>/hook` with a `*.test` host the test
 * harness resolves to 127.0.0.1.
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
  #server: http.Server
  #answers = new Map<string, Answer[] | Answer>()
  port = 0

  constructor(readonly host = 'receiver.test') {
    this.#server = http.createServer((req, res) => {
      const chunks: Buffer[] = []
      req.on('data', (c: Buffer) => chunks.push(c))
      req.on('end', () => {
        const path = req.url ?? '/'
        this.received.push({
          method: req.method ?? '',
          path,
          headers: req.headers,
          body: Buffer.concat(chunks).toString(),
          at: Date.now(),
        })
        const queued = this.#answers.get(path.split('?')[0] as string)
        const answer: Answer = Array.isArray(queued)
          ? queued.length > 1
            ? (queued.shift() as Answer)
            : (queued[0] ?? {})
          : (queued ?? {})
        if (answer.hang) return
        const send = () => res.writeHead(answer.status ?? 200, answer.headers ?? {}).end(answer.body ?? 'ok')
        if (answer.delayMs) setTimeout(send, answer.delayMs)
        else send()
      })
    })
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve))
    this.port = (this.#server.address() as AddressInfo).port
    return this
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
    this.#server.closeAllConnections()
    await new Promise<void>((resolve) => this.#server.close(() => resolve()))
  }
}
