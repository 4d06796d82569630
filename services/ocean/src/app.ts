// The Ocean app factory: build(config, deps) returns a Fastify instance with every route, kept
// apart from listen() so tests drive it with app.inject(). Shared resources (SQLite, Redis) are
// opened here and closed in onClose.
import Fastify, { LogController, type FastifyBaseLogger, type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify'
import type { Redis } from 'ioredis'
import type { Analytics } from './analytics/analytics.ts'
import { bearerChecker } from './auth.ts'
import { BacklogGate } from './buffer/backlog-gate.ts'
import { bufferNames, connectRedis, RedisBuffer, redisReady } from './buffer/redis-buffer.ts'
import type { OceanConfig } from './config.ts'
import { Errors, isOceanError, OceanError } from './errors.ts'
import { parseJsonBody } from './json-body.ts'
import { createMetrics, timedStore, type Metrics } from './metrics.ts'
import analyticsRoutes from './routes/analytics.ts'
import snapshotRoutes from './routes/snapshots.ts'
import billingRoutes from './routes/billing.ts'
import documentRoutes from './routes/documents.ts'
import healthRoutes from './routes/health.ts'
import sessionRoutes from './routes/sessions.ts'
import statusRoutes from './routes/status.ts'
import telemetryRoutes from './routes/telemetry.ts'
import userRoutes from './routes/users.ts'
import { BillingStore } from './stores/billing-store.ts'
import { DocumentStore } from './stores/document-store.ts'
import { SessionStore } from './stores/session-store.ts'
import { openSqlite, type SqliteDb } from './stores/sqlite-db.ts'
import { UserStore } from './stores/user-store.ts'
import { validatorCompiler } from './validation.ts'

export interface AppDeps {
  analytics: Analytics
  metrics?: Metrics
  /** Extra work for onClose (e.g. stopping an in-process engine). */
  onClose?: () => Promise<void>
  /** A logger to share with the rest of the process; else one is made from config.logLevel. */
  loggerInstance?: FastifyBaseLogger
  /** What /metrics answers (multi-process mode: the whole service's); else this process's registry. */
  scrapeMetrics?: () => Promise<string>
}

export interface Ocean {
  config: OceanConfig
  db: SqliteDb
  redis: Redis
  buffer: RedisBuffer
  /** Backpressure: whether ingest refuses now (a cached view of the backlog). */
  backlog: BacklogGate
  users: UserStore
  sessions: SessionStore
  billing: BillingStore
  documents: DocumentStore
  analytics: Analytics
  metrics: Metrics
  scrapeMetrics(): Promise<string>
  startedAt: number
}

declare module 'fastify' {
  interface FastifyInstance {
    ocean: Ocean
  }
}

export async function build(config: OceanConfig, deps: AppDeps): Promise<FastifyInstance> {
  const app = Fastify({
    ...(deps.loggerInstance
      ? { loggerInstance: deps.loggerInstance }
      : { logger: { level: config.logLevel, redact: ['req.headers.authorization', 'req.headers.cookie'] } }),
    bodyLimit: 64 * 1024,
    // A 256-byte id percent-encoded is at most 768 characters (ids.ts). (In routerOptions: set at
    // the top level, Fastify 5 warns FSTDEP022 on every process's stderr.)
    routerOptions: { maxParamLength: 1024 },
    // Slow clients cannot hold connections: see config.ts (OCEAN_*_TIMEOUT_SECONDS).
    requestTimeout: config.requestTimeoutMs,
    connectionTimeout: config.idleTimeoutMs,
    keepAliveTimeout: config.keepAliveTimeoutMs,
    http: { headersTimeout: config.headersTimeoutMs, connectionsCheckingInterval: 1000 },
    // Errors raised before routing (a bad or too long URL) answer in the service's format too.
    // Fastify runs no onResponse hook for these: they are counted when their answer is sent.
    frameworkErrors: (err, req, reply) => {
      reply.raw.once('finish', () => countAnswer(req, reply))
      void sendError(reply, frameworkError(err))
    },
    // Per-request log lines cost ~10 % of ingest throughput; the metrics carry the same facts.
    logController: new LogController({ disableRequestLogging: config.logLevel !== 'debug' }),
    ajv: { customOptions: {} },
  })
  app.setValidatorCompiler(validatorCompiler)
  app.removeContentTypeParser('application/json')
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => {
    try {
      done(null, parseJsonBody(body as string))
    } catch (e) {
      done(e as Error, undefined)
    }
  })

  const db = openSqlite(config.dataDir)
  const redis = connectRedis(config.redisUrl, 'ocean-api')
  // Redis being down is reported per request (503) and by /ready; it must not crash the process.
  redis.on('error', (err) => app.log.warn({ err: err.message }, 'redis connection error'))
  // Serve only once connected (or after 10 s without Redis: /ready then says 503 until it comes).
  await redisReady(redis).catch((err: Error) => app.log.warn({ err: err.message }, 'starting without Redis'))
  const metrics = deps.metrics ?? createMetrics()
  const names = bufferNames(config.stream, config.group)
  const backlog = new BacklogGate(redis, names, { maxEvents: config.backlogMaxEvents, maxSeconds: config.backlogMaxSeconds }, (refusing) =>
    metrics.backpressure.set(refusing ? 1 : 0),
  ).start()
  const ocean: Ocean = {
    config,
    db,
    redis,
    buffer: new RedisBuffer(redis, names, config.entryEvents),
    backlog,
    users: timedStore(metrics, 'sqlite', 'users', new UserStore(db)),
    sessions: timedStore(metrics, 'sqlite', 'sessions', new SessionStore(db)),
    billing: timedStore(metrics, 'sqlite', 'billing', new BillingStore(db)),
    documents: timedStore(metrics, 'sqlite', 'documents', new DocumentStore(db)),
    analytics: deps.analytics,
    metrics,
    scrapeMetrics: deps.scrapeMetrics ?? (() => metrics.registry.metrics()),
    startedAt: Date.now(),
  }
  ocean.buffer.onAccepted = (total) => backlog.accepted(total)
  app.decorate('ocean', ocean)
  metrics.info.set({ version: config.version }, 1)

  const purge = setInterval(() => ocean.sessions.purgeExpired(), 3_600_000)
  purge.unref()
  app.addHook('onClose', async () => {
    clearInterval(purge)
    backlog.stop()
    redis.disconnect()
    db.close()
    await deps.onClose?.()
  })

  const countAnswer = (req: FastifyRequest, reply: FastifyReply) => {
    const route = req.routeOptions.url ?? 'unknown'
    const labels = { method: req.method, route, status: String(reply.statusCode) }
    metrics.requests.inc(labels)
    metrics.requestDuration.observe(labels, reply.elapsedTime / 1000)
    if (reply.statusCode >= 400) metrics.errors.inc({ route, status: labels.status, code: errorCodes.get(reply.raw) ?? 'unknown' })
  }
  app.addHook('onResponse', async (req, reply) => countAnswer(req, reply))

  app.setErrorHandler((err: FastifyError | OceanError, req, reply) => {
    const e = toOceanError(err)
    if (e.statusCode >= 500) req.log.error({ err }, 'request failed')
    void sendError(reply, e)
  })
  const checkBearer = bearerChecker(config.apiKey)
  // Without the key, an unknown /api/ocean route is a 401 like a known one: routes cannot be listed.
  app.setNotFoundHandler((req, reply) => {
    const path = req.url.split('?')[0] ?? ''
    try {
      if (path === '/metrics' || path.startsWith('/api/ocean/') || path === '/api/ocean') checkBearer(req.headers.authorization)
    } catch (e) {
      return sendError(reply, e as OceanError)
    }
    return sendError(reply, Errors.routeNotFound(`no route ${req.method} ${path}; see the README for the API`))
  })

  await app.register(healthRoutes, { checkBearer })
  await app.register(
    async (api) => {
      api.addHook('onRequest', async (req) => checkBearer(req.headers.authorization))
      await api.register(statusRoutes)
      await api.register(userRoutes)
      await api.register(sessionRoutes)
      await api.register(billingRoutes)
      await api.register(telemetryRoutes)
      await api.register(analyticsRoutes)
      await api.register(documentRoutes)
      await api.register(snapshotRoutes)
    },
    { prefix: '/api/ocean' },
  )
  return app
}

/** The error code each error answer was sent with, for ocean_errors_total. */
const errorCodes = new WeakMap<object, string>()

function sendError(reply: FastifyReply, e: OceanError): FastifyReply {
  errorCodes.set(reply.raw, e.code)
  return reply.status(e.statusCode).send({ error: { code: e.code, message: e.message, ...(e.details ? { details: e.details } : {}) } })
}

function frameworkError(err: FastifyError): OceanError {
  if (err.code === 'FST_ERR_MAX_PARAM_LENGTH') return Errors.uriTooLong()
  if (err.code === 'FST_ERR_BAD_URL') return Errors.badUrl()
  return toOceanError(err)
}

/** Maps Fastify's own errors (validation, body parsing, limits) onto the catalog. */
function toOceanError(err: FastifyError | OceanError): OceanError {
  if (isOceanError(err)) return err
  if (err.validation) return Errors.validation(`${err.validationContext ?? 'request'}${err.message.replace(/^(body|querystring|params)/, '')}`)
  switch (err.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return Errors.bodyTooLarge()
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return Errors.unsupportedMedia()
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return Errors.malformedJson('the body is empty or its length is wrong; send a JSON object')
  }
  if (err instanceof SyntaxError || err.code === 'FST_ERR_CTP_INVALID_JSON_BODY') return Errors.malformedJson(`the body is not valid JSON: ${err.message}`)
  if (typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500) {
    return new OceanError('OCEAN_E_BAD_REQUEST', err.message, err.statusCode)
  }
  return Errors.internal()
}
