/**
 * The embedded database's own thread. PGlite runs PostgreSQL synchronously in the thread that calls it; here it
 * does so beside, not inside, the thread that serves HTTP and sends deliveries, so a long statement (a batch
 * ingest, a VACUUM, a checkpoint) no longer stops every request and delivery while it runs, and the process can
 * use a second core. Requests arrive as messages (see protocol.ts) and are answered in the order PGlite
 * finishes them; PGlite's own lock still runs one statement or transaction at a time.
 */
import { parentPort, workerData } from 'node:worker_threads'
import { PGlite, type Transaction } from '@electric-sql/pglite'
import { type HostOptions, type Request, type Response, toWire } from './protocol.ts'

class Rollback extends Error {}

const port = parentPort
if (!port) throw new Error('the embedded database host runs as a worker thread')
const opts = workerData as HostOptions

function send(msg: Response): void {
  port?.postMessage(msg)
}

const identity = (value: string) => value

async function main(): Promise<void> {
  let client: PGlite
  try {
    client = await PGlite.create({
      startParams: opts.startParams,
      ...(opts.dataDir ? { dataDir: opts.dataDir } : {}),
      ...(opts.loadDataDir ? { loadDataDir: new Blob([opts.loadDataDir]) } : {}),
    })
  } catch (err) {
    send({ ready: false, error: toWire(err) })
    return
  }

  let nextTx = 1
  const open = new Map<number, { tx: Transaction; finish: (commit: boolean) => void; done: Promise<void> }>()
  const unlisteners = new Map<string, () => Promise<void>>()

  async function handle(msg: Request): Promise<unknown> {
    switch (msg.op) {
      case 'query': {
        const target = msg.tx === undefined ? client : open.get(msg.tx)?.tx
        if (!target) throw new Error(`transaction ${msg.tx} is not open`)
        const parsers = msg.rawTypes.length
          ? Object.fromEntries(msg.rawTypes.map((t) => [t, identity]))
          : undefined
        const res = await target.query(msg.sql, msg.params, {
          ...(msg.rowMode ? { rowMode: msg.rowMode } : {}),
          ...(parsers ? { parsers } : {}),
        })
        return {
          rows: res.rows,
          fields: res.fields.map((f) => ({ name: f.name, dataTypeID: f.dataTypeID })),
          ...(res.affectedRows === undefined ? {} : { affectedRows: res.affectedRows }),
        }
      }
      case 'begin': {
        const id = nextTx++
        // Resolves once PGlite has begun the transaction (and holds its lock); the caller's queries follow.
        return await new Promise<number>((began, failed) => {
          let started = false
          const done = client
            .transaction(
              (tx) =>
                new Promise<void>((resolve, reject) => {
                  started = true
                  open.set(id, {
                    tx,
                    finish: (commit) => (commit ? resolve() : reject(new Rollback())),
                    done,
                  })
                  began(id)
                }),
            )
            .catch((err: unknown) => {
              if (!started) failed(err)
              throw err
            })
          // Settled by 'end'; until then an unobserved rejection must not count as unhandled.
          done.catch(() => undefined)
        })
      }
      case 'end': {
        const t = open.get(msg.tx)
        if (!t) throw new Error(`transaction ${msg.tx} is not open`)
        open.delete(msg.tx)
        t.finish(msg.commit)
        try {
          await t.done
        } catch (err) {
          if (!(err instanceof Rollback)) throw err
        }
        return null
      }
      case 'listen': {
        if (!unlisteners.has(msg.channel)) {
          const channel = msg.channel
          unlisteners.set(
            channel,
            await client.listen(channel, (payload) => send({ notify: channel, payload })),
          )
        }
        return null
      }
      case 'unlisten': {
        const un = unlisteners.get(msg.channel)
        unlisteners.delete(msg.channel)
        await un?.()
        return null
      }
      case 'dump': {
        const blob = await client.dumpDataDir('none')
        return new Uint8Array(await blob.arrayBuffer())
      }
      case 'close': {
        await client.close()
        return null
      }
    }
  }

  port?.on('message', (msg: Request) => {
    handle(msg).then(
      (value) => send({ id: msg.id, ok: true, value }),
      (err: unknown) => send({ id: msg.id, ok: false, error: toWire(err) }),
    )
  })
  send({ ready: true })
}

void main()
