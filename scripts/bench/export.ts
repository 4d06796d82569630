// Benchmark 7: GET /analytics/export of the rehearsal-sized data (5 M rows; quick: 1 M) in each
// format, downloaded whole over HTTP from Ocean as its image runs it, with the service's RSS (the
// whole process tree) sampled meanwhile. Bounded memory means the peak does not follow the data:
// the baseline is the same export of a fifth of the rows, in the same run. The CSV's speed is
// put beside DuckDB's own unsorted COPY of the same file (what an export cannot beat).
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { DuckDBInstance } from '@duckdb/node-api'
import { dataSpec, loadService } from './analytics-data.ts'
import { AUTH, startOcean, type OceanInstance } from './processes.ts'
import { atMost, fmt, row, type BenchContext } from './report.ts'
import { RssSampler, type RssSummary } from './rss.ts'

const FORMATS = ['csv', 'jsonl', 'json', 'parquet'] as const
/** The service's default OCEAN_DUCKDB_MEMORY_LIMIT (256MB). */
const MEMORY_LIMIT_MB = 256

interface Download {
  rows: number
  bytes: number
  ms: number
  rss: RssSummary
}

/** Downloads one export whole, counting bytes and lines, sampling the RSS of the service's processes. */
async function download(ocean: OceanInstance, format: string): Promise<Download> {
  const sampler = new RssSampler(ocean.pid, 50).start()
  const t0 = performance.now()
  const res = await fetch(`${ocean.base}/api/ocean/analytics/export?format=${format}&limit=50000000`, { headers: AUTH, signal: AbortSignal.timeout(300_000) })
  if (res.status !== 200) throw new Error(`export ${format}: HTTP ${res.status}: ${(await res.text()).slice(0, 300)}`)
  let bytes = 0
  let lines = 0
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    bytes += chunk.length
    for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) lines++
  }
  const ms = performance.now() - t0
  const rss = sampler.stop()
  // Rows: CSV has a header line, the JSON array its two bracket lines; Parquet is counted by the caller.
  const rows = format === 'csv' ? lines - 1 : format === 'json' ? lines - 2 : lines
  return { rows, bytes, ms, rss }
}

interface Exports {
  idle: RssSummary
  runs: Record<string, Download>
  dataDir: string
}

/** Loads `rows` rows, then downloads each format from a fresh service (so no export inherits another's memory). */
async function exportsOf(ctx: BenchContext, rows: number, apiProcesses: number, formats: readonly string[]): Promise<Exports> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ocean-bench-export-'))
  const runs: Record<string, Download> = {}
  let idle: RssSummary | null = null
  try {
    const loaded = await loadService(dataDir, dataSpec(rows))
    loaded.store.close()
    ctx.log(`  ${fmt(rows)} rows loaded through the service's store in ${fmt(loaded.ms / 1000)} s`)
    for (const format of formats) {
      const ocean = await startOcean(apiProcesses, { dataDir })
      try {
        const idleSampler = new RssSampler(ocean.pid, 50).start()
        await new Promise((r) => setTimeout(r, 500))
        idle ??= idleSampler.stop()
        const d = await download(ocean, format)
        runs[format] = d
        ctx.log(`  ${format}: ${fmt(d.rows)} lines, ${fmt(d.bytes / 1e6)} MB in ${fmt(d.ms / 1000)} s, RSS peak ${d.rss.peakMb} MB (idle ${idle.peakMb} MB)`)
      } finally {
        await ocean.stop()
      }
    }
    return { idle: idle as RssSummary, runs, dataDir }
  } catch (e) {
    fs.rmSync(dataDir, { recursive: true, force: true })
    throw e
  }
}

/** DuckDB writing the same rows as CSV without sorting them, with 2 GB of memory: the floor. */
async function plainCopyMs(dataDir: string): Promise<number> {
  const db = await DuckDBInstance.create(path.join(dataDir, 'telemetry.duckdb'), { access_mode: 'READ_ONLY', memory_limit: '2GB' })
  const c = await db.connect()
  const out = path.join(dataDir, 'plain.csv')
  try {
    const t0 = performance.now()
    await c.run(`COPY (SELECT sensor_id, strftime(ts, '%Y-%m-%dT%H:%M:%S.%gZ') AS timestamp, value, data FROM telemetry) TO '${out}' (FORMAT csv, HEADER true)`)
    return performance.now() - t0
  } finally {
    c.closeSync()
    db.closeSync()
    fs.rmSync(out, { force: true })
  }
}

export async function exportBench(ctx: BenchContext): Promise<void> {
  const big = ctx.quick ? 1_000_000 : 5_000_000
  const small = big / 5
  ctx.log(`7: export of ${fmt(small)} rows (baseline), then ${fmt(big)}, each format, 1 process`)
  const base = await exportsOf(ctx, small, 0, FORMATS)
  fs.rmSync(base.dataDir, { recursive: true, force: true })
  const full = await exportsOf(ctx, big, 0, FORMATS)
  try {
    for (const format of FORMATS) {
      const d = full.runs[format] as Download
      const b = base.runs[format] as Download
      if (format !== 'parquet' && d.rows !== big) throw new Error(`export ${format}: ${d.rows} rows, expected ${big}`)
      // DuckDB's memory_limit bounds its buffer pool, not the writers' own buffers nor Node's.
      const bound = full.idle.peakMb + 1.5 * MEMORY_LIMIT_MB
      ctx.rows.push(
        row('7', `export ${fmt(big)} rows as ${format}: service RSS peak`, d.rss.peakMb, 'MB', {
          baseline: { name: `same export of ${fmt(small)} rows`, value: b.rss.peakMb },
          goals: [atMost(d.rss.peakMb, bound, `≤ idle + 1.5 × DuckDB memory limit (${fmt(bound)} MB)`)],
          note: `${fmt(d.bytes / 1e6)} MB in ${fmt(d.ms / 1000)} s = ${fmt(big / (d.ms / 1000))} rows/s; idle RSS ${full.idle.peakMb} MB; at the peak: ${d.rss.atPeak.map((p) => `${p.name} ${p.mb}`).join(', ')}`,
        }),
      )
    }
    const plain = await plainCopyMs(full.dataDir)
    const csv = full.runs.csv as Download
    ctx.rows.push(
      row('7', `export ${fmt(big)} rows as csv, sorted by time, streamed over HTTP`, big / (csv.ms / 1000), 'rows/s', {
        baseline: { name: 'DuckDB COPY of the same rows to a file, unsorted, 2 GB of memory', value: big / (plain / 1000) },
      }),
    )
  } finally {
    fs.rmSync(full.dataDir, { recursive: true, force: true })
  }
  ctx.log(`7: the same CSV export through 2 API processes and the engine (the engine link)`)
  const multi = await exportsOf(ctx, small, 2, ['csv'])
  fs.rmSync(multi.dataDir, { recursive: true, force: true })
  const m = multi.runs.csv as Download
  if (m.rows !== small) throw new Error(`export csv through the engine link: ${m.rows} rows, expected ${small}`)
  ctx.rows.push(
    row('7', `export ${fmt(small)} rows as csv through 2 API processes + engine: RSS peak (all processes)`, m.rss.peakMb, 'MB', {
      note: `${fmt(m.ms / 1000)} s; at the peak: ${m.rss.atPeak.map((p) => `${p.name} ${p.mb}`).join(', ')}`,
    }),
  )
}
