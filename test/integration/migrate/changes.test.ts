// The final sync in O(changes) on a real PostgreSQL 15 with the change log installed: what the log
// names since the last run is carried (inserts inside copied ranges, updates without a watermark,
// deletes, a key changed, a transaction that began before the last position and committed after),
// nothing else is read again, and a whole comparison afterwards agrees. Tables the log cannot vouch
// for go the whole way; a warm run waits for the freeze and for open write transactions.
import assert from 'node:assert/strict'
import crypto from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import Database from 'better-sqlite3'
import pg from 'pg'
import path from 'node:path'
import { TelemetryStore, type PackedEvent } from '../../../services/ocean/src/stores/duckdb-store.ts'
import { runMigration } from '../../../packages/migrate/src/run-migration.ts'
import { waitForFreeze } from '../../../packages/migrate/src/sync/changes.ts'
import { captureInstallSql, captureRemoveSql, ENGINE_APPLICATION_NAME } from '../../../packages/migrate/src/sources/change-capture.ts'
import { startPostgres, type PostgresServer } from '../../../scripts/lib/loopback-servers.ts'
import { duckAll, scratch, sqliteAll, type Scratch } from './harness.ts'
import { seedLegacy } from './legacy-fixture.ts'

const USERS = 2000
const TELEMETRY = 60_000
let server: PostgresServer
let client: pg.Client
let s: Scratch

async function connect(): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: server.url })
  await c.connect()
  return c
}

before(async () => {
  server = await startPostgres()
  client = await connect()
  await seedLegacy(client, { users: USERS, telemetry: TELEMETRY, invoices: 300 })
  s = scratch('ocean-migrate-changes')
  assert.equal((await runMigration(s.options(server.url, { chunkRows: 500 }))).report.ok, true)
  await client.query(captureInstallSql(server.user))
})

after(async () => {
  await client?.end()
  await server?.stop()
  s?.remove()
})

describe('final sync by the change log, real PostgreSQL', () => {
  it('carries exactly what the log names since the last run, and a whole comparison agrees', async () => {
    // A writer that began before the delta took its position and commits after it.
    const early = await connect()
    await early.query('BEGIN')
    await early.query("INSERT INTO users (username, email) VALUES ('early-bird', 'early@example.org')")
    const pre = await runMigration(s.options(server.url, { mode: 'delta', chunkRows: 500 }))
    assert.equal(pre.report.ok, true)
    await early.query('COMMIT')
    await early.end()

    await client.query(`
      INSERT INTO users (id, username, email) VALUES (15, 'inside-a-range', 'inside@example.org') ON CONFLICT (id) DO UPDATE SET email = 'inside@example.org';
      UPDATE users SET email = 'changed-' || id || '@example.org' WHERE id IN (7, 1200, 1999);
      UPDATE billing SET credits = credits + 5 WHERE user_id IN (3, 4);
      UPDATE metadata SET value = '{"v": "by the log"}' WHERE key = 'setting.9';
      DELETE FROM sessions WHERE token = md5('session12');
      INSERT INTO sessions (token, user_id, created_at, expires_at) VALUES ('a-new-token', 1, now(), now() + interval '1 day');
      DELETE FROM profiles WHERE id = md5('profile33')::uuid;
      UPDATE profiles SET id = md5('profile-moved')::uuid WHERE id = md5('profile34')::uuid;
      INSERT INTO telemetry (sensor_id, ts, value) SELECT 'sensor-final', now(), i FROM generate_series(1, 321) i;
    `)
    const lines: string[] = []
    const out = await runMigration(s.options(server.url, { mode: 'changes', chunkRows: 500, log: (l) => lines.push(l) }))
    assert.equal(out.report.ok, true, lines.join('\n'))
    const ms = out.report.changesMs!
    assert.ok(ms.readMs > 0 && ms.applyMs > 0 && ms.verifyMs > 0, JSON.stringify(ms))
    // Every table went by its changes: none was read the whole way.
    assert.ok(!lines.some((l) => /synced the whole way/.test(l) && !/audit_log/.test(l)), lines.join('\n'))
    const users = lines.find((l) => /users: \d+ logged key/.test(l))
    assert.match(users ?? '', /users: 5 logged key\(s\) \(5 written, 0 deleted\)/, lines.join('\n'))
    assert.ok(lines.some((l) => /telemetry: 321 logged insert.*321 row\(s\) appended; checked whole/.test(l)), lines.join('\n'))

    assert.deepEqual(sqliteAll(s.sqlite, "SELECT count(*) FROM users WHERE email IN ('early@example.org', 'inside@example.org', 'changed-7@example.org', 'changed-1200@example.org', 'changed-1999@example.org')"), [[5n]])
    assert.match(String(sqliteAll(s.sqlite, "SELECT value FROM metadata WHERE key = 'setting.9'")[0]![0]), /by the log/)
    // Sessions are keyed by the token's hash in the target: the logged token finds its row through the transform.
    const hash = (t: string) => crypto.createHash('sha256').update(t).digest('hex')
    const gone = String((await client.query("SELECT md5('session12') AS t")).rows[0].t)
    assert.deepEqual(sqliteAll(s.sqlite, 'SELECT count(*) FROM sessions WHERE token_hash = ?', hash('a-new-token')), [[1n]])
    assert.deepEqual(sqliteAll(s.sqlite, 'SELECT count(*) FROM sessions WHERE token_hash = ?', hash(gone)), [[0n]])
    const moved = (await client.query("SELECT md5('profile-moved')::uuid::text AS m, md5('profile34')::uuid::text AS o, md5('profile33')::uuid::text AS d")).rows[0] as { m: string; o: string; d: string }
    assert.deepEqual(sqliteAll(s.sqlite, 'SELECT count(*) FROM profiles WHERE id IN (?, ?)', moved.o, moved.d), [[0n]])
    assert.deepEqual(sqliteAll(s.sqlite, 'SELECT count(*) FROM profiles WHERE id = ?', moved.m), [[1n]])
    assert.equal((await duckAll(s.duckdb, 'SELECT count(*) FROM telemetry'))[0]![0], String(TELEMETRY + 321))

    // The whole comparison, reading every row on both sides, agrees with the changes run.
    assert.equal((await runMigration(s.options(server.url, { mode: 'verify-only', chunkRows: 500 }))).report.ok, true)
  })

  it('a table the log cannot vouch for goes the whole way, and still verifies', async () => {
    await client.query("INSERT INTO audit_log (at, actor, action) VALUES (now(), 'ops', 'no-key'); TRUNCATE metadata")
    const lines: string[] = []
    const out = await runMigration(s.options(server.url, { mode: 'changes', chunkRows: 500, log: (l) => lines.push(l) }))
    assert.equal(out.report.ok, true, lines.join('\n'))
    assert.ok(lines.some((l) => /audit_log.*a TRUNCATE, or a write the log could not key, was logged; synced the whole way/.test(l)), lines.join('\n'))
    assert.ok(lines.some((l) => /metadata.*TRUNCATE.*synced the whole way/.test(l)), lines.join('\n'))
    assert.deepEqual(sqliteAll(s.sqlite, 'SELECT count(*) FROM metadata'), [[0n]])
  })

  it('without a recorded position (the log installed again) every table goes the whole way', async () => {
    await client.query(captureRemoveSql())
    await client.query(captureInstallSql(server.user))
    await client.query("UPDATE users SET email = 'after-reinstall@example.org' WHERE id = 8")
    const lines: string[] = []
    const out = await runMigration(s.options(server.url, { mode: 'changes', chunkRows: 500, log: (l) => lines.push(l) }))
    assert.equal(out.report.ok, true, lines.join('\n'))
    assert.ok(lines.some((l) => /installed again.*every table is synced the whole way/.test(l)), lines.join('\n'))
    assert.deepEqual(sqliteAll(s.sqlite, "SELECT count(*) FROM users WHERE email = 'after-reinstall@example.org'"), [[1n]])
  })

  it('a warm run waits for the freeze and for the write transactions open at it, then carries their rows', async () => {
    const writer = await connect()
    await writer.query('BEGIN')
    await writer.query("INSERT INTO users (username, email) VALUES ('in-flight', 'in-flight@example.org')")
    await client.query("INSERT INTO telemetry (sensor_id, ts, value) SELECT 'sensor-warm', now(), i FROM generate_series(1, 45) i")
    const lines: string[] = []
    let done = false
    const run = runMigration(s.options(server.url, { mode: 'changes', chunkRows: 500, log: (l) => lines.push(l), waitFor: (src) => waitForFreeze(src, (l) => lines.push(l), 30_000) })).finally(() => (done = true))
    await new Promise((r) => setTimeout(r, 600))
    assert.equal(done, false, 'it must wait for the freeze')
    // The freeze as the cutover makes it, but the writer's session is left open (not ended).
    await client.query(`ALTER DATABASE ${server.database} SET default_transaction_read_only = on`)
    await new Promise((r) => setTimeout(r, 400))
    assert.equal(done, false, 'it must wait for the open write transaction')
    assert.ok(lines.some((l) => /waiting for 1 session/.test(l)), lines.join('\n'))
    await writer.query('COMMIT')
    await writer.end()
    const out = await run
    assert.equal(out.report.ok, true, lines.join('\n'))
    assert.deepEqual(sqliteAll(s.sqlite, "SELECT count(*) FROM users WHERE email = 'in-flight@example.org'"), [[1n]])
    // Telemetry's whole checksum was taken before the freeze: after it, only the rows added are read.
    assert.ok(lines.some((l) => /telemetry: 45 logged insert.*45 row\(s\) appended; checked against its checksum before the freeze and the rows added/.test(l)), lines.join('\n'))
    await client.query(`ALTER DATABASE ${server.database} RESET default_transaction_read_only`)
    // The engine's sessions carry the name the freeze leaves alone.
    assert.equal(ENGINE_APPLICATION_NAME, 'ocean-ops migrate-data')
  })

  it('a target written behind the engine\'s back since the cutover mark goes the whole way and is repaired', async () => {
    assert.equal((await runMigration(s.options(server.url, { mode: 'mark-cutover' }))).report.ok, true)
    const before = sqliteAll(s.sqlite, 'SELECT email FROM users WHERE id = 42')
    const db = new Database(s.sqlite)
    db.prepare("UPDATE users SET email = 'behind@example.org' WHERE id = 42").run()
    db.close()
    const lines: string[] = []
    const out = await runMigration(s.options(server.url, { mode: 'changes', chunkRows: 500, log: (l) => lines.push(l) }))
    assert.equal(out.report.ok, true, lines.join('\n'))
    assert.ok(lines.some((l) => /users.*1 write\(s\) to its target since the cutover mark were not the engine's; synced the whole way/.test(l)), lines.join('\n'))
    assert.deepEqual(sqliteAll(s.sqlite, 'SELECT email FROM users WHERE id = 42'), before)
  })

  it('telemetry stored behind the engine\'s back: the checksum before the freeze holds it, the whole table is compared and the run refuses', async () => {
    const store = await TelemetryStore.open({ dataDir: path.dirname(s.duckdb), memoryLimit: '256MB', threads: 1, hotMaxRows: 200_000, hotMaxAgeMs: 60_000 })
    const at = Date.now()
    await store.append([{ id: `${at}-0`, events: [['behind-the-engine', at, 1, null] as PackedEvent] }])
    store.close()
    await client.query("INSERT INTO telemetry (sensor_id, ts, value) VALUES ('sensor-after', now(), 2)")
    const lines: string[] = []
    await assert.rejects(runMigration(s.options(server.url, { mode: 'changes', chunkRows: 500, log: (l) => lines.push(l), waitFor: async () => undefined })), (e: Error & { code?: string }) => e.code === 'OPS_E_MIGRATE_MISMATCH' && /telemetry/.test(e.message) && /1 only in target/.test(e.message))
    assert.ok(lines.some((l) => /telemetry: 1 logged insert.*checked whole/.test(l)), lines.join('\n'))
  })
})
