// Source values the Ocean API would refuse as identifiers (usernames, sensor ids, profile ids,
// metadata keys), found before and during a migration so that no migrated row becomes unreachable
// through the API unnoticed. The rule is the API's own (services/ocean/src/ids.ts, idProblem);
// the source is asked only for candidates — any value that is not 1 or more printable ASCII
// characters within the byte limit — so a plain table costs one filtered scan, and each candidate
// is then judged by that same function.
import { ID_MAX_BYTES, idProblem } from '@ocean-ops/ocean/ids'
import type { Source } from '../sources/introspect.ts'
import type { Engine } from '../values/type-rules.ts'
import type { TablePlan } from './mapping.ts'

/** The service's columns the API addresses rows by, per target table. */
const ID_COLUMNS: Record<string, { column: string; what: string }> = {
  users: { column: 'username', what: 'username' },
  profiles: { column: 'id', what: 'profile id' },
  metadata: { column: 'key', what: 'metadata key' },
  telemetry: { column: 'sensor_id', what: 'sensor id' },
}

/** Refused values listed per column; the count covers every candidate read. */
export const MAX_LISTED = 20
const MAX_CANDIDATES = 10_000

export interface RefusedIds {
  /** The source column, and what the API calls its values. */
  column: string
  target: string
  refused: number
  /** More candidates than were read: `refused` is a lower bound. */
  more: boolean
  values: Array<{ value: string; problem: string }>
}

/** The source column feeding the API's id column of this plan's target, if it has one. */
export function idColumn(plan: TablePlan): { source: string; target: string } | null {
  const table = plan.targetKind === 'telemetry' ? 'telemetry' : plan.serviceTable ? plan.targetTable : null
  const id = table ? ID_COLUMNS[table] : undefined
  const column = id ? plan.columns.find((c) => c.target === id.column) : undefined
  return column?.sourceColumn && id ? { source: column.sourceColumn, target: id.what } : null
}

/** SQL true for every value idProblem could refuse (and for some it accepts): not plain printable ASCII, or too long. */
export function candidateWhere(engine: Engine, quoted: string): string {
  return engine === 'postgres'
    ? `${quoted} IS NOT NULL AND (${quoted}::text !~ '^[ -~]+$' OR octet_length(${quoted}::text) > ${ID_MAX_BYTES})`
    : `${quoted} IS NOT NULL AND (CAST(${quoted} AS CHAR) NOT REGEXP '^[ -~]+$' OR octet_length(${quoted}) > ${ID_MAX_BYTES})`
}

/** Judges candidate values with the API's rule. */
export function judge(candidates: string[], more: boolean, column: { source: string; target: string }): RefusedIds {
  const refused = candidates.map((value) => ({ value, problem: idProblem(value) })).filter((x): x is { value: string; problem: string } => x.problem !== null)
  return { column: column.source, target: column.target, refused: refused.length, more, values: refused.slice(0, MAX_LISTED) }
}

export async function refusedIds(source: Source, plan: TablePlan): Promise<RefusedIds | null> {
  const column = idColumn(plan)
  if (!column) return null
  const candidates = await source.distinct(plan.source, column.source, candidateWhere(source.engine, source.quote(column.source)), MAX_CANDIDATES + 1)
  return judge(candidates.slice(0, MAX_CANDIDATES), candidates.length > MAX_CANDIDATES, column)
}

/** One line per refused value for the console (the value JSON-quoted: it may hold control characters). */
export function refusedLines(table: string, r: RefusedIds): string[] {
  if (r.refused === 0) return []
  const head = `! ${table}.${r.column}: ${r.refused}${r.more ? '+' : ''} value(s) the API would refuse as a ${r.target} (copied as they are, but unreachable through the API):`
  const listed = r.values.map((v) => `    ${JSON.stringify(v.value).slice(0, 120)}: ${v.problem}`)
  return [head, ...listed, ...(r.refused > r.values.length ? [`    … ${r.refused - r.values.length} more`] : [])]
}
