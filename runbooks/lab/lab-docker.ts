// The lab's Docker objects through dockerode: labels that mark what a lab made, the container
// specs of the three hosts (pure, from MACHINE.md's recipes), exec with exit codes, and files
// placed into a container before it first starts.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { PassThrough } from 'node:stream'
import Docker from 'dockerode'
import tar from 'tar-fs'
import { OpsError } from '@ocean-ops/common'
import type { Role } from './lab-keys.ts'

export const LABEL = 'ocean-ops.lab'
export const ROLE_LABEL = 'ocean-ops.lab.role'
export const DIR_LABEL = 'ocean-ops.lab.dir'

let client: Docker | undefined
export function docker(): Docker {
  client ??= new Docker()
  return client
}

export function labLabels(labId: string, dir: string, role?: string): Record<string, string> {
  return { [LABEL]: labId, [DIR_LABEL]: dir, ...(role ? { [ROLE_LABEL]: role } : {}) }
}

/** Docker-in-Docker: MACHINE.md's capability list (--privileged is refused on our machines). */
export const DIND_CAPS = ['SYS_ADMIN', 'NET_ADMIN', 'SYS_PTRACE', 'IPC_LOCK', 'SYS_RAWIO', 'DAC_READ_SEARCH', 'LINUX_IMMUTABLE',
  'SYS_NICE', 'NET_BROADCAST', 'IPC_OWNER', 'AUDIT_CONTROL', 'MAC_ADMIN']

export interface HostSpecInput {
  role: Role
  labId: string
  dir: string
  image: string
  networkName: string
  /** Named volume for /var/lib/docker (new host only). */
  dockerVolume?: string
}

/** Create options for a lab host: systemd as PID 1, sshd published on 127.0.0.1 only (random port). */
export function hostContainerSpec(i: HostSpecInput): Docker.ContainerCreateOptions {
  const common = {
    Tmpfs: { '/run': 'rw,nosuid,nodev,mode=755', '/run/lock': 'rw,nosuid,nodev,noexec' },
    PortBindings: { '22/tcp': [{ HostIp: '127.0.0.1', HostPort: '' }] },
    NetworkMode: i.networkName,
  }
  // systemd as PID 1 (MACHINE.md's recipe) for the old and the storage host.
  const systemd = {
    ...common,
    SecurityOpt: ['seccomp=unconfined'],
    Binds: ['/sys/fs/cgroup:/sys/fs/cgroup:ro'],
  }
  const hostConfig: Docker.HostConfig & { CgroupnsMode?: 'host' | 'private'; MaskedPaths?: string[]; ReadonlyPaths?: string[] } =
    i.role === 'old'
      ? {
          ...systemd,
          // NET_ADMIN: the runbooks configure its firewall (remove-mysql blocks 3306) as on a real server.
          CapAdd: ['SYS_ADMIN', 'NET_ADMIN'],
          // PostgreSQL's parallel workers use /dev/shm; Docker's 64 MB default is too small.
          ShmSize: 256 * 1024 * 1024,
        }
      : i.role === 'storage'
        ? { ...systemd, CapAdd: ['SYS_ADMIN'] }
        : {
            ...common,
            CapAdd: DIND_CAPS,
            SecurityOpt: ['seccomp=unconfined', 'apparmor=unconfined'],
            // The API form of --security-opt systempaths=unconfined: nothing masked or read-only in /proc and /sys.
            MaskedPaths: [],
            ReadonlyPaths: [],
            CgroupnsMode: 'host',
            Binds: ['/sys/fs/cgroup:/sys/fs/cgroup:rw', `${i.dockerVolume ?? missing('dockerVolume')}:/var/lib/docker`],
          }
  return {
    name: `ocean-lab-${i.labId}-${i.role}`,
    Hostname: `ocean-${i.role}`,
    Image: i.image,
    Labels: labLabels(i.labId, i.dir, i.role),
    ExposedPorts: { '22/tcp': {} },
    HostConfig: hostConfig,
    NetworkingConfig: { EndpointsConfig: { [i.networkName]: {} } },
  }
}

function missing(what: string): never {
  throw new Error(`hostContainerSpec: ${what} is required for the new host`)
}

export interface ExecResult {
  code: number
  stdout: string
  stderr: string
}

/** Runs argv in a running container (root unless `user`); never throws on a non-zero exit. */
export async function execIn(container: Docker.Container, argv: string[], opts: { env?: string[]; user?: string } = {}): Promise<ExecResult> {
  const exec = await container.exec({ Cmd: argv, Env: opts.env, User: opts.user ?? 'root', AttachStdout: true, AttachStderr: true })
  const stream = await exec.start({ hijack: true, stdin: false })
  const out = new PassThrough()
  const err = new PassThrough()
  const chunks = { out: [] as Buffer[], err: [] as Buffer[] }
  out.on('data', (c: Buffer) => chunks.out.push(c))
  err.on('data', (c: Buffer) => chunks.err.push(c))
  docker().modem.demuxStream(stream, out, err)
  await new Promise<void>((resolve, reject) => {
    stream.on('end', resolve)
    stream.on('close', resolve)
    stream.on('error', reject)
  })
  const info = await exec.inspect()
  return { code: info.ExitCode ?? -1, stdout: Buffer.concat(chunks.out).toString('utf8'), stderr: Buffer.concat(chunks.err).toString('utf8') }
}

/** execIn that throws OPS_E_LAB with the command's stderr when it fails. */
export async function mustExec(container: Docker.Container, what: string, argv: string[], opts: { env?: string[]; user?: string } = {}): Promise<string> {
  const r = await execIn(container, argv, opts)
  if (r.code !== 0) {
    const tail = (r.stderr.trim() || r.stdout.trim()).split('\n').slice(-12).join('\n')
    throw new OpsError('OPS_E_LAB', `${what} failed (exit ${r.code}): ${argv.join(' ')}\n${tail}`)
  }
  return r.stdout
}

export interface FileToPlace {
  /** Absolute path in the container. */
  path: string
  content: string | Buffer
  mode: number
  uid?: number
  gid?: number
}

/** Writes files into a (created, maybe not started) container with exact owner and mode. */
export async function placeFiles(container: Docker.Container, files: FileToPlace[]): Promise<void> {
  const stage = fs.mkdtempSync(path.join(os.tmpdir(), 'ocean-lab-files-'))
  try {
    const meta = new Map<string, FileToPlace>()
    for (const f of files) {
      const rel = f.path.replace(/^\/+/, '')
      fs.mkdirSync(path.join(stage, path.dirname(rel)), { recursive: true })
      fs.writeFileSync(path.join(stage, rel), f.content, { mode: 0o600 })
      meta.set(rel, f)
    }
    const archive = tar.pack(stage, {
      entries: [...meta.keys()],
      map: (h) => {
        const f = meta.get(h.name)
        return f ? { ...h, mode: f.mode, uid: f.uid ?? 0, gid: f.gid ?? 0 } : h
      },
    })
    await container.putArchive(archive as unknown as NodeJS.ReadableStream, { path: '/' })
  } finally {
    fs.rmSync(stage, { recursive: true, force: true })
  }
}

/** Polls `probe` until it returns a value or the time runs out (then OPS_E_LAB with `what`). */
export async function waitFor<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>, intervalMs = 500): Promise<T> {
  const deadline = Date.now() + timeoutMs
  let last: unknown
  while (Date.now() < deadline) {
    try {
      const v = await probe()
      if (v !== undefined) return v
    } catch (e) {
      last = e
    }
    await new Promise((r) => setTimeout(r, intervalMs))
  }
  throw new OpsError('OPS_E_LAB', `${what} did not happen within ${Math.round(timeoutMs / 1000)} s${last ? `: ${(last as Error).message}` : ''}`)
}
