/**
 * Messages between Patchbay's threads and the thread that runs the embedded database (PGlite). Only
 * structured-clonable values cross: SQL text, parameters, rows, and errors flattened to their own properties.
 */

export type RowMode = 'array' | 'object'

export type Request =
  | {
      op: 'query'
      id: number
      sql: string
      params: unknown[]
      rowMode: RowMode | undefined
      /** Type OIDs whose values stay text (parsers are functions, which cannot cross; drizzle's are all identity). */
      rawTypes: number[]
      /** The open transaction it belongs to, if any. */
      tx: number | undefined
    }
  | { op: 'begin'; id: number }
  | { op: 'end'; id: number; tx: number; commit: boolean }
  | { op: 'listen'; id: number; channel: string }
  | { op: 'unlisten'; id: number; channel: string }
  | { op: 'dump'; id: number }
  | { op: 'close'; id: number }

export interface QueryResult {
  rows: unknown[]
  fields: { name: string; dataTypeID: number }[]
  affectedRows?: number
}

export interface WireError {
  name: string
  message: string
  /** The error's own primitive properties (PostgreSQL's `code`, `detail`, `constraint`, …). */
  props: Record<string, string | number | boolean>
}

export type Response =
  | { id: number; ok: true; value: unknown }
  | { id: number; ok: false; error: WireError }
  | { notify: string; payload: string }
  | { ready: true }
  | { ready: false; error: WireError }

export interface HostOptions {
  dataDir: string | undefined
  /** A data-directory tarball to start from. */
  loadDataDir: Uint8Array | undefined
  startParams: string[]
}

// Parameters and query options may carry credentials (encrypted or not); they never travel with an error.
const UNSAFE_PROPS = new Set(['params', 'queryOptions', 'stack'])

export function toWire(err: unknown): WireError {
  const e = err instanceof Error ? err : new Error(String(err))
  const props: WireError['props'] = {}
  for (const [k, v] of Object.entries(e)) {
    if (UNSAFE_PROPS.has(k)) continue
    if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') props[k] = v
  }
  return { name: e.name, message: e.message, props }
}

export function fromWire(w: WireError): Error {
  const err = new Error(w.message)
  err.name = w.name
  Object.assign(err, w.props)
  return err
}
