// The one error type of the runbooks: a stable code, a message that says what to do next,
// and an exit code for the CLI.
export type OpsErrorCode =
  | 'OPS_E_USAGE'
  | 'OPS_E_NOT_IMPLEMENTED'
  | 'OPS_E_CONFIG'
  | 'OPS_E_PULUMI'
  | 'OPS_E_IMAGE'
  | 'OPS_E_REMOTE'
  | 'OPS_E_TIMEOUT'
  | 'OPS_E_HOST_KEY'
  | 'OPS_E_SSH_AUTH'
  | 'OPS_E_SSH_CONNECT'
  | 'OPS_E_LOCKED'
  | 'OPS_E_CONFIRM'
  | 'OPS_E_INVENTORY'
  | 'OPS_E_SECRET'
  | 'OPS_E_DEPLOY'
  | 'OPS_E_VERIFY'
  | 'OPS_E_STATUS'
  | 'OPS_E_HETZNER'
  | 'OPS_E_PRECONDITION'
  | 'OPS_E_BACKUP'
  | 'OPS_E_BACKUP_PASSWORD'
  | 'OPS_E_BACKUP_CORRUPT'
  | 'OPS_E_BACKUP_STALE'
  | 'OPS_E_RESPAWN'
  | 'OPS_E_SOURCE'
  | 'OPS_E_TARGET'
  | 'OPS_E_MIGRATE_MAPPING'
  | 'OPS_E_MIGRATE_TYPE'
  | 'OPS_E_MIGRATE_CONFLICT'
  | 'OPS_E_MIGRATE_STATE'
  | 'OPS_E_MIGRATE_MISMATCH'
  | 'OPS_E_LAB'
  | 'OPS_E_BUFFER'
  | 'OPS_E_BUFFER_UNACCOUNTED'

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
