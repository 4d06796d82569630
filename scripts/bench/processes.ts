// The servers a benchmark run starts (the baseline Fastify process, Ocean with its own Redis and
// data directory, PostgreSQL), all on 127.0.0.1, each stopped by the PID this module started. A
// registry lets the runner stop whatever is still up when a benchmark fails or on Ctrl-C.
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { Redis } from 'ioredis'
import { freePort, startRedis, type RedisServer } from '../lib/loopback-servers.ts'
import { spawnOcean } from '../../test/helpers/ocean-process.ts'
import { killProcesses, processTree } from './rss.ts'

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
export const API_KEY = 'bench-key-0123456789abcdef'
export const AUTH = { authorization: `Bearer ${API_KEY}` }

const running = new Set<() => Promise<void>>()

/** Registers a stop function until it has run; returns a stop that runs it at most once. */
export function track(stop: () => Promise<void>): () => Promise<void> {
  let done: Promise<void> | null = null
  const once = () => {
    running.delete(once)
    done ??= stop()
    return done
  }
  running.add(once)
  return once
}

export async function stopAll(): Promise<void> {
  for (const stop of [...running].reverse()) await stop().catch((e: unknown) => console.error('bench: stop failed:', e))
}

/**
 * SIGTERM the process and wait up to `graceMs`; then SIGKILL it and every descendant it left,
 * each by PID (a supervisor killed hard does not take its forks with it).
 */
async function terminate(pid: number, exited: Promise<unknown>, graceMs = 20_000): Promise<void> {
  // Start times guard against killing an unrelated process that reused a PID meanwhile.
  const tree = processTree(pid)
  try {
    process.kill(pid, 'SIGTERM')
  } catch {
    return // already gone
  }
  const inTime = await Promise.race([exited.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), graceMs).unref())])
  killProcesses(inTime ? tree.slice(1) : tree)
}

export interface BaselineServer {
  pid: number
  base: string
  stop(): Promise<void>
}

/**
 * The bare Fastify process (scripts/bench/baseline-server.ts), run with the same loader as Ocean; or
 * another baseline given as node's arguments (it listens on BENCH_PORT and prints "listening").
 */
export async function startBaselineServer(opts: { nodeArgs?: string[]; env?: Record<string, string> } = {}): Promise<BaselineServer> {
  const port = await freePort()
  const child = spawn(process.execPath, opts.nodeArgs ?? ['--import', 'tsx', 'scripts/bench/baseline-server.ts'], {
    cwd: root,
    env: { ...process.env, ...opts.env, BENCH_PORT: String(port) },
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  const exited = new Promise((r) => child.once('exit', r))
  const stop = track(() => terminate(child.pid as number, exited))
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('baseline server did not start within 20 s')), 20_000)
    child.stdout?.on('data', (d: Buffer) => {
      if (d.toString().includes('listening')) {
        clearTimeout(t)
        resolve()
      }
    })
    child.once('exit', (code) => reject(new Error(`baseline server exited with ${code}`)))
  }).catch(async (e: unknown) => {
    await stop()
    throw e
  })
  return { pid: child.pid as number, base: `http://127.0.0.1:${port}`, stop }
}

export interface OceanInstance {
  pid: number
  base: string
  dataDir: string
  redis: RedisServer
  /** GET an /api/ocean route as JSON. */
  get<T>(route: string): Promise<T>
  post<T>(route: string, body: unknown): Promise<T>
  stop(): Promise<void>
}

/**
 * Ocean as its image runs it (services/ocean/runtime.ts: bundled, same flags), with a fresh redis-server and data
 * directory. apiProcesses 0 = one process; N = supervisor + engine + N API processes.
 */
export async function startOcean(apiProcesses: number, opts: { dataDir?: string; env?: Record<string, string> } = {}): Promise<OceanInstance> {
  const redis = await startRedis()
  const stopRedis = track(() => redis.stop())
  const dataDir = opts.dataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'ocean-bench-'))
  const ocean = await spawnOcean({
    OCEAN_API_KEY: API_KEY,
    REDIS_URL: redis.url,
    OCEAN_DATA_DIR: dataDir,
    OCEAN_API_PROCESSES: String(apiProcesses),
    ...opts.env,
  })
  const exited = new Promise((r) => ocean.child.once('exit', r))
  const stopOcean = track(() => terminate(ocean.child.pid as number, exited))
  const stop = track(async () => {
    await stopOcean()
    await stopRedis()
    if (!opts.dataDir) fs.rmSync(dataDir, { recursive: true, force: true })
  })
  try {
    await ocean.ready(60_000)
  } catch (e) {
    await stop()
    throw e
  }
  const call = async <T>(method: string, route: string, body?: unknown): Promise<T> => {
    const res = await fetch(`${ocean.base}/api/ocean${route}`, {
      method,
      headers: { ...AUTH, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(30_000),
    })
    const text = await res.text()
    if (!res.ok) throw new Error(`${method} ${route}: HTTP ${res.status}: ${text.slice(0, 300)}`)
    return JSON.parse(text) as T
  }
  return {
    pid: ocean.child.pid as number,
    base: ocean.base,
    dataDir,
    redis,
    get: (route) => call('GET', route),
    post: (route, body) => call('POST', route, body),
    stop,
  }
}

export interface OceanStatus {
  telemetry: { rows: number; hot_rows: number; partitions: number } | { error: string }
  buffer: { events: number; dead_letter_entries: number } | { error: string }
}

/** Rows DuckDB holds, as GET /api/ocean/status reports them (count(*) over the telemetry view). */
export async function storedRows(ocean: OceanInstance): Promise<{ rows: number; backlog: number; dead: number }> {
  const s = await ocean.get<OceanStatus>('/status')
  if ('error' in s.telemetry) throw new Error(`status: telemetry: ${s.telemetry.error}`)
  if ('error' in s.buffer) throw new Error(`status: buffer: ${s.buffer.error}`)
  return { rows: s.telemetry.rows, backlog: s.buffer.events, dead: s.buffer.dead_letter_entries }
}

/** Polls until DuckDB holds `rows` rows; returns the time it happened, or throws after timeoutMs. */
export async function waitForRows(ocean: OceanInstance, rows: number, timeoutMs: number, everyMs = 50): Promise<number> {
  const deadline = Date.now() + timeoutMs
  let have = -1
  while (Date.now() < deadline) {
    have = (await storedRows(ocean)).rows
    if (have >= rows) return performance.now()
    await new Promise((r) => setTimeout(r, everyMs))
  }
  throw new Error(`DuckDB holds ${have} of ${rows} rows after ${timeoutMs / 1000} s`)
}

/** Events the service answered 202 for, by its own counter in Redis (the client misses those in flight when a load stops). */
export async function acceptedEvents(ocean: OceanInstance): Promise<number> {
  const redis = new Redis(ocean.redis.url, { lazyConnect: true, maxRetriesPerRequest: 1 })
  try {
    await redis.connect()
    return Number((await redis.get('ocean:telemetry:accepted')) ?? 0)
  } finally {
    redis.disconnect()
  }
}
