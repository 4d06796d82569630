// The mapping: the built-in old-Ocean mapping onto the service's schema, defaults for tables nobody
// mapped, and every mistake a mapping file can make reported with the table and column.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { defaultWatermark, pagingKey, redactUrl, csvField, type SourceTable } from '../../../packages/migrate/src/sources/introspect.ts'
import { buildPlans, parseMappingFile, quoteIdent, type TargetSchema } from '../../../packages/migrate/src/plan/mapping.ts'
import { serviceSchema } from '../../../packages/migrate/src/run-migration.ts'
import type { SourceColumn } from '../../../packages/migrate/src/values/type-rules.ts'

const col = (name: string, udt: string, extra: Partial<SourceColumn> = {}): SourceColumn => ({
  name,
  dataType: udt === 'timestamptz' ? 'timestamp with time zone' : udt === 'int4' ? 'integer' : udt === 'int8' ? 'bigint' : udt,
  udt,
  nullable: false,
  precision: null,
  scale: null,
  collation: 'C',
  ...extra,
})

function table(name: string, columns: SourceColumn[], primaryKey: string[], extra: Partial<SourceTable> = {}): SourceTable {
  return { schema: 'public', name, columns, primaryKey, uniqueKeys: [], uniqueIndexes: [], estimatedRows: 10, sizeBytes: 8192, ...extra }
}

const schema: TargetSchema = serviceSchema()

const users = table('users', [col('id', 'int4'), col('username', 'text'), col('email', 'text'), col('created_at', 'timestamptz')], ['id'])
const sessions = table('sessions', [col('token', 'text'), col('user_id', 'int4'), col('created_at', 'timestamptz'), col('expires_at', 'timestamptz'), col('revoked_at', 'timestamptz', { nullable: true })], ['token'])
const telemetry = table('telemetry', [col('id', 'int8'), col('sensor_id', 'text'), col('ts', 'timestamptz'), col('value', 'float8', { nullable: true }), col('data', 'jsonb', { nullable: true }), col('processed', 'bool')], ['id'])
const invoices = table(
  'invoices',
  [col('id', 'uuid'), col('number', 'text'), col('amount', 'numeric', { precision: 14, scale: 2 }), col('status', 'invoice_status', { dataType: 'USER-DEFINED', enumLabels: ['draft', 'paid'] })],
  ['id'],
  { uniqueIndexes: [['number']], uniqueKeys: [['number']] },
)

describe('the built-in old-Ocean mapping', () => {
  const plans = buildPlans('postgres', [users, sessions, telemetry, invoices], {}, schema)
  const byId = (id: string) => plans.find((p) => p.id === id)!

  it('sends users to the service table, filling updated_at from created_at', () => {
    const p = byId('users')
    assert.equal(p.targetKind, 'sqlite')
    assert.equal(p.targetTable, 'users')
    assert.equal(p.serviceTable, true)
    assert.deepEqual(p.columns.map((c) => [c.target, c.sourceColumn]), [['id', 'id'], ['username', 'username'], ['email', 'email'], ['created_at', 'created_at'], ['updated_at', 'created_at']])
    assert.equal(p.selects.length, 4, 'created_at is read once')
    assert.equal(p.rangeVerifiable, true)
  })

  it('hashes session tokens and stores times as epoch milliseconds; such sessions cannot go back', () => {
    const p = byId('sessions')
    const token = p.columns.find((c) => c.target === 'token_hash')!
    assert.equal(token.transform, 'sha256')
    assert.equal(p.columns.find((c) => c.target === 'expires_at')!.transform, 'epoch-ms')
    assert.equal(p.rangeVerifiable, false, 'the key is transformed, so ranges do not line up')
    assert.equal(p.reversible.ok, false)
  })

  it('sends telemetry to DuckDB, dropping id and processed on purpose (no warning for them)', () => {
    const p = byId('telemetry')
    assert.equal(p.targetKind, 'telemetry')
    assert.deepEqual(p.dropped, ['id', 'processed'])
    assert.equal(p.warnings.length, 0)
    assert.equal(p.appendOnly, true)
    assert.deepEqual(p.watermark, { column: 'id', kind: 'monotonic' })
    assert.deepEqual(p.columns.map((c) => c.duckdbType), ['VARCHAR', 'TIMESTAMP', 'DOUBLE', 'VARCHAR'])
  })

  it('copies a table nobody mapped as it is, with its unique indexes and enum labels', () => {
    const p = byId('invoices')
    assert.equal(p.targetTable, 'invoices')
    assert.equal(p.serviceTable, false)
    assert.deepEqual(p.uniqueIndexes, [['number']])
    assert.deepEqual(p.enumChecks, { status: ['draft', 'paid'] })
    assert.deepEqual(p.targetKey, ['id'])
  })

  it('falls back to a generic copy when the old table lacks a column the mapping needs', () => {
    const odd = table('users', [col('id', 'int4'), col('login', 'text')], ['id'])
    const [p] = buildPlans('postgres', [odd], {}, schema)
    assert.equal(p!.targetTable, 'legacy_users', 'never into the service table of the same name')
  })
})

describe('mapping files', () => {
  it('route a table to DuckDB and override a column to text', () => {
    const [p] = buildPlans('postgres', [invoices], { tables: { invoices: { target: 'duckdb', columns: { id: 'id', amount: { from: 'amount', type: 'text' } } } } }, schema)
    assert.equal(p!.targetKind, 'duckdb')
    assert.equal(p!.columns.find((c) => c.target === 'amount')!.kind, 'text')
    assert.match(p!.warnings.join('\n'), /number: not mapped/)
  })

  it('report every problem with the table and column', () => {
    assert.throws(
      () => buildPlans('postgres', [users, invoices], { tables: { users: { target: 'sqlite:users', columns: { id: 'id', username: 'nope' } }, ghost: {} } }, schema),
      (e: Error) => /ghost: no such table/.test(e.message) && /users: target column username: source column nope does not exist/.test(e.message),
    )
    assert.throws(
      () => buildPlans('postgres', [sessions], { tables: { sessions: { target: 'sqlite:sessions', columns: { token_hash: 'token', user_id: 'user_id', created_at: 'created_at', expires_at: 'expires_at' } } } }, schema),
      /expires_at \(timestamp\) cannot go into sessions.expires_at \(INTEGER\) without loss; add "transform": "epoch-ms"/,
    )
    assert.throws(() => buildPlans('postgres', [users], { tables: { users: { target: 'sqlite:users', columns: { id: 'id' } } } }, schema), /users.username is NOT NULL and nothing is mapped to it/)
  })

  it('parse and validate', () => {
    assert.throws(() => parseMappingFile('{', 'm.json'), /m.json is not valid JSON/)
    assert.throws(() => parseMappingFile('{"tables":{"t":{"target":"oracle"}}}'), /use sqlite, duckdb/)
    assert.throws(() => parseMappingFile('{"tables":{"t":{"columns":{"a":{"from":"a","transform":"rot13"}}}}}'), /unknown transform rot13/)
    assert.deepEqual(parseMappingFile('{"preset":"none","tables":{}}'), { preset: 'none', tables: {} })
  })

  it('a table without any key is copied whole and said so', () => {
    const [p] = buildPlans('postgres', [table('audit_log', [col('at', 'timestamptz'), col('action', 'text')], [])], {}, schema)
    assert.equal(p!.key, undefined)
    assert.match(p!.warnings.join(), /no primary key and no NOT NULL unique key/)
    assert.equal(p!.reversible.ok, false)
  })
})

describe('introspection helpers', () => {
  it('page by the primary key, else the shortest NOT NULL unique key', () => {
    assert.deepEqual(pagingKey(users), { columns: ['id'], source: 'primary key' })
    assert.deepEqual(pagingKey(table('t', [], [], { uniqueKeys: [['a', 'b'], ['c']] })), { columns: ['c'], source: 'unique key' })
  })

  it('take updated_at as the watermark, else an integer key', () => {
    assert.deepEqual(defaultWatermark(table('t', [col('id', 'int4'), col('updated_at', 'timestamptz')], ['id'])), { column: 'updated_at', kind: 'updated' })
    assert.deepEqual(defaultWatermark(users), { column: 'id', kind: 'monotonic' })
    assert.equal(defaultWatermark(sessions), undefined)
  })

  it('never show a password', () => {
    assert.equal(redactUrl('postgres://ocean:s3cret@db:5432/app'), 'postgres://ocean:***@db:5432/app')
    assert.equal(redactUrl('mysql://root:p%40ss@127.0.0.1/x?password=y'), 'mysql://root:***@127.0.0.1/x?password=***')
    assert.equal(redactUrl('postgres://ocean@db/app'), 'postgres://ocean@db/app')
  })

  it('write CSV fields as COPY csv does: NULL empty, empty string quoted', () => {
    assert.deepEqual([null, '', 'a,b', 'say "hi"', 'x'].map(csvField), ['', '""', '"a,b"', '"say ""hi"""', 'x'])
  })

  it('quote identifiers per engine, doubling the quote character inside', () => {
    assert.equal(quoteIdent('postgres', 'we"ird`name'), '"we""ird`name"')
    assert.equal(quoteIdent('mysql', 'we"ird`name'), '`we"ird``name`')
  })
})
