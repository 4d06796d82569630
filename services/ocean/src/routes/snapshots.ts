// POST /api/ocean/admin/snapshot: consistent copies of SQLite (this process's connection) and
// DuckDB (its owner, the engine) into <data>/snapshots/, for the backup container to ship.
// One snapshot at a time per process: a second request waits for the first.
import path from 'node:path'
import type { FastifyPluginAsync } from 'fastify'
import { snapshotPaths, snapshotSqlite, type SnapshotTaken } from '../stores/snapshots.ts'

const bodySchema = {
  type: 'object',
  additionalProperties: false,
  properties: { sqlite: { type: 'boolean', default: true }, duckdb: { type: 'boolean', default: false } },
} as const

const snapshotRoutes: FastifyPluginAsync = async (app) => {
  const { ocean } = app
  let queue: Promise<unknown> = Promise.resolve()

  app.post<{ Body: { sqlite?: boolean; duckdb?: boolean } }>('/admin/snapshot', { schema: { body: bodySchema } }, async (req) => {
    const want = req.body ?? {}
    const files = snapshotPaths(ocean.config.dataDir)
    const run = queue.then(async () => {
      const out: { sqlite?: SnapshotTaken; duckdb?: SnapshotTaken } = {}
      if (want.sqlite !== false) out.sqlite = await snapshotSqlite(ocean.db, files.sqlite)
      if (want.duckdb) out.duckdb = await ocean.analytics.snapshot({ file: files.duckdb })
      // Paths relative to the data directory: the backup container mounts it elsewhere.
      for (const t of [out.sqlite, out.duckdb]) if (t) t.file = path.relative(ocean.config.dataDir, t.file)
      return out
    })
    queue = run.catch(() => undefined)
    return run
  })
}

export default snapshotRoutes
