import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { candidateWhere, idColumn, judge, MAX_LISTED, refusedLines } from '../../../packages/migrate/src/plan/id-check.ts'
import type { SourceTable } from '../../../packages/migrate/src/sources/introspect.ts'
import { buildPlans } from '../../../packages/migrate/src/plan/mapping.ts'
import { serviceSchema } from '../../../packages/migrate/src/run-migration.ts'
import type { SourceColumn } from '../../../packages/migrate/src/values/type-rules.ts'

const col = (name: string, udt: string): SourceColumn => ({ name, dataType: udt === 'timestamptz' ? 'timestamp with time zone' : udt === 'int4' ? 'integer' : udt === 'int8' ? 'bigint' : udt, udt, nullable: true, precision: null, scale: null, collation: 'C' })
const table = (name: string, columns: SourceColumn[]): SourceTable => ({ schema: 'public', name, columns, primaryKey: [columns[0]!.name], uniqueKeys: [], uniqueIndexes: [], estimatedRows: 10, sizeBytes: 8192 })

describe('ids the API would refuse', () => {
  it('knows which source column feeds each id the API addresses rows by', () => {
    const plans = buildPlans(
      'postgres',
      [
        table('users', [col('id', 'int4'), { ...col('username', 'text'), nullable: false }, { ...col('email', 'text'), nullable: false }, col('created_at', 'timestamptz')]),
        table('telemetry', [col('id', 'int8'), { ...col('sensor_id', 'text'), nullable: false }, { ...col('ts', 'timestamptz'), nullable: false }, col('value', 'float8'), col('data', 'jsonb')]),
        table('invoices', [col('id', 'int4'), col('number', 'text')]),
      ],
      {},
      serviceSchema(),
    )
    const byId = (id: string) => idColumn(plans.find((p) => p.id === id)!)
    assert.deepEqual(byId('users'), { source: 'username', target: 'username' })
    assert.deepEqual(byId('telemetry'), { source: 'sensor_id', target: 'sensor id' })
    assert.equal(byId('invoices'), null, 'a table outside the service schema has no API id')
  })

  it('asks the source only for values that are not plain printable ASCII within the byte limit', () => {
    assert.equal(candidateWhere('postgres', '"sensor_id"'), `"sensor_id" IS NOT NULL AND ("sensor_id"::text !~ '^[ -~]+$' OR octet_length("sensor_id"::text) > 256)`)
    assert.match(candidateWhere('mysql', '`sensor_id`'), /CAST\(`sensor_id` AS CHAR\) NOT REGEXP '\^\[ -~\]\+\$' OR octet_length\(`sensor_id`\) > 256/)
  })

  it('judges candidates with the API rule, lists a bounded number, prints them JSON-quoted', () => {
    const many = Array.from({ length: MAX_LISTED + 5 }, (_, i) => `bad\t${i}`)
    const r = judge(['José', '李雷', '', ...many], true, { source: 'username', target: 'username' })
    assert.equal(r.refused, MAX_LISTED + 6, 'the empty string and every tab; accents and CJK are accepted')
    assert.equal(r.values.length, MAX_LISTED)
    assert.equal(r.more, true)
    const lines = refusedLines('users', r)
    assert.match(lines[0]!, /^! users\.username: 26\+ value\(s\) the API would refuse as a username/)
    assert.equal(lines[1], '    "": must not be empty')
    assert.match(lines[2]!, /^ {4}"bad\\t0": must not contain control characters \(U\+0009 at index 3\)$/)
    assert.equal(lines.at(-1), '    … 6 more')
    assert.deepEqual(refusedLines('users', judge(['José'], false, { source: 'username', target: 'username' })), [])
  })
})
