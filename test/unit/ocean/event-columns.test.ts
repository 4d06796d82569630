// How events are laid out as DuckDB's vectors hold them (what the chunk writer copies in whole):
// inlined ASCII ids, strings set apart, null rows, microseconds. DuckDB reads these back in
// test/integration/ocean/event-chunks.test.ts.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { EventColumns, firstAtOrAfter, keptBufferBytes, POOLED_MIN_ROWS, STRING_T_BYTES, type PackedEvent } from '../../../services/ocean/src/stores/event-columns.ts'

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
    assert.deepEqual([...new BigInt64Array(c.micros.buffer, c.micros.byteOffset, c.length)], [1_000_000n, -1000n, 2n ** 40n * 1000n, 0n, 7000n])
  })

  it('refuses a timestamp DuckDB cannot hold exactly', () => {
    assert.throws(() => EventColumns.from([['s', 1.5, 1, null]]), /1\.5 is not an epoch millisecond/)
    assert.throws(() => EventColumns.from([['s', 8.64e15 + 1, 1, null]]), /not an epoch millisecond/)
  })
})

describe('EventColumns.release', () => {
  const rows = POOLED_MIN_ROWS * 2
  // Every byte an entry writes is non-zero here: ids of 12 bytes, values, data, microseconds.
  const long = Array.from({ length: rows }, (_, i): PackedEvent => [`sensor-${String(i).padStart(5, '0')}`, 1e12 + i, i + 0.5, `{"k":${i}}`])
  const short = Array.from({ length: rows }, (_, i): PackedEvent => [`s${i % 10}`, i, i % 3 === 0 ? null : -i, i % 2 === 0 ? null : 'x'.repeat(20)])

  it("gives the next entry the buffer back zeroed, as a new one: no byte of the last entry's shows", () => {
    const first = EventColumns.from(long)
    const kept = keptBufferBytes()
    first.release()
    assert.ok(keptBufferBytes() > kept, 'the released buffer is kept')
    const next = EventColumns.from(short)
    assert.equal(keptBufferBytes(), kept, 'the next entry took it')
    const fresh = EventColumns.from(short)
    // `inlined` checks the bytes after each string are zero; slots set apart or null are all zero.
    for (let r = 0; r < rows; r++) {
      assert.equal(inlined(next.sensors.bytes, r), `s${r % 10}`)
      assert.equal(inlined(next.data.bytes, r), null)
    }
    assert.deepEqual(next.sensors.bytes, fresh.sensors.bytes)
    assert.deepEqual(next.data.bytes, fresh.data.bytes)
    assert.deepEqual(next.values, fresh.values)
    assert.deepEqual(next.micros, fresh.micros)
    assert.deepEqual([next.valueNulls, next.data.nulls, next.data.apart.length], [fresh.valueNulls, fresh.data.nulls, rows / 2])
    next.release()
    fresh.release()
  })

  it('detaches the released views: reading them throws instead of showing the next entry', () => {
    const c = EventColumns.from(long)
    c.release()
    c.release() // a second call does nothing
    assert.equal(c.values.length, 0)
    assert.throws(() => c.sensors.bytes.subarray(0, STRING_T_BYTES), TypeError)
    const reused = EventColumns.from(long)
    assert.equal(inlined(reused.sensors.bytes, 3), 'sensor-00003')
    reused.release()
  })

  it('takes back the buffer of an entry refused half-way, and keeps none of a small entry', () => {
    EventColumns.from(long).release()
    const kept = keptBufferBytes()
    assert.throws(() => EventColumns.from([...long.slice(0, rows - 1), ['s', 1.5, 1, null]]), /not an epoch millisecond/)
    assert.equal(keptBufferBytes(), kept, 'the refused entry took a kept buffer and handed it back')
    EventColumns.from(long.slice(0, POOLED_MIN_ROWS - 1)).release()
    assert.equal(keptBufferBytes(), kept, 'small entries are left to the garbage collector')
  })
})

describe('firstAtOrAfter', () => {
  it('finds the first row at or after a bound in an ascending list', () => {
    const rows = [2, 5, 5, 9]
    assert.deepEqual([0, 2, 3, 5, 6, 9, 10].map((r) => firstAtOrAfter(rows, r, (x) => x)), [0, 0, 1, 1, 3, 3, 4])
    assert.equal(firstAtOrAfter([], 3, (x: number) => x), 0)
  })
})
