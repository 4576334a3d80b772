/**
 * A vendor's per-account request budget, as connectors use it. Here, not in connectors/, so the database-backed
 * one in store/ implements it without store/ importing connectors/ (which imports vault/, which imports store/).
 */
export interface RequestBudget {
  /**
   * Takes one request from `account`'s window of `limit` requests per `windowMs`. Resolves with 0 when the
   * request may go now, or the milliseconds to wait until the window has room (the caller surfaces it as a
   * Retry-After rather than sleeping).
   */
  take(account: string, limit: number, windowMs: number): Promise<number>
}
