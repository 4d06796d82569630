// Liveness (/health), readiness (/ready: Redis, SQLite and DuckDB each answer; the backlog's state
// beside them) and Prometheus
// metrics (/metrics, behind the API key like everything that reveals internals; in multi-process
// mode the whole service's, added up by the supervisor).
import type { FastifyPluginAsync } from 'fastify'

interface Check {
  ok: boolean
  ms: number
  error?: string
}

async function check(fn: () => Promise<unknown>, timeoutMs = 2000): Promise<Check> {
  const start = performance.now()
  let timer: NodeJS.Timeout | undefined
  try {
    await Promise.race([
      fn(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs)
      }),
    ])
    return { ok: true, ms: Math.round((performance.now() - start) * 100) / 100 }
  } catch (e) {
    return { ok: false, ms: Math.round(performance.now() - start), error: e instanceof Error ? e.message : String(e) }
  } finally {
    clearTimeout(timer)
  }
}

const healthRoutes: FastifyPluginAsync<{ checkBearer: (h: string | undefined) => void }> = async (app, { checkBearer }) => {
  const { ocean } = app

  app.get('/health', async () => ({ status: 'ok' }))

  app.get('/ready', async (_req, reply) => {
    const [redis, sqlite, duckdb] = await Promise.all([
      check(() => ocean.redis.ping()),
      check(async () => ocean.db.prepare('SELECT 1').get()),
      check(() => ocean.analytics.ping()),
    ])
    const ready = redis.ok && sqlite.ok && duckdb.ok
    // A backlog over its bound keeps /ready at 200: the service works and sheds load (429). A load
    // balancer taking it out would refuse everything instead, and with one server, everything.
    return reply.status(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not ready', checks: { redis, sqlite, duckdb }, backlog: ocean.backlog.view() })
  })

  app.get('/metrics', { onRequest: async (req) => checkBearer(req.headers.authorization) }, async (_req, reply) => {
    reply.type(ocean.metrics.registry.contentType)
    return ocean.scrapeMetrics()
  })
}

export default healthRoutes
