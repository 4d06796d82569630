// PostgreSQL as a migration source (and, for the reverse sync, a target): introspection from
// information_schema and the catalog, keyset pages streamed with COPY ... TO STDOUT (text format
// for rows the engine reads, csv for rows DuckDB stages). The session is pinned to UTC, ISO dates,
// shortest-exact floats and hex bytea, so the text every rule reads is the same on every server.
import { pipeline } from 'node:stream/promises'
import type { Readable, Writable } from 'node:stream'
import pg from 'pg'
import { from as copyFrom, to as copyTo } from 'pg-copy-streams'
import { OpsError } from '@ocean-ops/common'
import { redactUrl, type ScanRequest, type Source, type SourceRow, type SourceTable } from './introspect.ts'
import { CopyTextParser } from '../values/pg-copy-text.ts'
import { quoteSqlIdent } from '../values/sql-ident.ts'
import { CAPTURE_SCHEMA, ENGINE_APPLICATION_NAME } from './change-capture.ts'
import type { SourceColumn } from '../values/type-rules.ts'

const SESSION = `SET TimeZone = 'UTC'; SET DateStyle = 'ISO, YMD'; SET extra_float_digits = 1; SET bytea_output = 'hex'; SET IntervalStyle = 'postgres'; SET application_name = '${ENGINE_APPLICATION_NAME}'`

export class PostgresSource implements Source {
  readonly engine = 'postgres' as const
  readonly redacted: string

  private constructor(private readonly client: pg.Client, url: string) {
    this.redacted = redactUrl(url)
  }

  static async connect(url: string): Promise<PostgresSource> {
    const client = new pg.Client({ connectionString: url })
    // A dropped connection mid-copy surfaces as a failed query; this keeps it from crashing the process.
    client.on('error', () => undefined)
    try {
      await client.connect()
      await client.query(SESSION)
    } catch (e) {
      await client.end().catch(() => undefined)
      throw new OpsError('OPS_E_SOURCE', `cannot connect to PostgreSQL at ${redactUrl(url)}: ${(e as Error).message}. Check the tunnel or private network to the old host, and the credentials (PGPASSWORD or ~/.pgpass keep them off the command line).`)
    }
    return new PostgresSource(client, url)
  }

  async close(): Promise<void> {
    await this.client.end().catch(() => undefined)
  }

  quote(ident: string): string {
    return quoteSqlIdent(ident)
  }

  literal(value: string): string {
    return this.client.escapeLiteral(value)
  }

  async query<R extends pg.QueryResultRow = pg.QueryResultRow>(sql: string, params: unknown[] = []): Promise<pg.QueryResult<R>> {
    try {
      return await this.client.query<R>(sql, params)
    } catch (e) {
      throw new OpsError('OPS_E_SOURCE', `PostgreSQL (${this.redacted}) failed: ${(e as Error).message}\n  query: ${sql.slice(0, 300)}`)
    }
  }

  async introspect(): Promise<SourceTable[]> {
    const cols = await this.query<{
      table_schema: string
      table_name: string
      column_name: string
      data_type: string
      udt_name: string
      is_nullable: string
      numeric_precision: number | null
      numeric_scale: number | null
      collation_name: string | null
    }>(`SELECT c.table_schema, c.table_name, c.column_name, c.data_type, c.udt_name, c.is_nullable,
              c.numeric_precision, c.numeric_scale, c.collation_name
         FROM information_schema.columns c
         JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name
        WHERE t.table_type = 'BASE TABLE' AND c.table_schema NOT IN ('pg_catalog', 'information_schema', '${CAPTURE_SCHEMA}')
          AND c.table_schema NOT LIKE 'pg_toast%'
        ORDER BY c.table_schema, c.table_name, c.ordinal_position`)
    const enums = await this.query<{ typname: string; labels: string[] }>(
      `SELECT t.typname, array_agg(e.enumlabel ORDER BY e.enumsortorder)::text[] AS labels FROM pg_enum e JOIN pg_type t ON t.oid = e.enumtypid GROUP BY t.typname`,
    )
    const enumLabels = new Map(enums.rows.map((r) => [r.typname, r.labels]))
    const dbCollation = (await this.query<{ datcollate: string }>('SELECT datcollate FROM pg_database WHERE datname = current_database()')).rows[0]?.datcollate ?? null
    const keys = await this.query<{ nspname: string; relname: string; indisprimary: boolean; cols: string[]; notnull: boolean }>(
      `SELECT n.nspname, c.relname, i.indisprimary, array_agg(a.attname::text ORDER BY k.ord)::text[] AS cols, bool_and(a.attnotnull) AS notnull
         FROM pg_index i
         JOIN pg_class c ON c.oid = i.indrelid
         JOIN pg_namespace n ON n.oid = c.relnamespace
         CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
         JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum
        WHERE i.indisunique AND i.indpred IS NULL AND i.indexprs IS NULL AND i.indisvalid
        GROUP BY n.nspname, c.relname, i.indisprimary, i.indexrelid
        ORDER BY n.nspname, c.relname, i.indexrelid`,
    )
    const sizes = await this.query<{ nspname: string; relname: string; reltuples: string; bytes: string }>(
      `SELECT n.nspname, c.relname, c.reltuples::bigint::text AS reltuples, pg_total_relation_size(c.oid)::text AS bytes
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'p')`,
    )
    const tables = new Map<string, SourceTable>()
    for (const r of cols.rows) {
      const k = `${r.table_schema}.${r.table_name}`
      let t = tables.get(k)
      if (!t) {
        t = { schema: r.table_schema, name: r.table_name, columns: [], primaryKey: [], uniqueKeys: [], uniqueIndexes: [], estimatedRows: 0, sizeBytes: 0 }
        tables.set(k, t)
      }
      const col: SourceColumn = {
        name: r.column_name,
        dataType: r.data_type,
        udt: r.udt_name,
        nullable: r.is_nullable === 'YES',
        precision: r.data_type === 'numeric' ? r.numeric_precision : null,
        scale: r.data_type === 'numeric' ? r.numeric_scale : null,
        collation: r.collation_name ?? (/char|text/.test(r.data_type) ? dbCollation : null),
      }
      const labels = enumLabels.get(r.udt_name)
      if (r.data_type === 'USER-DEFINED' && labels) col.enumLabels = labels
      t.columns.push(col)
    }
    for (const r of keys.rows) {
      const t = tables.get(`${r.nspname}.${r.relname}`)
      if (!t) continue
      if (r.indisprimary) t.primaryKey = r.cols
      else {
        t.uniqueIndexes.push(r.cols)
        if (r.notnull) t.uniqueKeys.push(r.cols)
      }
    }
    for (const r of sizes.rows) {
      const t = tables.get(`${r.nspname}.${r.relname}`)
      if (!t) continue
      t.estimatedRows = Number(r.reltuples)
      t.sizeBytes = Number(r.bytes)
    }
    // A table never analyzed keeps reltuples -1: counted by the run, if it copies that table.
    return [...tables.values()]
  }

  private from(t: SourceTable): string {
    return `${this.quote(t.schema)}.${this.quote(t.name)}`
  }

  private keyTuple(key: string[]): string {
    return `(${key.map((k) => this.quote(k)).join(', ')})`
  }

  private valuesTuple(values: string[]): string {
    return `(${values.map((v) => this.literal(v)).join(', ')})`
  }

  /** The SELECT of a scan: data columns, then the key columns' text (what the next page starts after). */
  scanSql(req: ScanRequest): string {
    const keyText = req.key.map((k, i) => `${this.quote(k)}::text AS __k${i}`)
    const conds: string[] = []
    if (req.after) conds.push(`${this.keyTuple(req.key)} > ${this.valuesTuple(req.after)}`)
    if (req.upTo) conds.push(`${this.keyTuple(req.key)} <= ${this.valuesTuple(req.upTo)}`)
    if (req.where) conds.push(`(${req.where})`)
    let sql = `SELECT ${[...req.selects, ...keyText].join(', ') || '1'} FROM ${this.from(req.table)}`
    if (conds.length) sql += ` WHERE ${conds.join(' AND ')}`
    if (req.limit !== null && req.key.length) sql += ` ORDER BY ${req.key.map((k) => this.quote(k)).join(', ')}`
    if (req.limit !== null && req.key.length) sql += ` LIMIT ${req.limit}`
    return sql
  }

  async scan(req: ScanRequest, onRow: (row: SourceRow) => void): Promise<number> {
    const sql = `COPY (${this.scanSql(req)}) TO STDOUT`
    const parser = new CopyTextParser(onRow)
    try {
      const stream = this.client.query(copyTo(sql))
      for await (const chunk of stream as AsyncIterable<Buffer>) parser.push(chunk)
      parser.end()
    } catch (e) {
      if (e instanceof OpsError) throw e
      throw new OpsError('OPS_E_SOURCE', `reading ${req.table.name} from PostgreSQL (${this.redacted}) failed: ${(e as Error).message}`)
    }
    return parser.rows
  }

  async scanCsv(req: ScanRequest, out: Writable): Promise<void> {
    const sql = `COPY (${this.scanSql(req)}) TO STDOUT (FORMAT csv)`
    try {
      await pipeline(this.client.query(copyTo(sql)), out)
    } catch (e) {
      throw new OpsError('OPS_E_SOURCE', `reading ${req.table.name} from PostgreSQL (${this.redacted}) failed: ${(e as Error).message}`)
    }
  }

  async boundary(t: SourceTable, key: string[], after: string[] | null, n: number): Promise<string[] | null> {
    const where = after ? ` WHERE ${this.keyTuple(key)} > ${this.valuesTuple(after)}` : ''
    const r = await this.query(
      `SELECT ${key.map((k, i) => `${this.quote(k)}::text AS __k${i}`).join(', ')} FROM ${this.from(t)}${where} ORDER BY ${key.map((k) => this.quote(k)).join(', ')} OFFSET ${n - 1} LIMIT 1`,
    )
    const row = r.rows[0] as Record<string, string> | undefined
    return row ? Object.values(row) : null
  }

  async lastKey(t: SourceTable, key: string[]): Promise<string[] | null> {
    const r = await this.query(`SELECT ${key.map((k, i) => `${this.quote(k)}::text AS __k${i}`).join(', ')} FROM ${this.from(t)} ORDER BY ${key.map((k) => `${this.quote(k)} DESC`).join(', ')} LIMIT 1`)
    const row = r.rows[0] as Record<string, string> | undefined
    return row ? Object.values(row) : null
  }

  async count(t: SourceTable, where?: string): Promise<number> {
    const r = await this.query<{ n: string }>(`SELECT count(*)::text AS n FROM ${this.from(t)}${where ? ` WHERE ${where}` : ''}`)
    return Number(r.rows[0]?.n ?? 0)
  }

  async max(t: SourceTable, column: string): Promise<string | null> {
    const c = this.quote(column)
    const r = await this.query<{ __m: string | null }>(`SELECT max(${c})::text AS __m FROM ${this.from(t)}`)
    return r.rows[0]?.__m ?? null
  }

  async distinct(t: SourceTable, column: string, where: string, limit: number): Promise<string[]> {
    const r = await this.query<{ v: string }>(`SELECT DISTINCT ${this.quote(column)}::text AS v FROM ${this.from(t)} WHERE ${where} LIMIT ${Math.trunc(limit)}`)
    return r.rows.map((x) => x.v)
  }

  /** COPY FROM STDIN (text format) into `table` from a readable: the reverse sync's bulk path. */
  async copyIn(sql: string, data: Readable): Promise<void> {
    try {
      await pipeline(data, this.client.query(copyFrom(sql)))
    } catch (e) {
      throw new OpsError('OPS_E_SOURCE', `writing to PostgreSQL (${this.redacted}) failed: ${(e as Error).message}`)
    }
  }
}
