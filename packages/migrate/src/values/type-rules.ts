// Type rules: how a source column (PostgreSQL or MySQL/MariaDB, as information_schema describes
// it) is read, how it is stored in SQLite and in DuckDB, and how it is compared. Pure, so each rule
// is unit-tested; the integration tests push every rule's edge values through real servers.
//
// The rules, written down (kind: source types -> SQLite | DuckDB; notes):
//  int       int2/int4/int8/oid; MySQL tinyint..bigint [unsigned], year, bit(n)
//            -> INTEGER | SMALLINT..BIGINT, UBIGINT. Read as decimal text; held as a JS number up to
//            2^53 and as a BigInt beyond, so -2^63 and 2^63-1 arrive exact. A MySQL bigint unsigned
//            above 2^63-1 does not fit SQLite's INTEGER: the row is rejected with its key (map the
//            column to `text` to keep it as digits).
//  decimal   numeric(p,s)/decimal/money -> TEXT, the source's digits | DECIMAL(p,s) for p <= 38, else
//            VARCHAR. Never a float. PostgreSQL's NaN/±Infinity stay text in SQLite; a DuckDB DECIMAL
//            cannot hold them: NULL + reported.
//  double    float4/float8, MySQL float/double -> REAL | FLOAT/DOUBLE. PostgreSQL prints the shortest
//            text that reads back to the same value; MySQL float is read as CAST(... AS DOUBLE) because
//            its text form rounds to 6 digits. NaN is stored as the text 'NaN' in SQLite (SQLite turns a
//            NaN REAL into NULL); ±Infinity as REAL; -0 becomes 0 in SQLite.
//  bool      boolean; MySQL tinyint(1) -> INTEGER 0/1 | BOOLEAN. A tinyint(1) other than 0/1 -> 1 + reported.
//  timestamp timestamptz: the instant, in UTC. timestamp without time zone: its wall time, taken as UTC
//            unless the mapping names the zone it was written in (PostgreSQL converts it, DST included).
//            MySQL TIMESTAMP is read in a +00:00 session (UTC); DATETIME is a wall time as above.
//            -> TEXT ISO-8601 'YYYY-MM-DDTHH:MM:SS.mmmZ' (the service's own format), '.uuuuuuZ' when the
//            value has microseconds | TIMESTAMP (UTC, microseconds). 'infinity' stays text / DuckDB infinity.
//            MySQL zero dates ('0000-00-00 ...', a zero month or day) -> NULL + reported.
//  date      -> TEXT 'YYYY-MM-DD' | DATE. Zero dates -> NULL + reported.
//  json      json/jsonb, MySQL JSON (MariaDB: longtext with CHECK json_valid) -> TEXT | VARCHAR: the
//            source's text, byte for byte (big numbers inside stay exact).
//  uuid      uuid, MariaDB uuid -> TEXT lowercase | UUID.
//  bytes     bytea, binary/varbinary/*blob -> BLOB | BLOB (read as hex, so nothing is lost in transit).
//  text      text/varchar/char (padding kept), citext, enums (labels; generic SQLite tables get a CHECK),
//            MySQL set, time, interval, inet, xml, ... -> TEXT | VARCHAR: the source's text form.
//            Types no rule knows are kept as text too, with a warning in the plan.
//  (arrays)  PostgreSQL arrays -> json: PostgreSQL's own array_to_json (elements in their JSON form).
//  NULL stays NULL and '' stays '' everywhere; text keeps every Unicode character (4-byte ones too).

export type Engine = 'postgres' | 'mysql'
export type Kind = 'int' | 'decimal' | 'double' | 'bool' | 'timestamp' | 'date' | 'json' | 'uuid' | 'bytes' | 'text'
export type SqliteType = 'INTEGER' | 'REAL' | 'TEXT' | 'BLOB'

/** A source column as introspection describes it (information_schema, normalized per engine). */
export interface SourceColumn {
  name: string
  /** PostgreSQL: information_schema data_type ('integer', 'ARRAY', 'USER-DEFINED'); MySQL: DATA_TYPE. */
  dataType: string
  /** PostgreSQL: udt_name ('int4', '_text', an enum's name); MySQL: COLUMN_TYPE ('tinyint(1)', 'bigint(20) unsigned'). */
  udt: string
  nullable: boolean
  precision: number | null
  scale: number | null
  /** Labels of an enum (PostgreSQL enum type, MySQL enum(...)). */
  enumLabels?: string[]
  /** MariaDB declares JSON as longtext with a json_valid CHECK. */
  isJson?: boolean
  /** Collation of a text column, when not the default. */
  collation?: string | null
}

export interface TypeRule {
  kind: Kind
  /** The rule applied, in words: shown in the plan and the report. */
  rule: string
  sqliteType: SqliteType
  duckdbType: string
  /** The source expression that reads the column, given its quoted name. */
  select: (quoted: string) => string
  /** MySQL tinyint(1): a boolean whose other values are coerced to true and reported. */
  boolFromInt?: boolean
  /** Values of this column sort the same in the source and in the target, so key ranges can be compared. */
  rangeOrdered: boolean
  /** The target column must accept NULL even if the source does not (zero dates become NULL). */
  forceNullable?: boolean
  /** A MySQL bigint unsigned: values above 2^63-1 do not fit SQLite's INTEGER. */
  unsigned64?: boolean
  warning?: string
}

export interface RuleOptions {
  /** Zone the naive timestamps of this column were written in (default UTC: kept as they are). */
  timeZone?: string
  /** Whether PostgreSQL text compares byte-wise here (collation C/POSIX), so text keys keep their order. */
  byteOrderedText?: boolean
}

const same = (q: string) => q

function rule(kind: Kind, sqliteType: SqliteType, duckdbType: string, text: string, extra: Partial<TypeRule> = {}): TypeRule {
  return { kind, rule: text, sqliteType, duckdbType, select: same, rangeOrdered: kind === 'int', ...extra }
}

export function ruleFor(engine: Engine, col: SourceColumn, opts: RuleOptions = {}): TypeRule {
  return engine === 'postgres' ? postgresRule(col, opts) : mysqlRule(col, opts)
}

function decimalRule(col: SourceColumn, what: string, extra: Partial<TypeRule> = {}): TypeRule {
  const p = col.precision
  const s = col.scale ?? 0
  const duck = p !== null && p >= 1 && p <= 38 ? `DECIMAL(${p},${s})` : 'VARCHAR'
  return rule('decimal', 'TEXT', duck, `${what} -> exact decimal text (SQLite TEXT, DuckDB ${duck}); never a float`, extra)
}

function postgresRule(col: SourceColumn, opts: RuleOptions): TypeRule {
  const udt = col.udt.toLowerCase()
  if (col.dataType === 'ARRAY' || udt.startsWith('_')) {
    return rule('json', 'TEXT', 'VARCHAR', `${udt.slice(1)}[] -> JSON array text (PostgreSQL array_to_json)`, {
      select: (q) => `array_to_json(${q})::text`,
    })
  }
  if (col.enumLabels && col.enumLabels.length > 0) return rule('text', 'TEXT', 'VARCHAR', `enum ${udt} -> its label as text`)
  switch (udt) {
    case 'int2':
      return rule('int', 'INTEGER', 'SMALLINT', 'smallint -> integer')
    case 'int4':
      return rule('int', 'INTEGER', 'INTEGER', 'integer -> integer')
    case 'int8':
      return rule('int', 'INTEGER', 'BIGINT', 'bigint -> 64-bit integer, exact beyond 2^53 (BigInt)')
    case 'oid':
      return rule('int', 'INTEGER', 'UINTEGER', 'oid -> integer')
    case 'numeric':
      return decimalRule(col, col.precision === null ? 'numeric' : `numeric(${col.precision},${col.scale ?? 0})`)
    case 'money':
      // money's text depends on lc_monetary ('$1,234.50'): read its numeric value instead.
      return rule('decimal', 'TEXT', 'DECIMAL(38,2)', 'money -> its numeric value as exact decimal text (no currency symbol)', {
        select: (q) => `${q}::numeric::text`,
      })
    case 'float4':
      return rule('double', 'REAL', 'FLOAT', 'real -> float (the shortest text that reads back to the same real)')
    case 'float8':
      return rule('double', 'REAL', 'DOUBLE', 'double precision -> double; NaN and ±Infinity kept')
    case 'bool':
      return rule('bool', 'INTEGER', 'BOOLEAN', 'boolean -> 0/1 (SQLite), BOOLEAN (DuckDB)')
    case 'timestamptz':
      return rule('timestamp', 'TEXT', 'TIMESTAMP', 'timestamp with time zone -> the instant in UTC, microseconds kept', {
        select: (q) => `(${q} AT TIME ZONE 'UTC')`,
      })
    case 'timestamp': {
      const zone = opts.timeZone && opts.timeZone.toUpperCase() !== 'UTC' ? opts.timeZone : undefined
      if (zone) {
        const z = zone.replace(/'/g, "''")
        return rule('timestamp', 'TEXT', 'TIMESTAMP', `timestamp without time zone, written in ${zone} -> UTC (PostgreSQL converts; DST gaps and overlaps follow its rules)`, {
          select: (q) => `((${q} AT TIME ZONE '${z}') AT TIME ZONE 'UTC')`,
        })
      }
      return rule('timestamp', 'TEXT', 'TIMESTAMP', 'timestamp without time zone -> its wall time, taken as UTC, microseconds kept')
    }
    case 'date':
      return rule('date', 'TEXT', 'DATE', 'date -> YYYY-MM-DD', { rangeOrdered: true })
    case 'json':
    case 'jsonb':
      return rule('json', 'TEXT', 'VARCHAR', `${udt} -> its JSON text, unchanged`)
    case 'uuid':
      return rule('uuid', 'TEXT', 'UUID', 'uuid -> lowercase text (SQLite), UUID (DuckDB)', { rangeOrdered: true })
    case 'bytea':
      return rule('bytes', 'BLOB', 'BLOB', 'bytea -> BLOB (read as hex)', { select: (q) => `encode(${q}, 'hex')` })
    case 'text':
    case 'varchar':
    case 'bpchar':
    case 'name':
    case 'citext':
      return rule('text', 'TEXT', 'VARCHAR', `${udt} -> text, unchanged (char padding kept)`, { rangeOrdered: Boolean(opts.byteOrderedText) && udt !== 'citext' })
    case 'time':
    case 'timetz':
    case 'interval':
    case 'inet':
    case 'cidr':
    case 'macaddr':
    case 'macaddr8':
    case 'xml':
    case 'bit':
    case 'varbit':
    case 'tsvector':
    case 'tsquery':
    case 'int4range':
    case 'int8range':
    case 'numrange':
    case 'tsrange':
    case 'tstzrange':
    case 'daterange':
      return rule('text', 'TEXT', 'VARCHAR', `${udt} -> its PostgreSQL text form`)
    default:
      return rule('text', 'TEXT', 'VARCHAR', `${udt} -> its PostgreSQL text form`, {
        warning: `no rule for type ${udt}: kept as its text form; check the target reads it as intended`,
      })
  }
}

const MYSQL_INT: Record<string, [string, string]> = {
  tinyint: ['TINYINT', 'UTINYINT'],
  smallint: ['SMALLINT', 'USMALLINT'],
  mediumint: ['INTEGER', 'UINTEGER'],
  int: ['INTEGER', 'UINTEGER'],
  integer: ['INTEGER', 'UINTEGER'],
  bigint: ['BIGINT', 'UBIGINT'],
}

function mysqlRule(col: SourceColumn, _opts: RuleOptions): TypeRule {
  const type = col.dataType.toLowerCase()
  const full = col.udt.toLowerCase()
  const unsigned = /\bunsigned\b/.test(full)
  if (type === 'tinyint' && /^tinyint\(1\)(?!.*unsigned)/.test(full)) {
    return rule('bool', 'INTEGER', 'BOOLEAN', 'tinyint(1) -> boolean 0/1; other values -> 1 and reported', { boolFromInt: true, rangeOrdered: false })
  }
  const ints = MYSQL_INT[type]
  if (ints) {
    const big = type === 'bigint'
    return rule('int', 'INTEGER', unsigned ? ints[1] : ints[0], `${full} -> integer${big ? ', exact beyond 2^53 (BigInt)' : ''}${big && unsigned ? '; above 2^63-1 rejected in SQLite (map to text to keep)' : ''}`, {
      unsigned64: big && unsigned,
    })
  }
  switch (type) {
    case 'year':
      return rule('int', 'INTEGER', 'SMALLINT', 'year -> integer')
    case 'bit':
      return rule('int', 'INTEGER', 'UBIGINT', `${full} -> unsigned integer`, { select: (q) => `CAST(${q} AS UNSIGNED)` })
    case 'decimal':
    case 'numeric':
      return decimalRule(col, full)
    case 'float':
      return rule('double', 'REAL', 'DOUBLE', 'float -> double, read as CAST(... AS DOUBLE) (its text form rounds to 6 digits)', {
        select: (q) => `CAST(${q} AS DOUBLE)`,
      })
    case 'double':
    case 'real':
      return rule('double', 'REAL', 'DOUBLE', 'double -> double')
    case 'date':
      return rule('date', 'TEXT', 'DATE', 'date -> YYYY-MM-DD; zero dates -> NULL + reported', { forceNullable: true })
    case 'datetime':
      return rule('timestamp', 'TEXT', 'TIMESTAMP', 'datetime -> its wall time taken as UTC; zero dates -> NULL + reported', { forceNullable: true })
    case 'timestamp':
      return rule('timestamp', 'TEXT', 'TIMESTAMP', 'timestamp -> the instant in UTC (read in a +00:00 session); zero dates -> NULL + reported', { forceNullable: true })
    case 'json':
      return rule('json', 'TEXT', 'VARCHAR', 'json -> its JSON text, unchanged')
    case 'uuid':
      return rule('uuid', 'TEXT', 'UUID', 'uuid -> lowercase text (SQLite), UUID (DuckDB)')
    case 'binary':
    case 'varbinary':
    case 'tinyblob':
    case 'blob':
    case 'mediumblob':
    case 'longblob':
      return rule('bytes', 'BLOB', 'BLOB', `${type} -> BLOB (read as hex)`, { select: (q) => `HEX(${q})` })
    case 'enum':
      return rule('text', 'TEXT', 'VARCHAR', 'enum -> its label as text')
    case 'char':
    case 'varchar':
    case 'tinytext':
    case 'text':
    case 'mediumtext':
    case 'longtext':
      if (col.isJson) return rule('json', 'TEXT', 'VARCHAR', `${type} CHECK (json_valid) -> its JSON text, unchanged`)
      return rule('text', 'TEXT', 'VARCHAR', `${type} -> text, unchanged`)
    case 'set':
    case 'time':
    case 'inet4':
    case 'inet6':
      return rule('text', 'TEXT', 'VARCHAR', `${type} -> its MySQL text form`)
    default:
      return rule('text', 'TEXT', 'VARCHAR', `${type} -> its MySQL text form`, {
        warning: `no rule for type ${full}: kept as its text form; check the target reads it as intended`,
      })
  }
}

/** A rule that keeps a column as its text form: what a mapping's `"type": "text"` override asks for. */
export function textRule(engine: Engine, col: SourceColumn): TypeRule {
  const cast = engine === 'postgres' ? (q: string) => `${q}::text` : (q: string) => `CAST(${q} AS CHAR)`
  return rule('text', 'TEXT', 'VARCHAR', `${col.udt} -> text (mapping override)`, { select: cast })
}

/** The DuckDB expression turning a staged VARCHAR (the source's text) into the target type; TRY_ so a
 * value the type cannot hold becomes NULL, and `coercedWhere` finds those rows to report them. */
export function duckdbCast(r: TypeRule, staged: string): string {
  switch (r.kind) {
    case 'bool':
      return r.boolFromInt ? `(${staged} <> '0')` : `TRY_CAST(${staged} AS BOOLEAN)`
    case 'bytes':
      return `from_hex(${staged})`
    case 'text':
    case 'json':
      return staged
    case 'decimal':
      return r.duckdbType === 'VARCHAR' ? staged : `TRY_CAST(${staged} AS ${r.duckdbType})`
    case 'uuid':
      return `TRY_CAST(${staged} AS UUID)`
    default:
      return `TRY_CAST(${staged} AS ${r.duckdbType})`
  }
}

/** Rows whose staged value the DuckDB type could not hold (and so became NULL), or a tinyint(1) not 0/1. */
export function duckdbCoercedWhere(r: TypeRule, staged: string): string | undefined {
  if (r.boolFromInt) return `${staged} NOT IN ('0', '1')`
  if (r.kind === 'text' || r.kind === 'json' || r.kind === 'bytes') return undefined
  if (r.kind === 'decimal' && r.duckdbType === 'VARCHAR') return undefined
  return `${staged} IS NOT NULL AND ${duckdbCast(r, staged)} IS NULL`
}

/** DDL type for a generic SQLite table. */
export function sqliteDeclared(r: TypeRule): string {
  return r.sqliteType
}
