// The roles that serve: one process doing everything, the engine (the only DuckDB owner: worker +
// analytics on a Unix socket), an API process, and the one-off drain. main.ts loads this module
// only in those roles, so the supervisor never loads the HTTP stack, Redis or SQLite.
import path from 'node:path'
import type { Logger } from 'pino'
import { build } from './app.ts'
import type { Analytics } from './analytics/analytics.ts'
import { RemoteAnalytics, serveAnalytics } from './analytics/engine-link.ts'
import type { OceanConfig } from './config.ts'
import { DRAIN_RESULT_PREFIX } from './buffer/drain-result.ts'
import { drainBuffer, startEngine } from './engine.ts'
import { createMetrics } from './metrics.ts'
import { answerCollects, scrapeService } from './metrics-aggregation.ts'
import { onSignal } from './signals.ts'

/** The engine's analytics, for an app built before the engine has opened. */
function analyticsWhenOpen(engine: Promise<{ analytics: Analytics }>): Analytics {
  const a = engine.then((e) => e.analytics)
  a.catch(() => undefined) // the caller sees the engine's failure
  return {
    stats: async (q) => (await a).stats(q),
    timeseries: async (q) => (await a).timeseries(q),
    anomalies: async (q) => (await a).anomalies(q),
    compare: async (q) => (await a).compare(q),
    export: async (q) => (await a).export(q),
    info: async () => (await a).info(),
    ping: async () => (await a).ping(),
    snapshot: async (q) => (await a).snapshot(q),
  }
}

const engineSocket = (config: OceanConfig) => path.join(config.dataDir, 'engine.sock')

export async function runSingle(config: OceanConfig, log: Logger): Promise<void> {
  const metrics = createMetrics()
  // The app is built while DuckDB opens (which may wait for another process's lock: the cutover's
  // final sync); it listens only once the engine is open, so nothing answers before the store can.
  const engine = startEngine(config, metrics, log)
  const [, app] = await Promise.all([engine, build(config, { analytics: analyticsWhenOpen(engine), metrics, onClose: async () => (await engine).close(), loggerInstance: log })])
  await app.listen({ host: config.host, port: config.port })
  onSignal(log, () => app.close())
}

export async function runEngine(config: OceanConfig, log: Logger): Promise<void> {
  const metrics = createMetrics()
  answerCollects(metrics.registry)
  const engine = await startEngine(config, metrics, log)
  const server = await serveAnalytics(engine.analytics, engineSocket(config))
  log.info({ socket: engineSocket(config) }, 'engine ready')
  onSignal(log, async () => {
    await server.close()
    await engine.close()
  })
  // The supervisor forked it: if the supervisor dies (SIGKILL, out of memory) the IPC channel
  // closes. Cluster's API processes exit at once then; the engine stops as on SIGTERM (drains the
  // buffer, closes DuckDB) instead of running on unsupervised, holding DuckDB's lock against the
  // engine a restarted service forks.
  if (process.send) {
    process.once('disconnect', () => {
      log.warn('the supervisor is gone; stopping')
      process.kill(process.pid, 'SIGTERM')
    })
  }
}

export async function runApi(config: OceanConfig, log: Logger): Promise<void> {
  const analytics = new RemoteAnalytics(engineSocket(config))
  const metrics = createMetrics()
  answerCollects(metrics.registry)
  const app = await build(config, { analytics, metrics, scrapeMetrics: () => scrapeService(), loggerInstance: log, onClose: async () => analytics.close() })
  await app.listen({ host: config.host, port: config.port })
  onSignal(log, () => app.close())
}

/** OCEAN_ROLE=drain: a one-off run with the API stopped; prints what it stored and what is left. */
export async function runDrain(config: OceanConfig, log: Logger): Promise<void> {
  const account = await drainBuffer(config, log)
  process.stdout.write(`${DRAIN_RESULT_PREFIX}${JSON.stringify(account)}\n`)
}
