// What a mapping file (--mapping FILE, and the built-in old-Ocean mapping) says: types only, so
// the built-in mapping and the planner (mapping.ts) both depend on this file and not on each other.
import type { Transform } from '../values/canonical-row.ts'

export interface ColumnSource {
  /** Source column. */
  from?: string
  transform?: Transform
  /** 'text': keep the source's text form whatever the type (an escape hatch for values no rule can hold). */
  type?: 'text'
  /** Store NULL (a target column the source has no data for). */
  null?: true
}
/** A source column name, a spec, or alternatives of which the first whose column exists is used. */
export type ColumnSpec = string | ColumnSource | ColumnSource[]

export interface TableSpec {
  skip?: boolean
  /** 'sqlite' | 'duckdb' (a table of the source's name) | 'sqlite:<table>' | 'duckdb:<table>' | 'telemetry'. */
  target?: string
  /** Target column -> source. Omitted for a generic target: every source column, same names. */
  columns?: Record<string, ColumnSpec>
  /** Source columns deliberately not copied (listed in the plan and the report). */
  drop?: string[]
  /** Column whose growth finds rows changed since the copy (updated_at, or an increasing key). */
  watermark?: string
  /** Rows are only ever appended: the delta copies new rows and does not look for updates or deletes. */
  appendOnly?: boolean
  /** Zone the table's timestamps without time zone were written in (default: the file's, else UTC). */
  timeZone?: string
  /** Rows per chunk (one transaction, one checkpoint, one checksum). */
  chunkRows?: number
}

export interface MappingFile {
  /** 'ocean-legacy' (default): the old Ocean app's tables go to the service's schema. 'none': only this file. */
  preset?: 'ocean-legacy' | 'none'
  timeZone?: string
  /** Copy only these source tables (default: all). */
  include?: string[]
  exclude?: string[]
  tables?: Record<string, TableSpec>
}
