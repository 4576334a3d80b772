/** A `patchbay migrate-embedded` that cannot run; its own module, so the CLI need not load PGlite's copier to catch it. */
export class MigrateEmbeddedError extends Error {}
