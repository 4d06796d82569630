// Keys made on this machine before any host exists: the client key 'ops' logs in with, and one
// ed25519 host key per host, installed into the container before sshd first starts. known_hosts
// is written from those keys, so a runbook pins them and never trusts a first connection.
import fs from 'node:fs'
import path from 'node:path'
import { $ } from 'zx'
import { knownHostsName } from '../lib/host/known-hosts.ts'
import { labFiles } from './lab-state.ts'

export type Role = 'old' | 'new'

export interface HostKey {
  privateKeyFile: string
  /** `ssh-ed25519 AAAA...` (no comment). */
  publicKey: string
}

export interface LabKeys {
  identityFile: string
  clientPublicKey: string
  hostKeys: Record<Role, HostKey>
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
  const hostKeys = {} as Record<Role, HostKey>
  for (const role of ['old', 'new'] as const) {
    const file = path.join(f.hostKeys, `${role}_ssh_host_ed25519_key`)
    hostKeys[role] = { privateKeyFile: file, publicKey: await keygen(file, `root@ocean-${role}`) }
  }
  return { identityFile: f.identity, clientPublicKey, hostKeys }
}

export function readLabKeys(dir: string): LabKeys | undefined {
  const f = labFiles(dir)
  const read = (p: string) => (fs.existsSync(p) ? fs.readFileSync(p, 'utf8').trim().split(/\s+/).slice(0, 2).join(' ') : undefined)
  const client = read(`${f.identity}.pub`)
  const hostKeys = {} as Record<Role, HostKey>
  for (const role of ['old', 'new'] as const) {
    const file = path.join(f.hostKeys, `${role}_ssh_host_ed25519_key`)
    const pub = read(`${file}.pub`)
    if (!pub || !fs.existsSync(file)) return undefined
    hostKeys[role] = { privateKeyFile: file, publicKey: pub }
  }
  if (!client || !fs.existsSync(f.identity)) return undefined
  return { identityFile: f.identity, clientPublicKey: client, hostKeys }
}

/**
 * known_hosts lines: each host under `[127.0.0.1]:<published port>` (how this machine reaches
 * it) and under its address on the lab network, port 22 (how the other lab host reaches it).
 */
export function knownHostsLines(hosts: Array<{ publicKey: string; sshPort: number; address: string }>): string {
  return hosts.map((h) => `${knownHostsName('127.0.0.1', h.sshPort)},${knownHostsName(h.address, 22)} ${h.publicKey}\n`).join('')
}
