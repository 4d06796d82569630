// Benchmark 6: the data migration engine (packages/migrate) copying PostgreSQL 15 into the
// service's files, timed end to end by runMigration in copy mode (introspection, chunked copy,
// checksums, verification, telemetry compaction, report), beside baselines on the same rows in the
// same run: PostgreSQL's own COPY ... TO STDOUT into /dev/null (CSV and BINARY: the ceiling of
// reading), and the naive pipeline `psql COPY ... csv | sqlite3 .import` (what one would script by
// hand, with nothing verified). Three figures:
//   a. telemetry (the old app's table, 5 M rows; quick 500k) into DuckDB through the built-in mapping;
//   b. invoices (uuid key, unique number, numeric(14,2), enum, array, bytea; 1 M rows; quick 100k)
//      into a generic SQLite table;
//   c. peak RSS of `ocean-ops migrate-data` in a child process for 1 M and 5 M telemetry rows
//      (quick 100k and 500k): bounded memory means about the same figure for both;
//   d. the reverse sync SQLite -> PostgreSQL beside pgloader, 5 M rows (quick 500k): migrate-reverse.ts.
// The source tables are test/integration/migrate/legacy-fixture.ts's telemetry and invoices, with its
// expressions (invoice dates kept within ten years and numbers 7 digits wide, so 1 M rows stay valid
// and unique), seeded once per run with generate_series into unlogged tables, keys added after.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import type { MappingFile } from '../../packages/migrate/src/plan/mapping.ts'
import { OCEAN_LEGACY_MAPPING } from '../../packages/migrate/src/plan/ocean-legacy-mapping.ts'
import type { TableReport } from '../../packages/migrate/src/report.ts'
import { runMigration } from '../../packages/migrate/src/run-migration.ts'
import { startPostgres } from '../lib/loopback-servers.ts'
import { bash, q, requireTool, runTimed, withClient } from './commands.ts'
import { CpuMeter, describeCores, totalCpuMs, type CpuUse } from './cpu.ts'
import { reverseBench } from './migrate-reverse.ts'
import { track } from './processes.ts'
import { atLeast, atMost, fmt, row, type BenchContext } from './report.ts'

/** The telemetry table alone, mapped exactly as the built-in mapping maps it. */
const TELEMETRY_MAPPING: MappingFile = {
  preset: 'none',
  include: ['telemetry'],
  tables: { telemetry: OCEAN_LEGACY_MAPPING.tables?.telemetry ?? {} },
}
/** Invoices nobody mapped: a generic SQLite table of the same name, every column, its unique indexes. */
const INVOICES_MAPPING: MappingFile = { preset: 'none', include: ['invoices'] }

/** What the mapping copies from telemetry (id and processed are dropped): the baselines read the same. */
const TELEMETRY_SELECT = 'SELECT sensor_id, ts, value, data FROM telemetry'
const INVOICES_SELECT = 'SELECT * FROM invoices'
const NAIVE_TELEMETRY_DDL = 'CREATE TABLE telemetry (sensor_id TEXT NOT NULL, ts TEXT NOT NULL, value REAL, data TEXT)'
// The same keys the engine's generic table gets (primary key, unique number); no type checks.
const NAIVE_INVOICES_DDL = `CREATE TABLE invoices (id TEXT PRIMARY KEY, user_id INTEGER, number TEXT NOT NULL UNIQUE, amount TEXT NOT NULL,
  currency TEXT NOT NULL, status TEXT NOT NULL, issued_on TEXT NOT NULL, paid_at TEXT, tags TEXT, pdf TEXT, updated_at TEXT NOT NULL)`

const INSTALL_CLI = 'apt-get install -y postgresql-client sqlite3'

function telemetrySql(rows: number): string {
  return `
    CREATE UNLOGGED TABLE telemetry (id bigint NOT NULL, sensor_id text NOT NULL, ts timestamptz NOT NULL, value double precision, data jsonb,
      processed boolean NOT NULL DEFAULT false);
    INSERT INTO telemetry (id, sensor_id, ts, value, data, processed)
      SELECT i, 'sensor-' || (i % 97), timestamptz '2024-06-01 00:00:00+00' + i * interval '1.000001 second',
             CASE WHEN i % 1000 = 0 THEN NULL ELSE (i % 1000) / 7.0 END,
             CASE WHEN i % 5 = 0 THEN NULL ELSE jsonb_build_object('i', i, 'unit', 'C') END, i % 3 = 0
      FROM generate_series(1, ${rows}) i;
    ALTER TABLE telemetry ADD PRIMARY KEY (id);`
}

function invoicesSql(rows: number): string {
  return `
    CREATE TYPE invoice_status AS ENUM ('draft', 'sent', 'paid', 'void');
    CREATE UNLOGGED TABLE invoices (id uuid NOT NULL, user_id int, number text NOT NULL, amount numeric(14,2) NOT NULL, currency char(3) NOT NULL,
      status invoice_status NOT NULL, issued_on date NOT NULL, paid_at timestamptz, tags text[], pdf bytea, updated_at timestamptz NOT NULL);
    INSERT INTO invoices (id, user_id, number, amount, currency, status, issued_on, paid_at, tags, pdf, updated_at)
      SELECT md5('invoice' || i)::uuid, 1 + (i % 10000), 'INV-' || lpad(i::text, 7, '0'), (i * 1234.56) % 100000, 'EUR',
             (ARRAY['draft', 'sent', 'paid', 'void'])[1 + i % 4]::invoice_status, date '2024-01-01' + i % 3650,
             CASE WHEN i % 4 = 2 THEN timestamptz '2024-02-01 12:00:00+00' + (i % 3650) * interval '1 day' END,
             CASE WHEN i % 3 = 0 THEN ARRAY['net30', 'tag ' || i] END, decode(md5('pdf' || i), 'hex'),
             timestamptz '2024-06-01 00:00:00+00' + i * interval '1 second'
      FROM generate_series(1, ${rows}) i;
    ALTER TABLE invoices ADD PRIMARY KEY (id), ADD UNIQUE (number);`
}

/** Runs the seeding statements, then VACUUM ANALYZE (not allowed in the multi-statement query's transaction). */
async function seed(url: string, sql: string, table: string): Promise<void> {
  await withClient(url, async (c) => {
    await c.query(sql)
    await c.query(`VACUUM ANALYZE ${table}`)
  })
}

/** PostgreSQL's own COPY of the select into /dev/null through psql: the ceiling of reading. */
async function pgCopyToNull(url: string, select: string, format: 'csv' | 'binary'): Promise<number> {
  return (await bash(`psql -X -q -v ON_ERROR_STOP=1 -d ${q(url)} -c ${q(`COPY (${select}) TO STDOUT (FORMAT ${format})`)} > /dev/null`, { stdout: 'ignore' })).ms
}

interface NaiveRun {
  ms: number
  rows: number
  /** CPU during the run: PostgreSQL's processes, psql and sqlite3 (this process's reaped children). */
  cpu: Record<string, CpuUse>
}

/** The naive pipeline: psql COPY ... csv | sqlite3 .import into a fresh file; returns its time, rows and CPU. */
async function naivePipeline(url: string, pgPid: number, select: string, ddl: string, table: string, file: string): Promise<NaiveRun> {
  fs.rmSync(file, { force: true })
  const meter = new CpuMeter({ postgres: pgPid }, 'bench').start()
  const r = await bash(`psql -X -q -v ON_ERROR_STOP=1 -d ${q(url)} -c ${q(`COPY (${select}) TO STDOUT (FORMAT csv)`)} | sqlite3 -bail ${q(file)} ${q(ddl)} ${q(`.import --csv /dev/stdin ${table}`)}`)
  const cpu = meter.stop()
  const rows = Number((await bash(`sqlite3 ${q(file)} ${q(`SELECT count(*) FROM ${table}`)}`)).stdout.trim())
  fs.rmSync(file, { force: true })
  return { ms: r.ms, rows, cpu }
}

interface EngineRun {
  ms: number
  table: TableReport
  /** CPU during the run: PostgreSQL's processes and the engine (this process, its threads). */
  cpu: Record<string, CpuUse>
}

/** runMigration in copy mode into a fresh scratch directory, timed from call to return. */
async function engineCopy(url: string, pgPid: number, dir: string, mapping: MappingFile, expectRows: number): Promise<EngineRun> {
  fs.rmSync(dir, { recursive: true, force: true })
  const lines: string[] = []
  const meter = new CpuMeter({ postgres: pgPid }, 'engine').start()
  const t0 = performance.now()
  const out = await runMigration({
    source: url,
    sqlite: path.join(dir, 'data', 'ocean.db'),
    duckdb: path.join(dir, 'data', 'telemetry.duckdb'),
    journal: path.join(dir, 'journal.db'),
    reportDir: path.join(dir, 'reports'),
    mode: 'copy',
    mapping,
    log: (l) => lines.push(l),
  })
  const ms = performance.now() - t0
  const cpu = meter.stop()
  fs.rmSync(dir, { recursive: true, force: true })
  const table = out.report.tables[0]
  if (!out.report.ok || out.report.tables.length !== 1 || !table || table.status !== 'verified' || table.targetRows !== expectRows) {
    throw new Error(`engine copy not verified (${expectRows} rows expected): ${JSON.stringify(out.report.tables.map((t) => ({ table: t.table, status: t.status, targetRows: t.targetRows, mismatches: t.mismatches })))}\n${lines.slice(-20).join('\n')}`)
  }
  return { ms, table, cpu }
}

interface ChildRss {
  rows: number
  ms: number
  /** Peak RSS of the engine process (kB): /usr/bin/time's maximum resident set, else polled VmHWM. */
  peakKb: number
  polledKb: number
  how: string
}

/** `ocean-ops migrate-data` (copy mode, telemetry mapping) in a child process; its peak RSS. */
async function childCopyRss(url: string, dir: string, rows: number): Promise<ChildRss> {
  fs.rmSync(dir, { recursive: true, force: true })
  fs.mkdirSync(dir, { recursive: true })
  const mappingFile = path.join(dir, 'mapping.json')
  fs.writeFileSync(mappingFile, JSON.stringify(TELEMETRY_MAPPING))
  const cli = [process.execPath, 'runbooks/bin/ocean-ops.js', 'migrate-data', '--source', url, '--mapping', mappingFile, '--sqlite', path.join(dir, 'data', 'ocean.db'), '--duckdb', path.join(dir, 'data', 'telemetry.duckdb'), '--journal', path.join(dir, 'journal.db'), '--report', path.join(dir, 'reports')]
  const timeBin = fs.existsSync('/usr/bin/time') ? '/usr/bin/time' : null
  const r = timeBin ? await runTimed(timeBin, ['-f', 'BENCH_MAXRSS_KB=%M', ...cli], { pollHwm: true }) : await runTimed(cli[0] as string, cli.slice(1), { pollHwm: true })
  const reports = fs.readdirSync(path.join(dir, 'reports')).filter((f) => f.endsWith('.json'))
  const report = JSON.parse(fs.readFileSync(path.join(dir, 'reports', reports[0] as string), 'utf8')) as { ok: boolean; tables: TableReport[] }
  fs.rmSync(dir, { recursive: true, force: true })
  if (!report.ok || report.tables[0]?.targetRows !== rows) throw new Error(`migrate-data child: not verified or ${report.tables[0]?.targetRows} rows of ${rows}`)
  const timed = Number(/BENCH_MAXRSS_KB=(\d+)/.exec(r.stderr)?.[1] ?? NaN)
  return Number.isFinite(timed) ? { rows, ms: r.ms, peakKb: timed, polledKb: r.hwmKb, how: '/usr/bin/time %M' } : { rows, ms: r.ms, peakKb: r.hwmKb, polledKb: r.hwmKb, how: 'VmHWM polled every 50 ms' }
}

const rate = (rows: number, ms: number) => (rows / ms) * 1000
const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`
/** The fastest of a round's runs. */
const fastest = <T extends { ms: number }>(runs: T[]): T => runs.reduce((a, b) => (b.ms < a.ms ? b : a))
const mb = (kb: number) => Math.round(kb / 102.4) / 10

export async function migrateBench(ctx: BenchContext): Promise<void> {
  requireTool('psql', INSTALL_CLI)
  requireTool('sqlite3', INSTALL_CLI)
  const n = { telemetry: ctx.quick ? 500_000 : 5_000_000, small: ctx.quick ? 100_000 : 1_000_000, invoices: ctx.quick ? 100_000 : 1_000_000, reverse: ctx.quick ? 500_000 : 5_000_000 }
  // Noise: the full run times each engine copy and its naive baseline twice, interleaved, and keeps the best of each.
  const rounds = ctx.quick ? 1 : 2
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-migrate-'))
  const removeDir = track(async () => fs.rmSync(dir, { recursive: true, force: true }))
  const details: Record<string, unknown> = { rows: n, rounds }
  ctx.details.migrate = details

  ctx.log(`6: PostgreSQL 15: ${fmt(n.telemetry)} telemetry + ${fmt(n.invoices)} invoices rows, and ${fmt(n.small)} telemetry rows in a second database (generate_series, unlogged)`)
  const server = await startPostgres()
  const stopPg = track(() => server.stop())
  const smallUrl = server.url.replace(/\/postgres$/, '/bench_small')
  let t0 = performance.now()
  await withClient(server.url, (c) => c.query('CREATE DATABASE bench_small'))
  // Two streams for two cores: the big table alone, the two smaller ones one after the other.
  await Promise.all([
    seed(server.url, telemetrySql(n.telemetry), 'telemetry'),
    seed(server.url, invoicesSql(n.invoices), 'invoices').then(() => seed(smallUrl, telemetrySql(n.small), 'telemetry')),
  ])
  const seedMs = performance.now() - t0
  const sizes = await withClient(server.url, async (c) => (await c.query<{ t: string; i: string }>(`SELECT pg_size_pretty(pg_total_relation_size('telemetry')) AS t, pg_size_pretty(pg_total_relation_size('invoices')) AS i`)).rows[0])
  ctx.log(`  seeded in ${secs(seedMs)} (telemetry ${sizes?.t}, invoices ${sizes?.i})`)
  Object.assign(details, { seedMs, sizes })

  /** The naive pipeline and the engine, alternating round by round (the machine's noise hits both). */
  const alternate = async (tag: string, table: string, select: string, ddl: string, mapping: MappingFile, rows: number, target: string) => {
    const naive: NaiveRun[] = []
    const engine: EngineRun[] = []
    for (let r = 0; r < rounds; r++) {
      ctx.log(`${tag}: round ${r + 1}/${rounds}: psql COPY csv | sqlite3 .import`)
      const nv = await naivePipeline(server.url, server.pid, select, ddl, table, path.join(dir, 'naive.db'))
      if (nv.rows !== rows) throw new Error(`naive pipeline imported ${nv.rows} ${table} rows of ${rows}`)
      naive.push(nv)
      ctx.log(`  ${secs(nv.ms)} (${fmt(rate(rows, nv.ms))} rows/s); CPU ${secs(totalCpuMs(nv.cpu))}, cores busy: ${describeCores(nv.cpu)}`)
      ctx.log(`${tag}: round ${r + 1}/${rounds}: engine copy + verify into ${target}`)
      const e = await engineCopy(server.url, server.pid, path.join(dir, 'engine'), mapping, rows)
      engine.push(e)
      ctx.log(`  ${secs(e.ms)} (${fmt(rate(rows, e.ms))} rows/s): copy ${e.table.copySeconds.toFixed(1)} s, verify ${e.table.verifySeconds.toFixed(1)} s, ${e.table.chunks} chunks; CPU ${secs(totalCpuMs(e.cpu))}, cores busy: ${describeCores(e.cpu)}`)
    }
    return { naive, engine }
  }

  /**
   * What a copy costs in CPU, all processes (PostgreSQL's included), beside the naive pipeline's: on a
   * machine of `cores` cores, CPU / cores is the fastest the same work could go however it is spread.
   */
  const cpuRow = (what: string, e: EngineRun, naive: NaiveRun) => {
    const cores = os.availableParallelism()
    return row('6', `${what}, CPU of the whole copy (all processes)`, totalCpuMs(e.cpu) / 1000, 's', {
      baseline: { name: 'naive pipeline, same rows', value: totalCpuMs(naive.cpu) / 1000 },
      note: `engine run: ${describeCores(e.cpu)} cores busy; naive: ${describeCores(naive.cpu)}; on ${cores} cores the engine's CPU alone takes ≥ ${secs(totalCpuMs(e.cpu) / cores)} of wall time, the naive pipeline took ${secs(naive.ms)}`,
    })
  }

  // a. telemetry -> DuckDB
  ctx.log(`6a: telemetry ${fmt(n.telemetry)} rows: COPY TO STDOUT into /dev/null (csv, binary)`)
  const copyCsvMs = await pgCopyToNull(server.url, TELEMETRY_SELECT, 'csv')
  const copyBinMs = await pgCopyToNull(server.url, TELEMETRY_SELECT, 'binary')
  ctx.log(`  csv ${secs(copyCsvMs)} (${fmt(rate(n.telemetry, copyCsvMs))} rows/s), binary ${secs(copyBinMs)} (${fmt(rate(n.telemetry, copyBinMs))} rows/s)`)
  const { naive: naiveTelRuns, engine: engineTel } = await alternate('6a', 'telemetry', TELEMETRY_SELECT, NAIVE_TELEMETRY_DDL, TELEMETRY_MAPPING, n.telemetry, 'DuckDB')
  const tel = fastest(engineTel)
  const naiveTel = fastest(naiveTelRuns)
  const telRate = rate(n.telemetry, tel.ms)
  const naiveTelRate = rate(n.telemetry, naiveTel.ms)
  Object.assign(details, { telemetry: { copyCsvMs, copyBinMs, naiveMs: naiveTelRuns.map((x) => x.ms), naiveCpu: naiveTelRuns.map((x) => x.cpu), engineMs: engineTel.map((e) => e.ms), engineCpu: engineTel.map((e) => e.cpu), engineTables: engineTel.map((e) => e.table) } })
  const telNote = `${fmt(n.telemetry)} rows in ${secs(tel.ms)} end to end (runMigration: introspect, copy ${tel.table.copySeconds.toFixed(1)} s, verify ${tel.table.verifySeconds.toFixed(1)} s, compaction, report), ${tel.table.chunks} chunks; best of ${rounds}`
  ctx.rows.push(
    row('6', 'PG -> DuckDB telemetry, engine copy + verify', telRate, 'rows/s', {
      baseline: { name: 'psql COPY csv | sqlite3 .import', value: naiveTelRate },
      goals: [atLeast(telRate, 1_500_000, '≥ 1.5 M rows/s'), atLeast(telRate, 2 * naiveTelRate, '≥ 2x naive pipeline')],
      note: telNote,
    }),
    row('6', 'PG -> DuckDB telemetry, vs PG COPY csv', telRate, 'rows/s', { baseline: { name: 'COPY (SELECT 4 columns) TO STDOUT csv > /dev/null', value: rate(n.telemetry, copyCsvMs) } }),
    row('6', 'PG -> DuckDB telemetry, vs PG COPY binary', telRate, 'rows/s', { baseline: { name: 'COPY (SELECT 4 columns) TO STDOUT binary > /dev/null', value: rate(n.telemetry, copyBinMs) } }),
    cpuRow('PG -> DuckDB telemetry', tel, naiveTel),
  )

  // b. invoices -> SQLite (generic table)
  ctx.log(`6b: invoices ${fmt(n.invoices)} rows: COPY TO STDOUT csv into /dev/null`)
  const invCopyMs = await pgCopyToNull(server.url, INVOICES_SELECT, 'csv')
  ctx.log(`  ${secs(invCopyMs)} (${fmt(rate(n.invoices, invCopyMs))} rows/s)`)
  const { naive: naiveInvRuns, engine: engineInv } = await alternate('6b', 'invoices', INVOICES_SELECT, NAIVE_INVOICES_DDL, INVOICES_MAPPING, n.invoices, 'SQLite')
  const inv = fastest(engineInv)
  const naiveInv = fastest(naiveInvRuns)
  const invRate = rate(n.invoices, inv.ms)
  const naiveInvRate = rate(n.invoices, naiveInv.ms)
  Object.assign(details, { invoices: { copyCsvMs: invCopyMs, naiveMs: naiveInvRuns.map((x) => x.ms), naiveCpu: naiveInvRuns.map((x) => x.cpu), engineMs: engineInv.map((e) => e.ms), engineCpu: engineInv.map((e) => e.cpu), engineTables: engineInv.map((e) => e.table) } })
  ctx.rows.push(
    row('6', 'PG -> SQLite invoices (uuid key, unique, numeric), engine copy + verify', invRate, 'rows/s', {
      baseline: { name: 'psql COPY csv | sqlite3 .import, same keys', value: naiveInvRate },
      goals: [atLeast(invRate, 300_000, '≥ 300k rows/s'), atLeast(invRate, naiveInvRate, '≥ naive pipeline')],
      note: `${fmt(n.invoices)} rows in ${secs(inv.ms)} end to end (copy ${inv.table.copySeconds.toFixed(1)} s, verify ${inv.table.verifySeconds.toFixed(1)} s), ${inv.table.chunks} chunks; best of ${rounds}`,
    }),
    row('6', 'PG -> SQLite invoices, vs PG COPY csv', invRate, 'rows/s', { baseline: { name: 'COPY (SELECT *) TO STDOUT csv > /dev/null', value: rate(n.invoices, invCopyMs) } }),
    cpuRow('PG -> SQLite invoices', inv, naiveInv),
  )

  // c. peak RSS of the engine process, small vs large telemetry table
  ctx.log(`6c: ocean-ops migrate-data in a child process: ${fmt(n.small)} then ${fmt(n.telemetry)} telemetry rows`)
  const small = await childCopyRss(smallUrl, path.join(dir, 'rss'), n.small)
  ctx.log(`  ${fmt(n.small)} rows: peak RSS ${mb(small.peakKb)} MB (${small.how}; polled VmHWM ${mb(small.polledKb)} MB), ${secs(small.ms)}`)
  const large = await childCopyRss(server.url, path.join(dir, 'rss'), n.telemetry)
  ctx.log(`  ${fmt(n.telemetry)} rows: peak RSS ${mb(large.peakKb)} MB (${large.how}; polled VmHWM ${mb(large.polledKb)} MB), ${secs(large.ms)}`)
  details.rss = { small, large }
  ctx.rows.push(
    row('6', `peak RSS of migrate-data, ${fmt(n.telemetry)} telemetry rows`, mb(large.peakKb), 'MB', {
      baseline: { name: `same, ${fmt(n.small)} rows`, value: mb(small.peakKb) },
      goals: [atMost(large.peakKb, 1.25 * small.peakKb, '≤ 1.25x the smaller copy (bounded memory)')],
      note: `${large.how} on the child process (ocean-ops CLI, whole copy + verify: ${secs(large.ms)} vs ${secs(small.ms)}; ${fmt(rate(n.telemetry, large.ms))} vs ${fmt(rate(n.small, small.ms))} rows/s incl. process start)`,
    }),
  )

  // d. reverse sync (rollback) SQLite -> PostgreSQL vs pgloader
  await reverseBench(ctx, server.url, dir, n.reverse, rounds)

  t0 = performance.now()
  await stopPg()
  await removeDir()
  ctx.log(`  stopped PostgreSQL, removed ${dir} (${secs(performance.now() - t0)})`)
}
