/** Why an onboarding step was refused; the routes choose the HTTP status (http/error-status.ts). */
export class OnboardingError extends Error {
  override name = 'OnboardingError'
  constructor(
    readonly kind: 'invalid' | 'not_found' | 'vendor',
    message: string,
    readonly field?: string,
    readonly status?: number,
  ) {
    super(message)
  }
}
