// A real OpenSSH server on 127.0.0.1 for host-layer tests: its own host key (so the test
// writes the pinned known_hosts line itself), its own authorized key, stopped by PID.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { freePort } from '../../scripts/lib/loopback-servers.ts'

export interface TestSshd {
  port: number
  user: string
  dir: string
  identityFile: string
  knownHostsFile: string
  /** The host's public key line (`ssh-ed25519 AAAA...`). */
  hostPublicKey: string
  stop(): Promise<void>
}

const SSHD = '/usr/sbin/sshd'

export function keygen(file: string): string {
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'ocean-ops-test', '-f', file])
  return fs.readFileSync(`${file}.pub`, 'utf8').trim().split(' ').slice(0, 2).join(' ')
}

export async function startSshd(): Promise<TestSshd> {
  if (!fs.existsSync(SSHD)) {
    throw new Error('sshd is missing: apt-get install -y openssh-server (scripts/setup installs it)')
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ocean-sshd-'))
  const hostPublicKey = keygen(path.join(dir, 'host_ed25519'))
  const clientKey = keygen(path.join(dir, 'id_ed25519'))
  fs.writeFileSync(path.join(dir, 'authorized_keys'), `${clientKey}\n`, { mode: 0o600 })
  const port = await freePort()
  const user = os.userInfo().username
  fs.writeFileSync(path.join(dir, 'known_hosts'), `[127.0.0.1]:${port} ${hostPublicKey}\n`)
  fs.writeFileSync(
    path.join(dir, 'sshd_config'),
    [
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${dir}/host_ed25519`,
      `AuthorizedKeysFile ${dir}/authorized_keys`,
      `PidFile ${dir}/sshd.pid`,
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'PermitRootLogin prohibit-password',
      'StrictModes no',
      'UsePAM no',
      `AllowUsers ${user}`,
    ].join('\n') + '\n',
  )
  fs.mkdirSync('/run/sshd', { recursive: true, mode: 0o755 })
  const child: ChildProcess = spawn(SSHD, ['-D', '-e', '-f', path.join(dir, 'sshd_config')], { stdio: ['ignore', 'ignore', 'pipe'] })
  let log = ''
  child.stderr?.on('data', (c: Buffer) => (log += c.toString()))
  const deadline = Date.now() + 10_000
  while (!/Server listening/.test(log)) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`sshd did not start: ${log}`)
    await new Promise((r) => setTimeout(r, 50))
  }
  return {
    port,
    user,
    dir,
    identityFile: path.join(dir, 'id_ed25519'),
    knownHostsFile: path.join(dir, 'known_hosts'),
    hostPublicKey,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r))
        child.kill('SIGTERM')
        await exited
      }
      fs.rmSync(dir, { recursive: true, force: true })
    },
  }
}
