// Service configuration: read once from the environment and validated at start, so a bad
// setting stops the process with a message that names the variable and how to fix it.
import os from 'node:os'
import path from 'node:path'
import { Errors } from './errors.ts'

export interface OceanConfig {
  host: string
  port: number
  redisUrl: string
  dataDir: string
  apiKey: string
  /** API processes: 0 runs API, worker and DuckDB in one process; N >= 1 forks N API processes and one engine. */
  apiProcesses: number
  stream: string
  group: string
  consumer: string
  /** Deliveries after which a stream entry goes to the dead-letter stream. */
  maxDeliveries: number
  /** On a graceful stop the worker stores what the stream still holds for this long at most. */
  drainMs: number
  maxBatchEvents: number
  maxBatchBytes: number
  /** Events per Redis stream entry: a batch is split into entries of at most this many. */
  entryEvents: number
  /** How long an ingest Idempotency-Key is remembered: a retry within it gets the first answer. */
  idempotencyMs: number
  /**
   * Backpressure: while more events than this are accepted and not yet stored, ingest answers 429
   * with Retry-After instead of growing Redis toward maxmemory (0: no bound).
   */
  backlogMaxEvents: number
  /** The same for the age of the oldest unstored event, in seconds (0: no bound). */
  backlogMaxSeconds: number
  /** Slow clients: the headers must arrive within headersTimeoutMs and the whole request within requestTimeoutMs; a connection idle for idleTimeoutMs is closed (keepAliveTimeoutMs between requests). */
  headersTimeoutMs: number
  requestTimeoutMs: number
  idleTimeoutMs: number
  keepAliveTimeoutMs: number
  /** Accepted event timestamps: not older than this many days, not further ahead than this many seconds. */
  maxPastDays: number
  maxFutureSeconds: number
  hotMaxRows: number
  hotMaxAgeMs: number
  duckdbMemoryLimit: string
  duckdbThreads: number
  /** How long to wait for telemetry.duckdb while another process holds it (a migration engine finishing). */
  duckdbLockWaitMs: number
  logLevel: string
  version: string
}

type Env = Record<string, string | undefined>

function int(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name]
  if (raw === undefined || raw === '') return fallback
  const n = Number(raw)
  if (!Number.isInteger(n) || n < min || n > max) {
    throw Errors.config(`${name}=${JSON.stringify(raw)} is not an integer from ${min} to ${max}`)
  }
  return n
}

function timeouts(env: Env): Pick<OceanConfig, 'headersTimeoutMs' | 'requestTimeoutMs' | 'idleTimeoutMs' | 'keepAliveTimeoutMs'> {
  const headersTimeoutMs = int(env, 'OCEAN_HEADERS_TIMEOUT_SECONDS', 10, 1, 3600) * 1000
  const requestTimeoutMs = int(env, 'OCEAN_REQUEST_TIMEOUT_SECONDS', 30, 1, 3600) * 1000
  if (headersTimeoutMs > requestTimeoutMs) throw Errors.config('OCEAN_HEADERS_TIMEOUT_SECONDS must not be larger than OCEAN_REQUEST_TIMEOUT_SECONDS')
  return {
    headersTimeoutMs,
    requestTimeoutMs,
    idleTimeoutMs: int(env, 'OCEAN_IDLE_TIMEOUT_SECONDS', 60, 1, 3600) * 1000,
    keepAliveTimeoutMs: int(env, 'OCEAN_KEEP_ALIVE_SECONDS', 5, 1, 3600) * 1000,
  }
}

export function loadConfig(env: Env = process.env): OceanConfig {
  const apiKey = env.OCEAN_API_KEY ?? ''
  if (apiKey.length < 16) {
    throw Errors.config('OCEAN_API_KEY must be set to a secret of at least 16 characters (e.g. `openssl rand -hex 32`)')
  }
  const redisUrl = env.REDIS_URL ?? 'redis://127.0.0.1:6379'
  let parsed: URL
  try {
    parsed = new URL(redisUrl)
  } catch {
    throw Errors.config(`REDIS_URL=${JSON.stringify(redisUrl.replace(/:[^:@/]*@/, ':***@'))} is not a URL; use redis://:PASSWORD@HOST:PORT`)
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') {
    throw Errors.config('REDIS_URL must start with redis:// or rediss://')
  }
  const host = env.OCEAN_HOST ?? '127.0.0.1'
  return {
    host,
    port: int(env, 'OCEAN_PORT', 8030, 0, 65535),
    redisUrl,
    dataDir: path.resolve(env.OCEAN_DATA_DIR ?? '.ocean-data'),
    apiKey,
    apiProcesses: int(env, 'OCEAN_API_PROCESSES', 0, 0, 64),
    stream: env.OCEAN_STREAM ?? 'ocean:telemetry',
    group: env.OCEAN_GROUP ?? 'ocean-worker',
    consumer: env.OCEAN_CONSUMER ?? `${os.hostname()}-${process.pid}`,
    maxDeliveries: int(env, 'OCEAN_MAX_DELIVERIES', 5, 1, 1000),
    drainMs: int(env, 'OCEAN_DRAIN_SECONDS', 20, 0, 3600) * 1000,
    maxBatchEvents: int(env, 'OCEAN_MAX_BATCH_EVENTS', 10_000, 1, 100_000),
    maxBatchBytes: int(env, 'OCEAN_MAX_BATCH_BYTES', 5 * 1024 * 1024, 1024, 64 * 1024 * 1024),
    entryEvents: int(env, 'OCEAN_ENTRY_EVENTS', 1000, 1, 10_000),
    idempotencyMs: int(env, 'OCEAN_IDEMPOTENCY_SECONDS', 900, 1, 7 * 86400) * 1000,
    // 2 M events are ~70 MB of stream in 500-event batches (33 B/event, the backpressure bench), more
    // as single events (not measured): meant to stay well inside the deploy's default 1 GB maxmemory.
    backlogMaxEvents: int(env, 'OCEAN_BACKLOG_MAX_EVENTS', 2_000_000, 0, 1_000_000_000),
    backlogMaxSeconds: int(env, 'OCEAN_BACKLOG_MAX_SECONDS', 120, 0, 7 * 86400),
    ...timeouts(env),
    maxPastDays: int(env, 'OCEAN_MAX_PAST_DAYS', 3650, 1, 36500),
    maxFutureSeconds: int(env, 'OCEAN_MAX_FUTURE_SECONDS', 300, 0, 86400 * 7),
    hotMaxRows: int(env, 'OCEAN_HOT_MAX_ROWS', 200_000, 1000, 10_000_000),
    hotMaxAgeMs: int(env, 'OCEAN_HOT_MAX_AGE_MS', 60_000, 100, 86_400_000),
    // 64MB kept the engine ~20-50 MB leaner through a backlog's merges (DuckDB evicts and frees sooner), but
    // bench 4's all-sensors query (2 M groups over 10 M rows) then ran out of memory.
    duckdbMemoryLimit: env.OCEAN_DUCKDB_MEMORY_LIMIT ?? '256MB',
    duckdbThreads: int(env, 'OCEAN_DUCKDB_THREADS', 2, 1, 64),
    duckdbLockWaitMs: int(env, 'OCEAN_DUCKDB_LOCK_WAIT_SECONDS', 60, 0, 3600) * 1000,
    logLevel: env.OCEAN_LOG_LEVEL ?? 'info',
    version: env.OCEAN_VERSION ?? '0.1.0',
  }
}
