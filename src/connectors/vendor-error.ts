import { OutboundError, type OutboundFailure, UnsafeUrlError } from '../net/http-client.ts'

/**
 * A vendor answered with an error, or could not be reached. The message is the vendor's own text (with every
 * credential value removed), prefixed with who said it, so users see exactly what the vendor said.
 */
/**
 * What failed when no vendor answered: the name did not resolve, the connection or TLS handshake failed, the
 * request timed out, Patchbay refused the URL (`blocked`: not HTTPS, or an address outside the allowed ranges),
 * or the answer was not HTTP (`protocol`). Reported by every test route beside `vendorStatus`.
 */
export type TransportFailure = 'dns' | 'connect' | 'tls' | 'timeout' | 'blocked' | 'protocol'

const OUTBOUND_FAILURES: Record<OutboundFailure, TransportFailure> = {
  dns: 'dns',
  connection: 'connect',
  tls: 'tls',
  timeout: 'timeout',
  aborted: 'timeout',
  protocol: 'protocol',
}

/** The failure kind of an error of the HTTP client, if it is one. */
export function transportFailureOf(err: unknown): TransportFailure | undefined {
  if (err instanceof UnsafeUrlError) return err.unresolved ? 'dns' : 'blocked'
  if (err instanceof OutboundError) return OUTBOUND_FAILURES[err.kind]
  return undefined
}

/** Marks a VendorError built from an HTTP client error with what failed, and returns it (for `throw`). */
export function fromTransport<E extends VendorError>(error: E, cause: unknown): E {
  error.failure = transportFailureOf(cause)
  return error
}

/** A failed verification from a VendorError: the vendor's words, and its status or what failed instead. */
export function failedVerify(err: VendorError): {
  ok: false
  error: string
  status?: number
  failure?: TransportFailure
} {
  return {
    ok: false,
    error: err.message,
    ...(err.status !== undefined ? { status: err.status } : {}),
    ...(err.failure !== undefined ? { failure: err.failure } : {}),
  }
}

export class VendorError extends Error {
  override name = 'VendorError'
  /** Set when no vendor answered (then `status` is undefined): what failed instead. */
  failure: TransportFailure | undefined
  constructor(
    message: string,
    readonly status?: number,
    /** From the vendor's Retry-After, for 429 and 503 answers. */
    readonly retryAfterMs?: number,
  ) {
    super(message)
  }

  /** Worth trying again later: rate limits, timeouts, outages. Authentication and validation errors are not. */
  get retryable(): boolean {
    if (this.failure === 'blocked') return false
    return (
      this.status === undefined ||
      this.status === 408 ||
      this.status === 425 ||
      this.status === 429 ||
      this.status >= 500
    )
  }
}

/**
 * A vendor's refusal of a write that no retry will change, whatever its HTTP status says (Autotask refuses
 * business rules with 500 and an `errors` list): an action fails at once with the vendor's words.
 */
export class VendorRefusal extends VendorError {
  override name = 'VendorRefusal'
  readonly permanent = true
}
