// Pure builders of the backup container the deploy runs beside the stack: its settings files
// (what backup.env holds; secrets are separate 0600 files, never environment or arguments) and its
// create options, and the one-off containers `ocean-ops backup` runs. Unit-tested; no Docker here.
import type Docker from 'dockerode'
import { DEFAULT_RETENTION } from '@ocean-ops/migrate'
import type { BackupTarget } from '../inventory.ts'
import { labels, specHash, type StackNames, type StackSettings } from './stack-spec.ts'

export const BACKUP_TOOL = ['node', '/app/packages/migrate/dist/backup.mjs']

export interface BackupNames {
  container: string
  cacheVolume: string
  settingsDir: string
  /** The monitoring stack's textfile volume, when it runs: the agent writes its metrics there. */
  textfileVolume?: string
}

export function backupNames(n: StackNames, stack: string, o: { textfileVolume?: string } = {}): BackupNames {
  return { container: `${stack}-backup`, cacheVolume: `${stack}-backup-cache`, settingsDir: `${n.configDir}/backup`, ...o }
}

/** backup.env: the repository, schedule and retention (S3 keys too, when S3: the file is 0600). */
export function backupEnv(b: BackupTarget, stack: string, n: StackNames, s3?: { accessKeyId: string; secretAccessKey: string }): string {
  const r = b.retention ?? DEFAULT_RETENTION
  const lines: Record<string, string> = {
    RESTIC_REPOSITORY: b.repository,
    OCEAN_BACKUP_HOST: stack,
    OCEAN_BACKUP_SQLITE_SECONDS: String(b.sqliteSeconds ?? 30),
    OCEAN_BACKUP_DUCKDB_SECONDS: String(b.duckdbSeconds ?? 900),
    OCEAN_BACKUP_KEEP: `${r.hourly},${r.daily},${r.monthly}`,
    OCEAN_API_URL: `http://${n.ocean}:8030`,
    ...(b.sftp ? { OCEAN_BACKUP_SFTP_PORT: String(b.sftp.port ?? 22) } : {}),
    ...(s3 ? { AWS_ACCESS_KEY_ID: s3.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.secretAccessKey } : {}),
  }
  return Object.entries(lines).map(([k, v]) => `${k}=${v}`).join('\n') + '\n'
}

/** The mounts every backup container has; `live` gives a one-off restore write access to the volumes. */
export function backupBinds(n: StackNames, b: BackupNames, o: { live?: boolean; scratch?: string } = {}): string[] {
  const ro = o.live ? '' : ':ro'
  return [
    `${n.oceanVolume}:/data${ro}`,
    `${n.redisVolume}:/redis${ro}`,
    `${b.settingsDir}:/run/backup:ro`,
    `${n.envFile}:/run/ocean/ocean.env:ro`,
    `${b.cacheVolume}:/var/cache/ocean-backup`,
    ...(o.scratch ? [`${o.scratch}:/restore`] : []),
    ...(b.textfileVolume && !o.scratch && !o.live ? [`${b.textfileVolume}:/textfile`] : []),
  ]
}

const ENV = ['OCEAN_ENV_FILE=/run/ocean/ocean.env', 'OCEAN_DATA_DIR=/data', 'OCEAN_REDIS_DIR=/redis', 'HOME=/var/cache/ocean-backup']

/** The backup container: the Ocean image running the backup agent, on the stack's network, nothing published. */
export function backupSpec(s: StackSettings, n: StackNames, b: BackupNames, settingsHash: string): Docker.ContainerCreateOptions {
  const spec: Docker.ContainerCreateOptions = {
    name: b.container,
    Image: s.oceanImage,
    Cmd: [...BACKUP_TOOL, 'agent'],
    Env: ENV,
    Labels: { [labels.stack]: s.stack, 'ocean-ops.role': 'backup' },
    // Healthy while the agent's loop runs: it writes its status after every round (and every 30 s while the repository is unreachable).
    Healthcheck: {
      Test: ['CMD', 'node', '-e', "const s=require('fs').statSync('/var/cache/ocean-backup/agent-status.json');process.exit(Date.now()-s.mtimeMs<300000?0:1)"],
      Interval: 5e9,
      Timeout: 3e9,
      Retries: 3,
      StartPeriod: 120e9,
    },
    HostConfig: {
      NetworkMode: n.network,
      Binds: backupBinds(n, b),
      RestartPolicy: { Name: 'unless-stopped' },
      Memory: 512 * 1024 * 1024,
      NanoCpus: 1e9,
      LogConfig: { Type: 'json-file', Config: { 'max-size': '10m', 'max-file': '3' } },
      PortBindings: {},
      CapDrop: ['ALL'],
      SecurityOpt: ['no-new-privileges'],
    },
  }
  spec.Labels![labels.spec] = specHash([spec, settingsHash])
  return spec
}

/** A one-off run of the backup tool (status, now, drill, restore, store); a live restore runs as root to give files back to their owners. */
export function backupToolSpec(s: StackSettings, n: StackNames, b: BackupNames, args: string[], o: { live?: boolean; scratch?: string; stdin?: boolean } = {}): Docker.ContainerCreateOptions {
  return {
    Image: s.oceanImage,
    Cmd: [...BACKUP_TOOL, ...args],
    Env: ENV,
    Labels: { [labels.stack]: s.stack, 'ocean-ops.role': 'backup-tool' },
    ...(o.live || o.scratch ? { User: '0' } : {}),
    ...(o.stdin ? { OpenStdin: true, StdinOnce: true, AttachStdin: true } : {}),
    HostConfig: {
      NetworkMode: n.network,
      Binds: backupBinds(n, b, o),
      CapDrop: ['ALL'],
      CapAdd: o.live || o.scratch ? ['CHOWN', 'DAC_OVERRIDE', 'FOWNER'] : [],
      SecurityOpt: ['no-new-privileges'],
    },
  }
}
