// POST /api/ocean/admin/snapshot under writes: each copy is whole, opens on its own, and holds
// every write acknowledged before its takenAt (users in SQLite, stored events in DuckDB); a copy
// never leaves a temporary file behind. Real Redis, SQLite and DuckDB files.
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import Database from 'better-sqlite3'
import { DuckDBInstance } from '@duckdb/node-api'
import { startOcean, type Harness } from '../../helpers/ocean-harness.ts'

let h: Harness
before(async () => {
  h = await startOcean()
})
after(async () => {
  await h?.close()
})

describe('snapshots of the live databases', () => {
  it('copies SQLite and DuckDB consistently while users and events are written', async () => {
    const ackedUsers: Array<{ name: string; at: number }> = []
    let writing = true
    let n = 0
    const writer = (async () => {
      while (writing) {
        const name = `snap-user-${n++}`
        const r = await h.api('POST', '/api/ocean/users', { username: name, email: `${name}@example.test` })
        if (r.statusCode === 201) ackedUsers.push({ name, at: Date.now() })
        await h.api('POST', '/api/ocean/telemetry/ingest', { sensor_id: 'snap', value: n })
      }
    })()
    await new Promise((r) => setTimeout(r, 300))
    const res = await h.api('POST', '/api/ocean/admin/snapshot', { sqlite: true, duckdb: true })
    writing = false
    await writer
    assert.equal(res.statusCode, 200, res.body)
    const body = res.json() as { sqlite: { file: string; takenAt: string; bytes: number }; duckdb: { file: string; takenAt: string; bytes: number } }
    const taken = Date.parse(body.sqlite.takenAt)
    const db = new Database(path.join(h.dataDir, body.sqlite.file), { readonly: true, fileMustExist: true })
    try {
      assert.equal(db.pragma('integrity_check', { simple: true }), 'ok')
      assert.equal(db.pragma('journal_mode', { simple: true }), 'delete')
      const names = new Set((db.prepare('SELECT username FROM users').all() as Array<{ username: string }>).map((u) => u.username))
      const before = ackedUsers.filter((u) => u.at < taken)
      assert.ok(before.length > 0, 'some users were acknowledged before the snapshot')
      for (const u of before) assert.ok(names.has(u.name), `${u.name} acknowledged before the snapshot is in it`)
      assert.ok(names.size < ackedUsers.length + 1, 'the copy is of its moment, not of the end')
    } finally {
      db.close()
    }
    const duck = await DuckDBInstance.create(path.join(h.dataDir, body.duckdb.file), { access_mode: 'READ_ONLY' })
    try {
      const c = await duck.connect()
      const rows = Number((await c.runAndReadAll('SELECT count(*) FROM telemetry')).getRows()[0]?.[0])
      assert.ok(rows >= 0)
      const tables = (await c.runAndReadAll('SELECT table_name FROM information_schema.tables')).getRows().map((r) => String(r[0]))
      for (const t of ['telemetry_hot', 'telemetry_parts', 'ingested_entries', 'telemetry']) assert.ok(tables.includes(t), `${t} copied`)
      c.closeSync()
    } finally {
      duck.closeSync()
    }
    const leftovers = fs.readdirSync(`${h.dataDir}/snapshots/sqlite`).concat(fs.readdirSync(`${h.dataDir}/snapshots/duckdb`)).filter((f) => f.includes('.tmp'))
    assert.deepEqual(leftovers, [])
    assert.equal(fs.statSync(path.join(h.dataDir, body.sqlite.file)).mode & 0o077, 0, 'owner-only')
  })

  it('DuckDB\'s copy holds every event stored before it was taken', async () => {
    const had = await h.engine.store.totalRows()
    for (let i = 0; i < 50; i++) await h.api('POST', '/api/ocean/telemetry/ingest', { sensor_id: 'snap-2', value: i })
    await h.waitForRows(had + 50)
    const stored = await h.engine.store.totalRows()
    const res = await h.api('POST', '/api/ocean/admin/snapshot', { sqlite: false, duckdb: true })
    assert.equal(res.statusCode, 200, res.body)
    const body = res.json() as { sqlite?: unknown; duckdb: { file: string } }
    assert.equal(body.sqlite, undefined)
    const duck = await DuckDBInstance.create(path.join(h.dataDir, body.duckdb.file), { access_mode: 'READ_ONLY' })
    const c = await duck.connect()
    const rows = Number((await c.runAndReadAll('SELECT count(*) FROM telemetry')).getRows()[0]?.[0])
    c.closeSync()
    duck.closeSync()
    assert.ok(rows >= stored, `${rows} rows in the copy, ${stored} stored before it`)
  })

  it('refuses a body it does not know, and needs the API key', async () => {
    assert.equal((await h.api('POST', '/api/ocean/admin/snapshot', { everything: true })).statusCode, 400)
    assert.equal((await h.app.inject({ method: 'POST', url: '/api/ocean/admin/snapshot', payload: {} })).statusCode, 401)
  })
})
