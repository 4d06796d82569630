// A generic SQLite table's unique indexes: deferred while a copy fills the empty table, built once
// at its end, and a duplicate (which the index would have refused row by row) named with its keys.
// The writer's many rows per statement: the same result as one by one, and a refused row named.
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { after, describe, it } from 'node:test'
import { buildPlans } from '../../../packages/migrate/src/plan/mapping.ts'
import { serviceSchema } from '../../../packages/migrate/src/run-migration.ts'
import { SqliteTarget } from '../../../packages/migrate/src/targets/sqlite.ts'
import type { SourceColumn } from '../../../packages/migrate/src/values/type-rules.ts'

const col = (name: string, udt: string): SourceColumn => ({ name, dataType: udt, udt, nullable: false, precision: null, scale: null, collation: 'C' })
const invoices = {
  schema: 'public',
  name: 'invoices',
  columns: [col('id', 'int4'), col('number', 'text')],
  primaryKey: ['id'],
  uniqueKeys: [['number']],
  uniqueIndexes: [['number']],
  estimatedRows: 10,
  sizeBytes: 8192,
}

describe('SqliteTarget: unique indexes of a generic table', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'target-sqlite-'))
  after(() => fs.rmSync(dir, { recursive: true, force: true }))
  const [plan] = buildPlans('postgres', [invoices], { preset: 'none' }, serviceSchema())
  const indexes = (t: SqliteTarget) => (t.db.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'invoices' AND sql IS NOT NULL").all() as Array<{ name: string }>).map((r) => r.name)
  const put = (t: SqliteTarget, rows: Array<[number, string]>) => {
    const w = t.writer(plan!)
    w.begin()
    try {
      for (const r of rows) w.put(r)
      w.commit()
    } catch (e) {
      w.rollback()
      throw e
    }
  }

  it('are left out while a copy fills the empty table, and built at its end', () => {
    const t = SqliteTarget.open(path.join(dir, 'a'))
    try {
      t.ensureTable(plan!)
      assert.deepEqual(indexes(t), ['invoices_u1'], 'made with the table when no copy is pending')
      t.ensureTable(plan!, { deferUnique: true })
      assert.deepEqual(indexes(t), [], 'dropped: the table is empty and a copy is about to fill it')
      put(t, [[1, 'INV-1'], [2, 'INV-2']])
      t.ensureTable(plan!, { deferUnique: true })
      t.uniqueIndexes(plan!)
      assert.deepEqual(indexes(t), ['invoices_u1'])
      assert.throws(() => put(t, [[3, 'INV-1']]), /UNIQUE constraint failed/, 'the built index refuses duplicates')
      t.ensureTable(plan!, { deferUnique: true })
      assert.deepEqual(indexes(t), ['invoices_u1'], 'never dropped from a table holding rows')
    } finally {
      t.close()
    }
  })

  it('a duplicate found when building is an error naming the value and the rows', () => {
    const t = SqliteTarget.open(path.join(dir, 'b'))
    try {
      t.ensureTable(plan!, { deferUnique: true })
      put(t, [[1, 'INV-1'], [2, 'INV-2'], [7, 'INV-1']])
      assert.throws(
        () => t.uniqueIndexes(plan!),
        (e: Error & { code?: string }) => e.code === 'OPS_E_MIGRATE_CONFLICT' && /\(number\) = \(INV-1\)/.test(e.message) && /id 1; ?7|id 7; ?1/.test(e.message) && /--resume/.test(e.message),
      )
      assert.deepEqual(indexes(t), [])
    } finally {
      t.close()
    }
  })
})

describe('SqliteTarget: the writer puts many rows in one statement', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'target-sqlite-w-'))
  after(() => fs.rmSync(dir, { recursive: true, force: true }))
  const [plan] = buildPlans('postgres', [invoices], { preset: 'none' }, serviceSchema())
  const rows = (t: SqliteTarget) => t.db.prepare('SELECT id, number FROM invoices ORDER BY id').raw(true).all()

  it('upserts as one row at a time would: a key seen twice keeps its last values, whatever the batch', () => {
    const t = SqliteTarget.open(path.join(dir, 'a'))
    try {
      t.ensureTable(plan!)
      const w = t.writer(plan!)
      w.begin()
      // 70 rows: two full statements and six rows put one by one at commit; key 5 again in each part.
      for (let i = 1; i <= 64; i++) w.put([i, `INV-${i}`])
      w.put([5, 'INV-5b'])
      for (let i = 65; i <= 69; i++) w.put([i, `INV-${i}`])
      w.commit()
      const got = rows(t)
      assert.equal(got.length, 69)
      assert.deepEqual(got[4], [5, 'INV-5b'])
      assert.deepEqual(got[68], [69, 'INV-69'])
    } finally {
      t.close()
    }
  })

  for (const at of [20, 66]) {
    it(`names the row the target refuses (row ${at}: ${at <= 64 ? 'inside a many-row statement' : 'put one by one at commit'}) and leaves nothing after the rollback`, () => {
      const t = SqliteTarget.open(path.join(dir, `b${at}`))
      try {
        t.ensureTable(plan!)
        const w = t.writer(plan!)
        w.begin()
        assert.throws(
          () => {
            for (let i = 1; i <= 70; i++) w.put(i === at ? [i, null] : [i, `INV-${i}`], () => `[${i}]`)
            w.commit()
          },
          (e: Error & { code?: string }) => e.code === 'OPS_E_MIGRATE_CONFLICT' && e.message.includes(`key [${at}]`) && /NOT NULL/.test(e.message),
        )
        w.rollback()
        assert.deepEqual(rows(t), [])
      } finally {
        t.close()
      }
    })
  }
})
