import { createHash } from 'node:crypto'
import fs from 'node:fs'
import net from 'node:net'
import path from 'node:path'

export class DataDirInUseError extends Error {}

/**
 * Keeps a second Patchbay process off one DATA_DIR, with a lock the operating system releases when its holder
 * dies, however it dies: a listening Unix socket. A pid file is not such a lock: right after a `kill -9` the
 * killed process may not be reaped yet and looks alive, and a recycled pid looks alive for ever. A listening
 * socket is closed by the kernel as part of the process's exit, before it becomes a zombie; Node opens it
 * close-on-exec, so the PostgreSQL server Patchbay starts does not inherit (and keep) it.
 *
 * On Linux the socket is abstract (named after the directory's real path, no file, no path-length limit); a
 * second bind fails with EADDRINUSE while the holder lives. Elsewhere it is a file in DATA_DIR, which outlives
 * its holder: a bind that fails with EADDRINUSE then tries to connect, and only a refused connection (nobody
 * listening) proves the file stale.
 *
 * The holder answers every connection with its pid, so the refusal can name it.
 */
export async function lockDataDir(dataDir: string): Promise<() => Promise<void>> {
  fs.mkdirSync(dataDir, { recursive: true })
  const real = fs.realpathSync(dataDir)
  const abstract = process.platform === 'linux'
  const address = abstract
    ? `\0patchbay-data-dir-${createHash('sha256').update(real).digest('hex').slice(0, 40)}`
    : path.join(real, 'patchbay.lock.sock')
  const server = net.createServer((socket) => socket.end(String(process.pid)))
  for (let attempt = 0; attempt < 2; attempt++) {
    const err = await new Promise<NodeJS.ErrnoException | undefined>((resolve) => {
      server.once('error', resolve)
      server.listen({ path: address, exclusive: true }, () => {
        server.off('error', resolve)
        resolve(undefined)
      })
    })
    if (!err) {
      // Holding the lock must not keep a finished command (migrate, token create) running.
      server.unref()
      return () => new Promise<void>((resolve) => server.close(() => resolve()))
    }
    if (err.code !== 'EADDRINUSE') throw err
    const holder = await ask(address)
    if (holder === 'refused' && !abstract) {
      fs.rmSync(address, { force: true })
      continue
    }
    throw new DataDirInUseError(
      `DATA_DIR ${dataDir} is in use by another Patchbay process${typeof holder === 'number' ? ` (pid ${holder})` : ''}; ` +
        'the embedded database serves one process: stop that one first, or set DATABASE_URL to run several processes against a served PostgreSQL',
    )
  }
  throw new DataDirInUseError(`could not lock DATA_DIR ${dataDir}`)
}

function ask(address: string): Promise<number | 'refused' | 'unknown'> {
  return new Promise((resolve) => {
    let answer = ''
    const socket = net.connect({ path: address })
    socket.setTimeout(2000, () => socket.destroy())
    socket.on('data', (d) => {
      answer += d.toString()
    })
    socket.on('error', (e: NodeJS.ErrnoException) =>
      resolve(e.code === 'ECONNREFUSED' || e.code === 'ENOENT' ? 'refused' : 'unknown'),
    )
    socket.on('close', () => {
      const pid = Number.parseInt(answer, 10)
      resolve(Number.isInteger(pid) ? pid : 'unknown')
    })
  })
}
