// The copy's read-back worker: started as the CLI starts it (no tsx flag inherited), it answers each
// committed chunk with the checksum the verification would compute itself, and says why when it cannot.
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { after, describe, it } from 'node:test'
import { buildPlans } from '../../../packages/migrate/src/plan/mapping.ts'
import { RowConverter } from '../../../packages/migrate/src/plan/row-converter.ts'
import { serviceSchema } from '../../../packages/migrate/src/run-migration.ts'
import { SqliteTarget, targetRangeSum } from '../../../packages/migrate/src/targets/sqlite.ts'
import { TargetSums } from '../../../packages/migrate/src/targets/sums.ts'
import type { SourceColumn } from '../../../packages/migrate/src/values/type-rules.ts'

const col = (name: string, udt: string, nullable = false): SourceColumn => ({ name, dataType: udt, udt, nullable, precision: null, scale: null, collation: 'C' })
const orders = {
  schema: 'public',
  name: 'orders',
  columns: [col('id', 'int8'), col('placed_at', 'timestamptz'), col('amount', 'numeric'), col('note', 'text', true)],
  primaryKey: ['id'],
  uniqueKeys: [],
  uniqueIndexes: [],
  estimatedRows: 10,
  sizeBytes: 8192,
}

describe('TargetSums: chunks read back in a worker thread', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'target-sums-'))
  const [plan] = buildPlans('postgres', [orders], { preset: 'none' }, serviceSchema())
  const target = SqliteTarget.open(dir)
  const sums = new TargetSums(target.file)
  after(async () => {
    await sums.close()
    target.close()
    fs.rmSync(dir, { recursive: true, force: true })
  })

  /** What the verification computes on this thread, on its own connection. */
  const here = (lo: string[] | null, hi: string[] | null) => targetRangeSum(target.db, new RowConverter(plan!), lo, hi)

  it('answers each chunk with the checksum the verification computes', async () => {
    target.ensureTable(plan!)
    const w = target.writer(plan!)
    w.begin()
    for (let i = 1; i <= 3000; i++) w.put([BigInt(i), new Date(Date.UTC(2024, 0, 1) + i * 1000).toISOString(), `${i}.50`, i % 7 ? `note ${i} 🌊` : null])
    w.commit()
    const chunks: Array<[string[] | null, string[] | null]> = [[null, ['1000']], [['1000'], ['2999']], [['2999'], null]]
    chunks.forEach(([lo, hi], no) => sums.submit(plan!, no, lo, hi))
    const got = await Promise.all(chunks.map((_, no) => sums.take(plan!.id, no)!))
    assert.deepEqual(got, chunks.map(([lo, hi]) => here(lo, hi)))
    assert.deepEqual(got.map((c) => c.rows), [1000, 1999, 1])
    assert.equal(sums.take(plan!.id, 0), undefined, 'taken once')
    assert.equal(sums.failure, null)
  })

  it('a chunk it cannot read is a rejection saying why, not a checksum', async () => {
    const broken = new TargetSums(path.join(dir, 'missing', 'ocean.db'))
    try {
      broken.submit(plan!, 0, null, null)
      await assert.rejects(broken.take(plan!.id, 0)!, /reading the chunk back failed: .*(unable to open|directory does not exist|no such file)/i)
    } finally {
      await broken.close()
    }
  })
})
