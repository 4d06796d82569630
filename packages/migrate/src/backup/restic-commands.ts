// restic's command lines for the backup tool (pure: unit-tested without restic). The repository,
// its password file and, for SFTP, an ssh command with the pinned known_hosts come from the backup
// settings; nothing secret is ever an argument (the password is a file, S3 keys are environment).
export interface ResticTarget {
  repository: string
  passwordFile: string
  cacheDir: string
  /** SFTP: the private key and the known_hosts file that pins the storage's host key. */
  sftp?: { identityFile: string; knownHostsFile: string; port: number }
  /** S3: the access key pair (environment of the restic process only). */
  s3?: { accessKeyId: string; secretAccessKey: string }
}

export interface ResticCommand {
  argv: string[]
  env: Record<string, string>
}

export interface Retention {
  hourly: number
  daily: number
  monthly: number
}

export const DEFAULT_RETENTION: Retention = { hourly: 48, daily: 30, monthly: 12 }

/** `sftp:user@host:/path` -> its parts (the inventory's schema has checked the form). */
export function sftpParts(repository: string): { user: string; host: string; path: string } {
  const m = /^sftp:([^:@/]+)@([^:/]+):(\/.+)$/.exec(repository)
  if (!m) throw new Error(`not an sftp repository: ${repository}`)
  return { user: m[1]!, host: m[2]!, path: m[3]! }
}

/** Builds `restic <args>` for a target, with the global options every call needs. */
export function restic(t: ResticTarget, args: string[]): ResticCommand {
  const env: Record<string, string> = { RESTIC_REPOSITORY: t.repository, RESTIC_PASSWORD_FILE: t.passwordFile, RESTIC_CACHE_DIR: t.cacheDir }
  const global: string[] = []
  if (t.repository.startsWith('sftp:')) {
    if (!t.sftp) throw new Error('an sftp repository needs the sftp key and known_hosts')
    const p = sftpParts(t.repository)
    // Host key checking stays on: the storage's key is pinned in the known_hosts file.
    const ssh = ['ssh', '-F', '/dev/null', '-i', t.sftp.identityFile, '-o', `UserKnownHostsFile=${t.sftp.knownHostsFile}`, '-o', 'StrictHostKeyChecking=yes',
      '-o', 'BatchMode=yes', '-o', 'IdentitiesOnly=yes', '-o', 'ConnectTimeout=15', '-o', 'ServerAliveInterval=15', '-p', String(t.sftp.port), `${p.user}@${p.host}`, '-s', 'sftp']
    global.push('-o', `sftp.command=${ssh.join(' ')}`)
  }
  if (t.s3) {
    env.AWS_ACCESS_KEY_ID = t.s3.accessKeyId
    env.AWS_SECRET_ACCESS_KEY = t.s3.secretAccessKey
  }
  return { argv: ['restic', ...global, ...args], env }
}

export const backupArgs = (host: string, tags: string[], paths: string[]): string[] => ['backup', '--json', '--host', host, ...tags.flatMap((t) => ['--tag', t]), ...paths]

export const stdinBackupArgs = (host: string, tags: string[], filename: string): string[] => ['backup', '--json', '--host', host, ...tags.flatMap((t) => ['--tag', t]), '--stdin', '--stdin-filename', filename]

export const snapshotsArgs = (host: string): string[] => ['snapshots', '--json', '--host', host]

export const restoreArgs = (id: string, target: string, include: string[] = []): string[] => ['restore', id, '--target', target, ...include.flatMap((i) => ['--include', i])]

/** Retention applied by restic: each group of host + tags keeps its own hourly/daily/monthly snapshots. */
export const forgetArgs = (host: string, r: Retention): string[] => ['forget', '--host', host, '--group-by', 'host,tags', '--keep-hourly', String(r.hourly), '--keep-daily', String(r.daily), '--keep-monthly', String(r.monthly), '--prune']

export const checkArgs = (readDataSubset?: string): string[] => ['check', ...(readDataSubset ? [`--read-data-subset=${readDataSubset}`] : [])]

/** What restic's stderr says went wrong, as the operator should read it. */
export function describeResticFailure(stderr: string): { kind: 'no-repository' | 'wrong-password' | 'unreachable' | 'corrupt' | 'other'; message: string } {
  const s = stderr.trim()
  const last = s.split('\n').filter(Boolean).slice(-3).join(' | ')
  if (/wrong password|no key found/i.test(s)) return { kind: 'wrong-password', message: 'restic refused the password: the backup password does not open this repository' }
  if (/Is there a repository at the following location|repository does not exist|config: file does not exist|unable to open config file/i.test(s)) return { kind: 'no-repository', message: `no repository there yet (${last})` }
  if (/Host key verification failed|Connection refused|Could not resolve|connection closed|ssh command exited|timed out/i.test(s)) return { kind: 'unreachable', message: `the backup storage did not answer: ${last}` }
  if (/ciphertext verification failed|checksum|invalid data|pack .* contains|unexpected|errors were found|corrupt/i.test(s)) return { kind: 'corrupt', message: `the repository's data does not verify: ${last}` }
  return { kind: 'other', message: last || 'restic failed without a message' }
}
