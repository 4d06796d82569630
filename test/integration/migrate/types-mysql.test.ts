// Every MySQL/MariaDB type rule, with its edge values, through a real MariaDB into SQLite and
// DuckDB: zero dates become NULL and are reported, tinyint(1) is a boolean, floats are exact,
// keys beyond 2^53 page correctly, and an unsigned 64-bit value SQLite cannot hold is refused by
// key (and kept as digits when the mapping says text).
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import mysql from 'mysql2/promise'
import { startMariadb, type MariadbServer } from '../../../scripts/lib/loopback-servers.ts'
import { connectSource, runMigration, type MigrationOutcome } from '../../../packages/migrate/src/run-migration.ts'
import { candidateWhere, judge } from '../../../packages/migrate/src/plan/id-check.ts'
import { duckAll, scratch, sqliteAll, type Scratch } from './harness.ts'

const BIG_JSON = JSON.stringify({ items: Array.from({ length: 3000 }, (_, i) => ({ i, label: `x${i} 😀` })) })
const BLOB = Buffer.alloc(100_000, 7)

const SCHEMA = [
  `SET SESSION sql_mode = ''`,
  `CREATE TABLE edge (
    id INT PRIMARY KEY,
    ti TINYINT, b TINYINT(1), si SMALLINT, mi MEDIUMINT, i INT, bi BIGINT, ubi BIGINT UNSIGNED,
    de DECIMAL(38,10), dm DECIMAL(65,30), f FLOAT, d DOUBLE,
    dt DATETIME(6), ts TIMESTAMP(6) NULL DEFAULT NULL, da DATE, y YEAR, tm TIME(6),
    j JSON, u UUID, bin VARBINARY(16), bl MEDIUMBLOB,
    t TEXT, vc VARCHAR(20), e ENUM('sad','ok','happy'), st SET('a','b','c'), bt BIT(10)
  ) DEFAULT CHARSET utf8mb4`,
  `INSERT INTO edge VALUES
    (1, -128, 0, -32768, -8388608, -2147483648, -9223372036854775808, 0,
        -9999999999999999999999999999.9999999999, -99999999999999999999999999999999999.999999999999999999999999999999, -3.40282e38, -1.7976931348623157e308,
        '1000-01-01 00:00:00', '1970-01-01 00:00:01', '1000-01-01', 1901, '-838:59:59',
        '{"b":1,"a":[1.50,12345678901234567890]}', '123e4567-e89b-12d3-a456-426614174000', 0x000102FF, '',
        '', '', 'sad', '', b'0000000000'),
    (2, 127, 1, 32767, 8388607, 2147483647, 9223372036854775807, 9223372036854775807,
        9999999999999999999999999999.9999999999, 99999999999999999999999999999999999.999999999999999999999999999999, 3.14159274, 4.9406564584124654e-324,
        '9999-12-31 23:59:59.999999', '2038-01-19 03:14:07.999999', '9999-12-31', 2155, '838:59:59.000001',
        ?, 'FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF', 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF, ?,
        '🌊 𝕆𝕔𝕖𝕒𝕟 😀 ${String.fromCodePoint(0x10ffff)}', 'a\\tb\\nc\\\\d', 'happy', 'a,c', b'1111111111'),
    (3, 0, 2, 0, 0, 0, 9007199254740993, 9007199254740993, 0, 0, 0, 0.1,
        '0000-00-00 00:00:00', '0000-00-00 00:00:00', '0000-00-00', 0, '00:00:00', 'null', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
    (4, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
        '2024-02-29 23:59:59.999999', '2024-03-31 01:30:00.000001', '2024-00-15', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
    (5, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)`,
  `CREATE TABLE edge_duck LIKE edge`,
  `INSERT INTO edge_duck SELECT * FROM edge`,
  `UPDATE edge_duck SET ubi = 18446744073709551615 WHERE id = 2`,
  `CREATE TABLE big_unsigned (id INT PRIMARY KEY, v BIGINT UNSIGNED NOT NULL)`,
  `INSERT INTO big_unsigned VALUES (1, 1), (2, 18446744073709551615)`,
  `CREATE TABLE bigkeys (id BIGINT UNSIGNED PRIMARY KEY, v INT NOT NULL)`,
  `INSERT INTO bigkeys VALUES (9007199254740992, 1), (9007199254740993, 2), (9007199254740994, 3), (9007199254740995, 4), (18446744073709551615, 5)`,
  `CREATE TABLE names (name VARCHAR(40) PRIMARY KEY, n INT NOT NULL) COLLATE utf8mb4_unicode_ci`,
  `INSERT INTO names VALUES ('apple', 1), ('Banana', 2), ('cherry', 3), ('Äpfel', 4), ('zebra', 5), ('Ørsted', 6)`,
]

describe('MySQL/MariaDB type rules, edge values, real server', () => {
  let srv: MariadbServer
  let conn: mysql.Connection
  let s: Scratch
  let out: MigrationOutcome

  before(async () => {
    srv = await startMariadb()
    conn = await mysql.createConnection({ uri: srv.url, charset: 'utf8mb4' })
    for (const sql of SCHEMA) await conn.query(sql, sql.includes('?') ? [BIG_JSON, BLOB] : [])
    s = scratch('migrate-types-my')
  })

  after(async () => {
    await conn?.end()
    await srv?.stop()
    s?.remove()
  })

  const cell = (id: number, c: string) => sqliteAll(s.sqlite, `SELECT "${c}" FROM edge WHERE id = ?`, id)[0]![0]

  it('refuses an unsigned 64-bit value SQLite cannot hold, naming the table, key and the fix', async () => {
    await assert.rejects(
      runMigration(s.options(srv.url, { mapping: { preset: 'none', include: ['big_unsigned'] }, journal: `${s.dir}/refused.db`, sqlite: `${s.dir}/refused` })),
      (e: Error & { code?: string }) => e.code === 'OPS_E_MIGRATE_TYPE' && /big_unsigned, row \["2"\]/.test(e.message) && /"type": "text"/.test(e.message),
    )
    // The refused table exists in that target, made with an INTEGER column; another mapping is refused there too.
    await assert.rejects(
      runMigration(s.options(srv.url, { mapping: { preset: 'none', include: ['big_unsigned'], tables: { big_unsigned: { columns: { id: 'id', v: { from: 'v', type: 'text' } } } } }, journal: `${s.dir}/refused2.db`, sqlite: `${s.dir}/refused` })),
      (e: Error & { code?: string }) => e.code === 'OPS_E_TARGET' && /big_unsigned exists as \(id INTEGER, v INTEGER\)/.test(e.message),
    )
  })

  it('copies and verifies every table', async () => {
    out = await runMigration(
      s.options(srv.url, {
        mapping: { preset: 'none', tables: { edge_duck: { target: 'duckdb' }, bigkeys: { target: 'duckdb' }, big_unsigned: { columns: { id: 'id', v: { from: 'v', type: 'text' } } } } },
        chunkRows: 1,
        duckdbChunkRows: 1,
      }),
    )
    assert.equal(out.report.ok, true)
    for (const t of out.report.tables) assert.equal(t.status, 'verified', `${t.table}: ${t.mismatches.join('; ')}`)
  })

  it('integers of every width, exact past 2^53; tinyint(1) as 0/1 with other values reported', () => {
    assert.deepEqual([cell(1, 'ti'), cell(1, 'si'), cell(1, 'mi'), cell(1, 'i'), cell(1, 'bi')], [-128n, -32768n, -8388608n, -2147483648n, -9223372036854775808n])
    assert.deepEqual([cell(2, 'bi'), cell(2, 'ubi'), cell(3, 'bi')], [9223372036854775807n, 9223372036854775807n, 9007199254740993n])
    assert.deepEqual([cell(1, 'b'), cell(2, 'b'), cell(3, 'b')], [0n, 1n, 1n])
    const t = out.report.tables.find((x) => x.table === 'edge')!
    assert.ok(t.coercions.some((c) => c.column === 'b' && c.key === '["3"]' && c.original === '2'))
    assert.deepEqual([cell(1, 'y'), cell(2, 'y'), cell(2, 'bt'), cell(1, 'bt')], [1901n, 2155n, 1023n, 0n])
    assert.deepEqual(sqliteAll(s.sqlite, 'SELECT v FROM big_unsigned ORDER BY id'), [['1'], ['18446744073709551615']])
  })

  it('decimals exact to 65 digits; float read exactly (not its 6-digit text); doubles to the subnormal', () => {
    assert.equal(cell(1, 'de'), '-9999999999999999999999999999.9999999999')
    assert.equal(cell(2, 'dm'), '99999999999999999999999999999999999.999999999999999999999999999999')
    assert.equal(cell(2, 'f'), Math.fround(3.14159274))
    assert.equal(cell(1, 'f'), Math.fround(-3.40282e38))
    assert.equal(cell(2, 'd'), 5e-324)
    assert.equal(cell(1, 'd'), -1.7976931348623157e308)
  })

  it('datetime/timestamp/date: microseconds, leap day, UTC; zero dates (whole or partial) NULL and reported', () => {
    assert.equal(cell(1, 'dt'), '1000-01-01T00:00:00.000Z')
    assert.equal(cell(2, 'dt'), '9999-12-31T23:59:59.999999Z')
    assert.equal(cell(1, 'ts'), '1970-01-01T00:00:01.000Z')
    assert.equal(cell(2, 'ts'), '2038-01-19T03:14:07.999999Z')
    assert.equal(cell(4, 'dt'), '2024-02-29T23:59:59.999999Z')
    assert.equal(cell(4, 'ts'), '2024-03-31T01:30:00.000001Z')
    assert.deepEqual([cell(3, 'dt'), cell(3, 'ts'), cell(3, 'da'), cell(4, 'da')], [null, null, null, null])
    const t = out.report.tables.find((x) => x.table === 'edge')!
    assert.equal(t.coercionCounts.dt, 1)
    assert.equal(t.coercionCounts.da, 2)
    assert.ok(t.coercions.some((c) => c.column === 'da' && c.key === '["4"]' && c.original === '2024-00-15' && c.stored === null))
    assert.deepEqual([cell(1, 'tm'), cell(2, 'tm')], ['-838:59:59.000000', '838:59:59.000001'])
  })

  it('JSON verbatim (MariaDB keeps the text), uuid lowercase, binaries whole, any Unicode, empty vs NULL, enum and set', () => {
    assert.equal(cell(1, 'j'), '{"b":1,"a":[1.50,12345678901234567890]}')
    assert.equal(cell(2, 'j'), BIG_JSON)
    assert.equal(cell(3, 'j'), 'null')
    assert.equal(cell(2, 'u'), 'ffffffff-ffff-ffff-ffff-ffffffffffff')
    assert.deepEqual(cell(1, 'bin'), Buffer.from([0, 1, 2, 255]))
    assert.deepEqual(cell(2, 'bl'), BLOB)
    assert.deepEqual(cell(1, 'bl'), Buffer.alloc(0))
    assert.equal(cell(2, 't'), `🌊 𝕆𝕔𝕖𝕒𝕟 😀 ${String.fromCodePoint(0x10ffff)}`)
    assert.equal(cell(2, 'vc'), 'a\tb\nc\\d')
    assert.equal(cell(1, 't'), '')
    assert.equal(cell(5, 't'), null)
    assert.deepEqual([cell(2, 'e'), cell(2, 'st'), cell(1, 'st')], ['happy', 'a,c', ''])
  })

  it('DuckDB: UBIGINT up to 2^64-1, DECIMAL(38,10); zero dates and tinyint(1)=2 reported there too', async () => {
    const rows = await duckAll(s.duckdb, 'SELECT id, ubi::VARCHAR, de::VARCHAR, dm, dt::VARCHAR, b FROM edge_duck ORDER BY id')
    assert.deepEqual(rows[1]!.slice(1, 4), ['18446744073709551615', '9999999999999999999999999999.9999999999', '99999999999999999999999999999999999.999999999999999999999999999999'])
    assert.equal(rows[1]![4], '9999-12-31 23:59:59.999999')
    assert.equal(rows[2]![4], null)
    assert.equal(rows[2]![5], 'true')
    const t = out.report.tables.find((x) => x.table === 'edge_duck')!
    assert.equal(t.coercionCounts.b, 1)
    assert.equal(t.coercionCounts.dt, 1)
  })

  it('pages keys beyond 2^53 one by one without skipping or repeating (bound as integers, not doubles)', async () => {
    const rows = await duckAll(s.duckdb, 'SELECT id::VARCHAR, v FROM bigkeys ORDER BY id')
    assert.deepEqual(rows, [['9007199254740992', '1'], ['9007199254740993', '2'], ['9007199254740994', '3'], ['9007199254740995', '4'], ['18446744073709551615', '5']])
    assert.equal(out.report.tables.find((x) => x.table === 'bigkeys')!.chunks, 5)
  })

  it('pages a case-insensitive text key in the server\'s own order', () => {
    assert.deepEqual(sqliteAll(s.sqlite, 'SELECT name FROM names ORDER BY n').map((r) => r[0]), ['apple', 'Banana', 'cherry', 'Äpfel', 'zebra', 'Ørsted'])
  })

  it('finds the ids the API would refuse with the API\'s own rule (MariaDB regexp and octet_length)', async () => {
    const values = ['plain', 'Boiler room #2', 'José', '李雷', '🌊', 'tab\there', 'bell\u0007', 'é'.repeat(129), 'x'.repeat(256)]
    await conn.query('CREATE TABLE odd_ids (id INT PRIMARY KEY, sensor_id VARCHAR(300) NOT NULL) DEFAULT CHARSET utf8mb4')
    for (const [i, v] of values.entries()) await conn.query('INSERT INTO odd_ids VALUES (?, ?)', [i, v])
    const src = await connectSource(srv.url)
    try {
      const table = (await src.introspect()).find((t) => t.name === 'odd_ids')
      assert.ok(table)
      const candidates = await src.distinct(table, 'sensor_id', candidateWhere('mysql', src.quote('sensor_id')), 100)
      assert.deepEqual(candidates.sort(), ['José', '李雷', '🌊', 'tab\there', 'bell\u0007', 'é'.repeat(129)].sort(), 'plain printable ASCII within 256 bytes is never a candidate')
      const r = judge(candidates, false, { source: 'sensor_id', target: 'sensor id' })
      assert.deepEqual(r.values.map((v) => v.value).sort(), ['tab\there', 'bell\u0007', 'é'.repeat(129)].sort())
    } finally {
      await src.close()
    }
  })
})
