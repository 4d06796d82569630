// The lab needs a Docker engine, ssh-keygen, and debootstrap for its first image: check them up
// front and fail with the command that installs what is missing.
import fs from 'node:fs'
import path from 'node:path'
import { $ } from 'zx'
import { OpsError } from '@ocean-ops/common'

const INSTALL = 'apt-get install -y docker.io debootstrap openssh-client (or run `bash scripts/setup`, which also starts dockerd)'

export function onPath(tool: string, pathVar = process.env.PATH ?? ''): boolean {
  return pathVar.split(path.delimiter).some((dir) => {
    try {
      fs.accessSync(path.join(dir || '.', tool), fs.constants.X_OK)
      return true
    } catch {
      return false
    }
  })
}

export async function requireTools(opts: { debootstrap: boolean }): Promise<void> {
  const missing: string[] = []
  for (const tool of ['docker', 'ssh-keygen', ...(opts.debootstrap ? ['debootstrap'] : [])]) {
    if (!onPath(tool)) missing.push(tool)
  }
  if (missing.length) throw new OpsError('OPS_E_LAB', `the lab needs ${missing.join(', ')} on PATH; install with: ${INSTALL}`)
  const info = await $({ quiet: true, nothrow: true, timeout: '20s' })`docker info --format {{.ServerVersion}}`
  if (info.exitCode !== 0) {
    throw new OpsError('OPS_E_LAB', `the Docker engine does not answer (docker info: ${info.stderr.trim().split('\n').pop() ?? ''}); start it with \`bash scripts/setup\` or \`dockerd >/var/log/dockerd.log 2>&1 &\``)
  }
}
