// Every PostgreSQL type rule, with its edge values, through a real PostgreSQL 15 into SQLite and
// into DuckDB: what lands in each file is checked value by value, the copy verifies, and what a
// target cannot hold is reported, never silently changed.
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import Database from 'better-sqlite3'
import pg from 'pg'
import { startPostgres, type PostgresServer } from '../../../scripts/lib/loopback-servers.ts'
import { runMigration, type MigrationOutcome } from '../../../packages/migrate/src/run-migration.ts'
import { duckAll, scratch, sqliteAll, type Scratch } from './harness.ts'

const BIG_JSON = JSON.stringify({ items: Array.from({ length: 4000 }, (_, i) => ({ i, name: `item ${i} 🌊`, price: '12.50' })) })

const SCHEMA = `
SET TimeZone = 'Europe/Berlin';
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE TABLE edge (
  id int PRIMARY KEY,
  i2 smallint, i4 integer, i8 bigint,
  n numeric(38,10), nu numeric, m money,
  f4 real, f8 double precision,
  b boolean,
  tz timestamptz, ts timestamp, d date,
  j json, jb jsonb, u uuid, by bytea,
  t text, ch char(5),
  arr int[], tarr text[], e mood, iv interval, tm time
);
INSERT INTO edge VALUES
  (1, -32768, -2147483648, -9223372036854775808, '-9999999999999999999999999999.9999999999', '0.000000000000000000000000000001', '-92233720368547758.08',
      '-3.4028235e38', '-1.7976931348623157e308', false, '2024-03-31 01:59:59.999999+01', '0001-01-01 00:00:00', '0001-01-01',
      '{"b":1, "a": [1.50, 12345678901234567890]}', '{"b":1, "a": [1.50, 12345678901234567890]}', 'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11', '\\x000102ff',
      '', '', '{1,NULL,3}', '{"a,b","c\\"d",NULL}', 'sad', '1 year 2 mons 3 days 04:05:06.789', '00:00:00'),
  (2, 32767, 2147483647, 9223372036854775807, '9999999999999999999999999999.9999999999', '123456789012345678901234567890.123456789012345678901234567890', '92233720368547758.07',
      '3.4028235e38', '5e-324', true, '2024-10-27 02:30:00.000001+02', '2024-03-10 02:30:00', '9999-12-31',
      '[]', '{}', 'ffffffff-ffff-ffff-ffff-ffffffffffff', '\\x',
      'a\tb\nc\\d "q" ''s''', 'abc', '{}', '{}', 'happy', '-00:00:00.000001', '23:59:59.999999'),
  (3, 0, 0, 9007199254740993, 'NaN', 'NaN', '0', 'NaN', 'NaN', NULL, 'infinity', 'infinity', 'infinity',
      'null', 'null', NULL, NULL, '🌊 𝕆𝕔𝕖𝕒𝕟 😀 ' || chr(1114111), NULL, NULL, NULL, NULL, NULL, NULL),
  (4, NULL, NULL, -9007199254740993, '0.0000000001', 'Infinity', NULL, '-Infinity', 'Infinity', NULL, '-infinity', '-infinity', '-infinity',
      NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
  (5, NULL, NULL, NULL, '-0.0000000000', '-Infinity', NULL, '-0', '-Infinity', NULL, '2024-02-29 12:00:00.000001+00', '2000-02-29 23:59:59.999999', '2024-02-29',
      NULL, '${BIG_JSON}', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
  (6, NULL, NULL, NULL, NULL, NULL, NULL, NULL, '0.1', NULL, '0044-03-15 12:00:00+00 BC', '0044-03-15 12:00:00 BC', '0044-03-15 BC',
      NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
  (7, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
  (8, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, '0001-12-31 23:59:59.5+00 BC', '12345-06-07 08:09:10', '10000-01-01',
      NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
CREATE TABLE edge_duck (LIKE edge INCLUDING ALL);
INSERT INTO edge_duck SELECT * FROM edge;
CREATE TABLE local_times (id int PRIMARY KEY, wall timestamp NOT NULL);
INSERT INTO local_times VALUES (1, '2024-03-31 02:30:00'), (2, '2024-10-27 02:30:00'), (3, '2024-07-01 12:00:00'), (4, '2024-01-01 00:00:00.000001');
`

const MAPPING = { preset: 'none' as const, tables: { edge_duck: { target: 'duckdb' as const }, local_times: { timeZone: 'Europe/Berlin' } } }

describe('PostgreSQL type rules, edge values, real server', () => {
  let srv: PostgresServer
  let client: pg.Client
  let s: Scratch
  let out: MigrationOutcome

  before(async () => {
    srv = await startPostgres()
    client = new pg.Client({ connectionString: srv.url })
    await client.connect()
    await client.query(SCHEMA)
    s = scratch('migrate-types-pg')
    out = await runMigration(s.options(srv.url, { mapping: MAPPING, chunkRows: 2, duckdbChunkRows: 3 }))
  })

  after(async () => {
    await client?.end()
    await srv?.stop()
    s?.remove()
  })

  const row = (id: number) => sqliteAll(s.sqlite, 'SELECT * FROM edge WHERE id = ?', id)[0] as unknown[]
  const cols = () => sqliteAll(s.sqlite, 'SELECT name FROM pragma_table_info(?)', 'edge').map((r) => r[0] as string)
  const cell = (id: number, c: string) => row(id)[cols().indexOf(c)]

  it('copies and verifies every table', () => {
    assert.equal(out.report.ok, true)
    for (const t of out.report.tables) assert.equal(t.status, 'verified', `${t.table}: ${t.mismatches.join('; ')}`)
  })

  it('integers: min/max of each width and beyond 2^53, exact', () => {
    assert.deepEqual([cell(1, 'i2'), cell(1, 'i4'), cell(1, 'i8')], [-32768n, -2147483648n, -9223372036854775808n])
    assert.deepEqual([cell(2, 'i2'), cell(2, 'i4'), cell(2, 'i8')], [32767n, 2147483647n, 9223372036854775807n])
    assert.equal(cell(3, 'i8'), 9007199254740993n)
    assert.equal(cell(4, 'i8'), -9007199254740993n)
  })

  it('numeric(38,10), unconstrained numeric and money: the exact digits, NaN and infinities as text', () => {
    assert.equal(cell(1, 'n'), '-9999999999999999999999999999.9999999999')
    assert.equal(cell(2, 'n'), '9999999999999999999999999999.9999999999')
    assert.equal(cell(2, 'nu'), '123456789012345678901234567890.123456789012345678901234567890')
    assert.equal(cell(1, 'nu'), '0.000000000000000000000000000001')
    assert.deepEqual([cell(3, 'n'), cell(4, 'nu'), cell(5, 'nu')], ['NaN', 'Infinity', '-Infinity'])
    assert.equal(cell(1, 'm'), '-92233720368547758.08')
    assert.equal(cell(5, 'n'), '0.0000000000', '-0 stays zero')
  })

  it('floats: extremes, subnormal, NaN (as text), ±Infinity', () => {
    assert.equal(cell(1, 'f4'), -3.4028235e38)
    assert.equal(cell(1, 'f8'), -1.7976931348623157e308)
    assert.equal(cell(2, 'f8'), 5e-324)
    assert.equal(cell(3, 'f4'), 'NaN')
    assert.equal(cell(3, 'f8'), 'NaN')
    assert.equal(cell(4, 'f8'), Infinity)
    assert.equal(cell(4, 'f4'), -Infinity)
    assert.equal(cell(6, 'f8'), 0.1)
  })

  it('timestamps: UTC, microseconds, DST transitions, leap days, infinity, BC', () => {
    assert.equal(cell(1, 'tz'), '2024-03-31T00:59:59.999999Z')
    assert.equal(cell(2, 'tz'), '2024-10-27T00:30:00.000001Z')
    assert.equal(cell(5, 'tz'), '2024-02-29T12:00:00.000001Z')
    assert.equal(cell(5, 'ts'), '2000-02-29T23:59:59.999999Z')
    assert.equal(cell(2, 'ts'), '2024-03-10T02:30:00.000Z', 'a naive timestamp keeps its wall time')
    assert.equal(cell(1, 'ts'), '0001-01-01T00:00:00.000Z')
    assert.deepEqual([cell(3, 'tz'), cell(4, 'tz'), cell(3, 'd')], ['infinity', '-infinity', 'infinity'])
    assert.equal(cell(6, 'tz'), '-000043-03-15T12:00:00.000Z')
    assert.deepEqual([cell(5, 'd'), cell(2, 'd'), cell(6, 'd')], ['2024-02-29', '9999-12-31', '-000043-03-15'])
  })

  it('naive timestamps written in Europe/Berlin are converted as PostgreSQL does, across both DST changes', async () => {
    const expected = (await client.query(`SELECT id, to_char((wall AT TIME ZONE 'Europe/Berlin') AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS utc FROM local_times ORDER BY id`)).rows
    const got = sqliteAll(s.sqlite, 'SELECT id, wall FROM local_times ORDER BY id')
    assert.equal(got[2]![1], '2024-07-01T10:00:00.000Z')
    assert.equal(got[3]![1], '2023-12-31T23:00:00.000001Z')
    for (const [i, r] of expected.entries()) assert.equal(String(got[i]![1]).replace(/\.(\d{3})Z$/, '.$1000Z'), r.utc)
  })

  it('json verbatim, jsonb as PostgreSQL normalized it (big numbers exact), large JSON whole', () => {
    assert.equal(cell(1, 'j'), '{"b":1, "a": [1.50, 12345678901234567890]}')
    assert.equal(cell(1, 'jb'), '{"a": [1.50, 12345678901234567890], "b": 1}')
    assert.equal(cell(3, 'j'), 'null', 'JSON null is not SQL NULL')
    assert.equal(cell(4, 'j'), null)
    assert.deepEqual(JSON.parse(cell(5, 'jb') as string), JSON.parse(BIG_JSON))
  })

  it('uuid lowercase, bytea with zero bytes, empty bytea, text with any character, char padding, empty vs NULL', () => {
    assert.equal(cell(1, 'u'), 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11')
    assert.deepEqual(cell(1, 'by'), Buffer.from([0, 1, 2, 255]))
    assert.deepEqual(cell(2, 'by'), Buffer.alloc(0))
    assert.equal(cell(2, 't'), `a\tb\nc\\d "q" 's'`)
    assert.equal(cell(3, 't'), '🌊 𝕆𝕔𝕖𝕒𝕟 😀 \u{10FFFF}')
    assert.equal(cell(1, 't'), '')
    assert.equal(cell(7, 't'), null)
    assert.equal(cell(1, 'ch'), '     ')
    assert.equal(cell(2, 'ch'), 'abc  ')
  })

  it('arrays as JSON, enums as labels, intervals and times as PostgreSQL writes them', () => {
    assert.equal(cell(1, 'arr'), '[1,null,3]')
    assert.equal(cell(1, 'tarr'), '["a,b","c\\"d",null]')
    assert.equal(cell(2, 'arr'), '[]')
    assert.equal(cell(2, 'e'), 'happy')
    assert.equal(cell(1, 'iv'), '1 year 2 mons 3 days 04:05:06.789')
    assert.equal(cell(2, 'tm'), '23:59:59.999999')
    const db = new Database(s.sqlite)
    try {
      assert.throws(() => db.prepare("INSERT INTO edge (id, e) VALUES (99, 'angry')").run(), /CHECK constraint failed/, 'the enum keeps its labels in SQLite')
    } finally {
      db.close()
    }
  })

  it('DuckDB: exact DECIMAL(38,10), BIGINT extremes, infinities, UUID, BLOB; what it cannot hold is NULL and reported', async () => {
    const rows = await duckAll(s.duckdb, 'SELECT id, i8::VARCHAR, n::VARCHAR, nu, f8::VARCHAR, tz::VARCHAR, d::VARCHAR, u::VARCHAR, hex("by"), jb, arr FROM edge_duck ORDER BY id')
    const byId = new Map(rows.map((r) => [Number(r[0]), r]))
    assert.deepEqual(byId.get(1)!.slice(1, 3), ['-9223372036854775808', '-9999999999999999999999999999.9999999999'])
    assert.deepEqual(byId.get(2)!.slice(1, 3), ['9223372036854775807', '9999999999999999999999999999.9999999999'])
    assert.equal(byId.get(3)![2], null, 'NaN does not fit DECIMAL')
    assert.equal(byId.get(3)![3], 'NaN', 'unconstrained numeric is text in DuckDB')
    assert.equal(byId.get(2)![4], '5e-324')
    assert.equal(byId.get(1)![5], '2024-03-31 00:59:59.999999')
    assert.equal(byId.get(3)![5], 'infinity')
    assert.equal(byId.get(6)![5], null, 'BC does not fit a DuckDB TIMESTAMP here')
    assert.equal(byId.get(1)![7], 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11')
    assert.equal(byId.get(1)![8], '000102FF')
    assert.equal(byId.get(1)![10], '[1,null,3]')
    const t = out.report.tables.find((x) => x.table === 'edge_duck')!
    assert.equal(t.coercionCounts.n, 1)
    assert.ok(t.coercions.some((c) => c.column === 'n' && c.key === '["3"]' && c.original === 'NaN'))
    assert.ok(t.coercions.some((c) => c.column === 'tz' && c.key === '["6"]'))
  })

  it('reverse sync: every edge row changed on the new side goes back to PostgreSQL exactly as it was', async () => {
    const snapshot = async () => (await client.query<{ r: string }>('SELECT e::text AS r FROM edge e ORDER BY id')).rows.map((x) => x.r)
    const before = await snapshot()
    // No mapping given from here on: the journal's (the copy's, with its time zone and DuckDB target) is used.
    await runMigration(s.options(srv.url, { mode: 'mark-cutover' }))
    // PostgreSQL loses the rows, SQLite rewrites every one (its change triggers record each): the
    // reverse must recreate them all from SQLite's values alone.
    await client.query('DELETE FROM edge')
    const db = new Database(s.sqlite)
    try {
      assert.equal(db.prepare('UPDATE edge SET id = id').run().changes, before.length)
    } finally {
      db.close()
    }
    const rev = await runMigration(s.options(srv.url, { mode: 'reverse' }))
    assert.equal(rev.report.reverse?.find((r) => r.table === 'edge')?.upserted, before.length, JSON.stringify(rev.report.reverse))
    assert.deepEqual(await snapshot(), before)
  })
})
