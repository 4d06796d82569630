import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { nextCompaction, sliceCondition, sortKeySlices, tierOf } from '../../../services/ocean/src/stores/compaction-plan.ts'

const base = { hotRows: 0, hotAgeMs: 0, partitions: [], hotMaxRows: 1000, hotMaxAgeMs: 60_000 }

describe('compaction plan', () => {
  it('does nothing while the hot table is small and young', () => {
    assert.deepEqual(nextCompaction({ ...base, hotRows: 999, hotAgeMs: 59_999 }), { kind: 'none' })
  })
  it('seals the hot table when it is full or old', () => {
    assert.equal(nextCompaction({ ...base, hotRows: 1000 }).kind, 'seal-hot')
    assert.equal(nextCompaction({ ...base, hotRows: 1, hotAgeMs: 60_000 }).kind, 'seal-hot')
    assert.equal(nextCompaction({ ...base, hotRows: 0, hotAgeMs: 10e9 }).kind, 'none')
  })
  it('puts partitions in size tiers of factor 4', () => {
    assert.deepEqual([1, 1000, 1001, 4000, 4001, 16001].map((r) => tierOf(r, 1000, 4)), [0, 0, 1, 1, 2, 3])
  })
  it('merges four partitions of the lowest full tier, and only then', () => {
    const parts = (rows: number[]) => rows.map((r, i) => ({ name: `p${i}`, rows: r }))
    assert.deepEqual(nextCompaction({ ...base, partitions: parts([1000, 900, 800]) }), { kind: 'none' })
    assert.deepEqual(nextCompaction({ ...base, partitions: parts([4000, 1000, 900, 800, 3000, 700]) }), {
      kind: 'merge',
      partitions: ['p1', 'p2', 'p3', 'p5'],
    })
    assert.deepEqual(nextCompaction({ ...base, partitions: parts([4000, 3000, 2000, 1500, 10]) }), {
      kind: 'merge',
      partitions: ['p0', 'p1', 'p2', 'p3'],
    })
  })
  it('keeps the partition count logarithmic as data grows', () => {
    let partitions: { name: string; rows: number }[] = []
    let n = 0
    for (let sealed = 0; sealed < 1000; sealed++) {
      partitions.push({ name: `p${n++}`, rows: 1000 })
      for (let step = nextCompaction({ ...base, partitions }); step.kind === 'merge'; step = nextCompaction({ ...base, partitions })) {
        const merged = step.partitions
        const rows = partitions.filter((p) => merged.includes(p.name)).reduce((a, p) => a + p.rows, 0)
        partitions = [...partitions.filter((p) => !merged.includes(p.name)), { name: `p${n++}`, rows }]
      }
    }
    assert.equal(partitions.reduce((a, p) => a + p.rows, 0), 1_000_000)
    assert.ok(partitions.length <= 3 * 6, `${partitions.length} partitions for 1000 seals`)
  })
  it('cuts the sort key range into slices of at most so many rows, end to end, none empty', () => {
    const space = 1n << 64n
    for (const [rows, max, count] of [[0, 1000, 1], [1000, 1000, 1], [1001, 1000, 2], [3_200_000, 200_000, 16], [7, 2, 4], [5, 0, 5]] as const) {
      const slices = sortKeySlices(rows, max)
      assert.equal(slices.length, count, `${rows} rows, ${max} a slice`)
      assert.equal(slices[0]?.from, 0n)
      assert.equal(slices.at(-1)?.to, null)
      for (let i = 1; i < slices.length; i++) assert.equal(slices[i]?.from, slices[i - 1]?.to, `slice ${i} starts where ${i - 1} ends`)
      for (const s of slices.slice(0, -1)) assert.ok(s.to !== null && s.to > s.from && s.to <= space)
      // Even: the slices' widths differ by less than one key.
      const widths = slices.map((s) => (s.to ?? space) - s.from)
      assert.ok(widths.every((w) => w - (widths[0] as bigint) < BigInt(count)), String(widths))
    }
  })
  it('keeps the rows of a slice by its bounds, the last one open-ended', () => {
    assert.equal(sliceCondition({ from: 0n, to: 10n }), 'sk >= 0::UBIGINT AND sk < 10::UBIGINT')
    assert.equal(sliceCondition({ from: 18446744073709551610n, to: null }), 'sk >= 18446744073709551610::UBIGINT')
  })
})
