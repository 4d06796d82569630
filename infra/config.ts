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
}

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

const KNOWN_KEYS = ['name', 'sshKeys', 'adminCidrs', 'privateNetwork', ...Object.keys(DEFAULTS)]

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
}

/** Reads the live Pulumi config. The token is only checked for presence, never read into a value. */
export function readConfigSource(): ConfigSource {
  const ocean: Record<string, string> = {}
  for (const [key, value] of Object.entries(pulumi.runtime.allConfig())) {
    if (key.startsWith('ocean:')) ocean[key.slice('ocean:'.length)] = value
  }
  const hasToken = Boolean(pulumi.runtime.getConfig('hcloud:token') || process.env.HCLOUD_TOKEN)
  return { ocean, stack: pulumi.getStack(), hasToken }
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

  if (problems.length > 0) {
    throw new InfraError('OPS_E_INFRA_CONFIG', `the stack config is not valid:\n  - ${problems.join('\n  - ')}`)
  }
  return { name, serverType, location, image, sshKeys, adminCidrs, allowOpenSsh, oceanPort, volumeSizeGb, production, swapSizeMb, deployUser, ...(privateNetwork ? { privateNetwork } : {}) }
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
  if (type === undefined || !KEY_TYPES.includes(type) || body === undefined) {
    return `entry "${short}" is not an OpenSSH public key line (type base64 [comment]); Hetzner key names are not accepted`
  }
  // The blob starts with its own type name: a cheap check that catches truncated pastes.
  const blob = Buffer.from(body, 'base64')
  const len = blob.length >= 4 ? blob.readUInt32BE(0) : -1
  if (len < 0 || blob.subarray(4, 4 + len).toString() !== type) return `entry "${short}" has a damaged key body`
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
