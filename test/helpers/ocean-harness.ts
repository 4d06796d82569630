// Runs the Ocean service in-process for tests: a real redis-server on a free loopback port, real
// SQLite and DuckDB files in a temporary directory, the engine (worker + DuckDB) and the app.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify'
import pino from 'pino'
import { build } from '../../services/ocean/src/app.ts'
import { loadConfig, type OceanConfig } from '../../services/ocean/src/config.ts'
import { startEngine, type Engine } from '../../services/ocean/src/engine.ts'
import { createMetrics } from '../../services/ocean/src/metrics.ts'
import { startRedis, type RedisServer } from '../../scripts/lib/loopback-servers.ts'

export const API_KEY = 'test-key-0123456789abcdef'

export interface Harness {
  app: FastifyInstance
  config: OceanConfig
  engine: Engine
  redis: RedisServer
  dataDir: string
  /** An authenticated request. */
  api(method: InjectOptions['method'], url: string, body?: unknown): Promise<LightMyRequestResponse>
  /** Waits until DuckDB holds `rows` telemetry rows (fails after timeoutMs). */
  waitForRows(rows: number, timeoutMs?: number): Promise<void>
  close(): Promise<void>
}

export async function startOcean(env: Record<string, string> = {}, redis?: RedisServer): Promise<Harness> {
  const server = redis ?? (await startRedis())
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ocean-test-'))
  const config = loadConfig({ OCEAN_API_KEY: API_KEY, REDIS_URL: server.url, OCEAN_DATA_DIR: dataDir, OCEAN_LOG_LEVEL: 'silent', ...env })
  const log = pino({ level: 'silent' })
  const metrics = createMetrics()
  const engine = await startEngine(config, metrics, log)
  const app = await build(config, { analytics: engine.analytics, metrics, onClose: engine.close, loggerInstance: log })
  await app.ready()
  return {
    app,
    config,
    engine,
    redis: server,
    dataDir,
    api: (method, url, body) =>
      app.inject({ method, url, headers: { authorization: `Bearer ${API_KEY}` }, ...(body === undefined ? {} : { payload: body as object }) }),
    async waitForRows(rows, timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs
      let have = -1
      while (Date.now() < deadline) {
        have = await engine.store.totalRows()
        if (have >= rows) return
        await new Promise((r) => setTimeout(r, 50))
      }
      throw new Error(`DuckDB holds ${have} rows after ${timeoutMs} ms; expected ${rows}`)
    },
    async close() {
      await app.close()
      if (!redis) await server.stop()
      fs.rmSync(dataDir, { recursive: true, force: true })
    },
  }
}
