// The OpenSSH client command for a lab host, with the lab's key and its pinned known_hosts and
// strict host-key checking (never trust on first use), and a readiness check that uses it.
import { $ } from 'zx'
import { OpsError } from '@ocean-ops/common'
import type { Lab, LabHost } from './lab-types.ts'

/** `ssh` argv (without the remote command) for `host` of `lab`, reached on its published port. */
export function sshArgv(lab: Pick<Lab, 'identityFile' | 'knownHostsFile'>, host: Pick<LabHost, 'sshPort' | 'user'>): string[] {
  return [
    'ssh', '-F', '/dev/null',
    '-i', lab.identityFile, '-o', 'IdentitiesOnly=yes',
    '-o', 'StrictHostKeyChecking=yes', '-o', `UserKnownHostsFile=${lab.knownHostsFile}`, '-o', 'GlobalKnownHostsFile=/dev/null',
    '-o', 'BatchMode=yes', '-o', 'ConnectTimeout=5', '-o', 'LogLevel=ERROR',
    '-p', String(host.sshPort), `${host.user}@127.0.0.1`,
  ]
}

/** Waits until `ops` can log in with the lab key and the pinned host key (sshd may still be starting). */
export async function waitForSsh(lab: Lab, role: 'old' | 'new' | 'storage', timeoutMs = 60_000): Promise<void> {
  const [cmd, ...args] = sshArgv(lab, lab[role])
  const deadline = Date.now() + timeoutMs
  let last = ''
  while (Date.now() < deadline) {
    const r = await $({ quiet: true, nothrow: true, timeout: '15s' })`${cmd} ${args} true`
    if (r.exitCode === 0) return
    last = r.stderr.trim()
    // A refused host key or login is final; only a host that is not listening yet is retried.
    if (/Host key verification failed|Permission denied|REMOTE HOST IDENTIFICATION HAS CHANGED/.test(last)) break
    await new Promise((r) => setTimeout(r, 500))
  }
  throw new OpsError('OPS_E_LAB', `ssh to the lab's ${role} host (127.0.0.1:${lab[role].sshPort}) failed: ${last || 'timed out'}`)
}
