import type { TestProject } from 'vitest/node'
import { createTemplate, dropTemplate } from './databases.ts'

declare module 'vitest' {
  export interface ProvidedContext {
    dbTemplate: string
  }
}

export default async function setup(project: TestProject) {
  const template = await createTemplate()
  project.provide('dbTemplate', template)
  return () => dropTemplate(template)
}
