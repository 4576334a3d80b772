/**
 * A long-running part of a Patchbay process: the HTTP API, the delivery workers, the scheduler. Here, not in
 * server.ts, so the engine and the job runner can implement it without importing the process wiring above them
 * (which imports the API and, through it, every feature).
 */
export interface Service {
  readonly name: string
  start(): Promise<void>
  /** Stops taking new work and finishes what is under way. */
  stop(): Promise<void>
}
