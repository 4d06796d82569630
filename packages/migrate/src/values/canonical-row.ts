// The canonical row form both sides of a copy are compared in: every value becomes one text per
// kind, computed on the source side from the source's own text and on the target side from what
// the target stored, by separate code, so a value that changed on the way (a float where a
// decimal was, a lost microsecond, a BigInt that became a double) shows up as a mismatch.
//
//   int        decimal digits, no leading zeros ('-9223372036854775808')
//   decimal    digits with trailing fraction zeros dropped ('1.50' and '1.5' -> '1.5'; '-0.0' -> '0'); NaN, ±Infinity
//   double     JavaScript's shortest round-trip text (String(n)); NaN, Infinity, -Infinity; -0 is '0'
//   bool       't' or 'f'
//   timestamp  'YYYY-MM-DDTHH:MM:SS.uuuuuuZ' in UTC (years outside 0..9999 as ±YYYYYY), 'infinity', '-infinity'
//   date       'YYYY-MM-DD' (same year rule), 'infinity', '-infinity'
//   json, text the text itself; uuid lowercase; bytes lowercase hex
// Pure: no I/O.
import crypto from 'node:crypto'
import { OpsError } from '@ocean-ops/common'
import type { Kind, SqliteType, TypeRule } from './type-rules.ts'

export type SqliteValue = number | bigint | string | Buffer | null

/** What a value read back from the target turns into when it has the wrong storage class. */
export const WRONG_TYPE = '\u0000wrong-type:'

export type Transform = 'sha256' | 'epoch-ms'
export const TRANSFORMS: readonly Transform[] = ['sha256', 'epoch-ms']

/** Converts one column: source text -> canonical text -> SQLite value, and SQLite value -> canonical text. */
export interface ColumnCodec {
  readonly kind: Kind
  readonly target: SqliteType
  /** Canonical text of a non-NULL source value; null when the rule turns it into NULL (then `coerced` says why). */
  canon(text: string): string | null
  /** The SQLite value to store for a canonical text (`text` is the source's own text, kept for decimals). */
  store(canon: string, text: string): SqliteValue
  /** Canonical text of a non-NULL value read back from SQLite. */
  fromSqlite(v: unknown): string
  /** Set by canon() when it changed a value (zero date, tinyint(1) = 2, dropped microseconds); the caller clears it. */
  coerced: string | undefined
}

/** Which SQLite column types each kind may be stored in (a service table's declared type). */
const ALLOWED: Record<Kind, SqliteType[]> = {
  int: ['INTEGER', 'TEXT'],
  decimal: ['TEXT', 'INTEGER'],
  double: ['REAL', 'TEXT'],
  bool: ['INTEGER'],
  timestamp: ['TEXT'],
  date: ['TEXT'],
  json: ['TEXT'],
  uuid: ['TEXT'],
  text: ['TEXT'],
  bytes: ['BLOB'],
}

export function storable(kind: Kind, target: SqliteType): boolean {
  return ALLOWED[kind].includes(target)
}

/** SQLite's type affinity of a declared column type (the rules of sqlite.org/datatype3.html, section 3.1). */
export function affinity(declared: string): SqliteType {
  const t = declared.toUpperCase()
  if (t.includes('INT')) return 'INTEGER'
  if (t.includes('CHAR') || t.includes('CLOB') || t.includes('TEXT')) return 'TEXT'
  if (t === '' || t.includes('BLOB')) return 'BLOB'
  if (t.includes('REAL') || t.includes('FLOA') || t.includes('DOUB')) return 'REAL'
  return 'INTEGER' // NUMERIC affinity: integers stay integers, which is all we store in such columns
}

// ---------------------------------------------------------------------------------------------
// Value normalizers (exported for the unit tests and for the DuckDB and reverse paths)

export function normalizeInt(text: string): string {
  const c0 = text.charCodeAt(0)
  // Fast path: already canonical (no sign other than '-', no leading zero, no spaces).
  if (c0 !== 43 /* + */ && !(c0 === 48 && text.length > 1) && !(c0 === 45 && text.charCodeAt(1) === 48) && text.trim() === text) return text
  return BigInt(text.trim()).toString()
}

// Fast paths for the shapes PostgreSQL and MySQL print (a copy converts millions of values: the
// general functions' captures and splits were a tenth of a SQLite copy's time). Each must give what
// the general function gives (unit-tested against it); anything else takes the general path.
const PLAIN_DECIMAL = /^-?(?:[1-9]\d*|0)(?:\.\d+)?$/
const PLAIN_TS = /^\d{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01]) \d\d:\d\d:\d\d(?:\.\d{1,6})?(?:\+00)?$/
const PLAIN_DATE = /^\d{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])$/
const FRACTION_ZEROS = '000000'

export function normalizeDecimal(text: string): string {
  if (!PLAIN_DECIMAL.test(text)) return normalizeDecimalGeneral(text)
  let end = text.length
  if (text.includes('.')) {
    while (text.charCodeAt(end - 1) === 48) end--
    if (text.charCodeAt(end - 1) === 46) end--
  }
  const body = end === text.length ? text : text.slice(0, end)
  return body === '-0' ? '0' : body
}

/** normalizeDecimal for any text (what the fast path must agree with). */
export function normalizeDecimalGeneral(text: string): string {
  let t = text.trim()
  if (t === 'NaN' || t === 'Infinity' || t === '-Infinity') return t
  let sign = ''
  if (t[0] === '-' || t[0] === '+') {
    sign = t[0] === '-' ? '-' : ''
    t = t.slice(1)
  }
  let [int = '', frac = ''] = t.split('.')
  int = int.replace(/^0+(?=\d)/, '')
  if (int === '') int = '0'
  frac = frac.replace(/0+$/, '')
  const body = frac ? `${int}.${frac}` : int
  return body === '0' ? '0' : sign + body
}

export function canonDouble(n: number): string {
  if (Number.isNaN(n)) return 'NaN'
  return String(n) // 'Infinity', '-Infinity'; String(-0) is '0'
}

const pad2 = (n: number) => (n < 10 ? `0${n}` : String(n))

function isoYear(y: number): string {
  if (y >= 0 && y <= 9999) return String(y).padStart(4, '0')
  return (y < 0 ? '-' : '+') + String(Math.abs(y)).padStart(6, '0')
}

// PostgreSQL / MySQL text: 'YYYY-MM-DD HH:MM:SS[.f]' [+HH[:MM[:SS]]] [' BC']
const SOURCE_TS = /^(\d{4,})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?(?:([+-])(\d{2})(?::?(\d{2}))?(?::?(\d{2}))?|Z)?( BC)?$/

export interface TsResult {
  iso: string | null
  coerced?: string
}

/** Canonical UTC timestamp from a source's text (already UTC unless it carries an offset). */
export function isoFromSourceTimestamp(text: string): TsResult {
  if (PLAIN_TS.test(text)) {
    const end = text.endsWith('+00') ? text.length - 3 : text.length
    const frac = end > 20 ? text.slice(20, end) : ''
    return { iso: `${text.slice(0, 10)}T${text.slice(11, 19)}.${frac}${FRACTION_ZEROS.slice(frac.length)}Z` }
  }
  return isoFromSourceTimestampGeneral(text)
}

/** isoFromSourceTimestamp for any text (what the fast path must agree with). */
export function isoFromSourceTimestampGeneral(text: string): TsResult {
  if (text === 'infinity' || text === '-infinity') return { iso: text }
  const m = SOURCE_TS.exec(text)
  if (!m) throw new OpsError('OPS_E_MIGRATE_TYPE', `cannot read timestamp ${JSON.stringify(text)}`)
  const month = Number(m[2])
  const day = Number(m[3])
  if (month === 0 || day === 0) return { iso: null, coerced: `zero date ${text} -> NULL` }
  let year = Number(m[1])
  if (m[12]) year = 1 - year
  let hh = Number(m[4])
  let mi = Number(m[5])
  let ss = Number(m[6])
  const frac = (m[7] ?? '').padEnd(6, '0')
  let mo = month
  let dd = day
  const offset = m[8] ? (m[8] === '-' ? -1 : 1) * (Number(m[9]) * 3600 + Number(m[10] ?? 0) * 60 + Number(m[11] ?? 0)) : 0
  if (offset !== 0) {
    const d = new Date(0)
    d.setUTCFullYear(year, month - 1, day)
    d.setUTCHours(hh, mi, ss - offset, 0)
    year = d.getUTCFullYear()
    mo = d.getUTCMonth() + 1
    dd = d.getUTCDate()
    hh = d.getUTCHours()
    mi = d.getUTCMinutes()
    ss = d.getUTCSeconds()
  }
  return { iso: `${isoYear(year)}-${pad2(mo)}-${pad2(dd)}T${pad2(hh)}:${pad2(mi)}:${pad2(ss)}.${frac}Z` }
}

// What we store (and what the service writes): ISO with 3 or 6 fraction digits, 'Z'.
const STORED_TS = /^([+-]\d{6}|\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?Z$/

/** Canonical timestamp of a stored ISO text, or WRONG_TYPE. */
export function isoFromStoredTimestamp(v: string): string {
  if (v === 'infinity' || v === '-infinity') return v
  const m = STORED_TS.exec(v)
  if (!m) return WRONG_TYPE + v
  return `${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}.${(m[7] ?? '').padEnd(6, '0')}Z`
}

/** The stored form: the service's millisecond ISO when the microseconds are zero, else all six digits. */
export function storedTimestamp(iso: string): string {
  // A canonical timestamp always has six fraction digits: '.ddd000Z' keeps three.
  const n = iso.length
  return n >= 8 && iso.charCodeAt(n - 8) === 46 && iso.endsWith('000Z') && isDigit(iso.charCodeAt(n - 7)) && isDigit(iso.charCodeAt(n - 6)) && isDigit(iso.charCodeAt(n - 5)) ? iso.slice(0, -4) + 'Z' : iso
}

const isDigit = (c: number) => c >= 48 && c <= 57

const SOURCE_DATE = /^(\d{4,})-(\d{2})-(\d{2})( BC)?$/

export function isoFromSourceDate(text: string): TsResult {
  if (PLAIN_DATE.test(text)) return { iso: text }
  return isoFromSourceDateGeneral(text)
}

/** isoFromSourceDate for any text (what the fast path must agree with). */
export function isoFromSourceDateGeneral(text: string): TsResult {
  if (text === 'infinity' || text === '-infinity') return { iso: text }
  const m = SOURCE_DATE.exec(text)
  if (!m) throw new OpsError('OPS_E_MIGRATE_TYPE', `cannot read date ${JSON.stringify(text)}`)
  if (Number(m[2]) === 0 || Number(m[3]) === 0) return { iso: null, coerced: `zero date ${text} -> NULL` }
  const year = m[4] ? 1 - Number(m[1]) : Number(m[1])
  return { iso: `${isoYear(year)}-${m[2]}-${m[3]}` }
}

/** Milliseconds since the epoch of a canonical timestamp (what the service keeps in INTEGER columns). */
export function epochMsFromIso(iso: string): { ms: string | null; coerced?: string } {
  if (iso === 'infinity' || iso === '-infinity') return { ms: null, coerced: `${iso} has no epoch milliseconds -> NULL` }
  const m = STORED_TS.exec(iso)
  if (!m) throw new OpsError('OPS_E_MIGRATE_TYPE', `not a canonical timestamp: ${iso}`)
  const y = Number(m[1])
  const d = new Date(0)
  d.setUTCFullYear(y, Number(m[2]) - 1, Number(m[3]))
  const frac = (m[7] ?? '').padEnd(6, '0')
  d.setUTCHours(Number(m[4]), Number(m[5]), Number(m[6]), Number(frac.slice(0, 3)))
  const sub = frac.slice(3)
  return { ms: String(d.getTime()), coerced: sub === '000' ? undefined : `microseconds .${frac} dropped: stored as epoch milliseconds` }
}

// ---------------------------------------------------------------------------------------------
// Codecs

const INT64_MAX = 9223372036854775807n
const INT64_MIN = -9223372036854775808n

function intValue(canon: string): number | bigint {
  if (canon.length <= 15) return Number(canon)
  const b = BigInt(canon)
  if (b > INT64_MAX || b < INT64_MIN) {
    throw new OpsError('OPS_E_MIGRATE_TYPE', `integer ${canon} does not fit SQLite's 64-bit INTEGER; map the column with "type": "text" to keep its digits`)
  }
  return b
}

function wrong(v: unknown): string {
  return WRONG_TYPE + (Buffer.isBuffer(v) ? 'blob' : typeof v)
}

function intFromSqlite(v: unknown): string {
  if (typeof v === 'bigint') return v.toString()
  if (typeof v === 'number' && Number.isInteger(v)) return String(v)
  return wrong(v)
}

function textFromSqlite(v: unknown): string {
  return typeof v === 'string' ? v : wrong(v)
}

class Codec implements ColumnCodec {
  coerced: string | undefined
  constructor(
    readonly kind: Kind,
    readonly target: SqliteType,
    readonly canon: (this: Codec, text: string) => string | null,
    readonly store: (canon: string, text: string) => SqliteValue,
    readonly fromSqlite: (v: unknown) => string,
  ) {}
}

/** The codec for a column of this rule stored in a SQLite column of type `target`. */
export function codecFor(rule: Pick<TypeRule, 'kind' | 'boolFromInt' | 'unsigned64'>, target: SqliteType): ColumnCodec {
  if (!storable(rule.kind, target)) {
    throw new OpsError('OPS_E_MIGRATE_MAPPING', `a ${rule.kind} value cannot be stored in a SQLite ${target} column without losing it; map it to a column of type ${ALLOWED[rule.kind].join(' or ')}`)
  }
  return kindCodec(rule.kind, target, Boolean(rule.boolFromInt))
}

function kindCodec(kind: Kind, target: SqliteType, boolFromInt: boolean): ColumnCodec {
  switch (kind) {
    case 'int':
      return new Codec(kind, target, normalizeInt, target === 'TEXT' ? (c) => c : intValue, target === 'TEXT' ? textFromSqlite : intFromSqlite)
    case 'decimal':
      if (target === 'INTEGER') {
        return new Codec(kind, target, normalizeDecimal, (c) => {
          if (!/^-?\d+$/.test(c)) throw new OpsError('OPS_E_MIGRATE_TYPE', `decimal ${c} has a fraction (or is not a number) and the target column is INTEGER; map it to a TEXT column`)
          return intValue(c)
        }, intFromSqlite)
      }
      return new Codec(kind, target, normalizeDecimal, (_c, text) => text.trim(), (v) => (typeof v === 'string' ? normalizeDecimal(v) : wrong(v)))
    case 'double':
      if (target === 'TEXT') return new Codec(kind, target, (t) => canonDouble(Number(t)), (c) => c, textFromSqlite)
      return new Codec(
        kind,
        target,
        (t) => canonDouble(Number(t)),
        (c) => (c === 'NaN' ? 'NaN' : Number(c)),
        (v) => (typeof v === 'number' ? canonDouble(v) : v === 'NaN' ? 'NaN' : wrong(v)),
      )
    case 'bool':
      return new Codec(
        kind,
        target,
        function (this: Codec, t: string) {
          if (t === 't' || t === '1' || t === 'true') return 't'
          if (t === 'f' || t === '0' || t === 'false') return 'f'
          if (boolFromInt && /^-?\d+$/.test(t)) {
            this.coerced = `tinyint(1) value ${t} -> 1 (true)`
            return 't'
          }
          throw new OpsError('OPS_E_MIGRATE_TYPE', `cannot read boolean ${JSON.stringify(t)}`)
        },
        (c) => (c === 't' ? 1 : 0),
        (v) => (v === 1 || v === 1n ? 't' : v === 0 || v === 0n ? 'f' : wrong(v)),
      )
    case 'timestamp':
      return new Codec(
        kind,
        target,
        function (this: Codec, t: string) {
          const r = isoFromSourceTimestamp(t)
          if (r.coerced) this.coerced = r.coerced
          return r.iso
        },
        storedTimestamp,
        (v) => (typeof v === 'string' ? isoFromStoredTimestamp(v) : wrong(v)),
      )
    case 'date':
      return new Codec(
        kind,
        target,
        function (this: Codec, t: string) {
          const r = isoFromSourceDate(t)
          if (r.coerced) this.coerced = r.coerced
          return r.iso
        },
        (c) => c,
        textFromSqlite,
      )
    case 'uuid':
      return new Codec(kind, target, (t) => t.toLowerCase(), (c) => c, textFromSqlite)
    case 'bytes':
      return new Codec(kind, target, (t) => t.toLowerCase(), (c) => Buffer.from(c, 'hex'), (v) => (Buffer.isBuffer(v) ? v.toString('hex') : wrong(v)))
    case 'json':
    case 'text':
      return new Codec(kind, target, (t) => t, (c) => c, textFromSqlite)
  }
}

/** A mapping transform: canonical text of one kind -> canonical text of the kind it produces. */
export interface TransformFn {
  readonly produces: Kind
  readonly reversible: boolean
  apply(canon: string): { canon: string | null; coerced?: string }
}

export function transformFor(name: Transform, from: Kind): TransformFn {
  switch (name) {
    case 'sha256':
      return { produces: 'text', reversible: false, apply: (c) => ({ canon: crypto.createHash('sha256').update(c).digest('hex') }) }
    case 'epoch-ms':
      if (from !== 'timestamp') throw new OpsError('OPS_E_MIGRATE_MAPPING', `transform epoch-ms needs a timestamp column, not ${from}`)
      return {
        produces: 'int',
        reversible: true,
        apply: (c) => {
          const r = epochMsFromIso(c)
          return { canon: r.ms, coerced: r.coerced }
        },
      }
  }
}
