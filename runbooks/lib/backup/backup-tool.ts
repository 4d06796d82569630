// Runs the backup tool in a one-off container of the deployed image on the new host and reads
// its `BACKUP-RESULT` line; its other output goes to the log (progress), never secrets (the tool
// prints none). An error result becomes an OpsError with the tool's code.
import readline from 'node:readline'
import { PassThrough, type Readable } from 'node:stream'
import type Docker from 'dockerode'
import { BACKUP_RESULT_PREFIX } from '@ocean-ops/migrate'
import { OpsError, type OpsErrorCode } from '@ocean-ops/common'

export async function runBackupTool<T>(docker: Docker, spec: Docker.ContainerCreateOptions, o: { log?: (l: string) => void; stdin?: Readable } = {}): Promise<T> {
  const c = await docker.createContainer(spec)
  try {
    const stream = await c.attach({ stream: true, stdout: true, stderr: true, ...(o.stdin ? { stdin: true, hijack: true } : {}) })
    const out = new PassThrough()
    const err = new PassThrough()
    docker.modem.demuxStream(stream, out, err)
    stream.on('end', () => {
      out.end()
      err.end()
    })
    let result: { ok: boolean; result?: T; code?: string; message?: string } | undefined
    const lines = readline.createInterface({ input: out, crlfDelay: Infinity })
    lines.on('line', (l) => {
      if (l.startsWith(BACKUP_RESULT_PREFIX)) result = JSON.parse(l.slice(BACKUP_RESULT_PREFIX.length)) as typeof result
      else o.log?.(l)
    })
    readline.createInterface({ input: err, crlfDelay: Infinity }).on('line', (l) => o.log?.(l))
    const closed = new Promise<void>((r) => lines.once('close', () => r()))
    await c.start()
    if (o.stdin) {
      o.stdin.pipe(stream as unknown as NodeJS.WritableStream, { end: false })
      o.stdin.on('end', () => (stream as unknown as { end(): void }).end())
    }
    const exit = (await c.wait()) as { StatusCode: number }
    // Output may trail the exit a little; the timer must not keep the process alive after it came.
    await Promise.race([closed, new Promise((r) => setTimeout(r, 5000).unref())])
    if (!result) throw new OpsError('OPS_E_BACKUP', `the backup tool ended (exit ${exit.StatusCode}) without a result; its output is above`)
    if (!result.ok) throw new OpsError((result.code ?? 'OPS_E_BACKUP') as OpsErrorCode, result.message ?? 'the backup tool failed')
    return result.result as T
  } finally {
    await c.remove({ force: true }).catch(() => undefined)
  }
}
