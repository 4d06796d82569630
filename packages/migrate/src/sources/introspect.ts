// What a source database looks like (tables, columns, keys, sizes, from information_schema and the
// engine's catalog), and the interface both sources implement. The choices made from it — which
// key pages a table, which column is its watermark — are pure functions here, unit-tested.
import type { Writable } from 'node:stream'
import type { Engine, SourceColumn } from '../values/type-rules.ts'

export interface SourceTable {
  schema: string
  name: string
  columns: SourceColumn[]
  /** Primary key columns in key order; empty when the table has none. */
  primaryKey: string[]
  /** Unique keys whose columns are all NOT NULL (usable to page a table without a primary key). */
  uniqueKeys: string[][]
  /** Unique indexes/constraints as declared (for generic target DDL), NULLs allowed. */
  uniqueIndexes: string[][]
  /** The source's estimate; -1 when it has none (a PostgreSQL table never analyzed: the run counts it). */
  estimatedRows: number
  sizeBytes: number
}

export type SourceRow = (string | null)[]

/** One keyset page (or, without a key, the whole table): rows with key > after (and <= upTo), in key order. */
export interface ScanRequest {
  table: SourceTable
  /** Select expressions for the data columns, already quoted and shaped by the type rules. */
  selects: string[]
  /** Key columns; their source text is appended to every row after the data columns. */
  key: string[]
  /** Exclusive lower bound (the previous page's last key), or null from the start. */
  after: string[] | null
  /** Inclusive upper bound, or null for none. */
  upTo: string[] | null
  /** At most this many rows, in key order (keyed scans only); null: the whole range, in any order. */
  limit: number | null
  /** An extra condition in the source's SQL (the watermark of a delta). */
  where?: string
}

export interface Source {
  readonly engine: Engine
  /** The URL with its password replaced: the only form that is ever logged or journaled. */
  readonly redacted: string
  introspect(): Promise<SourceTable[]>
  /** Streams the rows of a scan to onRow (data columns, then key columns), returns the row count. */
  scan(req: ScanRequest, onRow: (row: SourceRow) => void): Promise<number>
  /** Streams the same rows as CSV (RFC 4180, NULL unquoted-empty, '' quoted) into `out`. */
  scanCsv(req: ScanRequest, out: Writable): Promise<void>
  /** The key of the n-th row after `after` in key order (the end of a chunk), or null when fewer remain. */
  boundary(table: SourceTable, key: string[], after: string[] | null, n: number): Promise<string[] | null>
  /** The greatest key in key order, or null for an empty table. */
  lastKey(table: SourceTable, key: string[]): Promise<string[] | null>
  count(table: SourceTable, where?: string): Promise<number>
  /** max(column) as text, for a watermark. */
  max(table: SourceTable, column: string): Promise<string | null>
  /** Up to `limit` distinct values of `column` as text among the rows matching `where`. */
  distinct(table: SourceTable, column: string, where: string, limit: number): Promise<string[]>
  quote(ident: string): string
  literal(value: string): string
  close(): Promise<void>
}

export function qualifiedName(t: Pick<SourceTable, 'schema' | 'name'>): string {
  return t.schema === 'public' || t.schema === '' ? t.name : `${t.schema}.${t.name}`
}

export interface PagingKey {
  columns: string[]
  source: 'primary key' | 'unique key'
}

/** The key a table is paged by: its primary key, else the shortest all-NOT-NULL unique key. */
export function pagingKey(t: SourceTable): PagingKey | undefined {
  if (t.primaryKey.length > 0) return { columns: t.primaryKey, source: 'primary key' }
  const unique = [...t.uniqueKeys].sort((a, b) => a.length - b.length)[0]
  return unique ? { columns: unique, source: 'unique key' } : undefined
}

const WATERMARK_NAMES = ['updated_at', 'modified_at', 'last_modified', 'updated', 'changed_at', 'mtime']

/** A default watermark: an updated_at-like timestamp column, else a single integer primary key (inserts only). */
export function defaultWatermark(t: SourceTable): { column: string; kind: 'updated' | 'monotonic' } | undefined {
  for (const name of WATERMARK_NAMES) {
    const c = t.columns.find((col) => col.name.toLowerCase() === name)
    if (c && /timestamp|datetime/i.test(c.dataType)) return { column: c.name, kind: 'updated' }
  }
  if (t.primaryKey.length === 1) {
    const c = t.columns.find((col) => col.name === t.primaryKey[0])
    if (c && /^(smallint|integer|bigint|int|mediumint|tinyint)$/i.test(c.dataType)) return { column: c.name, kind: 'monotonic' }
  }
  return undefined
}

/** Password-free form of a connection URL, for logs, the journal and reports. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url)
    if (u.password) u.password = '***'
    for (const k of [...u.searchParams.keys()]) if (/pass|secret|token/i.test(k)) u.searchParams.set(k, '***')
    return u.toString()
  } catch {
    return url.replace(/(\/\/[^:/@\s]*:)[^@\s]+@/g, '$1***@')
  }
}

/** Encodes one CSV field the way PostgreSQL's COPY csv does: NULL empty, '' quoted, quotes doubled. */
export function csvField(v: string | null): string {
  if (v === null) return ''
  if (v === '' || /[",\n\r]/.test(v) || v.trim() !== v) return `"${v.replace(/"/g, '""')}"`
  return v
}
