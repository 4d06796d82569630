// Benchmark 2: batch ingest end to end, HTTP -> Redis stream -> worker -> DuckDB: batches of 5000
// events sent by a few concurrent clients, timed from the first request until DuckDB holds every
// event (polling GET /api/ocean/status, whose row count is count(*) over the telemetry view), then
// checked for loss. Baselines in the same run: the DuckDB appender alone (same rows, same table
// shape, the worker's transaction size) and a bare Fastify route that parses the same bodies.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { DuckDBInstance, DuckDBTimestampValue } from '@duckdb/node-api'
import type { PackedEvent } from '../../services/ocean/src/stores/duckdb-store.ts'
import { rssRow } from './ingest.ts'
import { acceptedEvents, AUTH, startBaselineServer, startOcean, storedRows, waitForRows } from './processes.ts'
import { atLeast, atMost, fmt, row, type BenchContext } from './report.ts'
import { RssSampler, type RssSummary } from './rss.ts'

const EVENTS_PER_BATCH = 5000
const CLIENTS = 4
/** The worker stores what one XREADGROUP returns (20 entries of up to 1000 events) per transaction. */
const TX_ROWS = 20_000
const SENSORS = 1000

export interface Batches {
  events: PackedEvent[][]
  bodies: Buffer[]
  total: number
}

/** Distinct events over the last hour (inside the service's accepted time window), as request bodies. */
export function makeBatches(total: number): Batches {
  const now = Date.now()
  const events: PackedEvent[][] = []
  const bodies: Buffer[] = []
  for (let start = 0; start < total; start += EVENTS_PER_BATCH) {
    const batch: PackedEvent[] = []
    for (let n = start; n < Math.min(total, start + EVENTS_PER_BATCH); n++) {
      batch.push([`sensor-${String(n % SENSORS).padStart(4, '0')}`, now - 3_600_000 + Math.floor((n / total) * 3_500_000), Math.round(Math.sin(n) * 1e4) / 100, null])
    }
    events.push(batch)
    bodies.push(Buffer.from(`{"events":[${batch.map(([s, ts, v]) => `{"sensor_id":"${s}","timestamp":${ts},"value":${v}}`).join(',')}]}`))
  }
  return { events, bodies, total }
}

interface Sent {
  ms: number
  events: number
  failures: string[]
}

/** Posts every body once with CLIENTS requests in flight; bounded by the count and a deadline. */
async function sendAll(url: string, headers: Record<string, string>, bodies: Buffer[], deadlineMs: number): Promise<Sent> {
  const t0 = performance.now()
  const failures: string[] = []
  let next = 0
  let events = 0
  const client = async () => {
    while (next < bodies.length && performance.now() - t0 < deadlineMs) {
      const body = bodies[next++] as Buffer
      const res = await fetch(url, { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body, signal: AbortSignal.timeout(30_000) })
      const text = await res.text()
      if (res.status === 202) events += (JSON.parse(text) as { accepted: number }).accepted
      else failures.push(`HTTP ${res.status}: ${text.slice(0, 200)}`)
    }
  }
  await Promise.all(Array.from({ length: CLIENTS }, client))
  if (next < bodies.length) failures.push(`deadline: sent ${next} of ${bodies.length} batches in ${deadlineMs / 1000} s`)
  return { ms: performance.now() - t0, events, failures }
}

/** The DuckDB appender alone: same rows into a table of the same shape, one transaction per TX_ROWS. */
export async function appenderAlone(batches: Batches): Promise<number> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-appender-'))
  const instance = await DuckDBInstance.create(path.join(dir, 'a.duckdb'), { memory_limit: '256MB', threads: '2' })
  const conn = await instance.connect()
  try {
    await conn.run('CREATE TABLE telemetry_hot (sensor_id VARCHAR NOT NULL, ts TIMESTAMP NOT NULL, value DOUBLE, data VARCHAR)')
    const all = batches.events.flat()
    const t0 = performance.now()
    for (let i = 0; i < all.length; i += TX_ROWS) {
      await conn.run('BEGIN TRANSACTION')
      const app = await conn.createAppender('telemetry_hot')
      for (const [sensor, ts, value, data] of all.slice(i, i + TX_ROWS)) {
        app.appendVarchar(sensor)
        app.appendTimestamp(new DuckDBTimestampValue(BigInt(ts) * 1000n))
        if (value === null) app.appendNull()
        else app.appendDouble(value)
        if (data === null) app.appendNull()
        else app.appendVarchar(data)
        app.endRow()
      }
      app.flushSync()
      app.closeSync()
      await conn.run('COMMIT')
    }
    return performance.now() - t0
  } finally {
    conn.closeSync()
    instance.closeSync()
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

export async function batchIngestBench(ctx: BenchContext): Promise<void> {
  const total = ctx.quick ? 200_000 : 2_000_000
  const deadlineMs = ctx.quick ? 60_000 : 300_000
  ctx.log(`2: generating ${fmt(total)} events in batches of ${EVENTS_PER_BATCH}`)
  const batches = makeBatches(total)
  const details: Record<string, unknown> = { total, eventsPerBatch: EVENTS_PER_BATCH, clients: CLIENTS, bodyBytes: batches.bodies[0]?.length }

  ctx.log('2: baseline: bare HTTP sink (POST /sink parses the body and drops it)')
  const sink = await startBaselineServer()
  let sinkSent: Sent
  let sinkRss: RssSummary
  try {
    await sendAll(`${sink.base}/sink`, {}, batches.bodies.slice(0, 20), deadlineMs) // warm-up
    const sampler = new RssSampler(sink.pid).start()
    sinkSent = await sendAll(`${sink.base}/sink`, {}, batches.bodies, deadlineMs)
    sinkRss = sampler.stop()
  } finally {
    await sink.stop()
  }
  const sinkRate = (sinkSent.events / sinkSent.ms) * 1000
  ctx.log(`  ${fmt(sinkRate)} events/s, RSS peak ${sinkRss.peakMb} MB${sinkSent.failures.length ? `, failures: ${sinkSent.failures[0]}` : ''}`)

  ctx.log('2: baseline: DuckDB appender alone')
  const appenderMs = await appenderAlone(batches)
  const appenderRate = (total / appenderMs) * 1000
  ctx.log(`  ${fmt(appenderRate)} rows/s`)
  details.baselines = { sinkEventsPerS: sinkRate, sink: sinkSent, sinkRss, appenderEventsPerS: appenderRate, appenderMs }

  for (const apiProcesses of [0, 2]) {
    const mode = apiProcesses === 0 ? '1 process' : `${apiProcesses} API processes + engine`
    ctx.log(`2: Ocean batch ingest, ${mode}`)
    const ocean = await startOcean(apiProcesses)
    try {
      const sampler = new RssSampler(ocean.pid).start()
      const t0 = performance.now()
      const sent = await sendAll(`${ocean.base}/api/ocean/telemetry/batch`, AUTH, batches.bodies, deadlineMs)
      let tEnd: number | null = null
      try {
        tEnd = await waitForRows(ocean, sent.events, Math.max(10_000, deadlineMs - (performance.now() - t0)))
      } catch (e) {
        ctx.log(`  ${(e as Error).message}`)
      }
      const rss = sampler.stop()
      await new Promise((r) => setTimeout(r, 1000)) // nothing more may arrive: a duplicate would show now
      const after = await storedRows(ocean)
      const accepted = await acceptedEvents(ocean)
      const e2eS = tEnd === null ? Infinity : (tEnd - t0) / 1000
      const rate = total / e2eS
      const httpRate = (sent.events / sent.ms) * 1000
      const lost = total - after.rows
      ctx.log(`  end to end ${fmt(rate)} events/s (${e2eS.toFixed(2)} s); HTTP accept phase ${fmt(httpRate)} events/s; stored ${after.rows} of ${total} (accepted ${accepted}, dead-lettered entries ${after.dead}); RSS peak ${rss.peakMb} MB`)
      details[`ocean_${apiProcesses}`] = { e2eS, eventsPerS: rate, http: { ...sent, eventsPerS: httpRate }, accepted, stored: after, rss }
      const failures = sent.failures.length
      ctx.rows.push(
        row('2', `batch ingest HTTP -> DuckDB, end to end, ${mode}`, rate, 'events/s', {
          baseline: { name: 'DuckDB appender alone', value: appenderRate },
          goals: [atLeast(rate, 300_000, '≥ 300,000 events/s'), atMost(Math.abs(lost) + failures, 0, '0 lost')],
          note: `${fmt(total)} sent in ${batches.bodies.length} batches of ${EVENTS_PER_BATCH}, ${fmt(after.rows)} in DuckDB after ${e2eS.toFixed(1)} s${lost !== 0 ? ` (${lost > 0 ? `${lost} lost` : `${-lost} extra`})` : ''}${failures ? `, ${failures} failed requests: ${sent.failures[0]}` : ''}`,
        }),
        row('2', `batch ingest, HTTP accept phase only (all 202s), ${mode}`, httpRate, 'events/s', {
          baseline: { name: 'Fastify route parsing the same bodies', value: sinkRate },
        }),
      )
      rssRow(ctx, `batch ingest, ${mode}`, rss, sinkRss, 'HTTP sink process')
    } finally {
      await ocean.stop()
    }
  }
  ctx.details.batch_ingest = details
}
