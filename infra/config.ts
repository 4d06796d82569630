// The stack config (`ocean:*` keys, plus `hcloud:token`), read once and validated before any
// resource exists. Every problem is reported at once, with the command that fixes it.
import * as pulumi from '@pulumi/pulumi'
import { cidrContains, isOpenCidr, parseCidr } from './cidr.ts'
import { InfraError } from './infra-error.ts'

export interface PrivateNetworkConfig {
  /** The whole private network, e.g. 10.40.0.0/16. */
  ipRange: string
  /** The cloud subnet both servers join; defaults to ipRange. */
  subnetRange: string
  /** Hetzner network zone; derived from the location unless given. */
  networkZone: string
  /** Fixed private address of the new server (else Hetzner picks one). */
  newServerIp?: string
  /** Hetzner id of the old server, to attach it to the same network for migration traffic. */
  oldServerId?: number
  /** Fixed private address of the old server (needs oldServerId). */
  oldServerIp?: string
}

export interface OceanConfig {
  name: string
  serverType: string
  location: string
  image: string
  /** OpenSSH public key lines: uploaded as Hetzner SSH keys and given to the deploy user. */
  sshKeys: string[]
  adminCidrs: string[]
  allowOpenSsh: boolean
  oceanPort: number
  volumeSizeGb: number
  production: boolean
  swapSizeMb: number
  deployUser: string
  privateNetwork?: PrivateNetworkConfig
  /** Where restic sends the server's backups; absent when ocean:backup is not set. */
  backup?: BackupConfig
}

/** A Hetzner Storage Box this stack creates for the backups. */
export interface StorageBoxConfig {
  location: string
  storageBoxType: string
  /** Whether the box answers outside Hetzner's network (a restore from a laptop); off by default. */
  reachableExternally: boolean
  /** ocean:backupSshPublicKey: the key the new host's restic logs in with, installed on the box. */
  sshPublicKey: string
}

/** A restic repository that exists already (a Storage Box made elsewhere, or an S3 bucket). */
export interface ExistingBackupConfig {
  /** `sftp:USER@HOST:/PATH` or `s3:https://ENDPOINT/BUCKET[/PATH]`. */
  repository: string
  /** SFTP repositories only: the port and the pinned host key (known_hosts lines, if given). */
  sftp?: { host: string; port: number; knownHosts?: string }
}

/** Exactly one of the two. The passwords are secrets and never part of this object. */
export type BackupConfig = { storageBox: StorageBoxConfig; existing?: undefined } | { existing: ExistingBackupConfig; storageBox?: undefined }

/** SSH port of a Hetzner Storage Box for keys in OpenSSH format (port 22 only takes RFC4716 keys). */
export const STORAGE_BOX_SFTP_PORT = 23

export const BACKUP_DEFAULTS = { storageBoxType: 'bx11', reachableExternally: false } as const

/** Storage Box location for a server location (Storage Boxes are offered in fsn1 and hel1). */
const STORAGE_BOX_LOCATIONS: Record<string, string> = { fsn1: 'fsn1', nbg1: 'fsn1', hel1: 'hel1' }

/** Top-level keys that only mean something with ocean:backup. */
const BACKUP_KEYS = ['backupPassword', 'backupSshPublicKey', 'storageBoxPassword'] as const

/** Ports that must never be reachable from outside: MySQL, PostgreSQL, Redis, the Docker API. */
export const FORBIDDEN_PORTS = [3306, 5432, 6379, 2375, 2376] as const

export const DEFAULTS = {
  serverType: 'cx43',
  location: 'fsn1',
  image: 'debian-12',
  allowOpenSsh: false,
  oceanPort: 8030,
  volumeSizeGb: 50,
  production: false,
  swapSizeMb: 2048,
  deployUser: 'ocean',
} as const

const KNOWN_KEYS = ['name', 'sshKeys', 'adminCidrs', 'privateNetwork', 'backup', ...BACKUP_KEYS, ...Object.keys(DEFAULTS)]

// Hetzner network zones by location (https://docs.hetzner.cloud/#locations).
const NETWORK_ZONES: Record<string, string> = {
  fsn1: 'eu-central', nbg1: 'eu-central', hel1: 'eu-central',
  ash: 'us-east', hil: 'us-west', sin: 'ap-southeast',
}

const KEY_TYPES = ['ssh-ed25519', 'ssh-rsa', 'ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521',
  'sk-ssh-ed25519@openssh.com', 'sk-ecdsa-sha2-nistp256@openssh.com']

export interface ConfigSource {
  /** `ocean:*` values as Pulumi stores them (strings; lists and objects as JSON). */
  ocean: Record<string, string>
  stack: string
  /** Whether an Hetzner token is available (`hcloud:token` or HCLOUD_TOKEN); never its value. */
  hasToken: boolean
  /** The `ocean:*` keys (without the prefix) stored encrypted (`pulumi config set --secret`). */
  secretKeys: string[]
}

/** Reads the live Pulumi config. The token is only checked for presence, never read into a value. */
export function readConfigSource(): ConfigSource {
  const ocean: Record<string, string> = {}
  for (const [key, value] of Object.entries(pulumi.runtime.allConfig())) {
    if (key.startsWith('ocean:')) ocean[key.slice('ocean:'.length)] = value
  }
  const hasToken = Boolean(pulumi.runtime.getConfig('hcloud:token') || process.env.HCLOUD_TOKEN)
  // The SDK knows which keys were set with --secret but does not type the function; where it
  // is missing every key counts as secret (the check is skipped, nothing is refused).
  const isSecret = (pulumi.runtime as { isConfigSecret?: (key: string) => boolean }).isConfigSecret
  const secretKeys = Object.keys(ocean).filter((k) => isSecret?.(`ocean:${k}`) ?? true)
  return { ocean, stack: pulumi.getStack(), hasToken, secretKeys }
}

export function readOceanConfig(): OceanConfig {
  return parseOceanConfig(readConfigSource())
}

export function parseOceanConfig(src: ConfigSource): OceanConfig {
  const problems: string[] = []
  const raw = src.ocean
  const problem = (key: string, msg: string) => problems.push(`ocean:${key} ${msg}`)

  if (!src.hasToken) {
    problems.push('hcloud:token is not set: run `pulumi config set --secret hcloud:token` (a read/write API token of the Hetzner Cloud project), or export HCLOUD_TOKEN')
  }
  for (const key of Object.keys(raw)) {
    if (!KNOWN_KEYS.includes(key)) problem(key, `is not a known key (known: ${KNOWN_KEYS.join(', ')})`)
  }

  const str = (key: keyof typeof DEFAULTS | 'name', fallback: string, pattern: RegExp, what: string) => {
    const v = (raw[key] ?? fallback).trim()
    if (!pattern.test(v)) problem(key, `"${v}" is not ${what}`)
    return v
  }
  const bool = (key: keyof typeof DEFAULTS, fallback: boolean) => {
    const v = raw[key]
    if (v === undefined) return fallback
    if (v === 'true' || v === 'false') return v === 'true'
    problem(key, `must be true or false, not "${v}"`)
    return fallback
  }
  const int = (key: keyof typeof DEFAULTS, fallback: number, min: number, max: number) => {
    const v = raw[key]
    if (v === undefined) return fallback
    const n = Number(v)
    if (!Number.isInteger(n) || n < min || n > max) problem(key, `must be a whole number from ${min} to ${max}, not "${v}"`)
    return n
  }

  const name = str('name', `ocean-${src.stack}`.toLowerCase().replace(/[^a-z0-9-]/g, '-'),
    /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/, 'a valid host name (a-z, 0-9, -)')
  const serverType = str('serverType', DEFAULTS.serverType, /^[a-z0-9-]+$/, 'a Hetzner server type name such as cx43')
  const location = str('location', DEFAULTS.location, /^[a-z]+[0-9]*$/, 'a Hetzner location such as fsn1')
  const image = str('image', DEFAULTS.image, /^[a-z0-9.-]+$/, 'a Hetzner image name such as debian-12')
  const deployUser = str('deployUser', DEFAULTS.deployUser, /^[a-z_][a-z0-9_-]{0,31}$/, 'a Linux user name')
  if (deployUser === 'root') problem('deployUser', 'must not be root: root login is disabled on the server')
  const allowOpenSsh = bool('allowOpenSsh', DEFAULTS.allowOpenSsh)
  const production = bool('production', DEFAULTS.production)
  const oceanPort = int('oceanPort', DEFAULTS.oceanPort, 1, 65535)
  if ([22, 80, 443, ...FORBIDDEN_PORTS].includes(oceanPort)) problem('oceanPort', `must not be ${oceanPort}: that port is taken or must stay closed`)
  // Hetzner volumes are 10 GB to 10 TB.
  const volumeSizeGb = int('volumeSizeGb', DEFAULTS.volumeSizeGb, 10, 10240)
  const swapSizeMb = int('swapSizeMb', DEFAULTS.swapSizeMb, 0, 65536)

  const adminCidrs: string[] = []
  const cidrList = list(raw.adminCidrs, (msg) => problem('adminCidrs', msg))
  if (cidrList.length === 0) {
    problem('adminCidrs', "is required: the networks SSH is allowed from, e.g. `pulumi config set --path 'ocean:adminCidrs[0]' 203.0.113.4/32`")
  }
  for (const entry of cidrList) {
    const c = parseCidr(entry)
    if (typeof c === 'string') problem('adminCidrs', c)
    else if (isOpenCidr(c) && !allowOpenSsh) problem('adminCidrs', `contains ${c.text}, which opens SSH to the whole internet; set ocean:allowOpenSsh true if you really mean it`)
    else adminCidrs.push(c.text)
  }

  const sshKeys = list(raw.sshKeys, (msg) => problem('sshKeys', msg)).map((k) => k.trim())
  if (sshKeys.length === 0) {
    problem('sshKeys', "is required: at least one OpenSSH public key line, e.g. `pulumi config set --path 'ocean:sshKeys[0]' \"$(cat ~/.ssh/id_ed25519.pub)\"` (root login and passwords are off)")
  }
  for (const key of sshKeys) {
    const err = publicKeyProblem(key)
    if (err) problem('sshKeys', err)
  }

  const privateNetwork = raw.privateNetwork === undefined ? undefined
    : parsePrivateNetwork(raw.privateNetwork, location, (msg) => problems.push(`ocean:privateNetwork${msg}`))

  const backup = parseBackup(src, location, problem)

  if (problems.length > 0) {
    throw new InfraError('OPS_E_INFRA_CONFIG', `the stack config is not valid:\n  - ${problems.join('\n  - ')}`)
  }
  return {
    name, serverType, location, image, sshKeys, adminCidrs, allowOpenSsh, oceanPort, volumeSizeGb, production, swapSizeMb, deployUser,
    ...(privateNetwork ? { privateNetwork } : {}),
    ...(backup ? { backup } : {}),
  }
}

// A list is stored as JSON by `pulumi config set --path 'k[0]' v`; a plain comma list is accepted too.
function list(value: string | undefined, report: (msg: string) => void): string[] {
  if (value === undefined || value.trim() === '') return []
  if (!value.trim().startsWith('[')) return value.split(',').map((s) => s.trim()).filter(Boolean)
  try {
    const parsed: unknown = JSON.parse(value)
    if (Array.isArray(parsed) && parsed.every((x) => typeof x === 'string')) return parsed
  } catch { /* reported below */ }
  report('must be a list of strings')
  return []
}

function publicKeyProblem(line: string): string | undefined {
  const [type, body] = line.split(/\s+/)
  const short = line.length > 40 ? `${line.slice(0, 40)}...` : line
  const err = keyBodyProblem(type, body)
  if (err === 'format') return `entry "${short}" is not an OpenSSH public key line (type base64 [comment]); Hetzner key names are not accepted`
  if (err === 'damaged') return `entry "${short}" has a damaged key body`
  return undefined
}

function keyBodyProblem(type: string | undefined, body: string | undefined): 'format' | 'damaged' | undefined {
  if (type === undefined || !KEY_TYPES.includes(type) || body === undefined) return 'format'
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(body)) return 'damaged'
  // The blob is length-prefixed fields that fill it exactly, the first its own type name: a
  // cheap check that catches truncated or mixed-up pastes.
  const blob = Buffer.from(body, 'base64')
  const fields: Buffer[] = []
  for (let at = 0; at < blob.length;) {
    const len = at + 4 <= blob.length ? blob.readUInt32BE(at) : -1
    if (len < 0 || at + 4 + len > blob.length) return 'damaged'
    fields.push(blob.subarray(at + 4, at + 4 + len))
    at += 4 + len
  }
  if (fields.length < 2 || fields[0]?.toString() !== type) return 'damaged'
  return undefined
}

function parsePrivateNetwork(value: string, location: string, report: (msg: string) => void): PrivateNetworkConfig | undefined {
  let o: Record<string, unknown>
  try {
    const parsed: unknown = JSON.parse(value)
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not an object')
    o = parsed as Record<string, unknown>
  } catch {
    report(' must be an object, e.g. `pulumi config set --path ocean:privateNetwork.ipRange 10.40.0.0/16`')
    return undefined
  }
  const known = ['ipRange', 'subnetRange', 'networkZone', 'newServerIp', 'oldServerId', 'oldServerIp']
  for (const k of Object.keys(o)) if (!known.includes(k)) report(`.${k} is not a known key (known: ${known.join(', ')})`)
  const text = (k: string) => (o[k] === undefined ? undefined : String(o[k]))
  const ipRange = parseCidr(text('ipRange') ?? '')
  if (typeof ipRange === 'string' || ipRange.family !== 4) {
    report('.ipRange is required: a private IPv4 network such as 10.40.0.0/16')
    return undefined
  }
  const subnet = parseCidr(text('subnetRange') ?? ipRange.text)
  if (typeof subnet === 'string' || !cidrContains(ipRange, subnet.address) || subnet.prefix < ipRange.prefix) {
    report(`.subnetRange must be a network inside ${ipRange.text}`)
    return undefined
  }
  const networkZone = text('networkZone') ?? NETWORK_ZONES[location]
  if (!networkZone) report(`.networkZone is required: no known zone for location ${location}`)
  const inSubnet = (k: string) => {
    const ip = text(k)
    if (ip !== undefined && !cidrContains(subnet, ip)) report(`.${k} "${ip}" is not an address in ${subnet.text}`)
    return ip
  }
  const newServerIp = inSubnet('newServerIp')
  const oldServerIp = inSubnet('oldServerIp')
  const oldId = text('oldServerId')
  const oldServerId = oldId === undefined ? undefined : Number(oldId)
  if (oldServerId !== undefined && (!Number.isInteger(oldServerId) || oldServerId <= 0)) report('.oldServerId must be the numeric Hetzner id of the old server')
  if (oldServerIp !== undefined && oldServerId === undefined) report('.oldServerIp needs oldServerId (the old server to give that address to)')
  return {
    ipRange: ipRange.text, subnetRange: subnet.text, networkZone: networkZone ?? '',
    ...(newServerIp ? { newServerIp } : {}),
    ...(oldServerId !== undefined ? { oldServerId } : {}),
    ...(oldServerIp ? { oldServerIp } : {}),
  }
}

const CREATE_BOX = '`pulumi config set --path ocean:backup.storageBox.storageBoxType bx11` (a new Storage Box)'
const USE_EXISTING = '`pulumi config set --path ocean:backup.existing.repository sftp:USER@HOST:/PATH` (a repository that exists)'
const SFTP_REPO = /^sftp:([^:@/\s]+)@([^:/\s]+):(\/\S+)$/
const S3_REPO = /^s3:https:\/\/[^/\s]+\/[^/\s]+(\/\S*)?$/

// ocean:backup: a Storage Box this stack creates, or a restic repository that exists. The
// passwords are secret keys of their own; only their presence and form are checked here, and
// no message ever repeats their value.
function parseBackup(src: ConfigSource, serverLocation: string, problem: (key: string, msg: string) => void): BackupConfig | undefined {
  const raw = src.ocean
  const isSet = (k: string) => raw[k] !== undefined && raw[k].trim() !== ''
  const notUsed = (k: string, why: string) => problem(k, `is not used ${why}; remove it with \`pulumi config rm ocean:${k}\``)
  const requireSecret = (k: string, what: string) => {
    if (!isSet(k)) {
      problem(k, `is required with ocean:backup: ${what}, set with \`pulumi config set --secret ocean:${k}\``)
      return undefined
    }
    if (!src.secretKeys.includes(k)) problem(k, `is stored in plain text in the stack file: set it again with \`pulumi config set --secret ocean:${k}\``)
    return raw[k]
  }

  if (raw.backup === undefined) {
    for (const k of BACKUP_KEYS) if (isSet(k)) notUsed(k, 'without ocean:backup (off-server backups)')
    return undefined
  }
  requireSecret('backupPassword', 'the restic repository password (keep a copy outside Pulumi: without it the backups cannot be read)')
  const o = jsonObject(raw.backup)
  if (!o) {
    problem('backup', `must be an object: ${CREATE_BOX} or ${USE_EXISTING}`)
    return undefined
  }
  for (const k of Object.keys(o)) if (!['storageBox', 'existing'].includes(k)) problem(`backup.${k}`, 'is not a known key (known: storageBox, existing)')
  if (o.storageBox !== undefined && o.existing !== undefined) {
    problem('backup', 'sets both storageBox and existing: keep one, e.g. `pulumi config rm --path ocean:backup.existing`')
    return undefined
  }
  if (o.storageBox !== undefined) {
    if (!isSet('backupSshPublicKey')) {
      problem('backupSshPublicKey', 'is required with ocean:backup.storageBox: the OpenSSH public key line of the key restic on the new host logs in with, e.g. `pulumi config set ocean:backupSshPublicKey "$(cat backup_ed25519.pub)"`')
    }
    const password = requireSecret('storageBoxPassword', "the Storage Box's own password (Hetzner requires one; restic logs in with the key)")
    const pwErr = password === undefined ? undefined : storageBoxPasswordProblem(password)
    if (pwErr) problem('storageBoxPassword', pwErr)
    const box = parseStorageBox(o.storageBox, raw.backupSshPublicKey, serverLocation, problem)
    return box ? { storageBox: box } : undefined
  }
  if (o.existing !== undefined) {
    for (const k of ['backupSshPublicKey', 'storageBoxPassword'] as const) {
      if (isSet(k)) notUsed(k, 'with ocean:backup.existing (only to create a Storage Box)')
    }
    const existing = parseExisting(o.existing, problem)
    return existing ? { existing } : undefined
  }
  problem('backup', `names no target: ${CREATE_BOX} or ${USE_EXISTING}`)
  return undefined
}

function parseStorageBox(value: unknown, sshKeyLine: string | undefined, serverLocation: string, problem: (key: string, msg: string) => void): StorageBoxConfig | undefined {
  const o = value === '' ? {} : jsonObject(value)
  if (!o) {
    problem('backup.storageBox', `must be an object, e.g. ${CREATE_BOX}`)
    return undefined
  }
  const known = ['location', 'storageBoxType', 'reachableExternally']
  for (const k of Object.keys(o)) if (!known.includes(k)) problem(`backup.storageBox.${k}`, `is not a known key (known: ${known.join(', ')}; the SSH key is ocean:backupSshPublicKey)`)
  let ok = true
  const report = (k: string, msg: string) => {
    ok = false
    problem(`backup.storageBox.${k}`, msg)
  }

  const given = o.location === undefined ? undefined : String(o.location).trim()
  const location = given ?? STORAGE_BOX_LOCATIONS[serverLocation]
  if (location === undefined) {
    report('location', `is required: Hetzner offers no Storage Box at the server's location ${serverLocation}; choose one with \`pulumi config set --path ocean:backup.storageBox.location fsn1\` (or hel1)`)
  } else if (!/^[a-z]+[0-9]*$/.test(location)) {
    report('location', `"${location}" is not a Hetzner location such as fsn1 or hel1`)
  }
  const storageBoxType = o.storageBoxType === undefined ? BACKUP_DEFAULTS.storageBoxType : String(o.storageBoxType).trim()
  if (!/^bx[0-9]+$/.test(storageBoxType)) report('storageBoxType', `"${storageBoxType}" is not a Storage Box type such as bx11`)
  const ext = o.reachableExternally
  const reachableExternally = ext === undefined ? BACKUP_DEFAULTS.reachableExternally : ext === true || ext === 'true'
  if (ext !== undefined && ![true, false, 'true', 'false'].includes(ext as string | boolean)) report('reachableExternally', `must be true or false, not "${String(ext)}"`)

  const sshPublicKey = (sshKeyLine ?? '').trim()
  if (sshPublicKey !== '') {
    const err = sshPublicKey.includes('\n') ? 'must be one key line (the key restic on the new host uses)' : publicKeyProblem(sshPublicKey)
    if (err) {
      ok = false
      problem('backupSshPublicKey', err)
    }
  } else {
    ok = false
  }
  return ok && location !== undefined ? { location, storageBoxType, reachableExternally, sshPublicKey } : undefined
}

function parseExisting(value: unknown, problem: (key: string, msg: string) => void): ExistingBackupConfig | undefined {
  const o = jsonObject(value)
  if (!o) {
    problem('backup.existing', `must be an object, e.g. ${USE_EXISTING}`)
    return undefined
  }
  const known = ['repository', 'hostKey', 'port']
  for (const k of Object.keys(o)) if (!known.includes(k)) problem(`backup.existing.${k}`, `is not a known key (known: ${known.join(', ')})`)
  const repository = o.repository === undefined ? '' : String(o.repository).trim()
  if (repository === '') {
    problem('backup.existing.repository', `is required: ${USE_EXISTING}, or s3:https://ENDPOINT/BUCKET[/PATH]`)
    return undefined
  }
  const sftp = SFTP_REPO.exec(repository)
  if (!sftp && !S3_REPO.test(repository)) {
    problem('backup.existing.repository', `"${repository}" is not a restic repository of a supported form: sftp:USER@HOST:/PATH (an absolute path) or s3:https://ENDPOINT/BUCKET[/PATH]`)
    return undefined
  }
  if (!sftp) {
    let ok = true
    for (const k of ['hostKey', 'port']) {
      if (o[k] !== undefined) {
        ok = false
        problem(`backup.existing.${k}`, `is only for sftp repositories; remove it with \`pulumi config rm --path ocean:backup.existing.${k}\``)
      }
    }
    return ok ? { repository } : undefined
  }
  const host = sftp[2] as string
  // A Storage Box takes OpenSSH-format keys on port 23 only; any other SSH server on 22.
  const port = o.port === undefined ? (host.endsWith('.your-storagebox.de') ? STORAGE_BOX_SFTP_PORT : 22) : Number(o.port)
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    problem('backup.existing.port', `must be a whole number from 1 to 65535, not "${String(o.port)}"`)
    return undefined
  }
  if (o.hostKey === undefined) return { repository, sftp: { host, port } }
  const knownHosts = String(o.hostKey).trim()
  const err = knownHostsProblem(knownHosts, host, port)
  if (err) {
    problem('backup.existing.hostKey', err)
    return undefined
  }
  return { repository, sftp: { host, port, knownHosts } }
}

/** known_hosts lines that pin HOST's key for PORT (OpenSSH writes `[host]:port` for ports other than 22). */
function knownHostsProblem(text: string, host: string, port: number): string | undefined {
  const lines = text.split('\n').map((l) => l.trim()).filter(Boolean)
  const scan = `get it with \`ssh-keyscan -p ${port} ${host}\` and compare the fingerprint with the one the provider publishes`
  if (lines.length === 0) return `is empty: ${scan}`
  const want = port === 22 ? host : `[${host}]:${port}`
  for (const line of lines) {
    const [hosts, type, body] = line.split(/\s+/)
    const short = line.length > 40 ? `${line.slice(0, 40)}...` : line
    const err = keyBodyProblem(type, body)
    if (err === 'format' || hosts === undefined) return `"${short}" is not a known_hosts line (HOSTS TYPE BASE64): ${scan}`
    if (err === 'damaged') return `"${short}" has a damaged key body`
    // A hashed entry (|1|salt|hash) cannot be read back; ssh checks it when it connects.
    if (!hosts.startsWith('|1|') && !hosts.split(',').includes(want)) {
      return `"${short}" does not name ${want}, the name ssh looks up for port ${port}: ${scan}`
    }
  }
  return undefined
}

/** Hetzner's Storage Box password policy (12 to 128 characters, four kinds); never echoes the value. */
function storageBoxPasswordProblem(password: string): string | undefined {
  const kinds: [RegExp, string][] = [[/[a-z]/, 'a lower-case letter'], [/[A-Z]/, 'an upper-case letter'], [/[0-9]/, 'a digit'], [/[^A-Za-z0-9]/, 'a special character']]
  const missing = kinds.filter(([re]) => !re.test(password)).map(([, what]) => what)
  if (password.length >= 12 && password.length <= 128 && missing.length === 0) return undefined
  const why = password.length < 12 || password.length > 128 ? `it has ${password.length} characters` : `it lacks ${missing.join(', ')}`
  return `does not meet Hetzner's Storage Box password policy (12 to 128 characters with a lower-case and an upper-case letter, a digit and a special character; ${why}): set another with \`pulumi config set --secret ocean:storageBoxPassword\``
}

/** A config object: Pulumi stores `--path` objects as JSON text; nested values arrive parsed. */
function jsonObject(value: unknown): Record<string, unknown> | undefined {
  let v = value
  if (typeof v === 'string') {
    try {
      v = JSON.parse(v)
    } catch {
      return undefined
    }
  }
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? v as Record<string, unknown> : undefined
}
