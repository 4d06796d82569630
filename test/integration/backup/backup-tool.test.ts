// The backup tool against a real restic repository (restic from Debian) and the real service
// (Redis with its AOF, SQLite, DuckDB): a round under writes, restore to a point in time, the
// drill passing on good data and failing on a corrupted repository, a wrong password refused.
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import Database from 'better-sqlite3'
import { startRedis, type RedisServer } from '../../../scripts/lib/loopback-servers.ts'
import { ensureRepository, runRestic, type BackupSettings } from '../../../packages/migrate/src/backup/backup-settings.ts'
import { backupRound } from '../../../packages/migrate/src/backup/backup-round.ts'
import { drill, listSnapshots, restoreAt } from '../../../packages/migrate/src/backup/backup-restore.ts'
import { API_KEY, startOcean, type Harness } from '../../helpers/ocean-harness.ts'
import { requireTool } from '../../helpers/require-tool.ts'

let h: Harness
let redis: RedisServer
let s: BackupSettings
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ocean-backup-tool-'))

before(async () => {
  requireTool('restic', 'apt-get install -y restic (or: bash scripts/setup test)')
  redis = await startRedis({ appendonly: true })
  h = await startOcean({}, redis)
  await h.app.listen({ host: '127.0.0.1', port: 0 })
  const port = (h.app.server.address() as { port: number }).port
  fs.writeFileSync(path.join(tmp, 'password'), 'correct horse battery staple', { mode: 0o600 })
  s = {
    target: { repository: path.join(tmp, 'repo'), passwordFile: path.join(tmp, 'password'), cacheDir: path.join(tmp, 'cache', 'restic') },
    host: 'ocean-test',
    sqliteSeconds: 30,
    duckdbSeconds: 60,
    retention: { hourly: 48, daily: 30, monthly: 12 },
    apiUrl: `http://127.0.0.1:${port}`,
    apiKey: API_KEY,
    dataDir: h.dataDir,
    redisDir: redis.dir,
    cacheDir: path.join(tmp, 'cache'),
  }
})
after(async () => {
  await h?.close()
  await redis?.stop()
  fs.rmSync(tmp, { recursive: true, force: true })
})

async function addUsers(prefix: string, n: number): Promise<string[]> {
  const names: string[] = []
  for (let i = 0; i < n; i++) {
    const name = `${prefix}-${i}`
    const r = await h.api('POST', '/api/ocean/users', { username: name, email: `${name}@example.test` })
    assert.equal(r.statusCode, 201, r.body)
    names.push(name)
  }
  return names
}

function usersIn(file: string): Set<string> {
  const db = new Database(file, { readonly: true })
  try {
    return new Set((db.prepare('SELECT username FROM users').all() as Array<{ username: string }>).map((u) => u.username))
  } finally {
    db.close()
  }
}

describe('the backup tool with a real restic repository', () => {
  let first: Awaited<ReturnType<typeof backupRound>>
  let early: string[]
  let late: string[]

  it('creates the repository once, then finds it', async () => {
    assert.equal(await ensureRepository(s.target), 'created')
    assert.equal(await ensureRepository(s.target), 'exists')
  })

  it('a round ships SQLite, DuckDB, the AOF and a manifest; a later round only what changed', async () => {
    early = await addUsers('early', 30)
    for (let i = 0; i < 20; i++) await h.api('POST', '/api/ocean/telemetry/ingest', { sensor_id: 'bk', value: i })
    first = await backupRound(s, { duckdb: true })
    assert.deepEqual(first.tags, ['ocean', 'sqlite', 'duckdb', 'redis'])
    assert.equal(first.manifest.sums.sqlite.users?.rows, 30)
    assert.ok(first.manifest.sums.duckdb, 'DuckDB sums in a DuckDB round')
    assert.ok(first.manifest.redisAt && first.manifest.redisAt <= first.manifest.duckdbAt!, 'the AOF is copied before DuckDB')
    await new Promise((r) => setTimeout(r, 1100)) // restic's snapshot times have second resolution in places
    late = await addUsers('late', 10)
    const second = await backupRound(s, { duckdb: false })
    assert.deepEqual(second.tags, ['ocean', 'sqlite'])
    assert.ok(second.bytesAdded < first.bytesAdded, `an incremental round adds less (${second.bytesAdded} vs ${first.bytesAdded} bytes)`)
    assert.equal((await listSnapshots(s)).length, 2)
  })

  it('restores a point in time: before the second round, the late users are not there; now, they are', async () => {
    const atFirst = new Date(Date.parse((await listSnapshots(s))[0]!.time) + 1)
    const a = await restoreAt(s, atFirst, path.join(tmp, 'r1'))
    const u1 = usersIn(path.join(a.dir, 'ocean.db'))
    for (const n of early) assert.ok(u1.has(n), `${n} restored`)
    for (const n of late) assert.ok(!u1.has(n), `${n} is after that point`)
    const b = await restoreAt(s, new Date(), path.join(tmp, 'r2'))
    const u2 = usersIn(path.join(b.dir, 'ocean.db'))
    for (const n of [...early, ...late]) assert.ok(u2.has(n), `${n} restored`)
    assert.ok(fs.existsSync(path.join(b.dir, 'telemetry.duckdb')), 'telemetry comes from the DuckDB round')
    assert.ok(fs.existsSync(path.join(b.dir, 'redis', 'appendonlydir')), 'the AOF of that round too')
    await assert.rejects(restoreAt(s, new Date(), path.join(tmp, 'r2')), /not empty/)
    await assert.rejects(restoreAt(s, new Date(Date.parse(first.manifest.sqliteAt) - 3600_000), path.join(tmp, 'r3')), /no backup at or before/)
  })

  it('the drill passes on good data and records its report', async () => {
    const r = await drill(s)
    assert.equal(r.ok, true, r.problems.join('; '))
    assert.equal(r.sqlite?.integrity, 'ok')
    assert.ok((r.sqlite?.rows ?? 0) >= 40)
    assert.deepEqual(r.sqlite?.mismatches, [])
    assert.ok(fs.existsSync(path.join(s.cacheDir, 'last-drill.json')))
  })

  it('a wrong password is refused with its own code', async () => {
    const wrong = path.join(tmp, 'wrong')
    fs.writeFileSync(wrong, 'not the password', { mode: 0o600 })
    await assert.rejects(ensureRepository({ ...s.target, passwordFile: wrong }), (e: { code?: string; message: string }) => e.code === 'OPS_E_BACKUP_PASSWORD' && /password/.test(e.message))
  })

  it('the drill fails on a corrupted repository and says so', async () => {
    const packs: string[] = []
    const walk = (d: string) => {
      for (const e of fs.readdirSync(d, { withFileTypes: true })) {
        const p = path.join(d, e.name)
        if (e.isDirectory()) walk(p)
        else packs.push(p)
      }
    }
    walk(path.join(s.target.repository, 'data'))
    assert.ok(packs.length > 0)
    for (const p of packs) {
      fs.chmodSync(p, 0o600)
      const buf = fs.readFileSync(p)
      for (let i = 64; i < buf.length; i += 97) buf[i] = buf[i]! ^ 0xff
      fs.writeFileSync(p, buf)
    }
    fs.rmSync(s.target.cacheDir, { recursive: true, force: true })
    const r = await drill(s)
    assert.equal(r.ok, false)
    assert.ok(r.problems.length > 0)
    assert.match(r.problems.join('; '), /restore|verify|check|corrupt|ciphertext/i)
    const check = await runRestic(s.target, ['check', '--read-data'])
    assert.notEqual(check.code, 0, 'restic check --read-data sees it too')
  })
})
