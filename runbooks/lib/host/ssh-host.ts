// A Host over SSH (ssh2): one connection per host per run, key or agent auth, host key pinned
// from a known_hosts file, sudo for a non-root user, retries only for transient connect errors.
import fs from 'node:fs'
import { Writable, type Readable } from 'node:stream'
import { Client, type ClientChannel, type ConnectConfig } from 'ssh2'
import { OpsError } from '@ocean-ops/common'
import { atomicWriteArgv, readFileArgv, redact, shellLine, withSudo } from './commands.ts'
import type { ExecOptions, ExecResult, Host } from './host.ts'
import { hostKeyAdvice, parseKnownHosts, verifyHostKey, type HostKeyVerdict } from './known-hosts.ts'
import { collectLines } from './line-splitter.ts'

export interface SshTarget {
  host: string
  port?: number
  user: string
  /** Private key file; without it the SSH agent (SSH_AUTH_SOCK) is used. */
  identityFile?: string
  /** Pinned host keys: a known_hosts file, or its lines inline (the inventory's knownHosts). */
  knownHostsFile?: string
  knownHostsText?: string
  readyTimeoutMs?: number
  /** Attempts for transient failures (refused, reset, timed out); never for auth or host-key errors. */
  connectAttempts?: number
}

const TRANSIENT = /ECONNREFUSED|ECONNRESET|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|EPIPE|Timed out while waiting for handshake|Connection lost before handshake/

export function isTransientSshError(e: unknown): boolean {
  if (e instanceof OpsError) return false
  const err = e as { code?: string; message?: string; level?: string }
  if (err.level === 'client-authentication') return false
  return TRANSIENT.test(`${err.code ?? ''} ${err.message ?? ''}`)
}

export class SshHost implements Host {
  readonly name: string
  isRoot = false
  /** The connection ended (closed here, or dropped by the network or the server). */
  closed = false
  /** Resolves when it ends: a wait on the far side (a container's exit) races it rather than hang. */
  readonly ended: Promise<void>
  private constructor(
    private readonly client: Client,
    readonly target: SshTarget,
  ) {
    this.name = `${target.user}@${target.host}:${target.port ?? 22}`
    this.ended = new Promise((resolve) =>
      client.once('close', () => {
        this.closed = true
        resolve()
      }),
    )
  }

  static async connect(target: SshTarget): Promise<SshHost> {
    const attempts = target.connectAttempts ?? 4
    for (let attempt = 1; ; attempt++) {
      try {
        const client = await connectOnce(target)
        const host = new SshHost(client, target)
        host.isRoot = (await host.exec(['id', '-u'])).stdout.trim() === '0'
        return host
      } catch (e) {
        if (!isTransientSshError(e) || attempt >= attempts) throw asOpsError(e, target)
        await new Promise((r) => setTimeout(r, 500 * 2 ** (attempt - 1)))
      }
    }
  }

  /** The underlying ssh2 client, shared with Docker over SSH (docker-over-ssh.ts). */
  get ssh(): Client {
    return this.client
  }

  exec(argv: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
    const line = shellLine(withSudo(argv, Boolean(opts.sudo) && !this.isRoot))
    return new Promise((resolve, reject) => {
      this.client.exec(line, (err, stream) => {
        if (err) return reject(new OpsError('OPS_E_REMOTE', `${this.name}: could not start \`${redact(line, opts.secrets)}\`: ${err.message}`))
        runChannel(stream, line, this.name, opts).then(resolve, reject)
      })
    })
  }

  async readFile(path: string, opts: { sudo?: boolean } = {}): Promise<Buffer> {
    const chunks: Buffer[] = []
    const sink = new Writable({
      write(chunk: Buffer, _enc, cb) {
        chunks.push(chunk)
        cb()
      },
    })
    await this.exec(readFileArgv(path), { sudo: opts.sudo, stdout: sink })
    return Buffer.concat(chunks)
  }

  async writeFile(path: string, data: string | Buffer | Readable, opts: { mode?: number; owner?: string; sudo?: boolean } = {}): Promise<void> {
    await this.exec(atomicWriteArgv(path, opts.mode ?? 0o600, opts.owner), { sudo: opts.sudo, stdin: data })
  }

  async upload(localPath: string, remotePath: string, opts: { mode?: number; owner?: string; sudo?: boolean } = {}): Promise<void> {
    await this.writeFile(remotePath, fs.createReadStream(localPath), opts)
  }

  async download(remotePath: string, localPath: string, opts: { sudo?: boolean } = {}): Promise<void> {
    const tmp = `${localPath}.part`
    const out = fs.createWriteStream(tmp, { mode: 0o600 })
    await this.exec(readFileArgv(remotePath), { sudo: opts.sudo, stdout: out })
    await new Promise<void>((resolve, reject) => out.close((e) => (e ? reject(e) : resolve())))
    fs.renameSync(tmp, localPath)
  }

  async close(): Promise<void> {
    this.client.end()
  }
}

function connectOnce(target: SshTarget): Promise<Client> {
  const port = target.port ?? 22
  const source = target.knownHostsFile ?? 'the inventory\'s knownHosts'
  const entries = parseKnownHosts(target.knownHostsText ?? readKnownHosts(target.knownHostsFile))
  let refused: Exclude<HostKeyVerdict, { ok: true }> | undefined
  const config: ConnectConfig = {
    host: target.host,
    port,
    username: target.user,
    readyTimeout: target.readyTimeoutMs ?? 20_000,
    keepaliveInterval: 10_000,
    keepaliveCountMax: 3,
    hostVerifier: (key: Buffer) => {
      const verdict = verifyHostKey(entries, target.host, port, key)
      if (!verdict.ok) refused = verdict
      return verdict.ok
    },
  }
  if (target.identityFile) {
    try {
      config.privateKey = fs.readFileSync(target.identityFile)
    } catch (e) {
      throw new OpsError('OPS_E_SSH_AUTH', `cannot read the SSH identity file ${target.identityFile}: ${(e as Error).message}`)
    }
  } else if (process.env.SSH_AUTH_SOCK) {
    config.agent = process.env.SSH_AUTH_SOCK
  } else {
    throw new OpsError('OPS_E_SSH_AUTH', `no SSH identity for ${target.user}@${target.host}: set identityFile in the inventory or start ssh-agent (SSH_AUTH_SOCK)`)
  }
  return new Promise((resolve, reject) => {
    const client = new Client()
    let settled = false
    client.once('ready', () => {
      settled = true
      resolve(client)
    })
    // `on`, not `once`: a host that accepts TCP but never speaks SSH raises the ready timeout and
    // then "Connection lost before handshake"; the second must not become an uncaught exception.
    client.on('error', (err) => {
      if (settled) return
      settled = true
      client.end()
      if (refused) {
        reject(new OpsError('OPS_E_HOST_KEY', hostKeyAdvice(refused, target.host, port, source)))
      } else reject(err)
    })
    client.connect(config)
  })
}

function readKnownHosts(file: string | undefined): string {
  if (!file) throw new OpsError('OPS_E_HOST_KEY', 'no pinned host key: give the host a knownHosts line or a knownHostsFile in the inventory (the runbooks never trust on first use)')
  try {
    return fs.readFileSync(file, 'utf8')
  } catch {
    throw new OpsError('OPS_E_HOST_KEY', `known_hosts file ${file} cannot be read: the runbooks pin host keys and never trust on first use. Write it with \`ocean-ops inventory --from-pulumi\` (or the lab) first.`)
  }
}

function asOpsError(e: unknown, target: SshTarget): OpsError {
  if (e instanceof OpsError) return e
  const err = e as { level?: string; message?: string }
  const where = `${target.user}@${target.host}:${target.port ?? 22}`
  if (err.level === 'client-authentication') {
    return new OpsError('OPS_E_SSH_AUTH', `${where} refused our key: check that the inventory's identityFile (or the agent's key) is in ~${target.user}/.ssh/authorized_keys there`)
  }
  return new OpsError('OPS_E_SSH_CONNECT', `cannot reach ${where}: ${err.message ?? String(e)}. Check the address, the firewall's adminCidrs and that sshd runs.`)
}

function runChannel(stream: ClientChannel, line: string, where: string, opts: ExecOptions): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    const out = collectLines('stdout', opts.onLine, opts.stdout ? undefined : 4 * 1024 * 1024)
    const err = collectLines('stderr', opts.onLine, 256 * 1024)
    let timer: NodeJS.Timeout | undefined
    if (opts.timeoutMs) {
      timer = setTimeout(() => {
        stream.signal('KILL')
        stream.close()
        reject(new OpsError('OPS_E_TIMEOUT', `${where}: \`${redact(line, opts.secrets)}\` did not finish within ${opts.timeoutMs} ms`))
      }, opts.timeoutMs)
    }
    if (opts.stdout) stream.pipe(opts.stdout, { end: false })
    else stream.on('data', (c: Buffer) => out.push(c))
    stream.stderr.on('data', (c: Buffer) => err.push(c))
    stream.on('close', (code: number | null, signal?: string) => {
      if (timer) clearTimeout(timer)
      const result = { code: code ?? (signal ? 128 : 255), stdout: out.text(), stderr: err.text() }
      if (result.code !== 0 && !opts.allowFail) {
        reject(new OpsError('OPS_E_REMOTE', `${where}: \`${redact(line, opts.secrets)}\` exited ${result.code}${signal ? ` (${signal})` : ''}: ${redact(result.stderr.trim().split('\n').slice(-8).join('\n'), opts.secrets)}`))
      } else resolve(result)
    })
    const input = opts.stdin
    if (input === undefined) stream.end()
    else if (typeof input === 'string' || Buffer.isBuffer(input)) stream.end(input)
    else {
      input.on('error', (e) => {
        stream.close()
        reject(new OpsError('OPS_E_REMOTE', `${where}: input stream failed: ${e.message}`))
      })
      input.pipe(stream)
    }
  })
}
