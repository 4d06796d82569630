// Runs the Ocean service as real processes, the way its image runs them (services/ocean/runtime.ts:
// src/ bundled, the same node flags and environment), for tests and benchmarks that kill or measure them.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { freePort } from '../../scripts/lib/loopback-servers.ts'
import { bundleService, runtimeCommand } from '../../services/ocean/runtime.ts'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')

export interface OceanProcess {
  child: ChildProcess
  base: string
  /** Waits until GET /ready answers 200. */
  ready(timeoutMs?: number): Promise<void>
  /** SIGTERM and wait for the exit code. */
  stop(): Promise<number | null>
}

let bundled: Promise<string> | null = null

export async function spawnOcean(env: Record<string, string>, port?: number): Promise<OceanProcess> {
  const p = port ?? (await freePort())
  // Bundled once per process, from the sources as they are now.
  const runtime = runtimeCommand(await (bundled ??= bundleService()))
  const child = spawn(process.execPath, runtime.args, {
    cwd: root,
    env: { ...process.env, ...runtime.env, OCEAN_PORT: String(p), OCEAN_HOST: '127.0.0.1', OCEAN_LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  let stderr = ''
  child.stderr?.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)))
  const base = `http://127.0.0.1:${p}`
  return {
    child,
    base,
    async ready(timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs
      while (Date.now() < deadline) {
        if (child.exitCode !== null) throw new Error(`ocean exited with ${child.exitCode}: ${stderr}`)
        const ok = await fetch(`${base}/ready`).then((r) => r.status === 200, () => false)
        if (ok) return
        await new Promise((r) => setTimeout(r, 100))
      }
      throw new Error(`ocean not ready after ${timeoutMs} ms: ${stderr}`)
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode
      const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)))
      child.kill('SIGTERM')
      return exited
    },
  }
}

/** The PIDs of a process's direct children, with their OCEAN_ROLE. */
export function childRoles(pid: number): { pid: number; role: string }[] {
  const out = execFileSync('ps', ['-o', 'pid=', '--ppid', String(pid)], { encoding: 'utf8' })
  return out
    .split('\n')
    .map((l) => Number(l.trim()))
    .filter((n) => n > 0)
    .map((child) => {
      let role = ''
      try {
        role = /(?:^|\0)OCEAN_ROLE=([^\0]*)/.exec(fs.readFileSync(`/proc/${child}/environ`, 'utf8'))?.[1] ?? ''
      } catch {
        // exited meanwhile
      }
      return { pid: child, role }
    })
}

/** How many threads /proc still lists for `pid` (0 once it is gone). */
function threadsLeft(pid: number): number {
  try {
    return fs.readdirSync(`/proc/${pid}/task`).length
  } catch {
    return 0
  }
}

/**
 * Waits until `pid` has exited: gone, or a zombie whose other threads are gone too. A process's
 * leader thread turns zombie before the rest of its threads have exited, and the last of them
 * closes the files they share, releasing DuckDB's lock (a fresh-clone CI run opened the file while
 * a killed engine's leader was a zombie and still held the lock). A process killed with SIGKILL is
 * not gone the moment kill() returns, and one whose parent was killed too is reaped by init, not by us.
 */
export async function waitExited(pid: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    let state: string | undefined
    try {
      state = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /s, '')[0]
    } catch {
      return
    }
    if ((state === 'Z' || state === 'X') && threadsLeft(pid) <= 1) return
    if (Date.now() > deadline) throw new Error(`process ${pid} still running (${state}) ${timeoutMs} ms after it was killed`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

/** Waits until the service's buffer has nothing pending or undelivered (everything accepted is stored); throws after timeoutMs. */
export async function waitStored(base: string, apiKey: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    const b = (await (await fetch(`${base}/api/ocean/telemetry/unprocessed`, { headers: { authorization: `Bearer ${apiKey}` } })).json()) as {
      pending_entries: number
      lag_entries: number
    }
    if (b.pending_entries === 0 && b.lag_entries === 0) return
    await new Promise((r) => setTimeout(r, 100))
  }
  throw new Error(`backlog did not drain within ${timeoutMs / 1000} s`)
}
