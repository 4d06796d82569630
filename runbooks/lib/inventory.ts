// The inventory file every runbook reads: the hosts (address, SSH user, pinned host key), the
// floating IP, the Ocean settings and where each secret lives (`env:NAME` or `file:PATH`, never
// the secret itself). Validated with a JSON schema; relative paths are relative to the file.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { Ajv, type ErrorObject } from 'ajv'
import { OpsError } from '@ocean-ops/common'

/** Where a secret lives: `env:NAME` (an environment variable) or `file:PATH` (a 0600 file). */
export type SecretRef = string

export interface HostEntry {
  address: string
  port: number
  user: string
  /** known_hosts line(s) pinning the host key (the Pulumi output `knownHosts`). */
  knownHosts?: string
  /** Or a known_hosts file holding them. */
  knownHostsFile?: string
  /** Private key for SSH; without it the SSH agent is used. */
  identityFile?: string
  [extra: string]: unknown
}

export interface Inventory {
  schemaVersion: 1
  source?: Record<string, unknown>
  newHost: HostEntry
  oldHost?: HostEntry
  /** `url`: what clients use, when not http://<address>:<oceanPort> (the lab's local proxy). */
  floatingIp?: { id: number; address: string; url?: string }
  oceanPort: number
  ocean?: {
    apiKey?: SecretRef
    redisPassword?: SecretRef
    /** A prefix for container, network and volume names (default "ocean"). */
    stack?: string
    apiProcesses?: number
    cpus?: number
    memoryMb?: number
    redisMemoryMb?: number
    /** Address the API is published on, on the new host (default 0.0.0.0: the firewall decides). */
    publishAddress?: string
    /** The URL clients use (default http://<floating IP or new host>:<oceanPort>). */
    url?: string
  }
  hetzner?: { token: SecretRef; endpoint?: string }
  /** The old database as the old host sees it (postgres://USER@127.0.0.1:5432/DB), its password by reference. */
  oldDatabase?: { url: string; password?: SecretRef }
  /** Off-server backups of the new host's data (restic, run by the stack's backup container). */
  backup?: BackupTarget
  /** Prometheus, Alertmanager and exporters beside the stack (README "Monitoring"); on unless `enabled: false`. */
  monitoring?: MonitoringSection
  [extra: string]: unknown
}

export interface MonitoringSection {
  enabled?: boolean
  scrapeSeconds?: number
  retentionDays?: number
  retentionSizeGb?: number
  /** Where Alertmanager sends alerts; without a receiver, alerts show in `ocean-ops status` and Alertmanager only. */
  alerts?: {
    /** A webhook URL (it may carry a token, so it is a secret reference). */
    webhookUrl?: SecretRef
    email?: { to: string; from: string; smarthost: string; username?: string; password?: SecretRef }
    groupWaitSeconds?: number
    groupIntervalSeconds?: number
    repeatHours?: number
  }
}

/** Where backups go and how often (README "Backups and restore"). */
export interface BackupTarget {
  /** restic repository: `sftp:USER@HOST:/PATH` (a Storage Box) or `s3:https://ENDPOINT/BUCKET[/PATH]`. */
  repository: string
  /** The repository's encryption password. */
  password: SecretRef
  /** SFTP targets: the key the new host logs in with and the storage's pinned host key. */
  sftp?: { port?: number; identityFile: string; knownHosts?: string; knownHostsFile?: string }
  /** S3-compatible targets (Hetzner Object Storage): the access key pair. */
  s3?: { accessKeyId: SecretRef; secretAccessKey: SecretRef }
  /** Seconds between SQLite snapshots (with Redis's AOF); default 30, RPO 60 s. */
  sqliteSeconds?: number
  /** Seconds between DuckDB snapshots; default 900. */
  duckdbSeconds?: number
  /** Snapshots kept by `restic forget` (default 48 hourly, 30 daily, 12 monthly). */
  retention?: { hourly: number; daily: number; monthly: number }
}

const secretRef = { type: 'string', pattern: '^(env:[A-Za-z_][A-Za-z0-9_]*|file:.+)$' }
const host = {
  type: 'object',
  required: ['address', 'user'],
  properties: {
    address: { type: 'string', minLength: 1 },
    port: { type: 'integer', minimum: 1, maximum: 65535, default: 22 },
    user: { type: 'string', pattern: '^[a-z_][a-z0-9_-]*$' },
    knownHosts: { type: 'string', minLength: 10 },
    knownHostsFile: { type: 'string', minLength: 1 },
    identityFile: { type: 'string', minLength: 1 },
  },
  anyOf: [{ required: ['knownHosts'] }, { required: ['knownHostsFile'] }],
}
const schema = {
  type: 'object',
  required: ['schemaVersion', 'newHost'],
  properties: {
    schemaVersion: { const: 1 },
    newHost: host,
    oldHost: host,
    floatingIp: { type: 'object', required: ['id', 'address'], properties: { id: { type: 'integer' }, address: { type: 'string' }, url: { type: 'string', pattern: '^https?://' } } },
    oceanPort: { type: 'integer', minimum: 1, maximum: 65535, default: 8030 },
    ocean: {
      type: 'object',
      additionalProperties: false,
      properties: {
        apiKey: secretRef,
        redisPassword: secretRef,
        stack: { type: 'string', pattern: '^[a-z][a-z0-9-]{0,30}$' },
        apiProcesses: { type: 'integer', minimum: 0, maximum: 64 },
        cpus: { type: 'number', exclusiveMinimum: 0, maximum: 64 },
        memoryMb: { type: 'integer', minimum: 128 },
        redisMemoryMb: { type: 'integer', minimum: 32 },
        publishAddress: { type: 'string' },
        url: { type: 'string', pattern: '^https?://' },
      },
    },
    oldDatabase: {
      type: 'object',
      required: ['url'],
      additionalProperties: false,
      properties: { url: { type: 'string', pattern: '^(postgres|postgresql|mysql|mariadb)://[^:@/]+@[^/]+/[^/?]+$' }, password: secretRef },
    },
    backup: {
      type: 'object',
      required: ['repository', 'password'],
      additionalProperties: false,
      properties: {
        repository: { type: 'string', pattern: '^(sftp:[^:@/]+@[^:/]+:/.+|s3:https?://.+)$' },
        password: secretRef,
        sftp: {
          type: 'object',
          required: ['identityFile'],
          additionalProperties: false,
          properties: { port: { type: 'integer', minimum: 1, maximum: 65535 }, identityFile: { type: 'string', minLength: 1 }, knownHosts: { type: 'string', minLength: 10 }, knownHostsFile: { type: 'string', minLength: 1 } },
          anyOf: [{ required: ['knownHosts'] }, { required: ['knownHostsFile'] }],
        },
        s3: { type: 'object', required: ['accessKeyId', 'secretAccessKey'], additionalProperties: false, properties: { accessKeyId: secretRef, secretAccessKey: secretRef } },
        sqliteSeconds: { type: 'integer', minimum: 5, maximum: 3600 },
        duckdbSeconds: { type: 'integer', minimum: 5, maximum: 86400 },
        retention: {
          type: 'object',
          required: ['hourly', 'daily', 'monthly'],
          additionalProperties: false,
          properties: { hourly: { type: 'integer', minimum: 1 }, daily: { type: 'integer', minimum: 1 }, monthly: { type: 'integer', minimum: 0 } },
        },
      },
      if: { properties: { repository: { pattern: '^sftp:' } } },
      then: { required: ['sftp'] },
      else: { required: ['s3'] },
    },
    monitoring: {
      type: 'object',
      additionalProperties: false,
      properties: {
        enabled: { type: 'boolean' },
        scrapeSeconds: { type: 'integer', minimum: 1, maximum: 300 },
        retentionDays: { type: 'integer', minimum: 1, maximum: 3650 },
        retentionSizeGb: { type: 'number', exclusiveMinimum: 0 },
        alerts: {
          type: 'object',
          additionalProperties: false,
          properties: {
            webhookUrl: secretRef,
            email: {
              type: 'object',
              required: ['to', 'from', 'smarthost'],
              additionalProperties: false,
              properties: { to: { type: 'string', minLength: 3 }, from: { type: 'string', minLength: 3 }, smarthost: { type: 'string', pattern: '^[^:/]+:[0-9]+$' }, username: { type: 'string' }, password: secretRef },
            },
            groupWaitSeconds: { type: 'integer', minimum: 0, maximum: 3600 },
            groupIntervalSeconds: { type: 'integer', minimum: 1, maximum: 86400 },
            repeatHours: { type: 'integer', minimum: 1, maximum: 720 },
          },
        },
      },
    },
    hetzner: { type: 'object', required: ['token'], properties: { token: secretRef, endpoint: { type: 'string', pattern: '^https?://' } } },
  },
}

const validate = new Ajv({ useDefaults: true, allErrors: true, strict: false }).compile<Inventory>(schema)

function describe(errors: ErrorObject[]): string {
  return errors
    .filter((e) => !(e.keyword === 'required' && /^knownHosts(File)?$/.test(String(e.params.missingProperty))))
    .map((e) => {
      const at = e.instancePath ? e.instancePath.slice(1).replace(/\//g, '.') : '(top level)'
      if (e.keyword === 'anyOf') return `${at}: give knownHosts (a known_hosts line) or knownHostsFile`
      if (e.keyword === 'pattern' && /env:/.test(String(e.params.pattern))) return `${at}: must be a secret reference like env:NAME or file:/path (never the secret itself)`
      return `${at} ${e.message}`
    })
    .join('; ')
}

export function parseInventory(value: unknown, file = 'inventory'): Inventory {
  const copy = structuredClone(value)
  if (!validate(copy)) throw new OpsError('OPS_E_INVENTORY', `${file} is not a valid inventory: ${describe(validate.errors ?? [])}`)
  return copy
}

/** Read and validate an inventory file; relative paths inside become absolute. */
export function loadInventory(file: string): Inventory {
  let text: string
  try {
    text = fs.readFileSync(file, 'utf8')
  } catch {
    throw new OpsError('OPS_E_INVENTORY', `inventory ${file} cannot be read: create it with \`ocean-ops inventory --from-pulumi\` (or \`ocean-ops lab up\` for the lab), or pass --inventory`)
  }
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (e) {
    throw new OpsError('OPS_E_INVENTORY', `inventory ${file} is not JSON: ${(e as Error).message}`)
  }
  const inv = parseInventory(json, file)
  const base = path.dirname(path.resolve(file))
  const abs = (p: string) => (p.startsWith('~/') ? path.join(os.homedir(), p.slice(2)) : path.resolve(base, p))
  for (const h of [inv.newHost, inv.oldHost]) {
    if (!h) continue
    if (h.identityFile) h.identityFile = abs(h.identityFile)
    if (h.knownHostsFile) h.knownHostsFile = abs(h.knownHostsFile)
  }
  const ocean = inv.ocean ?? {}
  for (const k of ['apiKey', 'redisPassword'] as const) {
    const ref = ocean[k]
    if (ref?.startsWith('file:')) ocean[k] = `file:${abs(ref.slice(5))}`
  }
  if (inv.oldDatabase?.password?.startsWith('file:')) inv.oldDatabase.password = `file:${abs(inv.oldDatabase.password.slice(5))}`
  const b = inv.backup
  if (b) {
    if (b.password.startsWith('file:')) b.password = `file:${abs(b.password.slice(5))}`
    for (const k of ['accessKeyId', 'secretAccessKey'] as const) if (b.s3?.[k].startsWith('file:')) b.s3[k] = `file:${abs(b.s3[k].slice(5))}`
    if (b.sftp) {
      b.sftp.identityFile = abs(b.sftp.identityFile)
      if (b.sftp.knownHostsFile) b.sftp.knownHostsFile = abs(b.sftp.knownHostsFile)
    }
  }
  return inv
}

/** The value behind a secret reference; a missing one says exactly what to set. */
export function resolveSecret(ref: SecretRef | undefined, what: string): string {
  if (!ref) throw new OpsError('OPS_E_SECRET', `no ${what} configured: add a reference like "env:NAME" or "file:/path" to the inventory`)
  if (ref.startsWith('env:')) {
    const name = ref.slice(4)
    const v = process.env[name]
    if (!v) throw new OpsError('OPS_E_SECRET', `${what} is read from $${name}, which is not set: export it (e.g. from your password manager) and run again`)
    return v
  }
  if (ref.startsWith('file:')) {
    const file = ref.slice(5)
    let st: fs.Stats
    try {
      st = fs.statSync(file)
    } catch {
      throw new OpsError('OPS_E_SECRET', `${what} is read from ${file}, which does not exist`)
    }
    if (st.mode & 0o077) throw new OpsError('OPS_E_SECRET', `${file} (${what}) is readable by others: chmod 600 ${file}`)
    const v = fs.readFileSync(file, 'utf8').trim()
    if (!v) throw new OpsError('OPS_E_SECRET', `${file} (${what}) is empty`)
    return v
  }
  throw new OpsError('OPS_E_SECRET', `${what}: "${ref.replace(/:.*/, ':…')}" is not a secret reference (env:NAME or file:/path)`)
}
