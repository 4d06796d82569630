// MySQL / MariaDB as a migration source: introspection from information_schema, keyset pages
// streamed with mysql2. Every value is read as the server's text (binary columns as HEX(), float
// as CAST(... AS DOUBLE)) in a UTC, utf8mb4 session, so the type rules see exact text. Key values
// are bound with an explicit CAST: MySQL compares a string with a BIGINT as doubles, which would
// page wrongly beyond 2^53.
import type { Writable } from 'node:stream'
import mysql from 'mysql2'
import { OpsError } from '@ocean-ops/common'
import { csvField, redactUrl, type ScanRequest, type Source, type SourceRow, type SourceTable } from './introspect.ts'
import type { SourceColumn } from '../values/type-rules.ts'
import { quoteMysqlIdent } from '../values/sql-ident.ts'

type Conn = mysql.Connection

const asText: mysql.TypeCast = (field) => field.string('utf8')

export class MysqlSource implements Source {
  readonly engine = 'mysql' as const
  readonly redacted: string
  private keyCasts = new Map<string, (p: string) => string>()

  private constructor(private readonly conn: Conn, url: string) {
    this.redacted = redactUrl(url)
  }

  static async connect(url: string): Promise<MysqlSource> {
    const u = new URL(url)
    const conn = mysql.createConnection({
      host: u.hostname,
      port: u.port ? Number(u.port) : 3306,
      user: decodeURIComponent(u.username),
      // The password comes from the URL or MYSQL_PWD (so it stays off the command line); never logged.
      password: u.password ? decodeURIComponent(u.password) : process.env.MYSQL_PWD,
      database: decodeURIComponent(u.pathname.replace(/^\//, '')) || undefined,
      socketPath: u.searchParams.get('socket') ?? undefined,
      charset: 'utf8mb4',
      timezone: 'Z',
      supportBigNumbers: true,
      bigNumberStrings: true,
      dateStrings: true,
    })
    conn.on('error', () => undefined)
    const src = new MysqlSource(conn, url)
    try {
      await src.query("SET time_zone = '+00:00'")
      await src.query('SET NAMES utf8mb4')
    } catch (e) {
      conn.destroy()
      throw new OpsError('OPS_E_SOURCE', `cannot connect to MySQL at ${src.redacted}: ${(e as Error).message}. Check the tunnel or private network to the old host, and the credentials (MYSQL_PWD keeps the password off the command line).`)
    }
    return src
  }

  private abandoned = false

  /** Drops the connection at once (a scan given up half-way); close() then has nothing to wait for. */
  private abandon(): void {
    this.abandoned = true
    this.conn.destroy()
  }

  async close(): Promise<void> {
    if (this.abandoned) return
    await new Promise<void>((resolve) => this.conn.end(() => resolve()))
  }

  quote(ident: string): string {
    return quoteMysqlIdent(ident)
  }

  literal(value: string): string {
    return this.conn.escape(value)
  }

  query<T = Record<string, unknown>>(sql: string, params: unknown[] = []): Promise<T[]> {
    return new Promise((resolve, reject) => {
      this.conn.query({ sql, values: params }, (err, rows) => {
        if (err) reject(new OpsError('OPS_E_SOURCE', `MySQL (${this.redacted}) failed: ${err.message}\n  query: ${sql.slice(0, 300)}`))
        else resolve(rows as T[])
      })
    })
  }

  async introspect(): Promise<SourceTable[]> {
    const tables = new Map<string, SourceTable>()
    const info = await this.query<{ TABLE_NAME: string; TABLE_ROWS: string | null; BYTES: string | null }>(
      `SELECT TABLE_NAME, TABLE_ROWS, DATA_LENGTH + INDEX_LENGTH AS BYTES FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_TYPE = 'BASE TABLE'`,
    )
    for (const r of info) {
      tables.set(r.TABLE_NAME, { schema: '', name: r.TABLE_NAME, columns: [], primaryKey: [], uniqueKeys: [], uniqueIndexes: [], estimatedRows: Number(r.TABLE_ROWS ?? 0), sizeBytes: Number(r.BYTES ?? 0) })
    }
    let jsonChecks: Array<{ TABLE_NAME: string; CHECK_CLAUSE: string }> = []
    try {
      jsonChecks = await this.query(`SELECT TABLE_NAME, CHECK_CLAUSE FROM information_schema.CHECK_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = DATABASE() AND CHECK_CLAUSE LIKE 'json_valid(%'`)
    } catch {
      // MySQL proper has no TABLE_NAME there, and a native JSON type instead.
    }
    const cols = await this.query<{
      TABLE_NAME: string
      COLUMN_NAME: string
      DATA_TYPE: string
      COLUMN_TYPE: string
      IS_NULLABLE: string
      NUMERIC_PRECISION: string | null
      NUMERIC_SCALE: string | null
      COLLATION_NAME: string | null
    }>(
      `SELECT TABLE_NAME, COLUMN_NAME, DATA_TYPE, COLUMN_TYPE, IS_NULLABLE, NUMERIC_PRECISION, NUMERIC_SCALE, COLLATION_NAME
         FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() ORDER BY TABLE_NAME, ORDINAL_POSITION`,
    )
    for (const r of cols) {
      const t = tables.get(r.TABLE_NAME)
      if (!t) continue
      const type = r.DATA_TYPE.toLowerCase()
      const col: SourceColumn = {
        name: r.COLUMN_NAME,
        dataType: type,
        udt: r.COLUMN_TYPE,
        nullable: r.IS_NULLABLE === 'YES',
        precision: type === 'decimal' ? Number(r.NUMERIC_PRECISION) : null,
        scale: type === 'decimal' ? Number(r.NUMERIC_SCALE) : null,
        collation: r.COLLATION_NAME,
      }
      if (type === 'enum') col.enumLabels = parseEnumLabels(r.COLUMN_TYPE)
      if (jsonChecks.some((c) => c.TABLE_NAME === r.TABLE_NAME && c.CHECK_CLAUSE.replace(/[`\s]/g, '') === `json_valid(${r.COLUMN_NAME})`)) col.isJson = true
      t.columns.push(col)
    }
    const idx = await this.query<{ TABLE_NAME: string; INDEX_NAME: string; NON_UNIQUE: string | number; COLUMN_NAME: string; NULLABLE: string; SUB_PART: string | null }>(
      `SELECT TABLE_NAME, INDEX_NAME, NON_UNIQUE, COLUMN_NAME, NULLABLE, SUB_PART FROM information_schema.STATISTICS
        WHERE TABLE_SCHEMA = DATABASE() ORDER BY TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX`,
    )
    const groups = new Map<string, { table: string; name: string; cols: string[]; notNull: boolean; usable: boolean }>()
    for (const r of idx) {
      if (Number(r.NON_UNIQUE) !== 0) continue
      const k = `${r.TABLE_NAME}\u0000${r.INDEX_NAME}`
      const g = groups.get(k) ?? { table: r.TABLE_NAME, name: r.INDEX_NAME, cols: [], notNull: true, usable: true }
      g.cols.push(r.COLUMN_NAME)
      if (r.NULLABLE === 'YES') g.notNull = false
      if (r.SUB_PART !== null) g.usable = false // a prefix index does not make the column unique
      groups.set(k, g)
    }
    for (const g of groups.values()) {
      const t = tables.get(g.table)
      if (!t || !g.usable) continue
      if (g.name === 'PRIMARY') t.primaryKey = g.cols
      else {
        t.uniqueIndexes.push(g.cols)
        if (g.notNull) t.uniqueKeys.push(g.cols)
      }
    }
    for (const t of tables.values()) {
      for (const k of t.primaryKey) this.keyCasts.set(`${t.name}.${k}`, keyCast(t.columns.find((c) => c.name === k)))
      for (const u of t.uniqueKeys) for (const k of u) this.keyCasts.set(`${t.name}.${k}`, keyCast(t.columns.find((c) => c.name === k)))
    }
    return [...tables.values()]
  }

  private keyParam(t: SourceTable, col: string): string {
    return (this.keyCasts.get(`${t.name}.${col}`) ?? ((p: string) => p))('?')
  }

  /** The key column's text, aliased so ORDER BY names the column (not a HEX() of it). */
  private keySelect(t: SourceTable, col: string, i: number): string {
    const c = t.columns.find((x) => x.name === col)
    return `${c && isBinary(c) ? `HEX(${this.quote(col)})` : this.quote(col)} AS __k${i}`
  }

  /** (k1, k2) > (a, b) spelled out, so MySQL can use the index. */
  private after(t: SourceTable, key: string[], values: string[], op: '>' | '<='): { sql: string; params: string[] } {
    if (op === '<=') {
      const { sql, params } = this.after(t, key, values, '>')
      return { sql: `NOT (${sql})`, params }
    }
    const ors: string[] = []
    const params: string[] = []
    for (let i = 0; i < key.length; i++) {
      const parts: string[] = []
      for (let j = 0; j < i; j++) {
        parts.push(`${this.quote(key[j] as string)} = ${this.keyParam(t, key[j] as string)}`)
        params.push(values[j] as string)
      }
      parts.push(`${this.quote(key[i] as string)} > ${this.keyParam(t, key[i] as string)}`)
      params.push(values[i] as string)
      ors.push(`(${parts.join(' AND ')})`)
    }
    return { sql: `(${ors.join(' OR ')})`, params }
  }

  private scanSql(req: ScanRequest): { sql: string; params: string[] } {
    const t = req.table
    const conds: string[] = []
    const params: string[] = []
    if (req.after) {
      const a = this.after(t, req.key, req.after, '>')
      conds.push(a.sql)
      params.push(...a.params)
    }
    if (req.upTo) {
      const b = this.after(t, req.key, req.upTo, '<=')
      conds.push(b.sql)
      params.push(...b.params)
    }
    if (req.where) conds.push(`(${req.where})`)
    const cols = [...req.selects, ...req.key.map((k, i) => this.keySelect(t, k, i))]
    let sql = `SELECT ${cols.join(', ') || '1'} FROM ${this.quote(t.name)}`
    if (conds.length) sql += ` WHERE ${conds.join(' AND ')}`
    if (req.limit !== null && req.key.length) sql += ` ORDER BY ${req.key.map((k) => this.quote(k)).join(', ')}`
    if (req.limit !== null && req.key.length) sql += ` LIMIT ${req.limit}`
    return { sql, params }
  }

  private stream(req: ScanRequest, onRow: (row: SourceRow) => void | Promise<void>): Promise<number> {
    const { sql, params } = this.scanSql(req)
    return new Promise((resolve, reject) => {
      let rows = 0
      const q = this.conn.query({ sql, values: params, rowsAsArray: true, typeCast: asText })
      const s = q.stream({ highWaterMark: 1000 })
      let failed = false
      // A row the caller refuses ends the scan: the error goes to the caller (not into mysql2, which
      // would take it for a protocol error and never settle this promise), and the connection is
      // dropped, since the rest of the result set would otherwise still have to be read.
      const fail = (e: unknown) => {
        if (failed) return
        failed = true
        s.destroy()
        this.abandon()
        reject(e)
      }
      s.on('data', (row: SourceRow) => {
        if (failed) return
        rows++
        let p: void | Promise<void>
        try {
          p = onRow(row)
        } catch (e) {
          fail(e)
          return
        }
        if (p) {
          s.pause()
          p.then(() => s.resume(), fail)
        }
      })
      s.on('error', (e: Error) => reject(new OpsError('OPS_E_SOURCE', `reading ${req.table.name} from MySQL (${this.redacted}) failed: ${e.message}`)))
      s.on('end', () => resolve(rows))
    })
  }

  scan(req: ScanRequest, onRow: (row: SourceRow) => void): Promise<number> {
    return this.stream(req, onRow)
  }

  async scanCsv(req: ScanRequest, out: Writable): Promise<void> {
    let buf = ''
    const flush = async () => {
      const chunk = buf
      buf = ''
      if (!out.write(chunk)) await new Promise((r) => out.once('drain', r))
    }
    await this.stream(req, (row) => {
      buf += row.map(csvField).join(',') + '\n'
      if (buf.length > 1 << 20) return flush()
    })
    if (buf) await flush()
    await new Promise<void>((resolve, reject) => out.end((e?: Error | null) => (e ? reject(e) : resolve())))
  }

  async boundary(t: SourceTable, key: string[], after: string[] | null, n: number): Promise<string[] | null> {
    const a = after ? this.after(t, key, after, '>') : undefined
    const rows = await new Promise<SourceRow[]>((resolve, reject) => {
      this.conn.query(
        {
          sql: `SELECT ${key.map((k, i) => this.keySelect(t, k, i)).join(', ')} FROM ${this.quote(t.name)}${a ? ` WHERE ${a.sql}` : ''} ORDER BY ${key.map((k) => this.quote(k)).join(', ')} LIMIT 1 OFFSET ${n - 1}`,
          values: a?.params ?? [],
          rowsAsArray: true,
          typeCast: asText,
        },
        (err, r) => (err ? reject(new OpsError('OPS_E_SOURCE', `MySQL (${this.redacted}) failed: ${err.message}`)) : resolve(r as SourceRow[])),
      )
    })
    const row = rows[0]
    return row ? row.map((v) => v ?? '') : null
  }

  async lastKey(t: SourceTable, key: string[]): Promise<string[] | null> {
    const rows = await new Promise<SourceRow[]>((resolve, reject) => {
      this.conn.query(
        { sql: `SELECT ${key.map((k, i) => this.keySelect(t, k, i)).join(', ')} FROM ${this.quote(t.name)} ORDER BY ${key.map((k) => `${this.quote(k)} DESC`).join(', ')} LIMIT 1`, rowsAsArray: true, typeCast: asText },
        (err, r) => (err ? reject(new OpsError('OPS_E_SOURCE', `MySQL (${this.redacted}) failed: ${err.message}`)) : resolve(r as SourceRow[])),
      )
    })
    return rows[0] ? rows[0].map((v) => v ?? '') : null
  }

  async count(t: SourceTable, where?: string): Promise<number> {
    const r = await this.query<{ n: string }>(`SELECT COUNT(*) AS n FROM ${this.quote(t.name)}${where ? ` WHERE ${where}` : ''}`)
    return Number(r[0]?.n ?? 0)
  }

  async max(t: SourceTable, column: string): Promise<string | null> {
    const r = await this.query<{ m: string | null }>(`SELECT CAST(MAX(${this.quote(column)}) AS CHAR) AS m FROM ${this.quote(t.name)}`)
    return r[0]?.m ?? null
  }

  async distinct(t: SourceTable, column: string, where: string, limit: number): Promise<string[]> {
    const r = await this.query<{ v: string }>(`SELECT DISTINCT CAST(${this.quote(column)} AS CHAR) AS v FROM ${this.quote(t.name)} WHERE ${where} LIMIT ${Math.trunc(limit)}`)
    return r.map((x) => x.v)
  }
}

function isBinary(c: SourceColumn): boolean {
  return /^(binary|varbinary|tinyblob|blob|mediumblob|longblob)$/.test(c.dataType)
}

function keyCast(c: SourceColumn | undefined): (p: string) => string {
  if (!c) return (p) => p
  if (/int$/.test(c.dataType) || c.dataType === 'year') return /unsigned/.test(c.udt) ? (p) => `CAST(${p} AS UNSIGNED)` : (p) => `CAST(${p} AS SIGNED)`
  if (c.dataType === 'decimal') return (p) => `CAST(${p} AS DECIMAL(${c.precision ?? 65},${c.scale ?? 0}))`
  if (isBinary(c)) return (p) => `UNHEX(${p})`
  return (p) => p
}

export function parseEnumLabels(columnType: string): string[] {
  const m = /^(?:enum|set)\((.*)\)$/i.exec(columnType)
  if (!m) return []
  const labels: string[] = []
  const re = /'((?:[^']|'')*)'/g
  for (let x = re.exec(m[1] as string); x; x = re.exec(m[1] as string)) labels.push((x[1] as string).replace(/''/g, "'").replace(/\\\\/g, '\\'))
  return labels
}
