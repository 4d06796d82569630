// kill -9 the worker (and the whole process) again and again while clients ingest; afterwards
// DuckDB must hold every event that was answered 202 exactly once.
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { startRedis, type RedisServer } from '../../../scripts/lib/loopback-servers.ts'
import { storedValues } from '../../helpers/stored-telemetry.ts'
import { childRoles, spawnOcean, waitStored, type OceanProcess } from '../../helpers/ocean-process.ts'

const KEY = 'crash-test-key-0123456789'
let redis: RedisServer
const dirs: string[] = []

before(async () => {
  redis = await startRedis({ appendonly: true })
})
after(async () => {
  await redis?.stop()
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true })
})

interface Load {
  accepted: Set<number>
  sent: number
  stop(): Promise<void>
}

/** Two clients posting batches of 200 events whose values are unique integers. */
function ingest(base: () => string): Load {
  const accepted = new Set<number>()
  let next = 0
  let running = true
  const client = async () => {
    while (running) {
      const values = Array.from({ length: 200 }, () => next++)
      const events = values.map((v) => ({ sensor_id: `s-${v % 13}`, value: v }))
      try {
        const r = await fetch(`${base()}/api/ocean/telemetry/batch`, {
          method: 'POST',
          headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
          body: JSON.stringify({ events }),
          signal: AbortSignal.timeout(5000),
        })
        if (r.status === 202) for (const v of values) accepted.add(v)
        else await r.arrayBuffer()
      } catch {
        await new Promise((r) => setTimeout(r, 20)) // the server is down: try again shortly
      }
    }
  }
  const clients = [client(), client()]
  return {
    accepted,
    get sent() {
      return next
    },
    async stop() {
      running = false
      await Promise.all(clients)
    },
  }
}

function assertExactlyOnce(stored: number[], load: Load): void {
  const unique = new Set(stored)
  assert.equal(unique.size, stored.length, `${stored.length - unique.size} events stored twice`)
  const missing = [...load.accepted].filter((v) => !unique.has(v))
  assert.deepEqual(missing.slice(0, 10), [], `${missing.length} accepted events missing`)
  assert.ok(stored.every((v) => v < load.sent), 'nothing stored that was never sent')
  assert.ok(load.accepted.size > 5000, `only ${load.accepted.size} events accepted: the load did not run`)
}

function newDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'ocean-crash-'))
  dirs.push(d)
  return d
}

describe('crash safety', () => {
  it('kill -9 of the engine (worker + DuckDB) mid-batch, six times: every accepted event stored exactly once', async () => {
    const dataDir = newDir()
    const env = { OCEAN_API_KEY: KEY, REDIS_URL: redis.url, OCEAN_DATA_DIR: dataDir, OCEAN_API_PROCESSES: '1', OCEAN_STREAM: 'crash:engine', OCEAN_HOT_MAX_ROWS: '5000' }
    const ocean: OceanProcess = await spawnOcean(env)
    await ocean.ready()
    const load = ingest(() => ocean.base)
    let kills = 0
    try {
      for (let i = 0; i < 6; i++) {
        await new Promise((r) => setTimeout(r, 700 + Math.random() * 800))
        const engine = childRoles(ocean.child.pid as number).find((c) => c.role === 'engine')
        assert.ok(engine, 'the supervisor runs an engine process')
        process.kill(engine.pid, 'SIGKILL')
        kills++
        await ocean.ready() // the supervisor starts a new engine; /ready needs it to answer
      }
    } finally {
      await load.stop()
    }
    assert.equal(kills, 6)
    await waitStored(ocean.base, KEY)
    assert.equal(await ocean.stop(), 0)
    assertExactlyOnce(await storedValues(dataDir), load)
  })

  it('kill -9 of the whole single process, five times: every accepted event stored exactly once', async () => {
    const dataDir = newDir()
    const env = { OCEAN_API_KEY: KEY, REDIS_URL: redis.url, OCEAN_DATA_DIR: dataDir, OCEAN_STREAM: 'crash:single', OCEAN_HOT_MAX_ROWS: '5000' }
    let ocean = await spawnOcean(env)
    const port = new URL(ocean.base).port
    await ocean.ready()
    const load = ingest(() => ocean.base)
    try {
      for (let i = 0; i < 5; i++) {
        await new Promise((r) => setTimeout(r, 600 + Math.random() * 800))
        ocean.child.kill('SIGKILL')
        await new Promise((r) => ocean.child.once('exit', r))
        ocean = await spawnOcean(env, Number(port))
        await ocean.ready()
      }
      await new Promise((r) => setTimeout(r, 500))
    } finally {
      await load.stop()
    }
    await waitStored(ocean.base, KEY)
    assert.equal(await ocean.stop(), 0)
    assertExactlyOnce(await storedValues(dataDir), load)
  })
})
