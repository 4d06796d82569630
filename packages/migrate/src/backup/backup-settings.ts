// The backup tool's settings, as the deploy writes them on the new host (mounted at /run/backup,
// owner-only): backup.env (repository, intervals, retention; S3 keys when S3), password, and for
// SFTP ssh_key and known_hosts. Read from files so no secret shows in `docker inspect`.
import fs from 'node:fs'
import path from 'node:path'
import { spawn } from 'node:child_process'
import { OpsError } from '@ocean-ops/common'
import { DEFAULT_RETENTION, describeResticFailure, restic, type ResticTarget, type Retention } from './restic-commands.ts'

export const SETTINGS_DIR = '/run/backup'
export const CACHE_DIR = '/var/cache/ocean-backup'

export interface BackupSettings {
  target: ResticTarget
  /** restic's --host: the stack name, so one repository can hold several stacks. */
  host: string
  sqliteSeconds: number
  duckdbSeconds: number
  retention: Retention
  apiUrl: string
  apiKey: string
  dataDir: string
  redisDir: string
  cacheDir: string
}

export function parseEnvFile(text: string): Record<string, string> {
  const out: Record<string, string> = {}
  for (const line of text.split('\n')) {
    const m = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line.trim())
    if (m) out[m[1]!] = m[2]!
  }
  return out
}

export function readSettings(env: NodeJS.ProcessEnv = process.env): BackupSettings {
  const dir = env.OCEAN_BACKUP_SETTINGS ?? SETTINGS_DIR
  const file = path.join(dir, 'backup.env')
  if (!fs.existsSync(file)) throw new OpsError('OPS_E_BACKUP', `${file} is missing: the backup is configured by \`ocean-ops deploy\` from the inventory's "backup" section`)
  const e = parseEnvFile(fs.readFileSync(file, 'utf8'))
  const oceanEnv = env.OCEAN_ENV_FILE && fs.existsSync(env.OCEAN_ENV_FILE) ? parseEnvFile(fs.readFileSync(env.OCEAN_ENV_FILE, 'utf8')) : {}
  const keep = (e.OCEAN_BACKUP_KEEP ?? '').split(',').map(Number)
  const cacheDir = env.OCEAN_BACKUP_CACHE ?? CACHE_DIR
  return {
    target: {
      repository: need(e, 'RESTIC_REPOSITORY', file),
      passwordFile: path.join(dir, 'password'),
      cacheDir: path.join(cacheDir, 'restic'),
      ...(e.RESTIC_REPOSITORY?.startsWith('sftp:') ? { sftp: { identityFile: path.join(dir, 'ssh_key'), knownHostsFile: path.join(dir, 'known_hosts'), port: Number(e.OCEAN_BACKUP_SFTP_PORT ?? 22) } } : {}),
      ...(e.AWS_ACCESS_KEY_ID ? { s3: { accessKeyId: e.AWS_ACCESS_KEY_ID, secretAccessKey: need(e, 'AWS_SECRET_ACCESS_KEY', file) } } : {}),
    },
    host: e.OCEAN_BACKUP_HOST ?? 'ocean',
    sqliteSeconds: Number(e.OCEAN_BACKUP_SQLITE_SECONDS ?? 30),
    duckdbSeconds: Number(e.OCEAN_BACKUP_DUCKDB_SECONDS ?? 900),
    retention: keep.length === 3 && keep.every((n) => Number.isInteger(n) && n >= 0) ? { hourly: keep[0]!, daily: keep[1]!, monthly: keep[2]! } : DEFAULT_RETENTION,
    apiUrl: e.OCEAN_API_URL ?? 'http://127.0.0.1:8030',
    apiKey: oceanEnv.OCEAN_API_KEY ?? env.OCEAN_API_KEY ?? '',
    dataDir: env.OCEAN_DATA_DIR ?? '/data',
    redisDir: env.OCEAN_REDIS_DIR ?? '/redis',
    cacheDir,
  }
}

function need(e: Record<string, string>, k: string, file: string): string {
  const v = e[k]
  if (!v) throw new OpsError('OPS_E_BACKUP', `${file} has no ${k}: run \`ocean-ops deploy\` again`)
  return v
}

export interface ResticRun {
  code: number
  stdout: string
  stderr: string
}

/** Runs restic; its output is collected (stdin piped in when given). Never throws on a non-zero exit. */
export function runRestic(t: ResticTarget, args: string[], stdin?: NodeJS.ReadableStream): Promise<ResticRun> {
  const cmd = restic(t, args)
  return new Promise((resolve, reject) => {
    const child = spawn(cmd.argv[0]!, cmd.argv.slice(1), { env: { ...process.env, ...cmd.env, HOME: process.env.HOME ?? '/tmp' }, stdio: [stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout!.setEncoding('utf8').on('data', (c: string) => (stdout += c))
    child.stderr!.setEncoding('utf8').on('data', (c: string) => (stderr += c))
    child.on('error', (e) => reject(new OpsError('OPS_E_BACKUP', `restic could not be started (${e.message}): the image needs the restic package`)))
    child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }))
    if (stdin && child.stdin) stdin.pipe(child.stdin)
  })
}

/** Runs restic and fails with what its stderr says (wrong password, unreachable, corrupt ...). */
export async function mustRestic(t: ResticTarget, args: string[], what: string, stdin?: NodeJS.ReadableStream): Promise<string> {
  const r = await runRestic(t, args, stdin)
  if (r.code !== 0) {
    const f = describeResticFailure(r.stderr)
    throw new OpsError(f.kind === 'wrong-password' ? 'OPS_E_BACKUP_PASSWORD' : f.kind === 'corrupt' ? 'OPS_E_BACKUP_CORRUPT' : 'OPS_E_BACKUP', `${what}: ${f.message}`)
  }
  return r.stdout
}

/** Creates the repository unless it exists; a wrong password or an unreachable storage fails. */
export async function ensureRepository(t: ResticTarget): Promise<'created' | 'exists'> {
  const r = await runRestic(t, ['cat', 'config'])
  if (r.code === 0) return 'exists'
  const f = describeResticFailure(r.stderr)
  if (f.kind !== 'no-repository') throw new OpsError(f.kind === 'wrong-password' ? 'OPS_E_BACKUP_PASSWORD' : 'OPS_E_BACKUP', `the backup repository ${t.repository}: ${f.message}`)
  await mustRestic(t, ['init'], `creating the repository ${t.repository}`)
  return 'created'
}
