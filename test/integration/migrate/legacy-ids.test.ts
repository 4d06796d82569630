// Legacy ids from a real PostgreSQL: usernames, sensor ids and metadata keys the old system stored
// as its clients sent them. `migrate-data --plan` and the copy report list exactly the values the
// API would refuse (control characters, over 256 bytes); everything else — spaces, '#', quotes,
// ';', '/', '?', emoji, accents, CJK — is migrated and then read back through the API (users,
// stats, timeseries, anomalies, compare, export, metadata) with the id URL-encoded.
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import pg from 'pg'
import { runMigration } from '../../../packages/migrate/src/run-migration.ts'
import type { MigrationReport } from '../../../packages/migrate/src/report.ts'
import { startPostgres, type PostgresServer } from '../../../scripts/lib/loopback-servers.ts'
import { startOcean, type Harness } from '../../helpers/ocean-harness.ts'
import { scratch, type Scratch } from './harness.ts'
import { seedLegacy } from './legacy-fixture.ts'
import fs from 'node:fs'
import path from 'node:path'

const ODD_SENSORS = ['Boiler room #2', "O'Hare; --", 'pump/7?x=1&y=2', 'café 🌊', '李雷 传感器', '100%']
const ODD_USERS = ['José', 'Zoë', '李雷', "o'brien; --", '🌊 surfer', 'with space']
const ODD_KEYS = ['setting with space', 'ключ/значение', 'a#b?c']
const REFUSED = {
  users: ['tab\there', 'u'.repeat(300)],
  telemetry: ['line\nbreak', 'é'.repeat(129)],
  metadata: ['bell\u0007'],
}

let server: PostgresServer
let client: pg.Client
let s: Scratch
let h: Harness | undefined
const enc = encodeURIComponent

before(async () => {
  server = await startPostgres()
  client = new pg.Client({ connectionString: server.url })
  await client.connect()
  await seedLegacy(client, { users: 20, telemetry: 500, invoices: 5 })
  for (const u of [...ODD_USERS, ...REFUSED.users]) await client.query('INSERT INTO users (username, email) VALUES ($1, $2)', [u, `${Buffer.from(u).toString('hex').slice(0, 40)}@example.org`])
  // Three readings per sensor an hour apart, the third a spike (so anomalies finds one with window=2).
  for (const sensor of [...ODD_SENSORS, ...REFUSED.telemetry]) {
    for (const [i, value] of [10, 11, 500].entries()) {
      await client.query("INSERT INTO telemetry (sensor_id, ts, value) VALUES ($1, timestamptz '2024-07-01 00:00:00+00' + $2 * interval '1 hour', $3)", [sensor, i, value])
    }
  }
  for (const key of [...ODD_KEYS, ...REFUSED.metadata]) await client.query("INSERT INTO metadata (key, value, updated_at) VALUES ($1, $2, now())", [key, JSON.stringify({ key })])
  await client.query('ANALYZE')
  s = scratch('ocean-migrate-ids')
})

after(async () => {
  await h?.close()
  await client?.end()
  await server?.stop()
  s?.remove()
})

function refusedOf(report: MigrationReport, table: string): string[] {
  const t = report.tables.find((x) => x.table === table)
  assert.ok(t, `${table} in the report`)
  assert.ok(t.refusedIds, `${table} was checked`)
  return t.refusedIds.values.map((v) => v.value).sort()
}

describe('legacy ids, PostgreSQL -> Ocean -> API', () => {
  it('--plan lists exactly the values the API would refuse, and says so on the console', async () => {
    const lines: string[] = []
    const { report } = await runMigration(s.options(server.url, { mode: 'plan', log: (l) => lines.push(l) }))
    assert.deepEqual(refusedOf(report, 'users'), [...REFUSED.users].sort())
    assert.deepEqual(refusedOf(report, 'telemetry'), [...REFUSED.telemetry].sort())
    assert.deepEqual(refusedOf(report, 'metadata'), [...REFUSED.metadata].sort())
    assert.deepEqual(refusedOf(report, 'profiles'), [], 'uuids are always accepted')
    const why = report.tables.find((x) => x.table === 'telemetry')?.refusedIds?.values.map((v) => v.problem)
    assert.ok(why?.some((p) => /control characters \(U\+000A/.test(p)))
    assert.ok(why?.some((p) => /at most 256 bytes .*258/.test(p)))
    assert.ok(lines.some((l) => l.includes('! users.username: 2 value(s) the API would refuse')), lines.join('\n'))
    assert.ok(lines.some((l) => l.includes('"tab\\there"')), 'the value is printed JSON-quoted, control characters escaped')
    assert.ok(lines.some((l) => /ids: every value of .*profiles\.id/.test(l)))
  })

  it('the copy report lists them too, and the copy is verified', async () => {
    const { report, files } = await runMigration(s.options(server.url))
    assert.equal(report.ok, true)
    assert.deepEqual(refusedOf(report, 'telemetry'), [...REFUSED.telemetry].sort())
    assert.deepEqual(refusedOf(report, 'users'), [...REFUSED.users].sort())
    assert.ok(files)
    const md = fs.readFileSync(files.markdown, 'utf8')
    assert.match(md, /2 value\(s\) of sensor_id the API would refuse as a sensor id/)
    assert.match(md, /Every id value is one the API accepts as a profile id/)
  })

  it('every accepted odd id is read back through the API', async () => {
    h = await startOcean({ OCEAN_DATA_DIR: path.dirname(s.sqlite) })
    const ids = await client.query<{ id: number; username: string }>('SELECT id, username FROM users WHERE username = ANY($1)', [ODD_USERS])
    assert.equal(ids.rows.length, ODD_USERS.length)
    for (const u of ids.rows) {
      const r = await h.api('GET', `/api/ocean/users/${u.id}`)
      assert.equal(r.statusCode, 200, r.body)
      assert.equal(r.json().username, u.username)
    }
    for (const sensor of ODD_SENSORS) {
      const label = JSON.stringify(sensor)
      const stats = await h.api('GET', `/api/ocean/analytics/sensor/${enc(sensor)}/stats`)
      assert.equal(stats.statusCode, 200, `${label}: ${stats.body}`)
      assert.equal(stats.json().count, 3, label)
      assert.equal(stats.json().sensor_id, sensor, label)
      const range = `from=2024-07-01T00:00:00Z&to=2024-07-02T00:00:00Z`
      const series = await h.api('GET', `/api/ocean/analytics/sensor/${enc(sensor)}/timeseries?bucket=1h&${range}`)
      assert.equal(series.statusCode, 200, label)
      assert.equal(series.json().points.length, 3, label)
      const anomalies = await h.api('GET', `/api/ocean/analytics/sensor/${enc(sensor)}/anomalies?window=2&threshold=1&${range}`)
      assert.equal(anomalies.statusCode, 200, label)
      assert.deepEqual(anomalies.json().anomalies.map((a: { value: number }) => a.value), [500], label)
      const exported = await h.api('GET', `/api/ocean/analytics/export?format=jsonl&sensor_id=${enc(sensor)}`)
      assert.equal(exported.statusCode, 200, label)
      const rows = exported.body.trim().split('\n').map((l) => JSON.parse(l) as { sensor_id: string; value: number })
      assert.deepEqual(rows.map((r) => [r.sensor_id, r.value]), [[sensor, 10], [sensor, 11], [sensor, 500]], label)
    }
    const compare = await h.api('POST', '/api/ocean/analytics/compare', { sensor_ids: ODD_SENSORS, bucket: '1d', from: '2024-07-01T00:00:00Z', to: '2024-07-02T00:00:00Z' })
    assert.equal(compare.statusCode, 200, compare.body)
    assert.deepEqual(
      compare.json().series.map((x: { sensor_id: string; points: { count: number }[] }) => [x.sensor_id, x.points.reduce((n, p) => n + p.count, 0)]),
      ODD_SENSORS.map((sensor) => [sensor, 3]),
    )
    for (const key of ODD_KEYS) {
      const r = await h.api('GET', `/api/ocean/metadata/${enc(key)}`)
      assert.equal(r.statusCode, 200, `${key}: ${r.body}`)
      assert.deepEqual(r.json().value, { key })
    }
  })
})
