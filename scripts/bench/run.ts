// `npm run bench [-- NAME... ] [--quick]`: runs the Ocean benchmarks, each beside a baseline
// measured in the same run (the machine is shared and noisy: only ratios travel between runs),
// prints a Markdown table and writes bench-results/<timestamp>.json. Every load is bounded in
// count and time and aimed at 127.0.0.1; every process started is stopped by its PID.
import path from 'node:path'
import { analyticsBench } from './analytics.ts'
import { backpressureBench } from './backpressure.ts'
import { backupBench } from './backup.ts'
import { batchIngestBench } from './batch.ts'
import { cutoverBench } from './cutover.ts'
import { exportBench } from './export.ts'
import { singleIngestBench } from './ingest.ts'
import { storageRateBench } from './storage.ts'
import { leanProcessesBench } from './lean.ts'
import { lookupsBench } from './lookups.ts'
import { migrateBench } from './migrate.ts'
import { root, stopAll } from './processes.ts'
import { machineInfo, machineSample, markdown, writeJson, type BenchContext, type Row } from './report.ts'

const BENCHES: Record<string, { title: string; run: (ctx: BenchContext) => Promise<void> }> = {
  ingest: { title: '1 single-event ingest vs hello-world, 1 and 2 API processes (+ RSS)', run: singleIngestBench },
  batch: { title: '2 batch ingest HTTP -> Redis -> worker -> DuckDB vs appender alone and HTTP sink (+ RSS)', run: batchIngestBench },
  lookups: { title: '3 user lookup and session validate at 10k req/s vs hello-world', run: lookupsBench },
  analytics: { title: '4 analytics on 10 M rows (quick: 1 M) vs PostgreSQL 15 and plain DuckDB', run: analyticsBench },
  export: { title: '7 analytics export of 5 M rows (quick: 1 M) in each format: service RSS vs the same export of a fifth of the rows', run: exportBench },
  cutover: { title: '8 cutover write freeze on the lab at 1 M and 5 M telemetry rows (quick: 0.2 M and 1 M), clients writing: 5 M vs 1 M', run: cutoverBench },
  backup: { title: '9 backups of the default seed (quick: 20,000 users, 1 M rows) to a local restic repository: first and incremental round, restore, drill vs cp; RPO under steady writes', run: backupBench },
  backpressure: {
    title: '10 backpressure: batches at 2x the storage rate for 60 s (quick: 15 s) against a 200,000-event bound: Redis peak vs the bound, 5xx, 429, accepted = stored',
    run: backpressureBench,
  },
  storage: { title: '11 sustained storage rate: 1.5 M events (quick: 0.3 M) stored from a backlog by 2 API + engine, compaction included, vs the DuckDB appender alone before and after', run: storageRateBench },
  lean: { title: '12 lean processes: 7 API processes + engine under single-event and batch load (quick: 5 s): largest API process, engine and sum RSS vs a bare node:http hello-world; then the engine storing a backlog of 3.4 M events (quick: 1.05 M) through compaction\'s merges', run: leanProcessesBench },
  migrate: { title: '6 data migration PG -> DuckDB (5 M rows) and SQLite (1 M) incl. verification vs psql COPY and psql | sqlite3 (+ RSS), reverse SQLite -> PG (5 M) vs pgloader', run: migrateBench },
}
// RSS (benchmark 5) is sampled during 1 and 2.
const ALIASES: Record<string, string[]> = { rss: ['ingest', 'batch'], all: Object.keys(BENCHES) }

function usage(): string {
  return [
    'usage: npm run bench -- [NAME...] [--quick]',
    '  no NAME runs all of them, in this order:',
    ...Object.entries(BENCHES).map(([name, b]) => `    ${name.padEnd(10)} ${b.title}`),
    '    rss        5 RSS under load (sampled during ingest and batch: runs both)',
    '  --quick      smaller sizes and shorter loads, for a smoke run',
  ].join('\n')
}

function parseArgs(argv: string[]): { names: string[]; quick: boolean } {
  let quick = false
  const names = new Set<string>()
  for (const a of argv) {
    if (a === '--quick') quick = true
    else if (a === '--help' || a === '-h') {
      console.log(usage())
      process.exit(0)
    } else if (BENCHES[a]) names.add(a)
    else if (ALIASES[a]) for (const n of ALIASES[a]) names.add(n)
    else {
      console.error(`bench: unknown benchmark ${JSON.stringify(a)}\n${usage()}`)
      process.exit(2)
    }
  }
  const order = Object.keys(BENCHES)
  return { names: names.size === 0 ? order : order.filter((n) => names.has(n)), quick }
}

async function main(): Promise<number> {
  const { names, quick } = parseArgs(process.argv.slice(2))
  const started = new Date()
  const rows: Row[] = []
  const ctx: BenchContext = { quick, rows, details: {}, log: (msg) => process.stderr.write(`${msg}\n`) }
  const conditions = [{ phase: 'start', ...machineSample() }]
  const failures: { bench: string; error: string }[] = []
  for (const name of names) {
    const bench = BENCHES[name] as (typeof BENCHES)[string]
    ctx.log(`== ${bench.title}${quick ? ' (quick)' : ''}`)
    conditions.push({ phase: `before ${name}`, ...machineSample() })
    const t0 = performance.now()
    try {
      await bench.run(ctx)
    } catch (e) {
      // One failing benchmark does not hide the others' figures; it is reported and fails the run.
      failures.push({ bench: name, error: (e as Error).stack ?? String(e) })
      ctx.log(`bench ${name} failed: ${(e as Error).stack ?? String(e)}`)
    } finally {
      await stopAll()
    }
    ctx.log(`   (${name}: ${((performance.now() - t0) / 1000).toFixed(0)} s)`)
  }
  conditions.push({ phase: 'end', ...machineSample() })
  rows.sort((a, b) => Number(a.bench) - Number(b.bench))

  const load = (phase: string) => conditions.find((c) => c.phase === phase)?.loadavg.join(' ') ?? '?'
  const out = [
    `# Ocean benchmarks (${started.toISOString()}${quick ? ', --quick' : ''})`,
    '',
    markdown(rows),
    '',
    `Machine: ${JSON.stringify(machineInfo())}; load average (1/5/15 min) at start ${load('start')}, at end ${load('end')}.`,
    'Every figure is beside a baseline measured in the same run on the same cores (load generator and',
    'servers share them), so compare ratios between runs, not absolute numbers.',
    ...(failures.length > 0 ? ['', `FAILED: ${failures.map((f) => f.bench).join(', ')} (see stderr and the JSON file)`] : []),
  ].join('\n')
  console.log(out)
  const file = writeJson(path.join(root, 'bench-results'), { started: started.toISOString(), quick, benches: names, machine: machineInfo(), conditions, rows, failures, details: ctx.details })
  ctx.log(`results: ${path.relative(root, file)}`)
  return failures.length > 0 ? 1 : 0
}

let exiting = false
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (exiting) return
    exiting = true
    process.stderr.write(`bench: ${signal}: stopping what was started\n`)
    void stopAll().finally(() => process.exit(130))
  })
}

const code = await main().catch(async (e: unknown) => {
  console.error(e)
  await stopAll()
  return 1
})
process.exit(code)
