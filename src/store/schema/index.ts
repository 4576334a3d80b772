export * from './audit.ts'
export * from './delivery.ts'
export * from './tenancy.ts'
