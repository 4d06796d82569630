// GET /api/ocean/status: versions, uptime, counts, buffer backlog and consumer lag.
import type { FastifyPluginAsync } from 'fastify'

const statusRoutes: FastifyPluginAsync = async (app) => {
  const { ocean } = app
  const sqliteVersion = (ocean.db.prepare('SELECT sqlite_version() AS v').get() as { v: string }).v

  app.get('/status', async () => {
    const [backlog, engine, redisVersion] = await Promise.all([
      ocean.buffer.backlog().catch((e: Error) => ({ error: e.message })),
      ocean.analytics.info().catch((e: Error) => ({ error: e.message })),
      ocean.redis
        .info('server')
        .then((info) => /^redis_version:(.+)$/m.exec(info)?.[1]?.trim() ?? null)
        .catch(() => null),
    ])
    return {
      service: 'ocean',
      version: ocean.config.version,
      versions: { node: process.version, sqlite: sqliteVersion, redis: redisVersion },
      uptime_seconds: Math.round((Date.now() - ocean.startedAt) / 1000),
      counts: { users: ocean.users.total() },
      telemetry: engine,
      buffer: backlog,
    }
  })
}

export default statusRoutes
