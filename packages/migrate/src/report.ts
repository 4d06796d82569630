// The migration report, as JSON (for machines and the next runbook) and Markdown (for people):
// per table its target, status, row counts and checksums on both sides, time and rows/s, every
// coercion (the first thousand per column with their keys, all of them counted), the mapping's
// warnings and, on a mismatch, the key ranges and keys that differ.
import type { ChangesTimings } from './sync/changes-timings.ts'
import type { Checkpoints, Coercion } from './state/checkpoints.ts'
import type { RefusedIds } from './plan/id-check.ts'
import type { TablePlan } from './plan/mapping.ts'
import type { ReverseResult } from './sync/reverse.ts'
import { reportJson, writeReport } from '@ocean-ops/common'

/** The line the engine program (main.ts) prints its outcome on, read by on-new-host.ts. */
/** A warm engine's line on stdout once it is connected and planned, waiting for the freeze (--wait-freeze). */
export const READY_LINE = 'READY'

/** A warm engine's line once it holds its target files, before its wait (the API boots meanwhile and waits for DuckDB's lock). */
export const TARGETS_OPEN_LINE = 'TARGETS OPEN'

export const RESULT_PREFIX = 'RESULT '

export interface TableReport {
  table: string
  target: string
  status: string
  key: string | null
  sourceRows: number | null
  targetRows: number | null
  sourceChecksum: string | null
  targetChecksum: string | null
  chunks: number
  copySeconds: number
  verifySeconds: number
  rowsPerSecond: number | null
  columns: Array<{ target: string; source: string | null; rule: string; transform?: string }>
  dropped: string[]
  warnings: string[]
  coercionCounts: Record<string, number>
  coercions: Coercion[]
  mismatches: string[]
  delta?: { appended: number; updated: number; repaired: number; watermark: string | null }
  /** Source values of the API's id column the API would refuse (plan and copy runs). */
  refusedIds?: RefusedIds
}

export interface MigrationReport {
  mode: string
  source: string
  sqlite: string | null
  duckdb: string | null
  journal: string
  startedAt: string
  finishedAt: string
  ok: boolean
  tables: TableReport[]
  foreignKeyViolations: string[]
  reverse?: ReverseResult[]
  notes: string[]
  /** A changes run: where its time went (the cutover's freeze phases). */
  changesMs?: ChangesTimings
}

export function tableReport(plan: TablePlan, checkpoints: Checkpoints, extra: { mismatches?: string[]; delta?: TableReport['delta'] } = {}): TableReport {
  const s = checkpoints.table(plan.id)
  const chunks = checkpoints.chunks(plan.id)
  const co = checkpoints.coercions(plan.id)
  const copySeconds = (s?.copy_ms ?? 0) / 1000
  const rows = s?.rows_copied ?? 0
  return {
    table: plan.id,
    target: plan.targetKind === 'telemetry' ? 'duckdb:telemetry' : `${plan.targetKind}:${plan.targetTable}`,
    status: s?.status ?? 'not copied',
    key: plan.key ? `${plan.key.columns.join(', ')} (${plan.key.source})` : null,
    sourceRows: s?.source_rows ?? null,
    targetRows: s?.target_rows ?? null,
    sourceChecksum: s?.source_sum ?? null,
    targetChecksum: s?.target_sum ?? null,
    chunks: chunks.length,
    copySeconds,
    verifySeconds: (s?.verify_ms ?? 0) / 1000,
    rowsPerSecond: copySeconds > 0 ? Math.round(rows / copySeconds) : null,
    columns: plan.columns.map((c) => ({ target: c.target, source: c.sourceColumn, rule: c.rule ? c.rule.rule : 'NULL (nothing mapped)', ...(c.transform ? { transform: c.transform } : {}) })),
    dropped: plan.dropped,
    warnings: plan.warnings,
    coercionCounts: co.counts,
    coercions: co.kept,
    mismatches: extra.mismatches ?? (s?.status === 'mismatch' && s.detail ? s.detail.split('\n') : []),
    ...(extra.delta ? { delta: extra.delta } : {}),
  }
}

const cell = (v: unknown) => String(v ?? '–').replace(/\|/g, '\\|').replace(/\n/g, ' ')

export function toMarkdown(r: MigrationReport): string {
  const out: string[] = []
  out.push(`# Data migration report: ${r.mode}`, '')
  out.push(`- Result: **${r.ok ? 'OK' : 'FAILED'}**`)
  out.push(`- Source: ${r.source}`)
  if (r.sqlite) out.push(`- SQLite: ${r.sqlite}`)
  if (r.duckdb) out.push(`- DuckDB: ${r.duckdb}`)
  out.push(`- Journal: ${r.journal}`)
  out.push(`- From ${r.startedAt} to ${r.finishedAt}`, '')
  for (const n of r.notes) out.push(`> ${n}`)
  if (r.notes.length) out.push('')
  out.push('| Table | Target | Status | Source rows | Target rows | Source checksum | Target checksum | Copy s | Rows/s | Verify s | Coerced |')
  out.push('|---|---|---|---:|---:|---|---|---:|---:|---:|---:|')
  for (const t of r.tables) {
    const coerced = Object.values(t.coercionCounts).reduce((a, b) => a + b, 0)
    out.push(
      `| ${cell(t.table)} | ${cell(t.target)} | ${cell(t.status)} | ${cell(t.sourceRows)} | ${cell(t.targetRows)} | ${cell(t.sourceChecksum)} | ${cell(t.targetChecksum)} | ${t.copySeconds.toFixed(1)} | ${cell(t.rowsPerSecond)} | ${t.verifySeconds.toFixed(1)} | ${coerced} |`,
    )
  }
  out.push('')
  for (const t of r.tables) {
    const lines: string[] = []
    if (t.mismatches.length) lines.push('**Mismatches**', '', ...t.mismatches.map((m) => `- ${m}`), '')
    if (t.warnings.length) lines.push('Warnings:', '', ...t.warnings.map((w) => `- ${w}`), '')
    const ids = t.refusedIds
    if (ids?.refused) {
      lines.push(`**${ids.refused}${ids.more ? '+' : ''} value(s) of ${ids.column} the API would refuse as a ${ids.target}** (copied as they are, unreachable through the API):`, '')
      lines.push('| Value (JSON) | Why |', '|---|---|', ...ids.values.map((v) => `| \`${cell(JSON.stringify(v.value)).replaceAll('`', "'")}\` | ${cell(v.problem)} |`), '')
    } else if (ids) lines.push(`Every ${ids.column} value is one the API accepts as a ${ids.target}.`, '')
    if (t.dropped.length) lines.push(`Source columns not copied: ${t.dropped.join(', ')}`, '')
    if (t.delta) lines.push(`Delta: ${t.delta.appended} appended, ${t.delta.updated} updated by watermark, ${t.delta.repaired} repaired by checksum; watermark now ${t.delta.watermark ?? '–'}`, '')
    const counts = Object.entries(t.coercionCounts)
    if (counts.length) {
      lines.push('Coerced values:', '', '| Column | Count | Key | Source value | Stored | Why |', '|---|---:|---|---|---|---|')
      for (const [col, n] of counts) {
        const kept = t.coercions.filter((c) => c.column === col)
        kept.slice(0, 20).forEach((c, i) => lines.push(`| ${cell(col)} | ${i === 0 ? n : ''} | ${cell(c.key)} | ${cell(c.original)} | ${cell(c.stored)} | ${cell(c.reason)} |`))
        if (kept.length > 20) lines.push(`| ${cell(col)} |  | … ${n - 20} more in the JSON report (up to 1000 kept) |  |  |  |`)
      }
      lines.push('')
    }
    lines.push('<details><summary>Columns and rules</summary>', '', '| Target column | Source column | Rule |', '|---|---|---|')
    for (const c of t.columns) lines.push(`| ${cell(c.target)} | ${cell(c.source)} | ${cell(c.rule)}${c.transform ? ` then ${c.transform}` : ''} |`)
    lines.push('', '</details>', '')
    out.push(`## ${t.table} -> ${t.target}`, '', `Key: ${t.key ?? 'none'}; ${t.chunks} chunk(s).`, '', ...lines)
  }
  if (r.foreignKeyViolations.length) out.push('## Foreign key violations in the SQLite target', '', ...r.foreignKeyViolations.map((v) => `- ${v}`), '')
  if (r.reverse) out.push('## Reverse sync', '', ...reverseTable(r.reverse), '')
  return out.join('\n')
}

/** What a reverse sync wrote back, per table, as a Markdown table (this report's and the rollback's). */
export function reverseTable(results: ReverseResult[]): string[] {
  return [
    '| Table | Upserted | Deleted | Note |',
    '|---|---:|---:|---|',
    ...results.map((x) => `| ${cell(x.table)} | ${x.upserted} | ${x.deleted} | ${cell(x.skipped ?? (x.newSinceMark !== undefined ? `${x.newSinceMark} ingested since the mark` : ''))} |`),
  ]
}

/** Writes <dir>/migrate-data-<mode>-<time>.{json,md}; returns the two paths. */
export function writeMigrationReport(dir: string, r: MigrationReport): { json: string; markdown: string } {
  const files = writeReport(dir, `migrate-data-${r.mode}`, r.startedAt, { json: reportJson(r), md: toMarkdown(r) + '\n' })
  return { json: files.json, markdown: files.md as string }
}
