/**
 * A vendor answered with an error, or could not be reached. The message is the vendor's own text (with every
 * credential value removed), prefixed with who said it, so users see exactly what the vendor said.
 */
export class VendorError extends Error {
  override name = 'VendorError'
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
