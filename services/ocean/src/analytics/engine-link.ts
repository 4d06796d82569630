// Multi-process mode: API processes reach the engine (the DuckDB owner) over a local Unix socket,
// never by opening the DuckDB file themselves. `serveAnalytics` runs in the engine process;
// `RemoteAnalytics` is the API side. The socket is created 0600: only this user may connect.
import fs from 'node:fs'
import http from 'node:http'
import type { Readable } from 'node:stream'
import Fastify, { type FastifyInstance } from 'fastify'
import type { Analytics } from './analytics.ts'
import type { AnomalyQuery, CompareQuery, EngineInfo, ExportQuery, SensorStats, SeriesQuery } from './analytics.ts'
import type { Range } from './analytics-queries.ts'
import type { SnapshotTaken } from '../stores/snapshots.ts'

const OPS = ['stats', 'timeseries', 'anomalies', 'compare', 'info', 'ping', 'snapshot'] as const

export async function serveAnalytics(analytics: Analytics, socketPath: string): Promise<FastifyInstance> {
  fs.rmSync(socketPath, { force: true })
  const app = Fastify({ logger: false, bodyLimit: 1024 * 1024 })
  for (const op of OPS) {
    app.post(`/${op}`, async (req) => {
      const fn = analytics[op] as (q: unknown) => Promise<unknown>
      return (await fn.call(analytics, req.body ?? {})) ?? {}
    })
  }
  app.post('/export', async (req, reply) => reply.send(await analytics.export(req.body as ExportQuery)))
  app.setErrorHandler((err, _req, reply) => {
    void reply.status(500).send({ message: err instanceof Error ? err.message : String(err) })
  })
  await app.listen({ path: socketPath })
  fs.chmodSync(socketPath, 0o600)
  return app
}

export class RemoteAnalytics implements Analytics {
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 16 })

  constructor(private readonly socketPath: string) {}

  private request(op: string, body: unknown): Promise<http.IncomingMessage> {
    return new Promise((resolve, reject) => {
      const payload = JSON.stringify(body)
      const req = http.request(
        { socketPath: this.socketPath, path: `/${op}`, method: 'POST', agent: this.agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } },
        (res) => {
          if (res.statusCode === 200) return resolve(res)
          let text = ''
          res.setEncoding('utf8').on('data', (c: string) => (text += c)).on('end', () => reject(new Error(`engine ${op} failed: ${text}`)))
        },
      )
      req.on('error', reject)
      req.end(payload)
    })
  }

  private async call<T>(op: string, body: unknown): Promise<T> {
    const res = await this.request(op, body)
    let text = ''
    for await (const chunk of res.setEncoding('utf8')) text += chunk as string
    return JSON.parse(text) as T
  }

  stats(q: Range & { sensor_id: string; metric: string }): Promise<SensorStats> {
    return this.call('stats', q)
  }
  timeseries(q: SeriesQuery): ReturnType<Analytics['timeseries']> {
    return this.call('timeseries', q)
  }
  anomalies(q: AnomalyQuery): ReturnType<Analytics['anomalies']> {
    return this.call('anomalies', q)
  }
  compare(q: CompareQuery): ReturnType<Analytics['compare']> {
    return this.call('compare', q)
  }
  async export(q: ExportQuery): Promise<Readable> {
    return this.request('export', q)
  }
  info(): Promise<EngineInfo> {
    return this.call('info', {})
  }
  snapshot(q: { file: string }): Promise<SnapshotTaken> {
    return this.call('snapshot', q)
  }
  async ping(): Promise<void> {
    await this.call('ping', {})
  }
  close(): void {
    this.agent.destroy()
  }
}
