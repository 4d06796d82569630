// The written-down type rules, one by one: the kind, where it lands in SQLite and DuckDB, how the
// source reads it, and which values the DuckDB cast reports as coerced.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { duckdbCast, duckdbCoercedWhere, ruleFor, textRule, type SourceColumn } from '../../../packages/migrate/src/values/type-rules.ts'

const pg = (udt: string, extra: Partial<SourceColumn> = {}): SourceColumn => ({ name: 'c', dataType: udt, udt, nullable: true, precision: null, scale: null, ...extra })
const my = (dataType: string, columnType: string, extra: Partial<SourceColumn> = {}): SourceColumn => ({ name: 'c', dataType, udt: columnType, nullable: true, precision: null, scale: null, ...extra })

describe('PostgreSQL type rules', () => {
  it('integers are exact integers, int8 via BigInt', () => {
    for (const [udt, duck] of [['int2', 'SMALLINT'], ['int4', 'INTEGER'], ['int8', 'BIGINT']] as const) {
      const r = ruleFor('postgres', pg(udt))
      assert.equal(r.kind, 'int')
      assert.equal(r.sqliteType, 'INTEGER')
      assert.equal(r.duckdbType, duck)
      assert.equal(r.rangeOrdered, true)
    }
    assert.match(ruleFor('postgres', pg('int8')).rule, /2\^53/)
  })

  it('numeric stays exact decimal text, DECIMAL(p,s) in DuckDB up to 38 digits, never a float', () => {
    const r = ruleFor('postgres', pg('numeric', { precision: 38, scale: 10 }))
    assert.equal(r.kind, 'decimal')
    assert.equal(r.sqliteType, 'TEXT')
    assert.equal(r.duckdbType, 'DECIMAL(38,10)')
    assert.equal(ruleFor('postgres', pg('numeric')).duckdbType, 'VARCHAR')
    assert.equal(ruleFor('postgres', pg('numeric', { precision: 60, scale: 2 })).duckdbType, 'VARCHAR')
    assert.equal(ruleFor('postgres', pg('money')).select('"m"'), '"m"::numeric::text')
  })

  it('timestamptz is read in UTC; a naive timestamp is its wall time, or converted from the mapped zone', () => {
    assert.equal(ruleFor('postgres', pg('timestamptz')).select('"t"'), `("t" AT TIME ZONE 'UTC')`)
    assert.equal(ruleFor('postgres', pg('timestamp')).select('"t"'), '"t"')
    const berlin = ruleFor('postgres', pg('timestamp'), { timeZone: 'Europe/Berlin' })
    assert.equal(berlin.select('"t"'), `(("t" AT TIME ZONE 'Europe/Berlin') AT TIME ZONE 'UTC')`)
    assert.match(berlin.rule, /Europe\/Berlin/)
    assert.equal(ruleFor('postgres', pg('timestamp'), { timeZone: 'UTC' }).select('"t"'), '"t"')
  })

  it('arrays become JSON via array_to_json, bytea is read as hex, enums as labels', () => {
    const a = ruleFor('postgres', pg('_int4', { dataType: 'ARRAY' }))
    assert.equal(a.kind, 'json')
    assert.equal(a.select('"a"'), 'array_to_json("a")::text')
    const b = ruleFor('postgres', pg('bytea'))
    assert.equal(b.kind, 'bytes')
    assert.equal(b.sqliteType, 'BLOB')
    assert.equal(b.select('"b"'), `encode("b", 'hex')`)
    const e = ruleFor('postgres', pg('mood', { dataType: 'USER-DEFINED', enumLabels: ['sad', 'ok'] }))
    assert.equal(e.kind, 'text')
  })

  it('text keys keep their order only under a byte-wise collation; uuid keys always', () => {
    assert.equal(ruleFor('postgres', pg('text')).rangeOrdered, false)
    assert.equal(ruleFor('postgres', pg('text'), { byteOrderedText: true }).rangeOrdered, true)
    assert.equal(ruleFor('postgres', pg('uuid')).rangeOrdered, true)
    assert.equal(ruleFor('postgres', pg('timestamptz')).rangeOrdered, false)
  })

  it('an unknown type is kept as text, with a warning', () => {
    const r = ruleFor('postgres', pg('geometry', { dataType: 'USER-DEFINED' }))
    assert.equal(r.kind, 'text')
    assert.match(r.warning ?? '', /no rule for type geometry/)
  })
})

describe('MySQL type rules', () => {
  it('tinyint(1) is a boolean whose other values are coerced; other tinyints are integers', () => {
    const b = ruleFor('mysql', my('tinyint', 'tinyint(1)'))
    assert.equal(b.kind, 'bool')
    assert.equal(b.boolFromInt, true)
    assert.equal(ruleFor('mysql', my('tinyint', 'tinyint(4)')).kind, 'int')
    assert.equal(ruleFor('mysql', my('tinyint', 'tinyint(1) unsigned')).kind, 'int')
  })

  it('bigint unsigned is exact in DuckDB (UBIGINT) and flagged for SQLite', () => {
    const r = ruleFor('mysql', my('bigint', 'bigint(20) unsigned'))
    assert.equal(r.duckdbType, 'UBIGINT')
    assert.equal(r.unsigned64, true)
    assert.equal(ruleFor('mysql', my('bigint', 'bigint(20)')).unsigned64, false)
  })

  it('float is read as a double (its text rounds to 6 digits); binaries as hex; zero-date types forced nullable', () => {
    assert.equal(ruleFor('mysql', my('float', 'float')).select('`f`'), 'CAST(`f` AS DOUBLE)')
    assert.equal(ruleFor('mysql', my('varbinary', 'varbinary(16)')).select('`b`'), 'HEX(`b`)')
    for (const t of ['date', 'datetime', 'timestamp']) assert.equal(ruleFor('mysql', my(t, t)).forceNullable, true)
    assert.equal(ruleFor('mysql', my('decimal', 'decimal(65,30)', { precision: 65, scale: 30 })).duckdbType, 'VARCHAR')
  })

  it("MariaDB's JSON (longtext + json_valid) is json; plain longtext is text", () => {
    assert.equal(ruleFor('mysql', my('longtext', 'longtext', { isJson: true })).kind, 'json')
    assert.equal(ruleFor('mysql', my('longtext', 'longtext')).kind, 'text')
    assert.equal(ruleFor('mysql', my('json', 'json')).kind, 'json')
  })

  it('the text override reads any column as its text form', () => {
    assert.equal(textRule('mysql', my('bigint', 'bigint unsigned')).select('`x`'), 'CAST(`x` AS CHAR)')
    assert.equal(textRule('postgres', pg('int8')).select('"x"'), '"x"::text')
  })
})

describe('DuckDB casts and coercion checks', () => {
  it('casts from the staged text with TRY_CAST, so unrepresentable values become NULL and are found', () => {
    const dec = ruleFor('postgres', pg('numeric', { precision: 10, scale: 2 }))
    assert.equal(duckdbCast(dec, 's0'), 'TRY_CAST(s0 AS DECIMAL(10,2))')
    assert.equal(duckdbCoercedWhere(dec, 's0'), 's0 IS NOT NULL AND TRY_CAST(s0 AS DECIMAL(10,2)) IS NULL')
    const bool = ruleFor('mysql', my('tinyint', 'tinyint(1)'))
    assert.equal(duckdbCast(bool, 's1'), "(s1 <> '0')")
    assert.equal(duckdbCoercedWhere(bool, 's1'), "s1 NOT IN ('0', '1')")
    assert.equal(duckdbCoercedWhere(ruleFor('postgres', pg('text')), 's2'), undefined)
    assert.equal(duckdbCast(ruleFor('postgres', pg('bytea')), 's3'), 'from_hex(s3)')
  })
})
