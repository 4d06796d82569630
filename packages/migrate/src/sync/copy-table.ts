// Copies one table in chunks: a chunk is the key range (previous end, the key chunkRows rows on]
// (found with one index-only query), read in one streamed scan and written in one target
// transaction, then checkpointed with its row count and source checksum. Memory holds one chunk at
// most (SQLite: not even that, rows are written as they arrive). A table without a key is one
// chunk, restarted from scratch if interrupted. Into DuckDB, the next chunk's CSV is read from the
// source into its file while DuckDB loads the current one (one chunk ahead, on disk).
import type { Checksum } from '../values/checksum.ts'
import type { ChangesTimings } from './changes-timings.ts'
import crypto from 'node:crypto'
import fs from 'node:fs'
import { OpsError } from '@ocean-ops/common'
import { RowSum } from '../values/checksum.ts'
import { COERCIONS_KEPT, type Checkpoints, type TableState } from '../state/checkpoints.ts'
import type { ScanRequest, Source } from '../sources/introspect.ts'
import type { TablePlan } from '../plan/mapping.ts'
import type { TableProgress } from '../state/progress.ts'
import { RowConverter } from '../plan/row-converter.ts'
import { telemetryEntryId, type DuckdbTarget } from '../targets/duckdb.ts'
import { conflictError, type SqliteTarget } from '../targets/sqlite.ts'
import type { TargetSums } from '../targets/sums.ts'

export interface CopyContext {
  source: Source
  sqlite?: SqliteTarget
  duckdb?: DuckdbTarget
  checkpoints: Checkpoints
  /** Copy mode: reads committed SQLite chunks back in a worker thread for the verification. */
  targetSums?: TargetSums
  /** A warm final sync: telemetry's whole checksum and its hot rows', taken before the freeze with the file held since. */
  telemetryAtWait?: { whole: Checksum; hot: Checksum }
  /** A changes run adds its read, apply and verify times here. */
  timings?: ChangesTimings
}

/** What identifies a table's copy: if it changes (mapping, source columns), checkpoints no longer apply. */
export function planHash(plan: TablePlan): string {
  const shape = {
    target: `${plan.targetKind}:${plan.targetTable}`,
    selects: plan.selects,
    key: plan.key?.columns ?? [],
    columns: plan.columns.map((c) => [c.target, c.sourceColumn, c.transform ?? '', c.kind, c.sqliteType, c.duckdbType]),
  }
  return crypto.createHash('sha256').update(JSON.stringify(shape)).digest('hex').slice(0, 16)
}

export function targetLabel(plan: TablePlan): string {
  return plan.targetKind === 'telemetry' ? 'duckdb:telemetry' : `${plan.targetKind}:${plan.targetTable}`
}

export function sqliteOf(e: CopyContext, plan: TablePlan): SqliteTarget {
  if (!e.sqlite) throw new Error(`${plan.id}: SQLite target not open`)
  return e.sqlite
}

export function duckdbOf(e: CopyContext, plan: TablePlan): DuckdbTarget {
  if (!e.duckdb) throw new Error(`${plan.id}: DuckDB target not open`)
  return e.duckdb
}

/**
 * The end of the chunk starting after `after`: the key chunkRows rows on, or the table's last key
 * when fewer remain, or 'end' when no row is left.
 */
export async function nextBoundary(source: Source, plan: TablePlan, after: string[] | null): Promise<string[] | 'end'> {
  const key = plan.key!.columns
  const hi = await source.boundary(plan.source, key, after, plan.chunkRows)
  if (hi) return hi
  if (!(await source.boundary(plan.source, key, after, 1))) return 'end'
  return (await source.lastKey(plan.source, key)) ?? 'end'
}

/** Prepares a table's copy: a fresh start (taking the watermark first), or the state to resume from. */
export async function beginTable(e: CopyContext, plan: TablePlan): Promise<TableState> {
  const hash = planHash(plan)
  const state = e.checkpoints.table(plan.id)
  if (state && state.plan_hash !== hash) {
    throw new OpsError(
      'OPS_E_MIGRATE_STATE',
      `${plan.id}: its mapping or source columns changed since its copy started (journal ${hash} vs ${state.plan_hash}). Restore the mapping, or start over with a fresh journal and empty target files.`,
    )
  }
  // A copy still to do builds the unique indexes of a generic SQLite table after its rows (copyChunks).
  if (plan.targetKind === 'sqlite') sqliteOf(e, plan).ensureTable(plan, { deferUnique: !state?.copy_done })
  else await duckdbOf(e, plan).ensureTable(plan)
  if (state) return state
  // Taken before reading anything: a row changed during the copy is newer than it, so a delta finds it.
  const watermark = plan.watermark ? await e.source.max(plan.source, plan.watermark.column) : null
  return e.checkpoints.startTable(plan.id, targetLabel(plan), hash, watermark)
}

/** Copies what is left of a table (all of it, or from its last checkpoint). */
export async function copyTable(e: CopyContext, plan: TablePlan, progress: TableProgress): Promise<void> {
  const state = await beginTable(e, plan)
  if (state.copy_done) return
  if (!plan.key) {
    if (state.next_chunk > 0 || state.rows_copied > 0 || state.last_key !== null) e.checkpoints.restartCopy(plan.id)
    if (plan.targetKind === 'sqlite') sqliteOf(e, plan).clear(plan)
    else await duckdbOf(e, plan).clear(plan)
  }
  const after = state.last_key ? (JSON.parse(state.last_key) as string[]) : null
  await copyChunks(e, plan, after, state.next_chunk, progress)
}

/** Copies the chunks after `after` (the whole table without a key), numbering them from `chunkNo`. */
/**
 * Copies the source's rows after `after` in chunks, each checkpointed with its checksum. With
 * `recordOnly` (DuckDB only) the chunks are read and checkpointed but not stored: the target holds
 * those rows already (the reverse sync put the new side's telemetry into the source).
 */
export async function copyChunks(e: CopyContext, plan: TablePlan, after: string[] | null, chunkNo: number, progress: TableProgress, opts: { recordOnly?: boolean } = {}): Promise<number> {
  if (opts.recordOnly && plan.targetKind === 'sqlite') throw new OpsError('OPS_E_USAGE', `${plan.id}: only DuckDB chunks can be recorded without storing them`)
  let copied = 0
  if (!plan.key) {
    copied = plan.targetKind === 'sqlite' ? await sqliteChunk(e, plan, null, null, 0, progress) : await duckdbChunk(e, plan, null, null, 0, progress)
    await finishCopy(e, plan)
    return copied
  }
  let empty = 0
  // DuckDB: the source's CSV of chunk n+1 is read (PostgreSQL and this process) while DuckDB loads,
  // checks and stores chunk n (its own threads), so neither side waits for the other.
  const duck = plan.targetKind !== 'sqlite'
  let next: Promise<Fetched> | null = duck ? readAhead(fetchChunk(e, plan, after, chunkNo)) : null
  try {
    for (;;) {
      let hi: string[] | 'end'
      let n: number
      if (next) {
        const t0 = performance.now()
        const got = await next
        next = null
        if (got === 'end') break
        hi = got.hi
        next = readAhead(fetchChunk(e, plan, hi, chunkNo + 1))
        n = await loadChunk(e, plan, after, hi, chunkNo, got.file, progress, t0, opts.recordOnly)
      } else {
        hi = await nextBoundary(e.source, plan, after)
        if (hi === 'end') break
        n = await sqliteChunk(e, plan, after, hi, chunkNo, progress)
      }
      // Empty chunks one after another while the source reports rows ahead: its key order is not the one
      // the copy pages by (rows deleted under a live copy empty one chunk, not several). Stop; never loop.
      empty = n === 0 ? empty + 1 : 0
      if (empty > 3) {
        throw new OpsError('OPS_E_SOURCE', `${plan.id}: no rows between keys ${JSON.stringify(after)} and ${JSON.stringify(hi)} although the source reports more; its key order is not what the copy expects. Map the table with another key.`)
      }
      copied += n
      after = hi
      chunkNo++
    }
  } finally {
    // A failed chunk: let the read ahead finish (the source connection is in the middle of it) and drop its file.
    if (next) {
      const pending = await next.catch(() => 'end' as const)
      if (pending !== 'end') fs.rmSync(pending.file, { force: true })
    }
  }
  await finishCopy(e, plan)
  return copied
}

/** Every row copied: a SQLite table's deferred unique indexes built, the copy checkpointed as done,
 * DuckDB's staging table dropped. */
async function finishCopy(e: CopyContext, plan: TablePlan): Promise<void> {
  if (plan.targetKind === 'sqlite') sqliteOf(e, plan).uniqueIndexes(plan)
  e.checkpoints.finishCopy(plan.id)
  if (plan.targetKind !== 'sqlite') await duckdbOf(e, plan).dropStage()
}

async function sqliteChunk(e: CopyContext, plan: TablePlan, lo: string[] | null, hi: string[] | null, chunkNo: number, progress: TableProgress): Promise<number> {
  const t0 = performance.now()
  const conv = new RowConverter(plan)
  const sum = new RowSum()
  // A table without a key is one chunk: commit every chunkRows rows to bound the transaction.
  await writeRowsToSqlite(e, plan, conv, { table: plan.source, selects: plan.selects, key: plan.key?.columns ?? [], after: lo, upTo: hi, limit: null }, plan.key ? 0 : plan.chunkRows, (canon) => {
    sum.add(canon)
    progress.add(1)
  })
  e.checkpoints.commitChunk(plan.id, { chunkNo, lo, hi, checksum: sum.checksum() }, conv.coercions, { copyMs: performance.now() - t0, done: false })
  if (plan.key && plan.rangeVerifiable) e.targetSums?.submit(plan, chunkNo, lo, hi)
  return sum.rows
}

/**
 * Streams the rows `req` selects through `conv` into the table's SQLite writer, `commitEvery` rows to
 * a transaction (0: all in one, rolled back whole on an error); a row the target refuses is an error
 * naming its key (or its position, for a table without one). `each` sees every row's canonical form.
 */
export async function writeRowsToSqlite(e: CopyContext, plan: TablePlan, conv: RowConverter, req: ScanRequest, commitEvery: number, each: (canon: (string | null)[]) => void): Promise<void> {
  const writer = sqliteOf(e, plan).writer(plan)
  let position = 0
  let inBatch = 0
  writer.begin()
  try {
    await e.source.scan(req, (row) => {
      const rowKey = rowKeyOf(plan.key ? conv.keyText(row) : null, ++position)
      let converted
      try {
        converted = conv.convert(row, rowKey)
      } catch (err) {
        throw conflictError(plan, rowKey(), err)
      }
      writer.put(converted.stored, rowKey)
      each(converted.canon)
      if (commitEvery && ++inBatch >= commitEvery) {
        writer.commit()
        writer.begin()
        inBatch = 0
      }
    })
    writer.commit()
  } catch (err) {
    writer.rollback()
    throw err
  }
}

/** How errors and coercions name a row: its source key, else its position. (Not a named closure
 * per row: under tsx each of those costs a __name call, a few per cent of a SQLite copy.) */
function rowKeyOf(key: string[] | null, at: number): () => string {
  return () => (key ? JSON.stringify(key) : `row ${at}`)
}

/** Streams a chunk of the source as CSV into DuckDB's staging table. */
export async function stageChunk(e: CopyContext, plan: TablePlan, lo: string[] | null, hi: string[] | null, chunkNo: number): Promise<void> {
  const duck = duckdbOf(e, plan)
  const file = duck.stageFile(plan, chunkNo)
  await e.source.scanCsv({ table: plan.source, selects: plan.selects, key: plan.key?.columns ?? [], after: lo, upTo: hi, limit: null }, fs.createWriteStream(file))
  await duck.stage(plan, file)
}

type Fetched = { hi: string[]; file: string } | 'end'

/** A read ahead fails while the copy awaits something else: handled at once (not an unhandled
 * rejection, which ends the process); the copy sees the error when it awaits the read. */
function readAhead(p: Promise<Fetched>): Promise<Fetched> {
  p.catch(() => undefined)
  return p
}

/** The next chunk's end, and its rows read from the source into a CSV file for DuckDB to load. */
async function fetchChunk(e: CopyContext, plan: TablePlan, after: string[] | null, chunkNo: number): Promise<Fetched> {
  const hi = await nextBoundary(e.source, plan, after)
  if (hi === 'end') return 'end'
  const file = duckdbOf(e, plan).stageFile(plan, chunkNo)
  try {
    await e.source.scanCsv({ table: plan.source, selects: plan.selects, key: plan.key?.columns ?? [], after, upTo: hi, limit: null }, fs.createWriteStream(file))
  } catch (err) {
    fs.rmSync(file, { force: true })
    throw err
  }
  return { hi, file }
}

async function duckdbChunk(e: CopyContext, plan: TablePlan, lo: string[] | null, hi: string[] | null, chunkNo: number, progress: TableProgress): Promise<number> {
  const t0 = performance.now()
  await stageChunk(e, plan, lo, hi, chunkNo)
  return storeStaged(e, plan, lo, hi, chunkNo, progress, t0)
}

/** Loads a chunk's CSV file (read ahead by fetchChunk) into the stage, then checks and stores it; `t0`
 * is when the copy began waiting for it (so chunk times add up to the wall time, overlap and all). */
async function loadChunk(e: CopyContext, plan: TablePlan, lo: string[] | null, hi: string[], chunkNo: number, file: string, progress: TableProgress, t0: number, recordOnly = false): Promise<number> {
  await duckdbOf(e, plan).stage(plan, file)
  return storeStaged(e, plan, lo, hi, chunkNo, progress, t0, recordOnly)
}

/** The staged chunk's source checksum and coercions, then the chunk stored and checkpointed. */
async function storeStaged(e: CopyContext, plan: TablePlan, lo: string[] | null, hi: string[] | null, chunkNo: number, progress: TableProgress, t0: number, recordOnly = false): Promise<number> {
  const duck = duckdbOf(e, plan)
  const { sum, ...coerced } = await duck.stagedCheck(plan, COERCIONS_KEPT)
  if (!recordOnly) await duck.commitStaged(plan, telemetryEntryId(plan.id, chunkNo), lo, hi)
  e.checkpoints.commitChunk(plan.id, { chunkNo, lo, hi, checksum: sum }, coerced.kept, { copyMs: performance.now() - t0, done: false }, coerced.counts)
  progress.add(sum.rows)
  return sum.rows
}
