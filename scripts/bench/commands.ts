// Child processes for the migration benchmarks: timed, their peak memory polled, killed (with
// their descendants, by PID) if the run stops meanwhile; and a PostgreSQL client for one task.
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import pg from 'pg'
import { root, track } from './processes.ts'
import { killProcesses, processTree, treePids } from './rss.ts'

export async function withClient<T>(url: string, f: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: url })
  await c.connect()
  try {
    return await f(c)
  } finally {
    await c.end()
  }
}

export function requireTool(name: string, install: string): void {
  const found = (process.env.PATH ?? '').split(':').some((d) => d && fs.existsSync(path.join(d, name)))
  if (!found) throw new Error(`${name} not found (the baselines run it): ${install}`)
}

export interface Exited {
  ms: number
  stdout: string
  stderr: string
  /** Largest VmHWM (kB) seen in the process tree while it ran. */
  hwmKb: number
}

/** Runs a command, timed, killed (by PID, with its descendants) if the run is stopped meanwhile. */
export async function runTimed(cmd: string, args: string[], opts: { stdout?: 'pipe' | 'ignore'; pollHwm?: boolean } = {}): Promise<Exited> {
  const t0 = performance.now()
  const child = spawn(cmd, args, { cwd: root, stdio: ['ignore', opts.stdout ?? 'pipe', 'pipe'] })
  const stop = track(async () => {
    if (child.exitCode === null && child.signalCode === null && child.pid) killProcesses(processTree(child.pid))
  })
  let stdout = ''
  let stderr = ''
  child.stdout?.on('data', (d: Buffer) => {
    stdout = (stdout + d.toString()).slice(-65_536)
  })
  child.stderr?.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-65_536)
  })
  let hwmKb = 0
  const poll = () => {
    if (!child.pid) return
    for (const p of treePids(child.pid)) {
      try {
        hwmKb = Math.max(hwmKb, Number(/^VmHWM:\s+(\d+)/m.exec(fs.readFileSync(`/proc/${p}/status`, 'utf8'))?.[1] ?? 0))
      } catch {
        // exited meanwhile
      }
    }
  }
  const timer = opts.pollHwm ? setInterval(poll, 50) : null
  try {
    const code = await new Promise<number | null>((resolve, reject) => {
      child.once('error', reject)
      child.once('exit', (c) => resolve(c))
    })
    const ms = performance.now() - t0
    if (code !== 0) throw new Error(`${cmd} ${args.join(' ').slice(0, 300)} exited with ${code}:\n${stderr.slice(-3000)}`)
    return { ms, stdout, stderr, hwmKb }
  } finally {
    if (timer) clearInterval(timer)
    await stop()
  }
}

export const bash = (script: string, opts?: { stdout?: 'pipe' | 'ignore' }) => runTimed('bash', ['-o', 'pipefail', '-c', script], opts)
export const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`
