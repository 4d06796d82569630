// Analytics over stored telemetry (DuckDB): per-sensor stats, time series, anomalies, several
// sensors compared on the same buckets, and a streamed export.
import type { FastifyPluginAsync } from 'fastify'
import type { Range } from '../analytics/analytics-queries.ts'
import { EXPORT_FORMATS, type ExportFormat } from '../analytics/export-plan.ts'
import { parseIsoWithZone } from '../buffer/event-codec.ts'
import { Errors, isOceanError } from '../errors.ts'
import { sensorId } from '../validation.ts'


export function parseRange(from: string | undefined, to: string | undefined): Range {
  const parse = (v: string | undefined, name: string): number | undefined => {
    if (v === undefined) return undefined
    const ms = /^\d{1,15}$/.test(v) ? Number(v) : parseIsoWithZone(v)
    if (!Number.isFinite(ms)) throw Errors.validation(`${name} must be epoch milliseconds or ISO 8601 with a zone, got ${JSON.stringify(v)}`)
    return ms
  }
  const range = { from: parse(from, 'from'), to: parse(to, 'to') }
  if (range.from !== undefined && range.to !== undefined && range.from >= range.to) throw Errors.validation('from must be before to')
  return range
}

const time = { type: 'string', maxLength: 40 } as const
const metric = { type: 'string', pattern: '^[A-Za-z0-9_.-]{1,64}$', default: 'value' } as const
const bucket = { type: 'string', enum: ['1m', '5m', '15m', '1h', '1d'], default: '5m' } as const
const sensorParams = { type: 'object', required: ['id'], properties: { id: sensorId } } as const
const rangeQuery = (extra: Record<string, object> = {}) =>
  ({ type: 'object', additionalProperties: false, properties: { from: time, to: time, metric, ...extra } }) as const

type RangeQs = { from?: string; to?: string; metric: string }

/** The engine may live in another process: if it cannot be reached, say so with a 503. */
async function engine<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn()
  } catch (e) {
    if (isOceanError(e)) throw e
    if ((e as { code?: string }).code === 'ECONNREFUSED' || (e as { code?: string }).code === 'ENOENT') throw Errors.analyticsUnavailable()
    throw e
  }
}

const analyticsRoutes: FastifyPluginAsync = async (app) => {
  const { analytics } = app.ocean

  app.get<{ Params: { id: string }; Querystring: RangeQs }>(
    '/analytics/sensor/:id/stats',
    { schema: { params: sensorParams, querystring: rangeQuery() } },
    async (req) => engine(() => analytics.stats({ sensor_id: req.params.id, metric: req.query.metric, ...parseRange(req.query.from, req.query.to) })),
  )

  app.get<{ Params: { id: string }; Querystring: RangeQs & { bucket: '5m' } }>(
    '/analytics/sensor/:id/timeseries',
    { schema: { params: sensorParams, querystring: rangeQuery({ bucket }) } },
    async (req) =>
      engine(() =>
        analytics.timeseries({ sensor_id: req.params.id, metric: req.query.metric, bucket: req.query.bucket, ...parseRange(req.query.from, req.query.to) }),
      ),
  )

  app.get<{ Params: { id: string }; Querystring: RangeQs & { window: number; threshold: number; limit: number } }>(
    '/analytics/sensor/:id/anomalies',
    {
      schema: {
        params: sensorParams,
        querystring: rangeQuery({
          window: { type: 'integer', minimum: 2, maximum: 10_000, default: 60 },
          threshold: { type: 'number', exclusiveMinimum: 0, maximum: 1000, default: 3 },
          limit: { type: 'integer', minimum: 1, maximum: 10_000, default: 1000 },
        }),
      },
    },
    async (req) =>
      engine(() =>
        analytics.anomalies({
          sensor_id: req.params.id,
          metric: req.query.metric,
          window: req.query.window,
          threshold: req.query.threshold,
          limit: req.query.limit,
          ...parseRange(req.query.from, req.query.to),
        }),
      ),
  )

  app.post<{ Body: { sensor_ids: string[]; bucket: '5m'; from?: string; to?: string; metric: string } }>(
    '/analytics/compare',
    {
      schema: {
        body: {
          type: 'object',
          required: ['sensor_ids'],
          additionalProperties: false,
          properties: { sensor_ids: { type: 'array', minItems: 1, maxItems: 50, uniqueItems: true, items: sensorId }, bucket, from: time, to: time, metric },
        },
      },
    },
    async (req) =>
      engine(() =>
        analytics.compare({ sensor_ids: req.body.sensor_ids, bucket: req.body.bucket, metric: req.body.metric, ...parseRange(req.body.from, req.body.to) }),
      ),
  )

  const contentTypes: Record<ExportFormat, string> = {
    parquet: 'application/vnd.apache.parquet',
    csv: 'text/csv; charset=utf-8',
    json: 'application/json; charset=utf-8',
    jsonl: 'application/jsonl; charset=utf-8',
  }
  app.get<{ Querystring: { format: ExportFormat; sensor_id?: string; from?: string; to?: string; limit: number } }>(
    '/analytics/export',
    {
      schema: {
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            format: { type: 'string', enum: [...EXPORT_FORMATS], default: 'csv' },
            sensor_id: sensorId,
            from: time,
            to: time,
            limit: { type: 'integer', minimum: 1, maximum: 50_000_000, default: 1_000_000 },
          },
        },
      },
    },
    async (req, reply) => {
      const q = req.query
      const stream = await engine(() => analytics.export({ format: q.format, sensor_id: q.sensor_id, limit: q.limit, ...parseRange(q.from, q.to) }))
      reply.header('content-disposition', `attachment; filename="telemetry.${q.format}"`).type(contentTypes[q.format])
      return reply.send(stream)
    },
  )
}

export default analyticsRoutes
