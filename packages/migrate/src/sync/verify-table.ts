// Verification of one table, source against target, over the canonical row form: row counts and
// checksums per chunk (key range) where the key arrives in the target as it was, else per table.
// A mismatch is narrowed: within its chunk to the keys that differ (or, for a table whose key was
// transformed, through 256 key-hash buckets to the keys), and for DuckDB with EXCEPT ALL between
// the staged source rows and the target. With `repair` (the delta), differing rows are fixed from
// the source instead of reported: upserts for missing/changed keys, deletes for keys the source lost.
import { OpsError } from '@ocean-ops/common'
import type { SqliteValue } from '../values/canonical-row.ts'
import { bucketOf, combine, describeDiff, diffKeyed, diffMultiset, EMPTY_J, RowSum, rowHash, sameChecksum, type Checksum, type RowDiff } from '../values/checksum.ts'
import type { ChunkState } from '../state/checkpoints.ts'
import { copyChunks, duckdbOf, sqliteOf, stageChunk, type CopyContext } from './copy-table.ts'
import type { TablePlan } from '../plan/mapping.ts'
import type { Log } from '../state/progress.ts'
import { TableProgress } from '../state/progress.ts'
import { RowConverter } from '../plan/row-converter.ts'
import { targetRangeSum } from '../targets/sqlite.ts'

export interface TableVerdict {
  ok: boolean
  source: Checksum
  target: Checksum
  /** One line per mismatch, naming the table, the key range and the keys. */
  mismatches: string[]
  verifyMs: number
  /** Rows written or deleted to make the target equal the source (repair mode). */
  repaired: number
}

export interface VerifyOptions {
  /** Read the source again (verify-only, delta) instead of trusting the checksums recorded at copy time. */
  reread: boolean
  /** Fix differences from the source (the delta) instead of reporting them. */
  repair: boolean
  log: Log
}

interface Range {
  no: number
  lo: string[] | null
  hi: string[] | null
  recorded: Checksum
}

const BUCKETS = 256

function parseSum(c: ChunkState): Checksum {
  return { rows: c.rows, sum: c.source_sum }
}

function ranges(chunks: ChunkState[], withTail: boolean): Range[] {
  const out: Range[] = chunks.map((c) => ({
    no: c.chunk_no,
    lo: c.lo ? (JSON.parse(c.lo) as string[]) : null,
    hi: c.hi ? (JSON.parse(c.hi) as string[]) : null,
    recorded: parseSum(c),
  }))
  // Everything beyond the last chunk must be empty on both sides (rows added since show up here).
  if (withTail) out.push({ no: -1, lo: out.length ? (out[out.length - 1] as Range).hi : null, hi: null, recorded: out.length ? { rows: 0, sum: out[0]!.recorded.sum.startsWith('d:') ? 'd:0' : EMPTY_J.sum } : EMPTY_J })
  return out
}

export function describeRange(plan: TablePlan, lo: string[] | null, hi: string[] | null): string {
  const cols = plan.key?.columns.join(', ') ?? 'rows'
  const fmt = (k: string[] | null, open: string) => (k ? (k.length === 1 ? k[0] : `(${k.join(', ')})`) : open)
  return `${cols} in (${fmt(lo, '-inf')}, ${fmt(hi, '+inf')}]`
}

function showKey(plan: TablePlan, key: string): string {
  try {
    const parts = JSON.parse(key) as (string | null)[]
    return plan.targetKey.map((k, i) => `${k}=${parts[i]}`).join(',')
  } catch {
    return key
  }
}

function showDiff(plan: TablePlan, d: RowDiff): string {
  const show = (keys: string[]) => keys.map((k) => showKey(plan, k))
  return describeDiff({ missing: show(d.missing), extra: show(d.extra), changed: show(d.changed) })
}

export async function verifyTable(e: CopyContext, plan: TablePlan, opts: VerifyOptions): Promise<TableVerdict> {
  const t0 = performance.now()
  const verdict = plan.targetKind === 'sqlite' ? await verifySqlite(e, plan, opts) : await verifyDuckdb(e, plan, opts)
  verdict.verifyMs = performance.now() - t0
  e.checkpoints.finishVerify(plan.id, { ok: verdict.ok, source: verdict.source, target: verdict.target, verifyMs: verdict.verifyMs, detail: verdict.mismatches.join('\n') || undefined })
  return verdict
}

// ---------------------------------------------------------------------------------------------
// SQLite

async function sourceSum(e: CopyContext, plan: TablePlan, lo: string[] | null, hi: string[] | null, each?: (canon: (string | null)[], stored: SqliteValue[]) => void): Promise<Checksum> {
  const conv = new RowConverter(plan)
  const sum = new RowSum()
  await e.source.scan({ table: plan.source, selects: plan.selects, key: plan.key?.columns ?? [], after: lo, upTo: hi, limit: null }, (row) => {
    const { stored, canon } = conv.convert(row, () => '')
    sum.add(canon)
    each?.(canon, stored)
  })
  return sum.checksum()
}

function targetSum(e: CopyContext, plan: TablePlan, conv: RowConverter, lo: string[] | null, hi: string[] | null, each?: (canon: (string | null)[]) => void): Checksum {
  return targetRangeSum(sqliteOf(e, plan).db, conv, lo, hi, each)
}

interface Side {
  hashes: Map<string, string>
  rows: Map<string, SqliteValue[]>
}

/** Keyed rows of both sides (optionally only some buckets, optionally one key range) and their diff. */
async function keyedDiff(e: CopyContext, plan: TablePlan, lo: string[] | null, hi: string[] | null, buckets?: Set<number>): Promise<{ diff: RowDiff; source: Side }> {
  const conv = new RowConverter(plan)
  const source: Side = { hashes: new Map(), rows: new Map() }
  const inBucket = (k: string) => !buckets || buckets.has(bucketOf(k, BUCKETS))
  await sourceSum(e, plan, lo, hi, (canon, stored) => {
    const k = conv.keyOfCanon(canon)
    if (!inBucket(k)) return
    source.hashes.set(k, rowHash(canon))
    source.rows.set(k, stored)
  })
  const target = new Map<string, string>()
  targetSum(e, plan, conv, lo, hi, (canon) => {
    const k = conv.keyOfCanon(canon)
    if (inBucket(k)) target.set(k, rowHash(canon))
  })
  return { diff: diffKeyed(source.hashes, target), source }
}

/** Makes the target rows of a diff equal the source's. Returns rows written + deleted. */
function repairDiff(e: CopyContext, plan: TablePlan, diff: RowDiff, source: Side): number {
  const sqlite = sqliteOf(e, plan)
  const conv = new RowConverter(plan)
  const writer = sqlite.writer(plan)
  const upserts = [...diff.missing, ...diff.changed]
  writer.begin()
  try {
    for (const k of upserts) writer.put(source.rows.get(k) as SqliteValue[], () => k)
    writer.commit()
  } catch (err) {
    writer.rollback()
    throw err
  }
  const deleted = sqlite.deleteKeys(plan, diff.extra.map((k) => conv.storedKeyFromCanon(k)))
  return upserts.length + deleted
}

/** The chunk's target checksum if the copy's worker computed it (see target-sums.ts); else undefined. */
async function readBack(e: CopyContext, plan: TablePlan, r: Range, log: Log): Promise<Checksum | undefined> {
  const pending = r.no >= 0 ? e.targetSums?.take(plan.id, r.no) : undefined
  // A failed worker is not a failed verification: the chunk is read back here instead, and said so.
  return pending?.catch((err: Error) => {
    log(`  ${plan.id}: chunk ${r.no} read back here (${err.message})`)
    return undefined
  })
}

/**
 * The range-verifiable chunks of a table (those `only` names, -1 for the range beyond the last
 * chunk; all without `only`): each chunk's checksums compared, a differing one narrowed to its keys
 * and, with `repair`, fixed from the source. The sums returned cover the chunks checked.
 */
export async function verifySqliteRanges(e: CopyContext, plan: TablePlan, opts: VerifyOptions, only?: ReadonlySet<number>): Promise<Omit<TableVerdict, 'verifyMs'>> {
  const conv = new RowConverter(plan)
  const mismatches: string[] = []
  let repaired = 0
  let source: Checksum = EMPTY_J
  let target: Checksum = EMPTY_J
  for (const r of ranges(e.checkpoints.chunks(plan.id), true)) {
    if (only && !only.has(r.no)) continue
    let src = opts.reread ? await sourceSum(e, plan, r.lo, r.hi) : r.recorded
    let tgt = (await readBack(e, plan, r, opts.log)) ?? targetSum(e, plan, conv, r.lo, r.hi)
    if (!sameChecksum(src, tgt)) {
      const { diff, source: side } = await keyedDiff(e, plan, r.lo, r.hi)
      if (opts.repair) {
        repaired += repairDiff(e, plan, diff, side)
        src = await sourceSum(e, plan, r.lo, r.hi)
        tgt = targetSum(e, plan, conv, r.lo, r.hi)
      }
      if (!sameChecksum(src, tgt)) {
        const where = r.no >= 0 ? `chunk ${r.no}, ` : 'beyond the last copied key, '
        mismatches.push(`${plan.id} -> ${plan.targetTable}: ${where}${describeRange(plan, r.lo, r.hi)}: source ${src.rows} rows, target ${tgt.rows} rows; ${showDiff(plan, diff)}`)
      }
    }
    if (r.no >= 0) {
      if (opts.reread) e.checkpoints.setChunkSource(plan.id, r.no, src)
      e.checkpoints.setChunkResult(plan.id, r.no, tgt, sameChecksum(src, tgt))
    }
    source = combine(source, src)
    target = combine(target, tgt)
  }
  return { ok: mismatches.length === 0, source, target, mismatches, repaired }
}

async function verifySqlite(e: CopyContext, plan: TablePlan, opts: VerifyOptions): Promise<TableVerdict> {
  if (plan.rangeVerifiable && plan.key) return { ...(await verifySqliteRanges(e, plan, opts)), verifyMs: 0 }
  const conv = new RowConverter(plan)
  const chunks = e.checkpoints.chunks(plan.id)
  const mismatches: string[] = []
  let repaired = 0
  let source: Checksum = EMPTY_J
  let target: Checksum = EMPTY_J

  // Whole table: the key was transformed on the way (or there is none), so ranges do not line up.
  const recorded = chunks.reduce<Checksum>((acc, c) => combine(acc, parseSum(c)), EMPTY_J)
  source = opts.reread ? await sourceSum(e, plan, null, null) : recorded
  target = targetSum(e, plan, conv, null, null)
  if (!sameChecksum(source, target)) {
    if (plan.key && plan.targetKey.length) {
      const bad = await badBuckets(e, plan, conv)
      const { diff, source: side } = await keyedDiff(e, plan, null, null, bad)
      if (opts.repair) {
        repaired += repairDiff(e, plan, diff, side)
        source = await sourceSum(e, plan, null, null)
        target = targetSum(e, plan, conv, null, null)
      }
      if (!sameChecksum(source, target)) mismatches.push(`${plan.id} -> ${plan.targetTable}: source ${source.rows} rows, target ${target.rows} rows; ${showDiff(plan, diff)}`)
    } else {
      if (opts.repair) {
        e.checkpoints.restartCopy(plan.id)
        sqliteOf(e, plan).clear(plan)
        repaired += await copyChunks(e, plan, null, 0, new TableProgress(`  ${plan.id} (reload)`, source.rows, opts.log))
        source = e.checkpoints.chunks(plan.id).reduce<Checksum>((acc, c) => combine(acc, parseSum(c)), EMPTY_J)
        target = targetSum(e, plan, conv, null, null)
      }
      if (!sameChecksum(source, target)) {
        const counts = await multisetDiff(e, plan, conv)
        mismatches.push(`${plan.id} -> ${plan.targetTable} (no key): source ${source.rows} rows, target ${target.rows} rows; ${counts.missing} rows missing in target, ${counts.extra} only in target`)
      }
    }
  }
  for (const c of chunks) e.checkpoints.setChunkResult(plan.id, c.chunk_no, target, mismatches.length === 0)
  return { ok: mismatches.length === 0, source, target, mismatches, verifyMs: 0, repaired }
}

/** Key-hash buckets whose checksums differ between source and target. */
async function badBuckets(e: CopyContext, plan: TablePlan, conv: RowConverter): Promise<Set<number>> {
  const src = Array.from({ length: BUCKETS }, () => new RowSum())
  const tgt = Array.from({ length: BUCKETS }, () => new RowSum())
  await sourceSum(e, plan, null, null, (canon) => src[bucketOf(conv.keyOfCanon(canon), BUCKETS)]!.add(canon))
  targetSum(e, plan, conv, null, null, (canon) => tgt[bucketOf(conv.keyOfCanon(canon), BUCKETS)]!.add(canon))
  const bad = new Set<number>()
  for (let b = 0; b < BUCKETS; b++) if (!sameChecksum(src[b]!.checksum(), tgt[b]!.checksum())) bad.add(b)
  return bad
}

async function multisetDiff(e: CopyContext, plan: TablePlan, conv: RowConverter): Promise<{ missing: number; extra: number }> {
  const src = new Map<string, number>()
  const tgt = new Map<string, number>()
  await sourceSum(e, plan, null, null, (canon) => {
    const h = rowHash(canon)
    src.set(h, (src.get(h) ?? 0) + 1)
  })
  targetSum(e, plan, conv, null, null, (canon) => {
    const h = rowHash(canon)
    tgt.set(h, (tgt.get(h) ?? 0) + 1)
  })
  return diffMultiset(src, tgt)
}

// ---------------------------------------------------------------------------------------------
// DuckDB

async function verifyDuckdb(e: CopyContext, plan: TablePlan, opts: VerifyOptions): Promise<TableVerdict> {
  const duck = duckdbOf(e, plan)
  const chunks = e.checkpoints.chunks(plan.id)
  const mismatches: string[] = []
  let source: Checksum = { rows: 0, sum: 'd:0' }
  let target: Checksum = { rows: 0, sum: 'd:0' }

  if (plan.rangeVerifiable && plan.key) {
    for (const r of ranges(chunks, true)) {
      let staged = false
      let src = r.recorded
      if (opts.reread) {
        await stageChunk(e, plan, r.lo, r.hi, r.no)
        staged = true
        src = await duck.stagedChecksum(plan)
      }
      let tgt = await duck.targetChecksum(plan, r.lo, r.hi)
      if (!sameChecksum(src, tgt) && opts.repair) {
        // A generic DuckDB table: replace the chunk's key range with the source's rows.
        if (!staged) await stageChunk(e, plan, r.lo, r.hi, r.no)
        staged = true
        src = await duck.stagedChecksum(plan)
        await duck.commitStaged(plan, '', r.lo, r.hi)
        tgt = await duck.targetChecksum(plan, r.lo, r.hi)
      }
      if (!sameChecksum(src, tgt)) {
        if (!staged) await stageChunk(e, plan, r.lo, r.hi, r.no)
        const d = await duck.diffStaged(plan, 'migrate_stage', r.lo, r.hi)
        const where = r.no >= 0 ? `chunk ${r.no}, ` : 'beyond the last copied key, '
        mismatches.push(`${plan.id} -> DuckDB ${plan.targetTable}: ${where}${describeRange(plan, r.lo, r.hi)}: source ${src.rows} rows, target ${tgt.rows} rows; ${d.missingCount} missing or different in target (${d.missing.slice(0, 5).join(', ')}), ${d.extraCount} only in target (${d.extra.slice(0, 5).join(', ')})`)
      }
      if (r.no >= 0) {
        if (opts.reread) e.checkpoints.setChunkSource(plan.id, r.no, src)
        e.checkpoints.setChunkResult(plan.id, r.no, tgt, sameChecksum(src, tgt))
      }
      source = combine(source, src)
      target = combine(target, tgt)
    }
    await duck.dropStage()
    return { ok: mismatches.length === 0, source, target, mismatches, verifyMs: 0, repaired: 0 }
  }

  // Telemetry (no source key in the target) and tables without a key: the whole table at once.
  const all = ranges(chunks, false)
  if (opts.reread) {
    await duck.dropStage('migrate_verify')
    for (const r of all) {
      await stageChunk(e, plan, r.lo, r.hi, r.no)
      const src = await duck.stagedChecksum(plan)
      e.checkpoints.setChunkSource(plan.id, r.no, src)
      source = combine(source, src)
      await duck.appendStage('migrate_stage', 'migrate_verify')
    }
    // Rows added to the source since the last chunk belong to a delta; count them as a difference.
    if (plan.key && all.length) {
      const tail = await e.source.count(plan.source, tailWhere(e, plan, all[all.length - 1]!.hi))
      if (tail > 0) mismatches.push(`${plan.id} -> ${plan.targetTable}: ${tail} source rows beyond the last copied key (${describeRange(plan, all[all.length - 1]!.hi, null)}) are not copied yet: run --delta`)
    }
  } else {
    for (const r of all) source = combine(source, r.recorded)
  }
  target = await duck.targetChecksum(plan)
  if (!sameChecksum(source, target)) {
    if (!opts.reread) {
      await duck.dropStage('migrate_verify')
      for (const r of all) {
        await stageChunk(e, plan, r.lo, r.hi, r.no)
        await duck.appendStage('migrate_stage', 'migrate_verify')
      }
    }
    const d = await duck.diffStaged(plan, 'migrate_verify', null, null)
    mismatches.unshift(`${plan.id} -> ${plan.targetKind === 'telemetry' ? 'DuckDB telemetry' : `DuckDB ${plan.targetTable}`}: source ${source.rows} rows, target ${target.rows} rows; ${d.missingCount} missing or different in target (${d.missing.slice(0, 5).join('; ')}), ${d.extraCount} only in target (${d.extra.slice(0, 5).join('; ')})`)
  }
  await duck.dropStage('migrate_verify')
  await duck.dropStage()
  for (const r of all) e.checkpoints.setChunkResult(plan.id, r.no, target, mismatches.length === 0)
  return { ok: mismatches.length === 0, source, target, mismatches, verifyMs: 0, repaired: 0 }
}

/** Source condition: key beyond `after`. */
export function tailWhere(e: CopyContext, plan: TablePlan, after: string[] | null): string | undefined {
  if (!after || !plan.key) return undefined
  const cols = plan.key.columns.map((k) => e.source.quote(k))
  if (e.source.engine === 'postgres') return `(${cols.join(', ')}) > (${after.map((v) => e.source.literal(v)).join(', ')})`
  // MySQL: spelled out (row comparison does not use the index everywhere).
  return cols.map((_, i) => `(${[...cols.slice(0, i).map((c, j) => `${c} = ${e.source.literal(after[j] as string)}`), `${cols[i]} > ${e.source.literal(after[i] as string)}`].join(' AND ')})`).join(' OR ')
}

export function mismatchError(verdicts: Array<{ id: string; verdict: TableVerdict }>): OpsError {
  const lines = verdicts.flatMap((v) => v.verdict.mismatches)
  return new OpsError(
    'OPS_E_MIGRATE_MISMATCH',
    `source and target differ in ${verdicts.length} table(s):\n  ${lines.join('\n  ')}\nIf the source is still written to, run --delta (with writes frozen for the final one); otherwise inspect these rows — the report lists them.`,
  )
}
