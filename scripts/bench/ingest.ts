// Benchmark 1: single-event ingest (POST /api/ocean/telemetry/ingest, authenticated) against a bare
// Fastify POST route in its own process, both driven by autocannon with 50 connections. Ocean runs
// as one process and as a cluster of 2 API processes (+ the engine). RSS of each is sampled
// meanwhile (benchmark 5), and afterwards every accepted event must be in DuckDB.
import { load, type LoadResult } from './http-load.ts'
import { acceptedEvents, AUTH, startBaselineServer, startOcean, storedRows, waitForRows } from './processes.ts'
import { atLeast, atMost, fmt, row, type BenchContext } from './report.ts'
import { CpuMeter, describeCores, type CpuUse } from './cpu.ts'
import { RssSampler, type RssSummary } from './rss.ts'

const CONNECTIONS = 50
const EVENT = JSON.stringify({ sensor_id: 'sensor-0001', value: 21.5 })

interface Measured {
  load: LoadResult
  rss: RssSummary
  /** CPU during the load: the server's process tree ('server'), the `beside` processes, the load generator. */
  cpu: Record<string, CpuUse>
}

/** The server's CPU time per request served, µs. */
const cpuPerRequestUs = (m: Measured) => (m.cpu.server!.ms * 1000) / Math.max(1, m.load.requests)

/** Loads the server (process tree `server`) and samples its RSS; CPU is measured for it, for `beside` (e.g. its Redis) and for the load generator. */
async function measure(ctx: BenchContext, server: number, url: string, headers: Record<string, string>, beside: Record<string, number> = {}): Promise<Measured> {
  const durationS = ctx.quick ? 3 : 10
  const opts = { url, method: 'POST' as const, headers, body: EVENT, connections: CONNECTIONS }
  const warm = await load({ ...opts, durationS: ctx.quick ? 1 : 2 })
  const sampler = new RssSampler(server).start()
  const meter = new CpuMeter({ server, ...beside }).start()
  const result = await load({ ...opts, durationS })
  const cpu = meter.stop()
  const rss = sampler.stop()
  ctx.log(`  ${fmt(result.rps)} req/s, p50 ${fmt(result.p50)} ms, p99 ${fmt(result.p99)} ms, non-2xx ${result.non2xx}, errors ${result.errors}, RSS peak ${rss.peakMb} MB; cores busy: ${describeCores(cpu)}`)
  if (warm.non2xx + warm.errors > 0) ctx.log(`  warm-up: ${warm.non2xx} non-2xx, ${warm.errors} errors`)
  return { load: result, rss, cpu }
}

export function rssRow(ctx: BenchContext, what: string, ocean: RssSummary, baseline: RssSummary, baselineName = 'hello-world process'): void {
  ctx.rows.push(
    row('5', `RSS peak, ${what}`, ocean.peakMb, 'MB', {
      baseline: { name: baselineName, value: baseline.peakMb },
      goals: [atMost(ocean.peakMb, 150, '≤ 150 MB')],
      note: `sum over ${ocean.atPeak.length} processes: ${ocean.atPeak.map((p) => `${p.name} ${p.mb}`).join(', ')}; PSS peak ${ocean.pssPeakMb} MB (baseline ${baseline.pssPeakMb})`,
    }),
  )
}

export async function singleIngestBench(ctx: BenchContext): Promise<void> {
  ctx.log('1: hello-world baseline (POST /hello)')
  const hello = await startBaselineServer()
  let base: Measured
  try {
    base = await measure(ctx, hello.pid, `${hello.base}/hello`, {})
  } finally {
    await hello.stop()
  }
  const details: Record<string, unknown> = { connections: CONNECTIONS, body: EVENT, baseline: base }
  for (const apiProcesses of [0, 2]) {
    const mode = apiProcesses === 0 ? '1 process' : `${apiProcesses} API processes + engine`
    ctx.log(`1: Ocean single-event ingest, ${mode}`)
    const ocean = await startOcean(apiProcesses)
    try {
      const m = await measure(ctx, ocean.pid, `${ocean.base}/api/ocean/telemetry/ingest`, AUTH, { redis: ocean.redis.pid })
      await new Promise((r) => setTimeout(r, 500)) // requests in flight when the load stopped still finish
      const accepted = await acceptedEvents(ocean)
      // Not part of the goal, but worth knowing: how long the worker needs for the backlog left.
      const stopped = performance.now()
      const backlog = (await storedRows(ocean)).backlog
      let drainS: number | null = null
      try {
        drainS = ((await waitForRows(ocean, accepted, ctx.quick ? 60_000 : 180_000, 200)) - stopped) / 1000
      } catch (e) {
        ctx.log(`  ${(e as Error).message}`)
      }
      const after = await storedRows(ocean)
      ctx.log(`  backlog at end of load ${backlog} events; drained in ${drainS === null ? 'timeout' : `${drainS.toFixed(1)} s`}; DuckDB rows ${after.rows} of ${accepted} accepted`)
      details[`ocean_${apiProcesses}`] = { ...m, accepted, backlogAtEnd: backlog, drainS, storedRows: after.rows }
      const r = m.load
      const b = base.load
      const errors = r.non2xx + r.errors + r.timeouts
      ctx.rows.push(
        row('1', `single-event ingest, ${mode}`, r.rps, 'req/s', {
          baseline: { name: 'hello-world POST', value: b.rps },
          goals: [atLeast(r.rps, 0.6 * b.rps, '≥ 60 % of baseline'), atMost(errors, 0, '0 errors')],
          note: errors > 0 ? `${errors} non-2xx/errors` : undefined,
        }),
        row('1', `single-event ingest p99, ${mode}`, r.p99, 'ms', {
          baseline: { name: 'hello-world POST', value: b.p99 },
          goals: [atMost(r.p99, 5, '≤ 5 ms')],
          note: `p50 ${fmt(r.p50)} ms (baseline ${fmt(b.p50)} ms)`,
        }),
        // What explains the ratio: the server's CPU per request, and who kept which share of the cores busy.
        row('1', `single-event ingest, server CPU per request, ${mode}`, cpuPerRequestUs(m), 'µs', {
          baseline: { name: 'hello-world server', value: cpuPerRequestUs(base) },
          note: `cores busy: ${describeCores(m.cpu)} (baseline: ${describeCores(base.cpu)})`,
        }),
        row('1', `accepted events stored, ${mode}`, after.rows, 'rows', {
          baseline: { name: 'accepted (202)', value: accepted },
          goals: [{ text: '= accepted (0 lost, 0 twice)', met: after.rows === accepted }],
          note: `backlog ${backlog} events when the load stopped, drained in ${drainS === null ? '> timeout' : `${drainS.toFixed(1)} s`}`,
        }),
      )
      rssRow(ctx, `single-event ingest, ${mode}`, m.rss, base.rss)
    } finally {
      await ocean.stop()
    }
  }
  ctx.details.single_ingest = details
}
