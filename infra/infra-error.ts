// The one error type of the Pulumi program. It extends RunError so `pulumi up` prints only the
// message (no stack trace), and it carries a stable code like the runbooks' OpsError.
import * as pulumi from '@pulumi/pulumi'

export type InfraErrorCode =
  | 'OPS_E_INFRA_CONFIG'
  | 'OPS_E_INFRA_SERVER_TYPE'

export class InfraError extends pulumi.RunError {
  override readonly name = 'InfraError'
  constructor(
    readonly code: InfraErrorCode,
    message: string,
  ) {
    super(`${code}: ${message}`)
  }
}

export function isInfraError(e: unknown): e is InfraError {
  return e instanceof InfraError
}
