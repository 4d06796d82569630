// Process entry (`npm run ocean`). OCEAN_API_PROCESSES=0 (default): one process runs the API,
// the ingest worker and DuckDB. N >= 1: a supervisor forks one engine process (the only DuckDB
// owner: worker + analytics on a Unix socket) and N API processes sharing the port, and
// restarts any that die. SIGTERM/SIGINT drain and stop everything.
import cluster from 'node:cluster'
import { fork, type ChildProcess } from 'node:child_process'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import pino from 'pino'
import client from 'prom-client'
import { build } from './app.ts'
import type { Analytics } from './analytics/analytics.ts'
import { RemoteAnalytics, serveAnalytics } from './analytics/engine-link.ts'
import { loadConfig, type OceanConfig } from './config.ts'
import { DRAIN_RESULT_PREFIX } from './buffer/drain-result.ts'
import { drainBuffer, startEngine } from './engine.ts'
import { Errors, isOceanError } from './errors.ts'
import { createMetrics, processMetrics } from './metrics.ts'
import { answerCollects, scrapeService, serveScrapes } from './metrics-aggregation.ts'
import { roleExecArgv } from './role-flags.ts'

// Every file this service creates (databases, WAL, exports, the engine socket) is its user's alone.
process.umask(0o077)

const log = pino({ level: process.env.OCEAN_LOG_LEVEL ?? 'info', name: `ocean-${process.env.OCEAN_ROLE ?? 'main'}` })

function onSignal(stop: () => Promise<void>): void {
  let stopping = false
  const handler = (signal: string) => {
    if (stopping) return
    stopping = true
    log.info({ signal }, 'stopping')
    stop().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err }, 'error while stopping')
        process.exit(1)
      },
    )
  }
  process.on('SIGTERM', handler)
  process.on('SIGINT', handler)
}

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

async function runSingle(config: OceanConfig): Promise<void> {
  const metrics = createMetrics()
  // The app is built while DuckDB opens (which may wait for another process's lock: the cutover's
  // final sync); it listens only once the engine is open, so nothing answers before the store can.
  const engine = startEngine(config, metrics, log)
  const [, app] = await Promise.all([engine, build(config, { analytics: analyticsWhenOpen(engine), metrics, onClose: async () => (await engine).close(), loggerInstance: log })])
  await app.listen({ host: config.host, port: config.port })
  onSignal(() => app.close())
}

async function runEngine(config: OceanConfig): Promise<void> {
  const metrics = createMetrics()
  answerCollects(metrics.registry)
  const engine = await startEngine(config, metrics, log)
  const server = await serveAnalytics(engine.analytics, engineSocket(config))
  log.info({ socket: engineSocket(config) }, 'engine ready')
  onSignal(async () => {
    await server.close()
    await engine.close()
  })
}

async function runApi(config: OceanConfig): Promise<void> {
  const analytics = new RemoteAnalytics(engineSocket(config))
  const metrics = createMetrics()
  answerCollects(metrics.registry)
  const app = await build(config, { analytics, metrics, scrapeMetrics: () => scrapeService(), loggerInstance: log, onClose: async () => analytics.close() })
  await app.listen({ host: config.host, port: config.port })
  onSignal(() => app.close())
}

/** OCEAN_ROLE=drain: a one-off run with the API stopped; prints what it stored and what is left. */
async function runDrain(config: OceanConfig): Promise<void> {
  const account = await drainBuffer(config, log)
  process.stdout.write(`${DRAIN_RESULT_PREFIX}${JSON.stringify(account)}\n`)
}

function runSupervisor(config: OceanConfig): void {
  const self = fileURLToPath(import.meta.url)
  let stopping = false
  let engine: ChildProcess
  // 'advanced': the metrics sent over IPC keep their NaN (a gauge that could not be read).
  const startEngineProcess = () => {
    engine = fork(self, { env: { ...process.env, OCEAN_ROLE: 'engine' }, serialization: 'advanced', execArgv: roleExecArgv('engine', process.execArgv) })
    engine.on('exit', (code, signal) => {
      if (stopping) return
      log.error({ code, signal }, 'engine exited; restarting in 1 s')
      setTimeout(startEngineProcess, 1000)
    })
  }
  startEngineProcess()
  cluster.setupPrimary({ exec: self, serialization: 'advanced', execArgv: roleExecArgv('api', process.execArgv) })
  for (let i = 0; i < config.apiProcesses; i++) cluster.fork({ OCEAN_ROLE: 'api' })
  cluster.on('exit', (worker, code, signal) => {
    if (stopping) return
    log.error({ pid: worker.process.pid, code, signal }, 'API process exited; restarting in 1 s')
    setTimeout(() => cluster.fork({ OCEAN_ROLE: 'api' }), 1000)
  })
  const own = new client.Registry()
  processMetrics(own).set({ version: config.version }, 1)
  serveScrapes(cluster, {
    own,
    peers: () => [engine, ...Object.values(cluster.workers ?? {}).flatMap((w) => (w ? [w.process] : []))],
    expected: config.apiProcesses + 1,
  })
  onSignal(async () => {
    stopping = true
    // API processes first (they stop taking requests), then the engine drains its batch.
    await Promise.all(Object.values(cluster.workers ?? {}).map((w) => new Promise((r) => (w ? (w.once('exit', r), w.kill('SIGTERM')) : r(null)))))
    await new Promise((r) => (engine.exitCode !== null ? r(null) : (engine.once('exit', r), engine.kill('SIGTERM'))))
  })
  log.info({ apiProcesses: config.apiProcesses, port: config.port }, 'supervisor started')
}

async function main(): Promise<void> {
  let config: OceanConfig
  try {
    // Secrets from a 0600 file (the deploy runbook mounts one) rather than the container's
    // environment, where `docker inspect` would show them. Variables already set win.
    const envFile = process.env.OCEAN_ENV_FILE
    // The supervisor's children inherit the loaded environment (and mark it with their role).
    if (envFile && process.env.OCEAN_ROLE !== 'api' && process.env.OCEAN_ROLE !== 'engine') {
      try {
        process.loadEnvFile(envFile)
      } catch (e) {
        throw Errors.config(`OCEAN_ENV_FILE=${envFile} cannot be read (${(e as Error).message}); point it at the 0600 env file or unset it`)
      }
    }
    config = loadConfig()
  } catch (e) {
    if (isOceanError(e)) {
      process.stderr.write(`ocean: ${e.code}: ${e.message}\n`)
      process.exit(2)
    }
    throw e
  }
  const role = process.env.OCEAN_ROLE
  if (role === 'engine') return runEngine(config)
  if (role === 'api') return runApi(config)
  if (role === 'drain') return runDrain(config)
  if (config.apiProcesses === 0) return runSingle(config)
  runSupervisor(config)
}

await main()
