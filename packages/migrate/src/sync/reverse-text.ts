// How values stored on the new side go back to PostgreSQL (the reverse sync): SQLite's expressions
// that write a row as a COPY text line, and PostgreSQL's that read each field back into the source
// column's type. Pure builders of SQL text; test/integration/migrate/types-postgres.test.ts takes
// every edge value of every type rule through them and back.
import type { ColumnPlan, TablePlan } from '../plan/mapping.ts'
import { quoteSqlIdent as q } from '../values/sql-ident.ts'

/**
 * SQLite's expression for one field of a COPY text line holding the stored value `v` (the inverse of
 * the codecs), by the value's storage class: NULL as \N; integers as digits (booleans t/f); reals with
 * 17 significant digits (exact for a double) or ±Infinity; blobs as hex (decode(..., 'hex') takes it
 * back); text with backslash, tab, newline and carriage return escaped, and for dates and timestamps
 * a year before 1 or after 9999 (ISO's signed six digits) as PostgreSQL writes it ('0044-03-15 BC').
 * SQLite builds the line, so rows reach this process as one string each.
 */
export function sqliteCopyField(col: ColumnPlan, v: string): string {
  const bool = col.rule?.kind === 'bool'
  const asBool = `CASE WHEN ${v} != 0 THEN 't' ELSE 'f' END`
  // Escaped only when it holds one of the four (one GLOB scan; the replaces copy the text four times).
  const escaped = `CASE WHEN ${v} GLOB '*[\\${'\t'}${'\n'}${'\r'}]*' THEN replace(replace(replace(replace(${v}, '\\', '\\\\'), char(9), '\\t'), char(10), '\\n'), char(13), '\\r') ELSE ${v} END`
  const dated = col.rule?.kind === 'timestamp' || col.rule?.kind === 'date'
  const text = dated
    ? `CASE WHEN ${v} NOT GLOB '[-+0]*' THEN ${escaped}
        WHEN ${v} GLOB '-[0-9][0-9][0-9][0-9][0-9][0-9]-*' THEN printf('%04d', 1 + CAST(substr(${v}, 2, 6) AS INTEGER)) || substr(${v}, 8) || ' BC'
        WHEN ${v} GLOB '+[0-9][0-9][0-9][0-9][0-9][0-9]-*' THEN CAST(substr(${v}, 2, 6) AS INTEGER) || substr(${v}, 8)
        WHEN ${v} GLOB '0000-*' THEN '0001' || substr(${v}, 5) || ' BC'
        ELSE ${escaped} END`
    : escaped
  return `CASE typeof(${v}) WHEN 'null' THEN '\\N' WHEN 'integer' THEN ${bool ? asBool : `CAST(${v} AS TEXT)`}
    WHEN 'real' THEN ${bool ? asBool : `CASE WHEN ${v} = 9e999 THEN 'Infinity' WHEN ${v} = -9e999 THEN '-Infinity' ELSE printf('%!.17g', ${v}) END`}
    WHEN 'blob' THEN lower(hex(${v})) ELSE ${text} END`
}

/** SQLite's expression for a whole COPY text line of the columns (tab-separated). */
export function sqliteCopyLine(cols: ColumnPlan[], alias: string): string {
  return cols.map((c) => sqliteCopyField(c, `${alias}.${q(c.target)}`)).join(` || char(9) || `)
}

/** The source column's type as PostgreSQL names it, for a cast from text. */
export function pgType(plan: TablePlan, source: string): string {
  const c = plan.source.columns.find((x) => x.name === source)!
  return c.udt.startsWith('_') ? `${q(c.udt.slice(1))}[]` : q(c.udt)
}

/** The source column's type when the staged text goes back by its input function alone (COPY can
 * then load it typed); null when it needs an expression (reverseExpr). */
export function plainType(plan: TablePlan, col: ColumnPlan): string | null {
  const src = plan.source.columns.find((x) => x.name === col.sourceColumn)!
  if (col.transform === 'epoch-ms' || src.dataType === 'ARRAY' || src.udt.startsWith('_') || src.udt === 'bytea' || src.udt === 'money') return null
  return pgType(plan, src.name)
}

/** The expression turning the staged value back into the source column (see plainType). */
export function reverseExpr(plan: TablePlan, col: ColumnPlan, staged: string): string {
  const src = plan.source.columns.find((x) => x.name === col.sourceColumn)!
  const plain = plainType(plan, col)
  if (plain) return `${staged}::${plain}`
  const type = pgType(plan, src.name)
  if (col.transform === 'epoch-ms') {
    const ts = `to_timestamp(${staged}::numeric / 1000)`
    return src.udt === 'timestamp' ? `(${ts} AT TIME ZONE 'UTC')` : ts
  }
  if (src.udt === 'bytea') return `decode(${staged}, 'hex')`
  if (src.udt === 'money') return `${staged}::numeric::money`
  return `ARRAY(SELECT jsonb_array_elements_text(${staged}::jsonb))::${type}`
}

/** Target columns that carry a source column back: one per source column, the first mapped reversibly. */
export function reverseColumns(plan: TablePlan): ColumnPlan[] {
  const seen = new Set<string>()
  const out: ColumnPlan[] = []
  for (const c of plan.columns) {
    if (!c.sourceColumn || !c.rule || seen.has(c.sourceColumn)) continue
    if (c.transform && c.transform !== 'epoch-ms') continue
    seen.add(c.sourceColumn)
    out.push(c)
  }
  return out
}
