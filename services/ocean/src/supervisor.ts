// The supervisor (OCEAN_API_PROCESSES >= 1): forks the engine and N API processes sharing the port
// (each with its role's heap flags), restarts any that die, answers the service's metrics scrape by
// gathering every process's, and on SIGTERM stops the API processes first, then the engine. It
// loads no HTTP stack, Redis client or database: forking and counting is all it does.
import cluster from 'node:cluster'
import { fork, type ChildProcess } from 'node:child_process'
import type { Logger } from 'pino'
import client from 'prom-client'
import type { OceanConfig } from './config.ts'
import { processMetrics } from './metrics.ts'
import { serveScrapes } from './metrics-aggregation.ts'
import { roleExecArgv } from './role-flags.ts'
import { onSignal } from './signals.ts'

/** `entry`: the file every forked process runs (main's own), with OCEAN_ROLE saying which role. */
export function runSupervisor(config: OceanConfig, log: Logger, entry: string): void {
  let stopping = false
  let engine: ChildProcess
  // 'advanced': the metrics sent over IPC keep their NaN (a gauge that could not be read).
  const startEngineProcess = () => {
    engine = fork(entry, { env: { ...process.env, OCEAN_ROLE: 'engine' }, serialization: 'advanced', execArgv: roleExecArgv('engine', process.execArgv) })
    engine.on('exit', (code, signal) => {
      if (stopping) return
      log.error({ code, signal }, 'engine exited; restarting in 1 s')
      setTimeout(startEngineProcess, 1000)
    })
  }
  startEngineProcess()
  cluster.setupPrimary({ exec: entry, serialization: 'advanced', execArgv: roleExecArgv('api', process.execArgv) })
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
  onSignal(log, async () => {
    stopping = true
    // API processes first (they stop taking requests), then the engine drains its batch.
    await Promise.all(Object.values(cluster.workers ?? {}).map((w) => new Promise((r) => (w ? (w.once('exit', r), w.kill('SIGTERM')) : r(null)))))
    await new Promise((r) => (engine.exitCode !== null ? r(null) : (engine.once('exit', r), engine.kill('SIGTERM'))))
  })
  log.info({ apiProcesses: config.apiProcesses, port: config.port }, 'supervisor started')
}
