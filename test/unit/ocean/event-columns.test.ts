// How events are laid out as DuckDB's vectors hold them (what the chunk writer copies in whole):
// inlined ASCII ids, strings set apart, null rows, microseconds. DuckDB reads these back in
// test/integration/ocean/event-chunks.test.ts.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { EventColumns, firstAtOrAfter, STRING_T_BYTES, type PackedEvent } from '../../../services/ocean/src/stores/event-columns.ts'

/** The string a duckdb_string_t slot inlines, or null when its bytes are all zero (set apart or null). */
function inlined(bytes: Uint8Array, row: number): string | null {
  const slot = bytes.subarray(row * STRING_T_BYTES, (row + 1) * STRING_T_BYTES)
  if (slot.every((b) => b === 0)) return null
  const length = new DataView(slot.buffer, slot.byteOffset).getUint32(0, true)
  assert.ok(slot.subarray(4 + length).every((b) => b === 0), `row ${row}: the bytes after the string are zero`)
  return Buffer.from(slot.subarray(4, 4 + length)).toString('latin1')
}

describe('EventColumns', () => {
  const events: PackedEvent[] = [
    ['s-1', 1_000, 1.5, null],
    ['abcdefghijkl', -1, null, '{"a":1}'],
    ['abcdefghijklm', 2 ** 40, 0, '{"level":12,"temp":3}'],
    ['température', 0, -2, null],
    ['', 7, null, null],
  ]
  const c = EventColumns.from(events)

  it('inlines ASCII strings of up to 12 bytes and sets the rest apart, slots zero', () => {
    assert.equal(c.length, 5)
    assert.deepEqual([0, 1, 2, 3].map((r) => inlined(c.sensors.bytes, r)), ['s-1', 'abcdefghijkl', null, null])
    assert.deepEqual(c.sensors.apart, [
      { row: 2, value: 'abcdefghijklm' },
      { row: 3, value: 'température' },
    ])
    assert.deepEqual(c.data.apart, [{ row: 2, value: '{"level":12,"temp":3}' }])
    assert.equal(inlined(c.data.bytes, 1), '{"a":1}')
  })

  it('lists null rows in order, a null value stored as 0', () => {
    assert.deepEqual(c.valueNulls, [1, 4])
    assert.deepEqual([...c.values], [1.5, 0, 0, -2, 0])
    assert.deepEqual(c.data.nulls, [0, 3, 4])
    assert.deepEqual(c.sensors.nulls, [])
  })

  it('writes timestamps as int64 microseconds', () => {
    assert.deepEqual([...new BigInt64Array(c.micros.buffer)], [1_000_000n, -1000n, 2n ** 40n * 1000n, 0n, 7000n])
  })

  it('refuses a timestamp DuckDB cannot hold exactly', () => {
    assert.throws(() => EventColumns.from([['s', 1.5, 1, null]]), /1\.5 is not an epoch millisecond/)
    assert.throws(() => EventColumns.from([['s', 8.64e15 + 1, 1, null]]), /not an epoch millisecond/)
  })
})

describe('firstAtOrAfter', () => {
  it('finds the first row at or after a bound in an ascending list', () => {
    const rows = [2, 5, 5, 9]
    assert.deepEqual([0, 2, 3, 5, 6, 9, 10].map((r) => firstAtOrAfter(rows, r, (x) => x)), [0, 0, 1, 1, 3, 3, 4])
    assert.equal(firstAtOrAfter([], 3, (x: number) => x), 0)
  })
})
