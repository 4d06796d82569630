// What a runbook can do on a machine: run a command (argv, never a string built by hand),
// stream its output, move files. Implemented over SSH (ssh-host.ts) and locally (local-host.ts).
import type { Readable, Writable } from 'node:stream'

export interface ExecOptions {
  /** Run as root: `sudo -n` for a non-root SSH user. */
  sudo?: boolean
  /** Fed to the command's stdin (a string, bytes or a stream such as `docker save`). */
  stdin?: string | Buffer | Readable
  /** Stream stdout here instead of collecting it (large downloads). */
  stdout?: Writable
  /** Called with each line of output as it arrives (progress on long steps). */
  onLine?: (line: string, stream: 'stdout' | 'stderr') => void
  /** Return non-zero exits instead of throwing. */
  allowFail?: boolean
  timeoutMs?: number
  /** Words to hide in error messages (passwords passed as arguments). */
  secrets?: string[]
}

export interface ExecResult {
  code: number
  stdout: string
  stderr: string
}

export interface Host {
  /** A label for messages: `ops@203.0.113.4:22` or `local`. */
  readonly name: string
  /** Whether the user is root already (no sudo needed). */
  readonly isRoot: boolean
  exec(argv: readonly string[], opts?: ExecOptions): Promise<ExecResult>
  readFile(path: string, opts?: { sudo?: boolean }): Promise<Buffer>
  /** Atomic write (temp file + rename) with the given mode, never world-readable in between. */
  writeFile(path: string, data: string | Buffer | Readable, opts?: { mode?: number; owner?: string; sudo?: boolean }): Promise<void>
  upload(localPath: string, remotePath: string, opts?: { mode?: number; owner?: string; sudo?: boolean }): Promise<void>
  download(remotePath: string, localPath: string, opts?: { sudo?: boolean }): Promise<void>
  close(): Promise<void>
}
