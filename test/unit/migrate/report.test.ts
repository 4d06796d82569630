// Reports of runs that start in the same second (the final sync's two lanes) do not overwrite each other.
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { describe, it } from 'node:test'
import { writeMigrationReport, type MigrationReport } from '../../../packages/migrate/src/report.ts'

const report = (sqlite: string | null, duckdb: string | null): MigrationReport => ({
  mode: 'delta',
  source: 'postgres://ocean@127.0.0.1:5432/legacy',
  sqlite,
  duckdb,
  journal: '/data/.migrate/journal.db',
  startedAt: '2026-11-23T14:00:00.123Z',
  finishedAt: '2026-11-23T14:00:05.000Z',
  ok: true,
  tables: [],
  foreignKeyViolations: [],
  notes: [],
})

describe('writeMigrationReport', () => {
  it('gives runs that started in the same second files of their own', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'report-'))
    try {
      const a = writeMigrationReport(dir, report('/data/ocean.db', null))
      const b = writeMigrationReport(dir, report(null, '/data/telemetry.duckdb'))
      assert.notEqual(a.json, b.json)
      assert.notEqual(a.markdown, b.markdown)
      assert.equal(path.basename(a.json), 'migrate-data-delta-20261123T140000Z.json')
      assert.equal(path.basename(b.json), 'migrate-data-delta-20261123T140000Z-2.json')
      assert.equal((JSON.parse(fs.readFileSync(a.json, 'utf8')) as MigrationReport).sqlite, '/data/ocean.db', 'the first is not overwritten')
      assert.equal((JSON.parse(fs.readFileSync(b.json, 'utf8')) as MigrationReport).duckdb, '/data/telemetry.duckdb')
      assert.equal(fs.readdirSync(dir).length, 4)
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })
})
