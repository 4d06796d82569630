// The migration engine's entry point: connects the source, plans every table from the mapping
// and introspection, then plans, copies (+ verifies), verifies, syncs a delta, marks the cutover or
// syncs back, and writes the report. Tables run in two lanes, one per target file (SQLite and
// DuckDB each take one writer), each lane with its own source connection.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { OpsError } from '@ocean-ops/common'
import { Checkpoints } from './state/checkpoints.ts'
import { copyTable, targetLabel, type CopyContext } from './sync/copy-table.ts'
import { deltaTable, type DeltaResult } from './sync/delta.ts'
import { changesSince, changesTable, POSITION_META, takePosition, type ChangeSet } from './sync/changes.ts'
import type { ChangePosition } from './sources/change-capture.ts'
import { refusedIds, refusedLines, type RefusedIds } from './plan/id-check.ts'
import { redactUrl, type Source } from './sources/introspect.ts'
import { buildPlans, parseMappingFile, type MappingFile, type TablePlan, type TargetColumnInfo, type TargetSchema } from './plan/mapping.ts'
import { fmtSeconds, TableProgress, type Log } from './state/progress.ts'
import { tableReport, writeMigrationReport, type MigrationReport, type TableReport } from './report.ts'
import type { ChangesTimings } from './sync/changes-timings.ts'
import { markCutover, reverseSync, type ReverseResult } from './sync/reverse.ts'
import { MysqlSource } from './sources/mysql.ts'
import { PostgresSource } from './sources/postgres.ts'
import { DuckdbTarget } from './targets/duckdb.ts'
import { SqliteTarget } from './targets/sqlite.ts'
import { TargetSums } from './targets/sums.ts'
import { mismatchError, verifyTable, type TableVerdict } from './sync/verify-table.ts'
import { openSqlite } from '@ocean-ops/ocean/stores/sqlite-db'

export type Mode = 'plan' | 'copy' | 'verify-only' | 'delta' | 'changes' | 'mark-cutover' | 'reverse'

export interface MigrateOptions {
  source: string
  sqlite: string
  duckdb: string
  journal: string
  mode: Mode
  mapping?: MappingFile
  reportDir?: string
  /** Continue an interrupted copy from its checkpoints. */
  resume?: boolean
  log?: Log
  chunkRows?: number
  duckdbChunkRows?: number
  /** Telemetry reverse sync: how far before the mark to look for late events. */
  lookbackMs?: number
  duckdbMemoryLimit?: string
  duckdbThreads?: number
  /** The source as the journal knows it, when `source` is a tunnel's end whose port changes from run to run. */
  sourceName?: string
  /** Only the tables going into this target file (two runs side by side: the SQLite one does not need the API stopped). */
  only?: 'sqlite' | 'duckdb'
  /** One lane per target file, concurrently (default true). */
  parallel?: boolean
  /**
   * The cutover's warm final sync waits here for the freeze: called once the source is introspected,
   * the tables planned and the target files opened (telemetry's checksum taken), before anything is read.
   */
  waitFor?: (source: Source) => Promise<void>
}

export interface MigrationOutcome {
  report: MigrationReport
  files?: { json: string; markdown: string }
  plans: TablePlan[]
}

/** Rough rates for the plan's time estimate; `npm run bench` measures the real ones. */
const PLAN_RATE = { sqlite: 150_000, duckdb: 600_000 }

export async function connectSource(url: string): Promise<Source> {
  const scheme = url.split(':')[0]?.toLowerCase()
  if (scheme === 'postgres' || scheme === 'postgresql') return PostgresSource.connect(url)
  if (scheme === 'mysql' || scheme === 'mariadb') return MysqlSource.connect(url)
  throw new OpsError('OPS_E_USAGE', `--source ${redactUrl(url)}: use postgres://USER@HOST:PORT/DB or mysql://USER@HOST:PORT/DB (password in PGPASSWORD / MYSQL_PWD)`)
}

/** The service's SQLite schema, made by its own migrations in a scratch directory (nothing touched). */
export function serviceSchema(): TargetSchema {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ocean-schema-'))
  try {
    const db = openSqlite(dir)
    const sqlite = new Map<string, TargetColumnInfo[]>()
    for (const { name } of db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'").all() as Array<{ name: string }>) {
      const cols = db.prepare(`PRAGMA table_info("${name}")`).all() as Array<{ name: string; type: string; notnull: number; pk: number }>
      sqlite.set(name, cols.map((c) => ({ name: c.name, type: c.type, notnull: c.notnull === 1, pk: c.pk })))
    }
    db.close()
    return { sqlite }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

function planLines(plans: TablePlan[]): string[] {
  const out: string[] = []
  let total = 0
  for (const p of plans) {
    const rows = p.source.estimatedRows
    const secs = rows / (p.targetKind === 'sqlite' ? PLAN_RATE.sqlite : PLAN_RATE.duckdb)
    total += secs
    out.push(`  ${p.id} -> ${targetLabel(p)}: ~${rows.toLocaleString('en-US')} rows, ${(p.source.sizeBytes / 1e6).toFixed(1)} MB, est. ${fmtSeconds(secs)}`)
    out.push(`      key: ${p.key ? `${p.key.columns.join(', ')} (${p.key.source})` : 'none'}; verified ${p.rangeVerifiable ? 'per key range' : 'per table'}; watermark: ${p.watermark ? `${p.watermark.column} (${p.watermark.kind})` : 'none'}${p.appendOnly ? '; append-only' : ''}; reverse: ${p.reversible.ok ? 'yes' : `no (${p.reversible.why})`}`)
    for (const c of p.columns) out.push(`      ${c.target} <- ${c.sourceColumn ?? 'NULL'}: ${c.rule?.rule ?? 'nothing mapped'}${c.transform ? `, then ${c.transform}` : ''}`)
    for (const w of p.warnings) out.push(`      ! ${w}`)
  }
  out.push(`  total est. ${fmtSeconds(total)} (rough: ${PLAN_RATE.sqlite.toLocaleString('en-US')} rows/s into SQLite, ${PLAN_RATE.duckdb.toLocaleString('en-US')} into DuckDB)`)
  return out
}

/** Lists the source ids the API would refuse (expected: none), per table; see id-check.ts. */
async function checkIds(source: Source, plans: TablePlan[], log: Log): Promise<Map<string, RefusedIds>> {
  const out = new Map<string, RefusedIds>()
  for (const p of plans) {
    const r = await refusedIds(source, p)
    if (!r) continue
    out.set(p.id, r)
    for (const line of refusedLines(p.id, r)) log(`  ${line}`)
  }
  const clean = [...out].filter(([, r]) => r.refused === 0).map(([id, r]) => `${id}.${r.column}`)
  if (clean.length) log(`  ids: every value of ${clean.join(', ')} is one the API accepts`)
  return out
}

const withIds = (tables: TableReport[], ids: Map<string, RefusedIds>): TableReport[] =>
  tables.map((t) => {
    const r = ids.get(t.table)
    return r ? { ...t, refusedIds: r } : t
  })

export async function runMigration(opts: MigrateOptions): Promise<MigrationOutcome> {
  const log = opts.log ?? ((line: string) => process.stderr.write(`${line}\n`))
  const startedAt = new Date().toISOString()
  const main = await connectSource(opts.source)
  const sources: Source[] = [main]
  let checkpoints: Checkpoints | undefined
  let sqlite: SqliteTarget | undefined
  let targetSums: TargetSums | undefined
  let duckdb: DuckdbTarget | undefined
  const notes: string[] = []
  try {
    log(`source ${main.redacted}: introspecting`)
    const tables = await main.introspect()
    // A plan reads the journal if there is one; every other mode keeps its state there.
    checkpoints = opts.mode !== 'plan' || fs.existsSync(opts.journal) ? Checkpoints.open(opts.journal) : undefined
    // Without --mapping, a run uses the mapping the journal's copy was made with (the cutover's and
    // the rollback's runs on the new host pass none); with one, the journal keeps it for them.
    const recorded = opts.mapping ? undefined : checkpoints?.meta('mapping')
    const stored = recorded ? parseMappingFile(recorded, `the mapping recorded in ${opts.journal}`) : undefined
    if (stored) log('mapping: the one this journal\'s copy was made with')
    const mapping = opts.mapping ?? stored ?? {}
    const plans = buildPlans(main.engine, tables, mapping, serviceSchema(), { defaultChunkRows: opts.chunkRows, duckdbChunkRows: opts.duckdbChunkRows }).filter(
      (p) => !opts.only || (opts.only === 'sqlite') === (p.targetKind === 'sqlite'),
    )
    // No estimate (a PostgreSQL table never analyzed): counted, so the plan's estimates mean something;
    // only the tables this run copies (counting a large table the mapping leaves out took seconds).
    for (const p of plans) if (p.source.estimatedRows < 0) p.source.estimatedRows = await main.count(p.source)
    const report = (tablesOut: TableReport[], ok: boolean, extra: Partial<MigrationReport> = {}): MigrationReport => ({
      mode: opts.mode,
      source: main.redacted,
      sqlite: plans.some((p) => p.targetKind === 'sqlite') ? path.resolve(opts.sqlite) : null,
      duckdb: plans.some((p) => p.targetKind !== 'sqlite') ? path.resolve(opts.duckdb) : null,
      journal: path.resolve(opts.journal),
      startedAt,
      finishedAt: new Date().toISOString(),
      ok,
      tables: tablesOut,
      foreignKeyViolations: [],
      notes,
      ...extra,
    })

    if (opts.mode === 'plan') {
      log(`plan: ${plans.length} table(s); nothing is changed`)
      for (const line of planLines(plans)) log(line)
      const ids = await checkIds(main, plans, log)
      const cp = checkpoints
      const r = report(withIds(plans.map((p) => (cp ? tableReport(p, cp) : planOnlyReport(p))), ids), true)
      return { report: r, files: opts.reportDir ? writeMigrationReport(opts.reportDir, r) : undefined, plans }
    }

    // Every mode but a plan opened (or made) the journal above.
    if (!checkpoints) throw new Error(`the journal ${opts.journal} is not open`)
    const sourceName = opts.sourceName ? redactUrl(opts.sourceName) : main.redacted
    const journalSource = checkpoints.meta('source')
    if (journalSource && journalSource !== sourceName) {
      throw new OpsError('OPS_E_MIGRATE_STATE', `the journal ${opts.journal} belongs to a migration from ${journalSource}, not ${sourceName}; use another --journal`)
    }
    checkpoints.setMeta('source', sourceName)
    if (opts.mapping) checkpoints.setMeta('mapping', JSON.stringify(opts.mapping))

    if (opts.mode === 'copy') {
      const states = plans.map((p) => checkpoints!.table(p.id))
      const unfinished = plans.filter((_, i) => states[i] && states[i]!.status !== 'verified')
      if (unfinished.length && !opts.resume) {
        throw new OpsError('OPS_E_MIGRATE_STATE', `a migration is in progress in ${opts.journal} (${unfinished.map((p) => p.id).join(', ')} not verified): continue it with --resume, or verify it with --verify-only`)
      }
      if (states.every((s) => s?.status === 'verified')) {
        log('every table is copied and verified already: nothing to do (--verify-only checks again, --delta syncs what changed since)')
        const r = report(plans.map((p) => tableReport(p, checkpoints!)), true)
        notes.push('Nothing to do: every table was copied and verified by an earlier run.')
        return { report: r, files: opts.reportDir ? writeMigrationReport(opts.reportDir, r) : undefined, plans }
      }
    }

    const needSqlite = plans.some((p) => p.targetKind === 'sqlite')
    const needDuckdb = plans.some((p) => p.targetKind !== 'sqlite')
    let telemetryAtWait: CopyContext['telemetryAtWait']
    if (opts.waitFor) {
      // Everything that needs no freeze is done before it: the second lane's connection, the target
      // files opened (the API is stopped for a DuckDB run, so the file is free; held from here,
      // nothing else writes it) and telemetry's whole checksum taken, so the frozen run reads only
      // what it adds.
      if (opts.parallel !== false && new Set(plans.map((p) => p.targetKind === 'sqlite')).size > 1) sources.push(await connectSource(opts.source))
      if (needSqlite) sqlite = SqliteTarget.open(opts.sqlite)
      if (needDuckdb) duckdb = await openDuckdb(opts, log)
      const telemetry = plans.find((p) => p.targetKind === 'telemetry')
      if (duckdb && telemetry) telemetryAtWait = { whole: await duckdb.targetChecksum(telemetry), hot: await duckdb.hotChecksum(telemetry) }
      await opts.waitFor(main)
    }
    const ids = opts.mode === 'copy' ? await checkIds(main, plans, log) : new Map<string, RefusedIds>()
    if (needSqlite && !sqlite) sqlite = SqliteTarget.open(opts.sqlite)
    if (sqlite && opts.mode === 'copy') targetSums = new TargetSums(sqlite.file)
    if (needDuckdb && !duckdb) duckdb = await openDuckdb(opts, log)

    // The change log's position is taken before anything is read: what changes from here is the next run's.
    const position = opts.mode === 'delta' || opts.mode === 'changes' ? await takePosition(main) : null
    let changes: ChangeSet | string = 'not a changes run'
    const timings: ChangesTimings | undefined = opts.mode === 'changes' ? { readMs: 0, applyMs: 0, verifyMs: 0 } : undefined
    if (opts.mode === 'changes') {
      const from = checkpoints.meta(POSITION_META)
      const t0 = performance.now()
      changes = await changesSince(main, from ? (JSON.parse(from) as ChangePosition) : undefined, position)
      timings!.readMs += performance.now() - t0
      if (typeof changes === 'string') log(`  changes: ${changes}; every table is synced the whole way`)
      else log(`  changes: ${[...changes.byTable.values()].reduce((n, t) => n + t.keys.length, 0)} logged key(s) in ${changes.byTable.size} table(s) since the last run`)
    }

    const verdicts: Array<{ id: string; verdict: TableVerdict }> = []
    const deltas = new Map<string, DeltaResult>()
    let reverse: ReverseResult[] | undefined
    const contextFor = (source: Source): CopyContext => ({ source, sqlite, duckdb, checkpoints: checkpoints!, targetSums, telemetryAtWait, timings })

    const perTable = async (e: CopyContext, plan: TablePlan): Promise<void> => {
      const label = `  ${plan.id} -> ${targetLabel(plan)}`
      const state = checkpoints!.table(plan.id)
      if (opts.mode === 'copy') {
        if (state?.status === 'verified') {
          log(`${label}: verified earlier`)
          return
        }
        const progress = new TableProgress(label, Math.max(0, plan.source.estimatedRows - (state?.rows_copied ?? 0)), log)
        if (state && !state.copy_done) log(`${label}: resuming after ${state.rows_copied.toLocaleString('en-US')} rows (chunk ${state.next_chunk})`)
        await copyTable(e, plan, progress)
        log(`${label}: copied ${progress.rows.toLocaleString('en-US')} rows at ${Math.round(progress.rate).toLocaleString('en-US')} rows/s; verifying`)
        const v = await verifyTable(e, plan, { reread: false, repair: false, log })
        verdicts.push({ id: plan.id, verdict: v })
        log(`${label}: ${v.ok ? 'verified' : 'MISMATCH'}, ${v.target.rows.toLocaleString('en-US')} rows (${fmtSeconds(v.verifyMs / 1000)})`)
      } else if (opts.mode === 'verify-only') {
        if (!state?.copy_done) {
          verdicts.push({ id: plan.id, verdict: { ok: false, source: { rows: 0, sum: '' }, target: { rows: 0, sum: '' }, mismatches: [`${plan.id}: not copied yet`], verifyMs: 0, repaired: 0 } })
          return
        }
        const v = await verifyTable(e, plan, { reread: true, repair: false, log })
        verdicts.push({ id: plan.id, verdict: v })
        log(`${label}: ${v.ok ? 'verified' : 'MISMATCH'}, source ${v.source.rows.toLocaleString('en-US')} / target ${v.target.rows.toLocaleString('en-US')} rows (${fmtSeconds(v.verifyMs / 1000)})`)
      } else if (opts.mode === 'delta' || opts.mode === 'changes') {
        if (!state) {
          log(`${label}: new since the copy; copying it in full`)
          await copyTable(e, plan, new TableProgress(label, plan.source.estimatedRows, log))
          verdicts.push({ id: plan.id, verdict: await verifyTable(e, plan, { reread: false, repair: false, log }) })
          return
        }
        const byChanges = opts.mode === 'changes' && typeof changes !== 'string' ? await changesTable(e, plan, changes, log) : undefined
        if (typeof byChanges === 'string') log(`${label}: ${byChanges}; synced the whole way`)
        const d = byChanges && typeof byChanges !== 'string' ? byChanges : await deltaTable(e, plan, log)
        deltas.set(plan.id, d)
        verdicts.push({ id: plan.id, verdict: d.verdict })
        log(`${label}: ${d.appended} appended, ${d.updated} updated, ${d.repaired} repaired; ${d.verdict.ok ? 'verified' : 'MISMATCH'}`)
      }
    }

    if (opts.mode === 'copy' || opts.mode === 'verify-only' || opts.mode === 'delta' || opts.mode === 'changes') {
      const lanes = [plans.filter((p) => p.targetKind === 'sqlite'), plans.filter((p) => p.targetKind !== 'sqlite')].filter((l) => l.length)
      if (opts.parallel !== false && lanes.length > 1 && sources.length < 2) sources.push(await connectSource(opts.source))
      const runLane = async (lane: TablePlan[], source: Source) => {
        for (const plan of lane) await perTable(contextFor(source), plan)
      }
      const results = await Promise.allSettled(lanes.map((lane, i) => runLane(lane, sources[opts.parallel !== false ? i : 0] ?? main)))
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected')
      if (failed) throw failed.reason
      // Every table was read after the position: the next changes run starts from it (a chunk that
      // did not verify is recorded so, and that run compares it whole).
      if (position) checkpoints.setMeta(POSITION_META, JSON.stringify(position))
      if (duckdb && opts.mode !== 'verify-only' && plans.some((p) => p.targetKind === 'telemetry')) {
        const t0 = performance.now()
        const steps = await duckdb.compact()
        if (steps) log(`  telemetry: compacted into sorted partitions (${steps} step(s), ${fmtSeconds((performance.now() - t0) / 1000)})`)
      }

    } else if (opts.mode === 'mark-cutover') {
      await markCutover(contextFor(main), plans, log)
    } else if (opts.mode === 'reverse') {
      reverse = await reverseSync(contextFor(main), plans, { lookbackMs: opts.lookbackMs ?? 3_600_000, log })
    }

    // Every foreign key of the file is checked (a scan of every child table) after a copy or a delta;
    // a changes run, inside the freeze, leaves that to the pre-sync's delta before it.
    const fk = sqlite && opts.mode !== 'reverse' && opts.mode !== 'mark-cutover' && opts.mode !== 'changes' ? sqlite.foreignKeyViolations() : []
    const fkLines = fk.map((v) => `${v.table} row ${v.rowid ?? '?'} references a missing ${v.parent} row`)
    for (const p of plans) if (p.dropped.length) notes.push(`${p.id}: source columns not copied: ${p.dropped.join(', ')}`)
    const tablesOut = plans.map((p) => {
      const d = deltas.get(p.id)
      const v = verdicts.find((x) => x.id === p.id)?.verdict
      return tableReport(p, checkpoints!, {
        ...(v ? { mismatches: v.mismatches } : {}),
        ...(d ? { delta: { appended: d.appended, updated: d.updated, repaired: d.repaired, watermark: d.watermark } } : {}),
      })
    })
    const bad = verdicts.filter((v) => !v.verdict.ok)
    const r = report(withIds(tablesOut, ids), bad.length === 0, { foreignKeyViolations: fkLines, ...(reverse ? { reverse } : {}), ...(timings ? { changesMs: roundTimings(timings) } : {}) })
    const files = opts.reportDir ? writeMigrationReport(opts.reportDir, r) : undefined
    if (files) log(`report: ${files.markdown}`)
    if (fkLines.length) log(`  ! ${fkLines.length} foreign key violation(s) in the SQLite target (see the report)`)
    if (bad.length) throw mismatchError(bad)
    return { report: r, files, plans }
  } finally {
    await targetSums?.close()
    sqlite?.close()
    duckdb?.close()
    checkpoints?.close()
    for (const s of sources) await s.close()
  }
}

function planOnlyReport(p: TablePlan): TableReport {
  return {
    table: p.id,
    target: targetLabel(p),
    status: 'planned',
    key: p.key ? `${p.key.columns.join(', ')} (${p.key.source})` : null,
    sourceRows: p.source.estimatedRows,
    targetRows: null,
    sourceChecksum: null,
    targetChecksum: null,
    chunks: 0,
    copySeconds: 0,
    verifySeconds: 0,
    rowsPerSecond: null,
    columns: p.columns.map((c) => ({ target: c.target, source: c.sourceColumn, rule: c.rule?.rule ?? 'NULL (nothing mapped)', ...(c.transform ? { transform: c.transform } : {}) })),
    dropped: p.dropped,
    warnings: p.warnings,
    coercionCounts: {},
    coercions: [],
    mismatches: [],
  }
}

/**
 * Opens telemetry.duckdb; after a wait (the warm final sync), the API that held it is stopping, so a
 * lock conflict is retried for up to a minute.
 */
async function openDuckdb(opts: MigrateOptions, log: Log): Promise<DuckdbTarget> {
  const deadline = Date.now() + (opts.waitFor ? 60_000 : 0)
  let said = false
  for (;;) {
    try {
      return await DuckdbTarget.open(opts.duckdb, { memoryLimit: opts.duckdbMemoryLimit, threads: opts.duckdbThreads })
    } catch (e) {
      if (!/lock/i.test((e as Error).message) || Date.now() > deadline) throw e
      if (!said) log('  telemetry.duckdb is still held (the API is stopping); waiting for it')
      said = true
      await new Promise((r) => setTimeout(r, 50))
    }
  }
}

const roundTimings = (t: ChangesTimings): ChangesTimings => ({ readMs: Math.round(t.readMs), applyMs: Math.round(t.applyMs), verifyMs: Math.round(t.verifyMs) })
