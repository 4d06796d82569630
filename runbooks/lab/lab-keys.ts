// Keys made on this machine before any host exists: the client key 'ops' logs in with, the
// client key backups log in to the storage host with (user backup, SFTP only), and one ed25519
// host key per host, installed into the container before sshd first starts. known_hosts is
// written from those keys, so a runbook pins them and never trusts a first connection.
import fs from 'node:fs'
import path from 'node:path'
import { $ } from 'zx'
import { knownHostsName } from '../lib/host/known-hosts.ts'
import { labFiles } from './lab-state.ts'

/** The lab's hosts; the storage host stands in for a Storage Box (backups over SFTP). */
export const ROLES = ['old', 'new', 'storage'] as const
export type Role = (typeof ROLES)[number]

export interface HostKey {
  privateKeyFile: string
  /** `ssh-ed25519 AAAA...` (no comment). */
  publicKey: string
}

export interface LabKeys {
  identityFile: string
  clientPublicKey: string
  hostKeys: Record<Role, HostKey>
  /** The key user backup on the storage host accepts (and nothing else does). */
  backup: { identityFile: string; publicKey: string }
}

async function keygen(file: string, comment: string): Promise<string> {
  fs.rmSync(file, { force: true })
  fs.rmSync(`${file}.pub`, { force: true })
  await $({ quiet: true })`ssh-keygen -q -t ed25519 -N ${''} -C ${comment} -f ${file}`
  fs.chmodSync(file, 0o600)
  return fs.readFileSync(`${file}.pub`, 'utf8').trim().split(/\s+/).slice(0, 2).join(' ')
}

/** New keys for a new lab (a lab that is recreated gets new host keys, as a new server would). */
export async function generateLabKeys(dir: string, labId: string): Promise<LabKeys> {
  const f = labFiles(dir)
  fs.mkdirSync(f.hostKeys, { recursive: true, mode: 0o700 })
  const clientPublicKey = await keygen(f.identity, `ocean-ops-lab-${labId}`)
  const backup = { identityFile: f.backupIdentity, publicKey: await keygen(f.backupIdentity, `ocean-backup-lab-${labId}`) }
  const hostKeys = {} as Record<Role, HostKey>
  for (const role of ROLES) {
    const file = path.join(f.hostKeys, `${role}_ssh_host_ed25519_key`)
    hostKeys[role] = { privateKeyFile: file, publicKey: await keygen(file, `root@ocean-${role}`) }
  }
  return { identityFile: f.identity, clientPublicKey, hostKeys, backup }
}

/** The lab's keys, or undefined when any is missing (a lab made before the storage host has none for it: it is made anew). */
export function readLabKeys(dir: string): LabKeys | undefined {
  const f = labFiles(dir)
  const read = (p: string) => (fs.existsSync(p) ? fs.readFileSync(p, 'utf8').trim().split(/\s+/).slice(0, 2).join(' ') : undefined)
  const client = read(`${f.identity}.pub`)
  const hostKeys = {} as Record<Role, HostKey>
  for (const role of ROLES) {
    const file = path.join(f.hostKeys, `${role}_ssh_host_ed25519_key`)
    const pub = read(`${file}.pub`)
    if (!pub || !fs.existsSync(file)) return undefined
    hostKeys[role] = { privateKeyFile: file, publicKey: pub }
  }
  if (!client || !fs.existsSync(f.identity)) return undefined
  const backup = read(`${f.backupIdentity}.pub`)
  if (!backup || !fs.existsSync(f.backupIdentity)) return undefined
  return { identityFile: f.identity, clientPublicKey: client, hostKeys, backup: { identityFile: f.backupIdentity, publicKey: backup } }
}

/**
 * known_hosts lines: each host under `[127.0.0.1]:<published port>` (how this machine reaches
 * it) and under its address on the lab network, port 22 (how the other lab host reaches it).
 */
export function knownHostsLines(hosts: Array<{ publicKey: string; sshPort: number; address: string }>): string {
  return hosts.map((h) => `${knownHostsName('127.0.0.1', h.sshPort)},${knownHostsName(h.address, 22)} ${h.publicKey}\n`).join('')
}

/** One host's line under its lab address alone (port 22): what a client inside the lab network pins. */
export function labNetworkKnownHostsLine(host: { publicKey: string; address: string }): string {
  return `${knownHostsName(host.address, 22)} ${host.publicKey}\n`
}
