// The delta sync, for the final catch-up at cutover (writes frozen on the old side):
//  1. rows beyond the last copied key are copied as new chunks (inserts at the end of the key space);
//  2. rows whose watermark (updated_at, or another column that grows on every change) is past the
//     value taken before the previous copy/delta are upserted; the new watermark is taken first;
//  3. unless the table is append-only, every chunk's checksum is recomputed on both sides and the
//     chunks that differ are repaired from the source: deletes (keys the source lost) and whatever
//     a watermark cannot see (a row changed without touching updated_at, inserts inside old ranges).
// Append-only tables (telemetry) get 1 and a verification (against the checksums recorded when each
// chunk was read, after a count shows the source holds exactly those rows); their target has no key
// to repair by.
import { OpsError } from '@ocean-ops/common'
import { copyChunks, writeRowsToSqlite, type CopyContext } from './copy-table.ts'
import type { TablePlan } from '../plan/mapping.ts'
import { TableProgress, type Log } from '../state/progress.ts'
import { RowConverter } from '../plan/row-converter.ts'
import { verifyTable, type TableVerdict } from './verify-table.ts'

export interface DeltaResult {
  appended: number
  updated: number
  repaired: number
  watermark: string | null
  verdict: TableVerdict
}

export async function deltaTable(e: CopyContext, plan: TablePlan, log: Log): Promise<DeltaResult> {
  const state = e.checkpoints.table(plan.id)
  if (!state || !state.copy_done) {
    throw new OpsError('OPS_E_MIGRATE_STATE', `${plan.id} has not been copied yet: run migrate-data without --delta first (or with --resume to finish it)`)
  }
  const progress = new TableProgress(`  ${plan.id} (delta)`, 0, log)
  let appended = 0
  let updated = 0
  let watermark = state.watermark

  // Take the new watermark before reading: what changes while we read is newer, so the next delta finds it.
  const nextWatermark = plan.watermark ? await e.source.max(plan.source, plan.watermark.column) : null

  if (plan.key) {
    const after = state.last_key ? (JSON.parse(state.last_key) as string[]) : null
    appended = await copyChunks(e, plan, after, state.next_chunk, progress)
  }

  if (plan.targetKind === 'sqlite' && plan.key && !plan.appendOnly && plan.watermark?.kind === 'updated' && watermark !== null) {
    const conv = new RowConverter(plan)
    const where = `${e.source.quote(plan.watermark.column)} > ${e.source.literal(watermark)}`
    await writeRowsToSqlite(e, plan, conv, { table: plan.source, selects: plan.selects, key: plan.key.columns, after: null, upTo: null, limit: null, where }, plan.chunkRows, () => {
      updated++
      progress.add(1)
    })
    if (conv.coercions.length) e.checkpoints.recordCoercions(plan.id, conv.coercions)
  }
  if (nextWatermark !== null) {
    watermark = nextWatermark
    e.checkpoints.setWatermark(plan.id, watermark)
  }

  // An append-only table's copied chunks were checksummed from the source rows as they were read,
  // and such rows never change: when the source still holds exactly the rows recorded, the target is
  // checked against those checksums without reading the source again (the cutover's freeze is then
  // seconds, not a re-read of millions of rows). Any other count means something changed where
  // nothing should: then the whole source is read again.
  let reread = true
  if (plan.appendOnly) {
    const recorded = e.checkpoints.chunks(plan.id).reduce((n, c) => n + c.rows, 0)
    const now = await e.source.count(plan.source)
    reread = now !== recorded
    if (reread) log(`  ${plan.id}: the source holds ${now} rows, the copy recorded ${recorded}: reading it all again to compare`)
  }
  const verdict = await verifyTable(e, plan, { reread, repair: !plan.appendOnly && plan.targetKind !== 'telemetry', log })
  return { appended, updated, repaired: verdict.repaired, watermark, verdict }
}
