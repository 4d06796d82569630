// The final sync in O(changes): what the old database's change log (sources/change-capture.ts) names
// since the previous run's position is read, written and verified; nothing else is read again.
//
// Why the unread chunks stay verified: the previous run (a delta) verified each chunk equal, reading
// the source after its position was taken. A row the log does not name has not changed since that
// position, and the target is written by this engine alone before the move; so a chunk that was
// equal then is equal now except for the rows the log names. Those are compared row by row (source
// row against the target row after it was written), and the chunk's checksums follow them: the
// target's recorded sum, less each named row as it was in the target, plus each as it is now.
// Anything the log cannot vouch for goes the whole way (a table without a position, a TRUNCATE or a
// write to a table without a primary key, a chunk the previous run did not verify, an append-only
// table with rows updated or deleted or committed late inside its copied ranges).
import { copyChunks, sqliteOf, type CopyContext } from './copy-table.ts'
import type { DeltaResult } from './delta.ts'
import type { ChangesTimings } from './changes-timings.ts'
import type { TablePlan } from '../plan/mapping.ts'
import { RowConverter } from '../plan/row-converter.ts'
import { TableProgress, type Log } from '../state/progress.ts'
import type { ChunkState } from '../state/checkpoints.ts'
import { adjustChecksum, combine, EMPTY_J, rowHash, type Checksum } from '../values/checksum.ts'
import type { SqliteValue } from '../values/canonical-row.ts'
import { keyComparer, targetRowReader } from '../targets/sqlite.ts'
import { OpsError } from '@ocean-ops/common'
import { CHANGES_SINCE_SQL, FROZEN_SQL, groupChanges, positionSql, CAPTURE_PRESENT_SQL, type ChangePosition, type TableChanges } from '../sources/change-capture.ts'
import type { Source } from '../sources/introspect.ts'
import { PostgresSource } from '../sources/postgres.ts'
import { CHANGES } from './reverse.ts'
import { verifySqliteRanges, verifyTable, type TableVerdict } from './verify-table.ts'

export const POSITION_META = 'changes_position'

/** The change log's position now, or null (not PostgreSQL, or no change log installed). */
export async function takePosition(source: Source): Promise<ChangePosition | null> {
  if (!(source instanceof PostgresSource)) return null
  const present = (await source.query<{ present: boolean }>(CAPTURE_PRESENT_SQL)).rows[0]?.present
  if (!present) return null
  const r = (await source.query<{ snapshot: string; epoch: string | null; tables: string }>(positionSql())).rows[0]
  if (!r?.epoch) return null
  return { snapshot: r.snapshot, epoch: r.epoch, tables: JSON.parse(r.tables) as string[] }
}

export interface ChangeSet {
  from: ChangePosition
  now: ChangePosition
  byTable: Map<string, TableChanges>
}

/** What changed since `from`, or why it cannot be known (then every table goes the whole way). */
export async function changesSince(source: Source, from: ChangePosition | undefined, now: ChangePosition | null): Promise<ChangeSet | string> {
  if (!from) return 'no earlier run recorded a position in the change log'
  if (!now) return 'the change log is not installed on the source (`cutover` installs it before its pre-sync)'
  if (now.epoch !== from.epoch) return 'the change log was installed again since the last run (its earlier changes are gone)'
  const rows = (await (source as PostgresSource).query<{ schema_name: string; table_name: string; op: string; key: string | null }>(CHANGES_SINCE_SQL, [from.snapshot])).rows
  return { from, now, byTable: groupChanges(rows) }
}

export const tableName = (plan: TablePlan): string => `${plan.source.schema}.${plan.source.name}`

/** The final sync of one table by its changes; a string says why the whole-table delta must run instead. */
export async function changesTable(e: CopyContext, plan: TablePlan, set: ChangeSet, log: Log): Promise<DeltaResult | string> {
  const state = e.checkpoints.table(plan.id)
  if (!state?.copy_done) return 'not copied yet'
  const name = tableName(plan)
  if (!set.from.tables.includes(name) || !set.now.tables.includes(name)) return 'its writes were not logged the whole time'
  const tc = set.byTable.get(name) ?? { keys: [], ops: { I: 0, U: 0, D: 0 }, whole: false }
  if (tc.whole) return 'a TRUNCATE, or a write the log could not key, was logged'
  if (plan.targetKind === 'sqlite') {
    const behind = writtenSinceMark(e, plan)
    if (behind) return `${behind} write(s) to its target since the cutover mark were not the engine's`
    return sqliteChanges(e, plan, tc, log)
  }
  if (plan.appendOnly) return appendOnlyChanges(e, plan, tc, log)
  return 'a DuckDB table that is not append-only'
}

/**
 * Writes to a SQLite target since the cutover mark (its triggers log every one): none are the
 * engine's before this run, so any means the target changed behind its back and the chunks'
 * recorded checksums say nothing; 0 without a mark.
 */
function writtenSinceMark(e: CopyContext, plan: TablePlan): number {
  const mark = e.checkpoints.mark<{ seq: number }>('cutover')
  const db = sqliteOf(e, plan).db
  if (!mark || !db.prepare("SELECT 1 FROM sqlite_master WHERE name = ?").get(CHANGES)) return 0
  return Number((db.prepare(`SELECT count(*) AS n FROM ${CHANGES} WHERE tbl = ? AND seq > ?`).get(plan.targetTable, mark.data.seq) as { n: number }).n)
}

/** A row the log names: its key, and its hash in the target before the write, at the source, and in the target after. */
interface NamedRow {
  keyText: string[]
  stored: SqliteValue[]
  before: string | null
  want: string | null
  after: string | null
}

/** How a logged source key finds its target row: as it is (range-verifiable), or through the key columns' rules and transforms. */
function targetKeyOf(plan: TablePlan, conv: RowConverter): ((keyText: string[]) => SqliteValue[] | null) | null {
  if (plan.rangeVerifiable) return (k) => conv.storeKey(k)
  const own = new RowConverter(plan)
  const cols = plan.key!.columns
  if (!plan.targetKey.length || !plan.targetKey.every((tk) => cols.includes(plan.columns.find((x) => x.target === tk)?.sourceColumn ?? ''))) return null
  return (k) => own.targetKeyOfSourceKey(k, cols)
}

/**
 * Reads the named rows from the source and writes them (upserted, or deleted where the source no
 * longer has them), noting each row's target hash before. `after` is filled by `readAfter`.
 */
async function writeNamed(e: CopyContext, plan: TablePlan, conv: RowConverter, keys: string[][], keyOf: (keyText: string[]) => SqliteValue[] | null): Promise<{ rows: NamedRow[]; written: number; deleted: number }> {
  const t0 = performance.now()
  const sqlite = sqliteOf(e, plan)
  const read = targetRowReader(sqlite.db, conv)
  const rows: NamedRow[] = keys.map((keyText) => {
    const stored = keyOf(keyText)
    if (!stored) throw new OpsError('OPS_E_MIGRATE_STATE', `${plan.id}: the logged key ${JSON.stringify(keyText)} has no target key`)
    const before = read(stored)
    return { keyText, stored, before: before ? rowHash(before) : null, want: null, after: null }
  })
  const found = new Map<string, SqliteValue[]>()
  const keyCols = plan.key!.columns.map((k) => e.source.quote(k))
  const byKey = new Map(rows.map((r) => [JSON.stringify(r.keyText), r]))
  for (let i = 0; i < rows.length; i += 500) {
    const tuples = rows.slice(i, i + 500).map((n) => `(${n.keyText.map((v) => e.source.literal(v)).join(', ')})`)
    const where = `(${keyCols.join(', ')}) IN (${tuples.join(', ')})`
    await e.source.scan({ table: plan.source, selects: plan.selects, key: plan.key!.columns, after: null, upTo: null, limit: null, where }, (row) => {
      const k = JSON.stringify(conv.keyText(row))
      const { stored, canon } = conv.convert(row, () => k)
      found.set(k, stored)
      const r = byKey.get(k)
      if (r) r.want = rowHash(canon)
    })
  }
  if (conv.coercions.length) e.checkpoints.recordCoercions(plan.id, conv.coercions)
  const t1 = performance.now()
  const writer = sqlite.writer(plan)
  writer.begin()
  try {
    for (const [k, stored] of found) writer.put(stored, () => k)
    writer.commit()
  } catch (err) {
    writer.rollback()
    throw err
  }
  const deleted = sqlite.deleteKeys(plan, rows.filter((r) => r.want === null && r.before !== null).map((r) => r.stored))
  spent(e, 'readMs', t1 - t0)
  spent(e, 'applyMs', performance.now() - t1)
  return { rows, written: found.size, deleted }
}

/** Reads each named row back from the target; the mismatches, one line each. */
function readAfter(e: CopyContext, plan: TablePlan, conv: RowConverter, rows: NamedRow[]): string[] {
  const t0 = performance.now()
  const read = targetRowReader(sqliteOf(e, plan).db, conv)
  const out: string[] = []
  for (const r of rows) {
    const after = read(r.stored)
    r.after = after ? rowHash(after) : null
    if (r.after !== r.want) out.push(`${plan.id} -> ${plan.targetTable}: key ${JSON.stringify(r.keyText)}: ${r.want === null ? 'deleted at the source, still in the target' : r.after === null ? 'missing in the target' : 'differs from the source'} after the final write`)
  }
  spent(e, 'verifyMs', performance.now() - t0)
  return out
}

async function sqliteChanges(e: CopyContext, plan: TablePlan, tc: TableChanges, log: Log): Promise<DeltaResult | string> {
  if (!plan.key || plan.key.source !== 'primary key') return 'it is not paged by its primary key (the key the log records)'
  const t0 = performance.now()
  const state = e.checkpoints.table(plan.id)!
  const conv = new RowConverter(plan)
  const keyOf = targetKeyOf(plan, conv)
  if (!keyOf) return 'its target key does not come from its primary key'
  const progress = new TableProgress(`  ${plan.id} (final)`, 0, log)
  const lastKey = state.last_key ? (JSON.parse(state.last_key) as string[]) : null

  if (!plan.rangeVerifiable) {
    // Verified as a whole: the table's recorded sums follow the named rows.
    const was = state.status === 'verified' && state.target_sum !== null && state.source_sum === state.target_sum && state.source_rows === state.target_rows ? { rows: state.target_rows!, sum: state.target_sum } : null
    if (!was) return 'the last run did not verify it'
    // Unverified until this run ends: the journal and the target are two files, so an interrupted
    // run must not leave sums that no longer describe the rows (its resumption goes the whole way).
    if (tc.keys.length) e.checkpoints.setStatus(plan.id, 'mismatch', 'final sync in progress')
    const { rows, written, deleted } = await writeNamed(e, plan, conv, tc.keys, keyOf)
    const appended = await timed(e, 'applyMs', () => copyChunks(e, plan, lastKey, state.next_chunk, progress))
    const mismatches = readAfter(e, plan, conv, rows)
    const target = adjustChecksum(was, rows.flatMap((r) => (r.before ? [r.before] : [])), rows.flatMap((r) => (r.after ? [r.after] : [])))
    const counted = sqliteOf(e, plan).count(plan)
    if (counted !== target.rows) mismatches.push(`${plan.id} -> ${plan.targetTable}: ${counted} rows in the target, ${target.rows} expected from the last verification and the logged changes`)
    const ok = mismatches.length === 0
    for (const c of e.checkpoints.chunks(plan.id)) e.checkpoints.setChunkResult(plan.id, c.chunk_no, target, ok)
    const verdict: TableVerdict = { ok, source: ok ? target : was, target, mismatches, verifyMs: performance.now() - t0, repaired: deleted }
    e.checkpoints.finishVerify(plan.id, { ok, source: verdict.source, target, verifyMs: verdict.verifyMs, detail: mismatches.join('\n') || undefined })
    log(`  ${plan.id}: ${rows.length} logged key(s) (${written} written, ${deleted} deleted), checked row by row; ${target.rows} rows (${Math.round(verdict.verifyMs)} ms)`)
    return { appended, updated: written, repaired: deleted, watermark: state.watermark, verdict }
  }

  const chunks = e.checkpoints.chunks(plan.id)
  const cmp = keyComparer(sqliteOf(e, plan).db, plan.targetKey.length)
  const his = chunks.map((c) => (c.hi ? conv.storeKey(JSON.parse(c.hi) as string[]) : null))
  const chunkOf = (k: SqliteValue[]): ChunkState | undefined => {
    // The first chunk whose upper bound is at or above the key: (lo, hi] ranges in key order.
    let lo = 0
    let hi = chunks.length - 1
    let found: ChunkState | undefined
    while (lo <= hi) {
      const mid = (lo + hi) >> 1
      const h = his[mid]
      if (h === null || h === undefined || cmp(k, h) <= 0) {
        found = chunks[mid]
        hi = mid - 1
      } else lo = mid + 1
    }
    return found
  }
  // Chunks the previous run left unverified are compared whole, whatever the log says.
  const recheck = new Set(chunks.filter((c) => c.status !== 'verified' || c.target_sum !== `${c.rows}:${c.source_sum}`).map((c) => c.chunk_no))
  // The chunks about to change are unverified until their sums follow (an interrupted run's resumption compares them whole).
  for (const keyText of tc.keys) {
    const c = chunkOf(conv.storeKey(keyText))
    if (c && !recheck.has(c.chunk_no)) e.checkpoints.setChunkResult(plan.id, c.chunk_no, recordedTarget(c)!, false, 'final sync in progress')
  }
  const { rows, written, deleted } = await writeNamed(e, plan, conv, tc.keys, keyOf)
  const mismatches = readAfter(e, plan, conv, rows)
  const perChunk = new Map<ChunkState, NamedRow[]>()
  for (const r of rows) {
    const c = chunkOf(r.stored)
    // Beyond the last chunk: the tail's copy below takes it.
    if (c && !recheck.has(c.chunk_no)) perChunk.set(c, [...(perChunk.get(c) ?? []), r])
  }
  for (const [c, named] of perChunk) {
    const target = adjustChecksum(recordedTarget(c)!, named.flatMap((r) => (r.before ? [r.before] : [])), named.flatMap((r) => (r.after ? [r.after] : [])))
    const ok = named.every((r) => r.after === r.want)
    // Equal before, and every named row equal now: the source's sum is the target's.
    if (ok) e.checkpoints.setChunkSource(plan.id, c.chunk_no, target)
    e.checkpoints.setChunkResult(plan.id, c.chunk_no, target, ok)
  }

  // The tail (rows beyond the last copied key), then every chunk the log does not vouch for and the
  // range beyond the last chunk, compared whole.
  const nextBefore = state.next_chunk
  const appended = await timed(e, 'applyMs', () => copyChunks(e, plan, lastKey, state.next_chunk, progress))
  for (const c of e.checkpoints.chunks(plan.id)) if (c.chunk_no >= nextBefore) recheck.add(c.chunk_no)
  recheck.add(-1)
  const whole = await timed(e, 'verifyMs', () => verifySqliteRanges(e, plan, { reread: true, repair: true, log }, recheck))
  mismatches.push(...whole.mismatches)
  const verdict = tableVerdict(e.checkpoints.chunks(plan.id), whole, mismatches, performance.now() - t0)
  e.checkpoints.finishVerify(plan.id, { ok: verdict.ok, source: verdict.source, target: verdict.target, verifyMs: verdict.verifyMs, detail: mismatches.join('\n') || undefined })
  log(`  ${plan.id}: ${rows.length} logged key(s) (${written} written, ${deleted} deleted), checked row by row; ${recheck.size - 1} chunk(s) compared whole (${Math.round(verdict.verifyMs)} ms)`)
  return { appended, updated: written, repaired: deleted + whole.repaired, watermark: state.watermark, verdict }
}

/** A chunk's target checksum as the last verification recorded it ("rows:sum"), or null. */
function recordedTarget(c: ChunkState): Checksum | null {
  if (!c.target_sum) return null
  const at = c.target_sum.indexOf(':')
  return { rows: Number(c.target_sum.slice(0, at)), sum: c.target_sum.slice(at + 1) }
}

/** The table's sums from its chunks' records, plus the range beyond the last chunk as just compared. */
function tableVerdict(chunks: ChunkState[], tail: Omit<TableVerdict, 'verifyMs'>, mismatches: string[], ms: number): TableVerdict {
  let source: Checksum = EMPTY_J
  let target: Checksum = EMPTY_J
  for (const c of chunks) {
    source = combine(source, { rows: c.rows, sum: c.source_sum })
    target = combine(target, recordedTarget(c) ?? { rows: 0, sum: EMPTY_J.sum })
  }
  return { ok: mismatches.length === 0 && chunks.every((c) => c.status === 'verified'), source, target, mismatches, verifyMs: ms, repaired: tail.repaired }
}

/**
 * An append-only table (telemetry): rows come only at the end of the key space. Updates or deletes
 * logged, or inserts committed late inside a copied range (a chunk's source count now differs from
 * the rows recorded for it), send it the whole way; otherwise the tail is copied and the target is
 * compared against the checksums recorded as each chunk was read.
 */
async function appendOnlyChanges(e: CopyContext, plan: TablePlan, tc: TableChanges, log: Log): Promise<DeltaResult | string> {
  if (!plan.key) return 'no key to find its tail by'
  if (tc.ops.U || tc.ops.D) return `${tc.ops.U + tc.ops.D} row(s) of an append-only table were updated or deleted`
  const state = e.checkpoints.table(plan.id)!
  const chunks = e.checkpoints.chunks(plan.id)
  const integer = (v: string) => /^-?\d+$/.test(v)
  if (plan.key.columns.length !== 1 || !tc.keys.every((k) => integer(k[0]!)) || !chunks.every((c) => (!c.lo || integer(JSON.parse(c.lo)[0])) && (!c.hi || integer(JSON.parse(c.hi)[0])))) {
    return 'its key is not one integer column (late inserts cannot be placed in chunks)'
  }
  const first = (s: string | null) => (s === null ? null : BigInt((JSON.parse(s) as string[])[0]!))
  const touched = new Set<ChunkState>()
  for (const [k] of tc.keys) {
    const v = BigInt(k!)
    const c = chunks.find((x) => (first(x.lo) === null || v > first(x.lo)!) && (first(x.hi) === null || v <= first(x.hi)!))
    if (c) touched.add(c)
  }
  const tRead = performance.now()
  for (const c of touched) {
    const where = [c.lo ? `${e.source.quote(plan.key.columns[0]!)} > ${e.source.literal(JSON.parse(c.lo)[0])}` : null, c.hi ? `${e.source.quote(plan.key.columns[0]!)} <= ${e.source.literal(JSON.parse(c.hi)[0])}` : null].filter(Boolean).join(' AND ')
    const now = await e.source.count(plan.source, where || undefined)
    if (now !== c.rows) return `chunk ${c.chunk_no} holds ${now} source rows, ${c.rows} were copied (rows committed late inside a copied range)`
  }
  spent(e, 'readMs', performance.now() - tRead)
  // A warm run took telemetry's whole checksum before the freeze and has held the file since: that,
  // less the hot rows then, plus the hot rows after this run's tail, is its checksum now (only the
  // hot rows are read, never the sealed partitions).
  const at = plan.targetKind === 'telemetry' ? e.telemetryAtWait : undefined
  const duck = e.duckdb
  const progress = new TableProgress(`  ${plan.id} (final)`, 0, log)
  const appended = await timed(e, 'applyMs', () => copyChunks(e, plan, state.last_key ? (JSON.parse(state.last_key) as string[]) : null, state.next_chunk, progress))
  const tVerify = performance.now()
  let verdict: TableVerdict | null = null
  if (at && duck) {
    const t0 = performance.now()
    const target = addDuckSums(addDuckSums(at.whole, at.hot, -1), await duck.hotChecksum(plan), 1)
    const source = e.checkpoints.chunks(plan.id).reduce<Checksum>((acc, c) => combine(acc, { rows: c.rows, sum: c.source_sum }), { rows: 0, sum: 'd:0' })
    if (source.rows === target.rows && source.sum === target.sum) {
      verdict = { ok: true, source, target, mismatches: [], verifyMs: performance.now() - t0, repaired: 0 }
      for (const c of e.checkpoints.chunks(plan.id)) e.checkpoints.setChunkResult(plan.id, c.chunk_no, target, true)
      e.checkpoints.finishVerify(plan.id, { ok: true, source, target, verifyMs: verdict.verifyMs })
    }
  }
  // Otherwise (another layout, or a difference to narrow down): the whole table against the recorded checksums.
  const how = verdict ? 'checked against its checksum before the freeze and the rows added' : 'checked whole'
  verdict ??= await verifyTable(e, plan, { reread: false, repair: false, log })
  spent(e, 'verifyMs', performance.now() - tVerify)
  log(`  ${plan.id}: ${tc.ops.I} logged insert(s), ${touched.size} copied chunk(s) recounted, ${appended} row(s) appended; ${how}`)
  return { appended, updated: 0, repaired: 0, watermark: state.watermark, verdict }
}


/**
 * The warm final sync's go: waits (polling every 20 ms) until the source database is frozen and no
 * session holds a write transaction any more, so every write the old side acknowledged is committed
 * and visible. Only PostgreSQL is frozen this way; `timeoutMs` bounds the wait (the cutover that
 * started this engine may be gone).
 */
export async function waitForFreeze(source: Source, log: Log, timeoutMs = 15 * 60_000): Promise<void> {
  if (!(source instanceof PostgresSource)) throw new OpsError('OPS_E_USAGE', 'only a PostgreSQL source is frozen by the cutover: --wait-freeze needs one')
  const deadline = Date.now() + timeoutMs
  let saidWriters = false
  for (;;) {
    const r = (await source.query<{ frozen: boolean; writers: number }>(FROZEN_SQL)).rows[0]!
    if (r.frozen && r.writers === 0) return
    if (r.frozen && !saidWriters) {
      log(`  frozen; waiting for ${r.writers} session(s) with a write transaction to end`)
      saidWriters = true
    }
    if (Date.now() > deadline) {
      throw new OpsError('OPS_E_TIMEOUT', r.frozen ? `the source is frozen but ${r.writers} session(s) still hold a write transaction after ${Math.round(timeoutMs / 1000)} s: end them (pg_terminate_backend) and run the cutover again` : `the source was not frozen within ${Math.round(timeoutMs / 1000)} s: the cutover that started this engine is gone; nothing was written`)
    }
    await new Promise((res) => setTimeout(res, 20))
  }
}

/** a + sign * b for DuckDB's 'd:' checksums (count and sum of hashes). */
function addDuckSums(a: Checksum, b: Checksum, sign: 1 | -1): Checksum {
  if (!a.sum.startsWith('d:') || !b.sum.startsWith('d:')) throw new Error(`DuckDB checksums expected (${a.sum}, ${b.sum})`)
  return { rows: a.rows + sign * b.rows, sum: `d:${BigInt(a.sum.slice(2)) + BigInt(sign) * BigInt(b.sum.slice(2))}` }
}

function spent(e: CopyContext, what: keyof ChangesTimings, ms: number): void {
  if (e.timings) e.timings[what] += ms
}

async function timed<T>(e: CopyContext, what: keyof ChangesTimings, run: () => Promise<T>): Promise<T> {
  const t0 = performance.now()
  try {
    return await run()
  } finally {
    spent(e, what, performance.now() - t0)
  }
}
