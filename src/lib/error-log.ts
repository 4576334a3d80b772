/**
 * What of an error may be logged. A thrown error routinely carries the request's values: a database error's
 * `detail`, `where` and parameters (drizzle puts them in its message, "params: …"), a URL error's `input`, a
 * JSON error's quoted excerpt. A log line gets the class, a message with quoted text and parameters removed,
 * the SQLSTATE and schema names of a database error, and the stack frames — never the values.
 */

export interface LoggedError {
  type: string
  message: string
  code?: string
  constraint?: string
  table?: string
  column?: string
  stack?: string
  cause?: LoggedError
}

const MAX_MESSAGE = 500

/** The message without what it quotes: input values are quoted ("…", '…', `…`) in nearly every library's messages. */
export function safeMessage(message: string): string {
  const cut = message.search(/\nparams:/)
  const kept = cut >= 0 ? message.slice(0, cut) : message
  // A failed query's SQL quotes identifiers with "…", which are worth keeping; its values are $n parameters,
  // and only a literal written into the SQL ('…') could be one.
  const quoted = kept.startsWith('Failed query:')
    ? /'(?:[^'\\]|\\.)*'/g
    : /"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'|`[^`\n]*`/g
  const unquoted = kept.replace(quoted, (q) => `${q[0]}…${q[0]}`)
  return unquoted.length > MAX_MESSAGE ? `${unquoted.slice(0, MAX_MESSAGE)}…` : unquoted
}

function frames(stack: unknown): string | undefined {
  if (typeof stack !== 'string') return undefined
  const lines = stack.split('\n').filter((l) => /^\s+at /.test(l))
  return lines.length ? lines.join('\n') : undefined
}

function schemaName(v: unknown): string | undefined {
  return typeof v === 'string' && /^[\w.$]{1,128}$/.test(v) ? v : undefined
}

export function describeError(err: unknown, depth = 0): LoggedError {
  if (!(err instanceof Error)) return { type: typeof err, message: '(a thrown non-error value)' }
  const e = err as Error & Record<string, unknown>
  const out: LoggedError = { type: e.constructor?.name || e.name || 'Error', message: safeMessage(e.message) }
  if (typeof e.code === 'string' && /^[\w.-]{1,64}$/.test(e.code)) out.code = e.code
  for (const k of ['constraint', 'table', 'column'] as const) {
    const v = schemaName(e[k])
    if (v) out[k] = v
  }
  const stack = depth === 0 ? frames(e.stack) : undefined
  if (stack) out.stack = stack
  if (e.cause !== undefined && depth < 3) out.cause = describeError(e.cause, depth + 1)
  return out
}

/** The SQLSTATE of a database error anywhere in the cause chain (drizzle wraps the driver's error). */
export function sqlState(err: unknown): string | undefined {
  let e: unknown = err
  for (let i = 0; i < 4 && e instanceof Error; i++) {
    const code = (e as Error & { code?: unknown }).code
    if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) && 'severity' in e) return code
    e = e.cause
  }
  return undefined
}
