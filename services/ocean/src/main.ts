// Process entry (`npm run ocean`). OCEAN_API_PROCESSES=0 (default): one process runs the API,
// the ingest worker and DuckDB. N >= 1: a supervisor forks one engine process (the only DuckDB
// owner: worker + analytics on a Unix socket) and N API processes sharing the port, and
// restarts any that die. SIGTERM/SIGINT drain and stop everything.
import { fileURLToPath } from 'node:url'
import pino from 'pino'
import { loadConfig, type OceanConfig } from './config.ts'
import { Errors, isOceanError } from './errors.ts'

// Every file this service creates (databases, WAL, exports, the engine socket) is its user's alone.
process.umask(0o077)

const log = pino({ level: process.env.OCEAN_LOG_LEVEL ?? 'info', name: `ocean-${process.env.OCEAN_ROLE ?? 'main'}` })

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
  // Each role loads only its own modules (the bundle splits at these imports): the supervisor
  // stays free of fastify, ioredis, SQLite and DuckDB.
  const role = process.env.OCEAN_ROLE
  if (role === 'engine') return (await import('./roles.ts')).runEngine(config, log)
  if (role === 'api') return (await import('./roles.ts')).runApi(config, log)
  if (role === 'drain') return (await import('./roles.ts')).runDrain(config, log)
  if (config.apiProcesses === 0) return (await import('./roles.ts')).runSingle(config, log)
  ;(await import('./supervisor.ts')).runSupervisor(config, log, fileURLToPath(import.meta.url))
}

await main()
