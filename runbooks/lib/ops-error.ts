// The one error type of the runbooks: a stable code, a message that says what to do next,
// and an exit code for the CLI.
export type OpsErrorCode =
  | 'OPS_E_USAGE'
  | 'OPS_E_NOT_IMPLEMENTED'
  | 'OPS_E_CONFIG'

export class OpsError extends Error {
  override readonly name = 'OpsError'
  constructor(
    readonly code: OpsErrorCode,
    message: string,
    readonly exitCode = 1,
  ) {
    super(message)
  }
}

export function isOpsError(e: unknown): e is OpsError {
  return e instanceof OpsError
}
