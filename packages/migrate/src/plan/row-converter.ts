// Turns a source row (the source's text per select, then the key's text) into what a SQLite target
// stores and into its canonical form, per the plan's columns; and a row read back from SQLite into
// its canonical form. Coerced values (zero dates, tinyint(1) = 2, dropped microseconds) are
// collected with the row's key for the report.
import { codecFor, storable, transformFor, type ColumnCodec, type SqliteValue, type TransformFn } from '../values/canonical-row.ts'
import type { Coercion } from '../state/checkpoints.ts'
import type { SourceRow } from '../sources/introspect.ts'
import type { ColumnPlan, TablePlan } from './mapping.ts'
import type { SqliteType } from '../values/type-rules.ts'

interface Compiled {
  plan: ColumnPlan
  index: number | null
  /** Reads the source text (canonical form of the source kind). */
  input: ColumnCodec | null
  transform: TransformFn | null
  /** Stores (and reads back) the kind that reaches the target. */
  output: ColumnCodec | null
}

const FIRST_STORABLE: Record<string, SqliteType> = { int: 'INTEGER', decimal: 'TEXT', double: 'REAL', bool: 'INTEGER', timestamp: 'TEXT', date: 'TEXT', json: 'TEXT', uuid: 'TEXT', text: 'TEXT', bytes: 'BLOB' }

export class RowConverter {
  readonly coercions: Coercion[] = []
  private readonly cols: Compiled[]
  private readonly keyPositions: number[]
  private readonly dataCount: number

  constructor(readonly plan: TablePlan) {
    this.dataCount = plan.selects.length
    this.cols = plan.columns.map((c) => {
      if (!c.rule || c.selectIndex === null) return { plan: c, index: null, input: null, transform: null, output: null }
      const transform = c.transform ? transformFor(c.transform, c.rule.kind) : null
      const outKind = transform ? transform.produces : c.rule.kind
      const target = storable(outKind, c.sqliteType) ? c.sqliteType : (FIRST_STORABLE[outKind] as SqliteType)
      const output = codecFor(transform ? { kind: outKind } : c.rule, target)
      const input = transform ? codecFor(c.rule, FIRST_STORABLE[c.rule.kind] as SqliteType) : output
      return { plan: c, index: c.selectIndex, input, transform, output }
    })
    this.keyPositions = plan.targetKey.map((k) => plan.columns.findIndex((c) => c.target === k))
  }

  /** The source key's text (appended after the data columns by every scan). */
  keyText(row: SourceRow): string[] {
    return row.slice(this.dataCount).map((v) => v ?? '')
  }

  /** Converts a row; `stored` goes to SQLite, `canon` into the checksum. */
  convert(row: SourceRow, rowKey: () => string): { stored: SqliteValue[]; canon: (string | null)[] } {
    const n = this.cols.length
    const stored: SqliteValue[] = new Array(n)
    const canon: (string | null)[] = new Array(n)
    for (let i = 0; i < n; i++) {
      const c = this.cols[i] as Compiled
      const text = c.index === null ? null : row[c.index]
      if (text === null || text === undefined || c.input === null || c.output === null) {
        stored[i] = null
        canon[i] = null
        continue
      }
      let v = c.input.canon(text)
      let why = c.input.coerced
      if (why) c.input.coerced = undefined
      if (v !== null && c.transform) {
        const t = c.transform.apply(v)
        v = t.canon
        if (t.coerced) why = t.coerced
      }
      const s = v === null ? null : c.output.store(v, text)
      stored[i] = s
      canon[i] = v
      if (why) {
        this.coercions.push({
          column: c.plan.target,
          key: rowKey(),
          original: text,
          stored: s === null ? null : Buffer.isBuffer(s) ? s.toString('hex') : String(s),
          reason: why,
        })
      }
    }
    return { stored, canon }
  }

  /** Canonical form of a row read back from SQLite (columns in plan order). */
  fromTarget(values: unknown[]): (string | null)[] {
    const n = this.cols.length
    const canon: (string | null)[] = new Array(n)
    for (let i = 0; i < n; i++) {
      const v = values[i]
      const out = (this.cols[i] as Compiled).output
      canon[i] = v === null || v === undefined ? null : out ? out.fromSqlite(v) : `\u0000unmapped:${String(v)}`
    }
    return canon
  }

  /** The canonical target key of a canonical row (narrowing, repairs). */
  keyOfCanon(canon: (string | null)[]): string {
    return JSON.stringify(this.keyPositions.map((p) => canon[p] ?? null))
  }

  /** Target key values (as stored) of a canonical row. */
  storedKeyOf(stored: SqliteValue[]): SqliteValue[] {
    return this.keyPositions.map((p) => stored[p] ?? null)
  }

  /** Target key values for the source key's text: only for range-verifiable plans (key columns copied as they are). */
  storeKey(keyText: string[]): SqliteValue[] {
    return this.keyPositions.map((p, i) => {
      const c = this.cols[p] as Compiled
      const text = keyText[i] as string
      const v = (c.output as ColumnCodec).canon(text) as string
      return (c.output as ColumnCodec).store(v, text)
    })
  }

  /**
   * Target key values for a source key's text, through the key columns' rules and transforms (a row
   * holding only its key columns): for a key the target stores transformed (a token's hash). Null
   * when a target key column does not come from a source key column. Use a converter of its own:
   * coercions of these partial rows mean nothing.
   */
  targetKeyOfSourceKey(keyText: string[], sourceKey: string[]): SqliteValue[] | null {
    const row: SourceRow = new Array<string | null>(this.dataCount).fill(null)
    for (const p of this.keyPositions) {
      const c = this.cols[p] as Compiled
      const i = c.plan.sourceColumn === null ? -1 : sourceKey.indexOf(c.plan.sourceColumn)
      if (i < 0 || c.index === null) return null
      row[c.index] = keyText[i] ?? null
    }
    const { stored } = this.convert(row, () => '')
    this.coercions.length = 0
    return this.keyPositions.map((p) => stored[p] ?? null)
  }

  /** Target key values from a canonical key (as keyOfCanon made it). */
  storedKeyFromCanon(key: string): SqliteValue[] {
    const parts = JSON.parse(key) as (string | null)[]
    return this.keyPositions.map((p, i) => {
      const v = parts[i]
      return v === null || v === undefined ? null : ((this.cols[p] as Compiled).output as ColumnCodec).store(v, v)
    })
  }
}
