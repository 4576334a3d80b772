export * from './audit.ts'
export * from './tenancy.ts'
