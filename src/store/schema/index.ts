export * from './audit.ts'
export * from './integrations.ts'
export * from './jobs.ts'
export * from './tenancy.ts'
