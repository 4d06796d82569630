// The service started while another process holds telemetry.duckdb (the cutover's final-sync engine
// finishing): it boots, answers nothing until the file is let go, then takes it and is ready; with
// no wait allowed it fails at once, naming the lock. Real DuckDB files, a real Redis, the service as
// its own process.
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { DuckDBInstance } from '@duckdb/node-api'
import { startRedis, type RedisServer } from '../../../scripts/lib/loopback-servers.ts'
import { spawnOcean } from '../../helpers/ocean-process.ts'

const KEY = 'lock-test-key-0123456789'
let redis: RedisServer
const dirs: string[] = []

before(async () => {
  redis = await startRedis()
})
after(async () => {
  await redis?.stop()
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true })
})

async function holder(): Promise<{ dir: string; release(): void }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ocean-lock-'))
  dirs.push(dir)
  const inst = await DuckDBInstance.create(path.join(dir, 'telemetry.duckdb'))
  const c = await inst.connect()
  await c.run('CREATE TABLE held (x INTEGER)')
  return {
    dir,
    release: () => {
      c.closeSync()
      inst.closeSync()
    },
  }
}

describe('telemetry.duckdb held by another process at start', () => {
  it('waits for the lock (OCEAN_DUCKDB_LOCK_WAIT_SECONDS), answers nothing meanwhile, is ready soon after it is let go', async () => {
    const held = await holder()
    const ocean = await spawnOcean({ OCEAN_API_KEY: KEY, REDIS_URL: redis.url, OCEAN_DATA_DIR: held.dir, OCEAN_STREAM: 'lock:wait', OCEAN_DUCKDB_LOCK_WAIT_SECONDS: '30' })
    try {
      await new Promise((r) => setTimeout(r, 2500))
      assert.equal(ocean.child.exitCode, null, 'still waiting, not exited')
      assert.equal(await fetch(`${ocean.base}/ready`).then((r) => r.status, () => 'refused'), 'refused', 'nothing answers before DuckDB is open')
      const t0 = performance.now()
      held.release()
      await ocean.ready(20_000)
      assert.ok(performance.now() - t0 < 15_000)
      const res = await fetch(`${ocean.base}/api/ocean/telemetry/ingest`, { method: 'POST', headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' }, body: JSON.stringify({ sensor_id: 'after-the-lock', value: 1 }) })
      assert.equal(res.status, 202)
    } finally {
      await ocean.stop()
    }
  })

  it('with no wait allowed, exits at once naming the lock', async () => {
    const held = await holder()
    const ocean = await spawnOcean({ OCEAN_API_KEY: KEY, REDIS_URL: redis.url, OCEAN_DATA_DIR: held.dir, OCEAN_STREAM: 'lock:none', OCEAN_DUCKDB_LOCK_WAIT_SECONDS: '0' })
    try {
      await assert.rejects(ocean.ready(20_000), /exited with [1-9].*lock/s)
    } finally {
      await ocean.stop()
      held.release()
    }
  })
})
