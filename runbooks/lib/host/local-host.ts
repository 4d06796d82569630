// A Host for this machine (the lab's orchestration, tests): the same interface, child processes.
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import { Readable } from 'node:stream'
import { OpsError } from '@ocean-ops/common'
import { atomicWriteArgv, redact, shellLine, withSudo } from './commands.ts'
import type { ExecOptions, ExecResult, Host } from './host.ts'
import { collectLines } from './line-splitter.ts'

export class LocalHost implements Host {
  readonly name = 'local'
  readonly isRoot = os.userInfo().uid === 0

  exec(argv: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
    const full = withSudo(argv, Boolean(opts.sudo) && !this.isRoot)
    const line = shellLine(full)
    return new Promise((resolve, reject) => {
      const child = spawn(full[0]!, full.slice(1), { stdio: ['pipe', 'pipe', 'pipe'], timeout: opts.timeoutMs, killSignal: 'SIGKILL' })
      const out = collectLines('stdout', opts.onLine, opts.stdout ? 0 : 4 * 1024 * 1024)
      const err = collectLines('stderr', opts.onLine, 256 * 1024)
      if (opts.stdout) child.stdout.pipe(opts.stdout, { end: false })
      else child.stdout.on('data', (c: Buffer) => out.push(c))
      child.stderr.on('data', (c: Buffer) => err.push(c))
      child.on('error', (e) => reject(new OpsError('OPS_E_REMOTE', `local: cannot run \`${redact(line, opts.secrets)}\`: ${e.message}`)))
      child.on('close', (code, signal) => {
        const result = { code: code ?? 128, stdout: out.text(), stderr: err.text() }
        if (signal && opts.timeoutMs) return reject(new OpsError('OPS_E_TIMEOUT', `local: \`${redact(line, opts.secrets)}\` did not finish within ${opts.timeoutMs} ms`))
        if (result.code !== 0 && !opts.allowFail) {
          return reject(new OpsError('OPS_E_REMOTE', `local: \`${redact(line, opts.secrets)}\` exited ${result.code}: ${redact(result.stderr.trim().split('\n').slice(-8).join('\n'), opts.secrets)}`))
        }
        resolve(result)
      })
      const input = opts.stdin
      if (input === undefined) child.stdin.end()
      else if (input instanceof Readable) input.pipe(child.stdin)
      else child.stdin.end(input)
    })
  }

  async readFile(path: string, opts: { sudo?: boolean } = {}): Promise<Buffer> {
    if (!opts.sudo || this.isRoot) return fs.promises.readFile(path)
    return Buffer.from((await this.exec(['cat', '--', path], { sudo: true })).stdout)
  }

  async writeFile(path: string, data: string | Buffer | Readable, opts: { mode?: number; owner?: string; sudo?: boolean } = {}): Promise<void> {
    await this.exec(atomicWriteArgv(path, opts.mode ?? 0o600, opts.owner), { sudo: opts.sudo, stdin: data })
  }

  async upload(localPath: string, remotePath: string, opts: { mode?: number; owner?: string; sudo?: boolean } = {}): Promise<void> {
    await this.writeFile(remotePath, fs.createReadStream(localPath), opts)
  }

  async download(remotePath: string, localPath: string, opts: { sudo?: boolean } = {}): Promise<void> {
    await fs.promises.writeFile(localPath, await this.readFile(remotePath, opts), { mode: 0o600 })
  }

  async close(): Promise<void> {}
}
