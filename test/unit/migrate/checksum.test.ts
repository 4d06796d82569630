// Chunk checksums: independent of row order, additive across chunks, sensitive to every value
// (NULL vs '' included); the narrowing diff names exactly the keys that differ.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { bucketOf, combine, compareKeys, describeDiff, diffKeyed, diffMultiset, EMPTY_J, RowSum, rowHash, sameChecksum } from '../../../packages/migrate/src/values/checksum.ts'

const rows = [
  ['1', 'alice', null],
  ['2', 'bob', ''],
  ['3', 'çé 🌊', '{"a": 1}'],
]

function sumOf(rs: (string | null)[][]) {
  const s = new RowSum()
  for (const r of rs) s.add(r)
  return s.checksum()
}

describe('RowSum', () => {
  it('is the same in any row order', () => {
    assert.deepEqual(sumOf(rows), sumOf([...rows].reverse()))
  })

  it('changes with any value, and tells NULL from empty text and from a NUL character', () => {
    const base = sumOf(rows)
    assert.ok(!sameChecksum(base, sumOf([rows[0]!, ['2', 'bob', null], rows[2]!])))
    assert.ok(!sameChecksum(base, sumOf([rows[0]!, ['2', 'bob', '\u0000'], rows[2]!])))
    assert.ok(!sameChecksum(base, sumOf([rows[0]!, ['2', 'bob', ''], ['3', 'çé 🌊', '{"a":1}']])))
    assert.notEqual(rowHash(['ab', 'c']), rowHash(['a', 'bc']), 'field boundaries count')
  })

  it('counts duplicates (a table without a key may repeat rows)', () => {
    assert.ok(!sameChecksum(sumOf([rows[0]!]), sumOf([rows[0]!, rows[0]!, rows[0]!])))
    assert.equal(sumOf([rows[0]!, rows[0]!]).rows, 2)
  })

  it('adds up: the checksums of two chunks combine into the checksum of both', () => {
    const a = sumOf(rows.slice(0, 1))
    const b = sumOf(rows.slice(1))
    assert.deepEqual(combine(a, b), sumOf(rows))
    assert.deepEqual(combine(EMPTY_J, a), a)
    const viaHashes = new RowSum()
    for (const r of rows) viaHashes.addHash(rowHash(r))
    assert.deepEqual(viaHashes.checksum(), sumOf(rows))
  })

  it('adds DuckDB sums exactly, beyond 2^64', () => {
    const c = combine({ rows: 1, sum: 'd:18446744073709551615' }, { rows: 2, sum: 'd:18446744073709551615' })
    assert.deepEqual(c, { rows: 3, sum: 'd:36893488147419103230' })
    assert.throws(() => combine({ rows: 1, sum: 'd:1' }, { rows: 1, sum: 'j:0000000000000001' }), /different kinds/)
  })
})

describe('narrowing', () => {
  it('names missing, extra and changed keys', () => {
    const source = new Map([
      ['["1"]', 'a'],
      ['["2"]', 'b'],
      ['["10"]', 'c'],
    ])
    const target = new Map([
      ['["1"]', 'a'],
      ['["10"]', 'x'],
      ['["11"]', 'd'],
    ])
    const d = diffKeyed(source, target)
    assert.deepEqual(d, { missing: ['["2"]'], extra: ['["11"]'], changed: ['["10"]'] })
    assert.equal(describeDiff(d), '1 missing in target (["2"]); 1 only in target (["11"]); 1 different (["10"])')
  })

  it('sorts integer keys as numbers', () => {
    assert.deepEqual(['["10"]', '["9"]', '["-1"]'].sort(compareKeys), ['["-1"]', '["9"]', '["10"]'])
  })

  it('counts the multiset difference of keyless rows', () => {
    assert.deepEqual(diffMultiset(new Map([['h1', 2], ['h2', 1]]), new Map([['h1', 1], ['h3', 4]])), { missing: 2, extra: 4 })
  })

  it('spreads keys over buckets deterministically', () => {
    const seen = new Set<number>()
    for (let i = 0; i < 2000; i++) seen.add(bucketOf(`["${i}"]`, 256))
    assert.ok(seen.size > 240)
    assert.equal(bucketOf('["7"]', 256), bucketOf('["7"]', 256))
  })
})
