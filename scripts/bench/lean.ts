// Benchmark 12: lean processes at the new server's layout. Ocean with 7 API processes + engine (the
// 8-core shape; the processes' memory does not depend on the cores they run on), loaded with single
// events on 50 connections and, beside them, batches that keep the engine storing. Each process's
// RSS is sampled every 250 ms; the rows are the largest API process, the engine, the sum over
// every process (the supervisor included) at its peak, and the sum of PSS (each shared page, the
// node binary's above all, split between the processes that map it: what the layout costs the
// machine). Then the engine through bigger compaction merges than that load reaches: a backlog of
// 3.4 M events (quick: 1.05 M) stored by 2 API + engine, its RSS peak. Baseline in the same run: a
// bare node:http hello-world run with an API process's flags (its heap settings, one malloc arena)
// under the same load, the floor for any Node process answering HTTP.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { DuckDBInstance } from '@duckdb/node-api'
import { RUNTIME_ENV } from '../../services/ocean/runtime.ts'
import { ROLE_HEAP_FLAGS } from '../../services/ocean/src/role-flags.ts'
import { makeBatches } from './batch.ts'
import { load } from './http-load.ts'
import { AUTH, startBaselineServer, startOcean, storedRows, type OceanInstance } from './processes.ts'
import { atMost, fmt, row, type BenchContext } from './report.ts'
import { RssSampler, type RssSummary } from './rss.ts'
import { storeBacklog } from './storage.ts'

const API_PROCESSES = 7
const CONNECTIONS = 50
const EVENT = JSON.stringify({ sensor_id: 'sensor-0001', value: 21.5 })
const BATCH = JSON.stringify({ events: Array.from({ length: 1000 }, (_, i) => ({ sensor_id: `lean-${i % 100}`, value: i })) })
const HELLO = `require('node:http').createServer((q, s) => { q.resume(); q.on('end', () => { s.setHeader('content-type', 'application/json'); s.end('{"hello":"world"}') }) }).listen(Number(process.env.BENCH_PORT), '127.0.0.1', () => console.log('listening'))`

/** The highest RSS any process of `role` reached (MB); the supervisor is the tree's root, named plainly. */
function roleMax(rss: RssSummary, role: string): number {
  return Math.max(0, ...rss.peakByProcess.filter((p) => (p.name.split(':')[1] ?? 'supervisor') === role).map((p) => p.mb))
}

/** Fails the bench if a sampled API process does not run with the API's heap flags (the figures would be of another setting). */
function checkApiFlags(rss: RssSummary): void {
  for (const p of rss.peakByProcess.filter((x) => x.name.endsWith(':api'))) {
    let argv: string[]
    try {
      argv = fs.readFileSync(`/proc/${p.pid}/cmdline`, 'utf8').split('\0')
    } catch {
      continue // exited since (the bench stopped it)
    }
    for (const f of ROLE_HEAP_FLAGS.api) if (!argv.includes(f)) throw new Error(`API process ${p.pid} runs without ${f}: ${argv.join(' ')}`)
  }
}

async function helloWorldRss(durationS: number): Promise<number> {
  const hello = await startBaselineServer({ nodeArgs: [...ROLE_HEAP_FLAGS.api, '-e', HELLO], env: RUNTIME_ENV })
  try {
    const sampler = new RssSampler(hello.pid, 250).start()
    await load({ url: `${hello.base}/`, method: 'POST', body: EVENT, connections: CONNECTIONS, durationS })
    return sampler.stop().peakMb
  } finally {
    await hello.stop()
  }
}

type TelemetryLayout = { rows: number; hot_rows: number; partitions: number }

/**
 * The telemetry layout once compaction has nothing left to do: the worker compacts a step between
 * reads, so merges go on after the last event is stored. Settled = the same layout for 3 s.
 */
async function compactionSettled(ocean: OceanInstance): Promise<TelemetryLayout> {
  let last = ''
  let since = Date.now()
  for (const deadline = Date.now() + 120_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 200))) {
    const layout = (await ocean.get<{ telemetry: TelemetryLayout }>('/status')).telemetry
    if (JSON.stringify(layout) !== last) [last, since] = [JSON.stringify(layout), Date.now()]
    else if (Date.now() - since >= 3000) return layout
  }
  throw new Error(`compaction did not settle in 120 s: ${last}`)
}

/**
 * The engine's RSS peak while it stores a backlog big enough for compaction to merge up to four
 * partitions of ~800,000 rows (quick: four of ~200,000), sizes the short load above never reaches,
 * until compaction settles; everything stored is checked. A merge sorts a slice of the sort key at a
 * time: sorted whole, these merges took the engine to 422-482 MB (a sort holds its rows in DuckDB's
 * memory, up to OCEAN_DUCKDB_MEMORY_LIMIT), and bigger ones would take it further.
 */
async function engineThroughMerge(ctx: BenchContext): Promise<{ total: number; engine: number; seconds: number; layout: TelemetryLayout; largestPartition: number }> {
  const total = ctx.quick ? 1_050_000 : 3_400_000
  const batches = makeBatches(total)
  ctx.log(`12: the engine storing a backlog of ${fmt(total)} events (2 API processes + engine), compaction's merges included`)
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ocean-bench-merge-'))
  try {
    // The backlog bound (2 M events by default) would refuse part of the backlog.
    const ocean = await startOcean(2, { dataDir, env: { OCEAN_BACKLOG_MAX_EVENTS: String(2 * total) } })
    let measured: { engine: number; seconds: number; layout: TelemetryLayout }
    try {
      const sampler = new RssSampler(ocean.pid, 100).start()
      const seconds = await storeBacklog(ocean, batches)
      const layout = await compactionSettled(ocean)
      measured = { engine: roleMax(sampler.stop(), 'engine'), seconds, layout }
      const stored = await storedRows(ocean)
      if (stored.rows !== total || stored.dead !== 0) throw new Error(`stored ${stored.rows} of ${total} events, ${stored.dead} dead-lettered`)
    } finally {
      await ocean.stop()
    }
    // How big the biggest merge was: its output is the largest partition (seals are ~OCEAN_HOT_MAX_ROWS,
    // merges of four partitions of one size tier; how the reads fell decides the tiers, so it varies).
    const db = await DuckDBInstance.create(path.join(dataDir, 'telemetry.duckdb'), { access_mode: 'READ_ONLY' })
    const largestPartition = await db
      .connect()
      .then(async (c) => Number((await c.runAndReadAll('SELECT max(rows) FROM telemetry_parts')).getRows()[0]?.[0] ?? 0))
      .finally(() => db.closeSync())
    ctx.log(`  engine RSS peak ${measured.engine.toFixed(1)} MB; stored in ${measured.seconds.toFixed(2)} s; ${JSON.stringify(measured.layout)}, the largest partition ${fmt(largestPartition)} rows`)
    return { total, ...measured, largestPartition }
  } finally {
    fs.rmSync(dataDir, { recursive: true, force: true })
  }
}

export async function leanProcessesBench(ctx: BenchContext): Promise<void> {
  const durationS = ctx.quick ? 5 : 15
  ctx.log(`12: baseline: bare node:http hello-world with the image's flags, ${CONNECTIONS} connections, ${durationS} s`)
  const hello = await helloWorldRss(durationS)
  ctx.log(`  RSS peak ${hello.toFixed(1)} MB`)
  ctx.log(`12: Ocean, ${API_PROCESSES} API processes + engine: single events on ${CONNECTIONS} connections and batches of 1000 on 2, ${durationS} s`)
  const ocean = await startOcean(API_PROCESSES)
  let rss: RssSummary
  let single
  let batches
  try {
    const sampler = new RssSampler(ocean.pid, 250).start()
    ;[single, batches] = await Promise.all([
      load({ url: `${ocean.base}/api/ocean/telemetry/ingest`, method: 'POST', headers: AUTH, body: EVENT, connections: CONNECTIONS, durationS }),
      load({ url: `${ocean.base}/api/ocean/telemetry/batch`, method: 'POST', headers: AUTH, body: BATCH, connections: 2, durationS }),
    ])
    rss = sampler.stop()
    checkApiFlags(rss)
  } finally {
    await ocean.stop()
  }
  const api = roleMax(rss, 'api')
  const engine = roleMax(rss, 'engine')
  const supervisor = roleMax(rss, 'supervisor')
  const apis = rss.peakByProcess.filter((p) => p.name.endsWith(':api')).length
  const loadNote = `${fmt(single.rps)} single events/s (${single.non2xx} non-2xx) and ${fmt(batches.rps * 1000)} batched events/s (${batches.non2xx} non-2xx)`
  ctx.log(`  largest API process ${api.toFixed(1)} MB, engine ${engine.toFixed(1)} MB, supervisor ${supervisor.toFixed(1)} MB, all ${rss.peakMb.toFixed(1)} MB; ${loadNote}`)
  if (apis !== API_PROCESSES) throw new Error(`sampled ${apis} API processes, expected ${API_PROCESSES}`)
  const merged = await engineThroughMerge(ctx)
  const baseline = { name: 'bare node:http hello-world, same flags and load', value: hello }
  ctx.rows.push(
    row('12', `lean processes: largest of ${API_PROCESSES} API processes, RSS peak under load`, api, 'MB', { baseline, goals: [atMost(api, 80, '≤ 80 MB')], note: loadNote }),
    row('12', 'lean processes: engine RSS peak while storing', engine, 'MB', { baseline, goals: [atMost(engine, 250, '≤ 250 MB')] }),
    row('12', `lean processes: engine RSS peak storing a backlog of ${fmt(merged.total)} events, compaction's merges included`, merged.engine, 'MB', {
      baseline,
      goals: [atMost(merged.engine, 250, '≤ 250 MB')],
      note: `stored in ${merged.seconds.toFixed(2)} s, then compaction until it settled: ${merged.layout.partitions} partitions, the largest ${fmt(merged.largestPartition)} rows; 2 API processes + engine`,
    }),
    row('12', `lean processes: ${API_PROCESSES} API + engine + supervisor, RSS sum at its peak`, rss.peakMb, 'MB', {
      baseline: { name: `${API_PROCESSES + 2} x hello-world`, value: hello * (API_PROCESSES + 2) },
      goals: [atMost(rss.peakMb, 800, '≤ 800 MB')],
      note: `supervisor ${supervisor.toFixed(1)} MB; RSS counts the pages the processes share (the node binary's) once per process`,
    }),
    row('12', `lean processes: ${API_PROCESSES} API + engine + supervisor, PSS sum at its peak (shared pages split between their processes)`, rss.pssPeakMb, 'MB', {
      baseline: { name: `${API_PROCESSES + 2} x hello-world RSS`, value: hello * (API_PROCESSES + 2) },
      goals: [atMost(rss.pssPeakMb, 800, '≤ 800 MB')],
      note: 'the memory the layout takes from the machine; the RSS sum above counts the shared node binary 9 times',
    }),
  )
  ctx.details.lean_processes = { hello, api, engine, engineThroughMerge: merged, supervisor, totalMb: rss.peakMb, pssMb: rss.pssPeakMb, apiFlags: ROLE_HEAP_FLAGS.api, perProcess: rss.peakByProcess, single, batches }
}
