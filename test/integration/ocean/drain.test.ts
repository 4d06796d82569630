// The buffer is data: a graceful stop stores everything the stream holds, not just the batch in
// hand, and a one-off drain (OCEAN_ROLE=drain, what the rollback runs with the API stopped) stores
// what a stalled engine left and says what it cannot store. Real Redis, real DuckDB files, the
// service run as its image runs it.
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { Redis } from 'ioredis'
import { startRedis, type RedisServer } from '../../../scripts/lib/loopback-servers.ts'
import { bundleService, runtimeCommand } from '../../../services/ocean/runtime.ts'
import { DRAIN_RESULT_PREFIX, type BufferAccount } from '../../../services/ocean/src/buffer/drain-result.ts'
import { storedValues } from '../../helpers/stored-telemetry.ts'
import { childRoles, spawnOcean, waitExited, waitStored } from '../../helpers/ocean-process.ts'

const KEY = 'drain-test-key-0123456789'
let redis: RedisServer
const dirs: string[] = []

before(async () => {
  redis = await startRedis({ appendonly: true })
})
after(async () => {
  await redis?.stop()
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true })
})

function newDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'ocean-drain-'))
  dirs.push(d)
  return d
}

/** Posts `n` events in batches of 1,000 with unique integer values; returns the values answered 202. */
async function ingest(base: string, n: number, sensor: string): Promise<number[]> {
  const acked: number[] = []
  for (let start = 0; start < n; start += 1000) {
    const values = Array.from({ length: Math.min(1000, n - start) }, (_, i) => start + i)
    const r = await fetch(`${base}/api/ocean/telemetry/batch`, {
      method: 'POST',
      headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ events: values.map((value) => ({ sensor_id: sensor, value })) }),
    })
    assert.equal(r.status, 202, await r.text())
    acked.push(...values)
  }
  return acked
}

function assertAllOnce(stored: number[], acked: number[]): void {
  assert.equal(new Set(stored).size, stored.length, `${stored.length - new Set(stored).size} events stored twice`)
  const have = new Set(stored)
  const missing = acked.filter((v) => !have.has(v))
  assert.equal(missing.length, 0, `${missing.length} of ${acked.length} acknowledged events not stored (first: ${missing.slice(0, 5).join(', ')})`)
  assert.equal(stored.length, acked.length)
}

/** Whatever of the service's process tree is still running is killed (a failed test leaves nothing behind). */
function killAll(pids: number[]): void {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL')
    } catch {
      // exited
    }
  }
}

/** Runs `OCEAN_ROLE=drain` as the rollback does (the API stopped) and returns its account. */
async function runDrain(env: Record<string, string>): Promise<{ code: number | null; account?: BufferAccount; stderr: string }> {
  const runtime = runtimeCommand(await bundleService())
  const child = spawn(process.execPath, runtime.args, { env: { ...process.env, ...runtime.env, OCEAN_LOG_LEVEL: 'warn', ...env, OCEAN_ROLE: 'drain' }, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
  const code = await new Promise<number | null>((r) => child.once('exit', r))
  const line = stdout.split('\n').find((l) => l.startsWith(DRAIN_RESULT_PREFIX))
  return { code, stderr, ...(line ? { account: JSON.parse(line.slice(DRAIN_RESULT_PREFIX.length)) as BufferAccount } : {}) }
}

describe('the buffer is drained before the engine lets go of it', { timeout: 180_000 }, () => {
  it('a graceful stop stores the whole backlog (60,000 events the stalled engine never read), each once', async () => {
    const dataDir = newDir()
    const env = { OCEAN_API_KEY: KEY, REDIS_URL: redis.url, OCEAN_DATA_DIR: dataDir, OCEAN_API_PROCESSES: '1', OCEAN_STREAM: 'drain:graceful' }
    const ocean = await spawnOcean(env)
    await ocean.ready()
    const engine = childRoles(ocean.child.pid as number).find((c) => c.role === 'engine')
    assert.ok(engine, 'the supervisor runs an engine process')
    // The engine stalls: the API keeps answering 202 (Redis holds the events), nothing is stored.
    process.kill(engine.pid, 'SIGSTOP')
    let acked: number[]
    try {
      acked = await ingest(ocean.base, 60_000, 'graceful')
      const exited = new Promise<number | null>((r) => ocean.child.once('exit', (code) => r(code)))
      ocean.child.kill('SIGTERM')
      // The supervisor stops the API process, then signals the engine, which sees SIGTERM on waking
      // with 60 entries unread: far more than one read (the "batch in hand") takes.
      await new Promise((r) => setTimeout(r, 1000))
      process.kill(engine.pid, 'SIGCONT')
      assert.equal(await exited, 0)
    } finally {
      try {
        process.kill(engine.pid, 'SIGCONT')
      } catch {
        // exited
      }
    }
    assertAllOnce(await storedValues(dataDir, 'graceful'), acked)
    const r = new Redis(redis.url)
    try {
      const pending = (await r.xpending('drain:graceful', 'ocean-worker')) as [number]
      assert.equal(pending[0], 0, 'nothing left pending')
    } finally {
      r.disconnect()
    }
  })

  it('the one-off drain stores what a killed engine left, and names a dead-lettered entry', async () => {
    const dataDir = newDir()
    const stream = 'drain:oneoff'
    const env = { OCEAN_API_KEY: KEY, REDIS_URL: redis.url, OCEAN_DATA_DIR: dataDir, OCEAN_API_PROCESSES: '1', OCEAN_STREAM: stream }
    const ocean = await spawnOcean(env)
    await ocean.ready()
    const engine = childRoles(ocean.child.pid as number).find((c) => c.role === 'engine')!
    process.kill(engine.pid, 'SIGSTOP')
    const acked = await ingest(ocean.base, 25_000, 'oneoff')
    // The engine dies without a chance to drain (a crash, or docker's SIGKILL after the stop timeout).
    const exited = new Promise<number | null>((r) => ocean.child.once('exit', (code) => r(code)))
    ocean.child.kill('SIGKILL')
    process.kill(engine.pid, 'SIGKILL')
    await exited
    // Until the engine has really exited it holds the DuckDB file's lock (CI once opened it too early).
    await waitExited(engine.pid)
    assert.equal((await storedValues(dataDir, 'oneoff')).length, 0, 'the stalled engine stored nothing')

    const first = await runDrain(env)
    assert.equal(first.code, 0, first.stderr)
    assert.ok(first.account, first.stderr)
    assert.equal(first.account.drained, true)
    assert.equal(first.account.storedEvents, 25_000)
    assert.equal(first.account.deadLetter.count, 0)
    assertAllOnce(await storedValues(dataDir, 'oneoff'), acked)

    // An entry that cannot be stored is not silently accounted for: the drain names it.
    const r = new Redis(redis.url)
    let bad: string
    try {
      bad = (await r.xadd(stream, '*', 'e', 'not json')) as string
    } finally {
      r.disconnect()
    }
    const second = await runDrain(env)
    assert.equal(second.code, 0, second.stderr)
    assert.equal(second.account?.storedEvents, 0, 'nothing stored twice')
    assert.equal(second.account?.deadLetter.count, 1)
    assert.deepEqual(second.account?.deadLetter.sourceIds, [bad])
    assertAllOnce(await storedValues(dataDir, 'oneoff'), acked)
  })

  it('a stop while Redis refuses connections ends within the drain time and a few seconds, and what was stored opens intact', async () => {
    const own = await startRedis({ appendonly: true })
    const dataDir = newDir()
    const env = { OCEAN_API_KEY: KEY, REDIS_URL: own.url, OCEAN_DATA_DIR: dataDir, OCEAN_API_PROCESSES: '1', OCEAN_STREAM: 'drain:redis-gone', OCEAN_DRAIN_SECONDS: '2' }
    const ocean = await spawnOcean(env)
    const tree = [ocean.child.pid as number]
    try {
      await ocean.ready()
      tree.push(...childRoles(ocean.child.pid as number).map((c) => c.pid))
      const acked = await ingest(ocean.base, 5000, 'redis-gone')
      await waitStored(ocean.base, KEY, 30_000)
      await own.stop()
      const t0 = Date.now()
      const exited = new Promise<number | null>((r) => ocean.child.once('exit', (code) => r(code)))
      ocean.child.kill('SIGTERM')
      // The drain's 2 s, its 5 s margin, the worker's 2 s grace; an engine that waited on Redis for ever never exited.
      const code = await Promise.race([exited, new Promise<'hung'>((r) => setTimeout(() => r('hung'), 30_000))])
      assert.equal(code, 0, `the service exited (${code}) within 30 s of SIGTERM`)
      assert.ok(Date.now() - t0 < 20_000, `stopped in ${Date.now() - t0} ms`)
      for (const pid of tree.slice(1)) await waitExited(pid)
      assertAllOnce(await storedValues(dataDir, 'redis-gone'), acked)
    } finally {
      killAll(tree)
      await own.stop()
    }
  })

  it('when the supervisor is killed the engine stops too, storing what was accepted, each once', async () => {
    const dataDir = newDir()
    const env = { OCEAN_API_KEY: KEY, REDIS_URL: redis.url, OCEAN_DATA_DIR: dataDir, OCEAN_API_PROCESSES: '1', OCEAN_STREAM: 'drain:orphan', OCEAN_DRAIN_SECONDS: '10' }
    const ocean = await spawnOcean(env)
    const tree = [ocean.child.pid as number]
    try {
      await ocean.ready()
      const children = childRoles(ocean.child.pid as number)
      tree.push(...children.map((c) => c.pid))
      const engine = children.find((c) => c.role === 'engine')?.pid
      assert.ok(engine, `an engine among the supervisor's children: ${JSON.stringify(children)}`)
      const acked = await ingest(ocean.base, 5000, 'orphan')
      ocean.child.kill('SIGKILL')
      // An engine left running kept DuckDB's lock with nobody to stop it; now it drains and exits.
      for (const pid of tree.slice(1)) await waitExited(pid, 20_000)
      assertAllOnce(await storedValues(dataDir, 'orphan'), acked)
    } finally {
      killAll(tree)
    }
  })

  it('the one-off drain fails, without a result, when Redis cannot be reached', async () => {
    const dataDir = newDir()
    const r = await runDrain({ OCEAN_API_KEY: KEY, REDIS_URL: `redis://:x@127.0.0.1:1`, OCEAN_DATA_DIR: dataDir })
    assert.notEqual(r.code, 0)
    assert.equal(r.account, undefined)
  })
})
