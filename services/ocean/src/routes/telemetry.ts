// Telemetry ingestion: one event or a batch, validated whole, added to the Redis buffer in one
// round trip and answered 202 only once Redis holds it. A batch is accepted whole or not at all.
// With an Idempotency-Key header a retry within the window gets the first answer and adds nothing.
// While the unstored backlog is over its bound both answer 429 before the body is read (backpressure).
import crypto from 'node:crypto'
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import { packEvent, packEvents, type TelemetryEvent } from '../buffer/event-codec.ts'
import type { PackedEvent } from '../stores/duckdb-store.ts'
import { Errors } from '../errors.ts'
import { sensorId } from '../validation.ts'

const event = {
  type: 'object',
  required: ['sensor_id'],
  additionalProperties: false,
  properties: {
    sensor_id: sensorId,
    timestamp: { anyOf: [{ type: 'string', maxLength: 40 }, { type: 'integer' }] },
    value: { type: 'number' },
    data: {
      anyOf: [
        { type: 'object', maxProperties: 64, additionalProperties: { type: 'number' } },
        { type: 'string', maxLength: 8192 },
      ],
    },
  },
} as const

const idempotencyHeaders = {
  type: 'object',
  properties: { 'idempotency-key': { type: 'string', pattern: '^[A-Za-z0-9._:-]{1,128}$' } },
} as const

type Keyed = { 'idempotency-key'?: string }

/** What makes two requests "the same" for an idempotency key: the route and the body. */
function fingerprint(route: string, body: unknown): string {
  return crypto.createHash('sha256').update(route).update('\n').update(JSON.stringify(body)).digest('base64url')
}

const telemetryRoutes: FastifyPluginAsync = async (app) => {
  const { buffer, backlog, config, metrics } = app.ocean
  /**
   * Backpressure, from the cached view of the backlog (no Redis round trip): refused before the
   * body is read or anything is added, so a refused Idempotency-Key can be sent again later. The
   * view takes in the accepted counter each addition of this process returns, but the other API
   * processes' additions only when one of its own or the next refresh (REFRESH_MS) reads it, and a batch is admitted whole while under the bound, so the backlog can
   * pass the bound by what the other processes add meanwhile plus the batches in flight: the bound
   * is a brake, not an exact cap. A replay of a key already accepted is refused too while over (it is answered later).
   */
  const admit = async (_req: FastifyRequest, reply: FastifyReply) => {
    const reason = backlog.reason
    if (reason === null) return
    metrics.refused.inc({ reason })
    const s = backlog.retryAfter
    reply.header('retry-after', String(s))
    throw Errors.backlogFull(
      `the unstored backlog is over its bound (${reason === 'events' ? `${config.backlogMaxEvents} events` : `${config.backlogMaxSeconds} s old`}): nothing was accepted; retry after ${s} s (with the same Idempotency-Key, if any)`,
    )
  }
  const bounds = () => ({ now: Date.now(), maxPastDays: config.maxPastDays, maxFutureSeconds: config.maxFutureSeconds })

  /** Adds keyed events once; a replay is marked with the Idempotent-Replayed header. */
  async function appendKeyed(reply: FastifyReply, key: string, route: string, body: unknown, events: PackedEvent[]) {
    const added = await buffer.appendOnce(key, fingerprint(route, body), events, config.idempotencyMs)
    if (added.replayed) reply.header('idempotent-replayed', 'true')
    else metrics.ingested.inc(added.events)
    return added
  }

  app.post<{ Body: TelemetryEvent; Headers: Keyed }>('/telemetry/ingest', { onRequest: admit, schema: { body: event, headers: idempotencyHeaders } }, async (req, reply) => {
    const key = req.headers['idempotency-key']
    if (key !== undefined) {
      const added = await appendKeyed(reply, key, 'ingest', req.body, [packEvent(req.body, bounds())])
      return reply.status(202).send({ accepted: added.events, id: added.ids[0] })
    }
    const id = await buffer.appendOne(packEvent(req.body, bounds()))
    metrics.ingested.inc()
    return reply.status(202).send({ accepted: 1, id })
  })

  app.post<{ Body: { events: TelemetryEvent[] }; Headers: Keyed }>(
    '/telemetry/batch',
    {
      bodyLimit: config.maxBatchBytes,
      onRequest: admit,
      // Checked before the schema, so a huge batch is refused before each event is validated.
      preValidation: async (req) => {
        const events = (req.body as { events?: unknown } | null)?.events
        if (Array.isArray(events) && events.length > config.maxBatchEvents) {
          throw Errors.batchTooLarge(`${events.length} events in one batch; at most ${config.maxBatchEvents}: split it`)
        }
      },
      schema: {
        headers: idempotencyHeaders,
        body: {
          type: 'object',
          required: ['events'],
          additionalProperties: false,
          properties: { events: { type: 'array', minItems: 1, items: event } },
        },
      },
    },
    async (req, reply) => {
      const packed = packEvents(req.body.events, bounds())
      const key = req.headers['idempotency-key']
      if (key !== undefined) {
        const added = await appendKeyed(reply, key, 'batch', req.body, packed)
        return reply.status(202).send({ accepted: added.events, ids: added.ids, entry_events: config.entryEvents })
      }
      const ids = await buffer.append(packed)
      metrics.ingested.inc(packed.length)
      // Entry i of `ids` holds events [i * entry_events, (i + 1) * entry_events).
      return reply.status(202).send({ accepted: packed.length, ids, entry_events: config.entryEvents })
    },
  )

  app.get('/telemetry/unprocessed', async () => {
    try {
      return await buffer.backlog()
    } catch {
      throw Errors.bufferUnavailable()
    }
  })

  // Retired on purpose: the worker acknowledges what it has stored, so a client can no longer
  // mark events processed (the old route could make unstored events disappear).
  app.post('/telemetry/mark-processed', async () => {
    throw Errors.routeRetired('mark-processed was retired: events are acknowledged by the worker once stored; see GET /api/ocean/telemetry/unprocessed')
  })
}

export default telemetryRoutes
