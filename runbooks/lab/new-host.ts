// The new host's first boot, as cloud-init does it on the real server: infra/host-setup.sh and
// its env file are written where user-data puts them (before the container starts), then run as
// root once systemd is up, with switches for what a container cannot do.
import crypto from 'node:crypto'
import type Docker from 'dockerode'
import { HOST_SETUP_ENV_PATH, HOST_SETUP_PATH, renderSetupEnv } from '../../infra/user-data.ts'
import type { Log } from '../lib/images/local-images.ts'
import { mustExec, type FileToPlace } from './lab-docker.ts'
import { readHostSetup } from './lab-images.ts'

/**
 * host-setup.sh parameters for a container: no swap file, no volume, no floating IP, and sysctls
 * written but not applied (a container's /proc/sys is the host's, read-only for most keys).
 */
export const LAB_SETUP_ENV = {
  DEPLOY_USER: 'ops',
  SWAP_MB: 0,
  SETUP_SKIP: 'sysctl-apply,swap,volume,floating-ip',
}

export function hostSetupFiles(): { files: FileToPlace[]; hash: string } {
  const script = readHostSetup()
  const env = renderSetupEnv(LAB_SETUP_ENV)
  return {
    files: [
      { path: HOST_SETUP_PATH, content: script, mode: 0o755 },
      { path: HOST_SETUP_ENV_PATH, content: env, mode: 0o600 },
    ],
    hash: crypto.createHash('sha256').update(script).update('\0').update(env).digest('hex'),
  }
}

export async function runHostSetup(container: Docker.Container, log: Log): Promise<void> {
  const started = Date.now()
  log('new host: running infra/host-setup.sh (as cloud-init would)')
  const out = await mustExec(container, 'infra/host-setup.sh on the new host', [HOST_SETUP_PATH, '--env-file', HOST_SETUP_ENV_PATH])
  for (const line of out.trim().split('\n')) if (line) log(`  ${line}`)
  // Docker for ops comes from host-setup (docker group); check it the way a runbook will use it.
  await mustExec(container, 'docker as ops on the new host', ['runuser', '-u', 'ops', '--', 'docker', 'info', '--format', '{{.ServerVersion}}'])
  log(`host-setup applied in ${((Date.now() - started) / 1000).toFixed(1)} s`)
}
