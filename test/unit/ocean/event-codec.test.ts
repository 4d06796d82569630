import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { chunk, decodeEntry, packEvent, packEvents, parseReadings, parseTimestamp } from '../../../services/ocean/src/buffer/event-codec.ts'
import { OceanError } from '../../../services/ocean/src/errors.ts'

const now = Date.parse('2026-06-01T12:00:00Z')
const bounds = { now, maxPastDays: 365, maxFutureSeconds: 300 }

function code(fn: () => unknown): string {
  try {
    fn()
  } catch (e) {
    assert.ok(e instanceof OceanError, `expected an OceanError, got ${String(e)}`)
    return e.code
  }
  assert.fail('expected an error')
}

describe('parseTimestamp', () => {
  it('defaults to the receipt time', () => assert.equal(parseTimestamp(undefined, bounds, 'e'), now))
  it('reads ISO 8601 with Z or an offset, and epoch milliseconds', () => {
    assert.equal(parseTimestamp('2026-06-01T11:00:00Z', bounds, 'e'), now - 3_600_000)
    assert.equal(parseTimestamp('2026-06-01T13:00:00+02:00', bounds, 'e'), now - 3_600_000)
    assert.equal(parseTimestamp('2026-06-01T11:59:59.123456Z', bounds, 'e'), now - 877)
    assert.equal(parseTimestamp(now - 5, bounds, 'e'), now - 5)
  })
  it('refuses a time without a zone (it would be read as local time)', () => {
    assert.equal(code(() => parseTimestamp('2026-06-01T11:00:00', bounds, 'e')), 'OCEAN_E_VALIDATION')
    assert.equal(code(() => parseTimestamp('yesterday', bounds, 'e')), 'OCEAN_E_VALIDATION')
    assert.equal(code(() => parseTimestamp('2026-02-30T11:00:00Z', bounds, 'e')), 'OCEAN_E_VALIDATION')
  })
  it('refuses times far in the past or future', () => {
    assert.equal(code(() => parseTimestamp('1970-01-01T00:00:00Z', bounds, 'e')), 'OCEAN_E_TIMESTAMP_RANGE')
    assert.equal(code(() => parseTimestamp(now + 301_000, bounds, 'e')), 'OCEAN_E_TIMESTAMP_RANGE')
    assert.equal(code(() => parseTimestamp(-1e20, bounds, 'e')), 'OCEAN_E_TIMESTAMP_RANGE')
    assert.equal(parseTimestamp(now + 299_000, bounds, 'e'), now + 299_000)
  })
})

describe('parseReadings', () => {
  it('accepts an object or the same object as a JSON string (the old API sent strings)', () => {
    assert.equal(parseReadings({ temp: 21.5, hum: 40 }, 'e'), '{"temp":21.5,"hum":40}')
    assert.equal(parseReadings('{"temp": 21.5}', 'e'), '{"temp":21.5}')
    assert.equal(parseReadings(undefined, 'e'), null)
  })
  it('refuses non-numeric readings, bad names, arrays, broken JSON and too many readings', () => {
    assert.equal(code(() => parseReadings('{"temp": "hot"}', 'e')), 'OCEAN_E_VALIDATION')
    assert.equal(code(() => parseReadings('{"te mp": 1}', 'e')), 'OCEAN_E_VALIDATION')
    assert.equal(code(() => parseReadings('[1,2]', 'e')), 'OCEAN_E_VALIDATION')
    assert.equal(code(() => parseReadings('{temp: 1}', 'e')), 'OCEAN_E_VALIDATION')
    assert.equal(code(() => parseReadings('1e999', 'e')), 'OCEAN_E_VALIDATION')
    const many = Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`r${i}`, i]))
    assert.equal(code(() => parseReadings(many, 'e')), 'OCEAN_E_VALIDATION')
  })
})

describe('packEvent', () => {
  it('packs [sensor, ts, value, data]', () => {
    assert.deepEqual(packEvent({ sensor_id: 's', value: 1.5, timestamp: now - 1 }, bounds), ['s', now - 1, 1.5, null])
    assert.deepEqual(packEvent({ sensor_id: 's', data: { a: 1 } }, bounds), ['s', now, null, '{"a":1}'])
  })
  it('needs a value or data', () => assert.equal(code(() => packEvent({ sensor_id: 's' }, bounds)), 'OCEAN_E_VALIDATION'))
  it('names the failing event in a batch', () => {
    assert.throws(() => packEvents([{ sensor_id: 'a', value: 1 }, { sensor_id: 'b' }], bounds), /events\[1\]/)
  })
})

describe('buffer entries', () => {
  it('chunks without losing or reordering', () => {
    const items = Array.from({ length: 2501 }, (_, i) => i)
    const parts = chunk(items, 1000)
    assert.deepEqual(parts.map((p) => p.length), [1000, 1000, 501])
    assert.deepEqual(parts.flat(), items)
  })
  it('decodes what it packed and refuses malformed entries', () => {
    // The values decodeEntry lays out are read back through DuckDB in test/integration/ocean/event-chunks.test.ts.
    assert.equal(decodeEntry('[["s",1,2,null],["t",2,null,"{\\"a\\":1}"]]').length, 2)
    assert.throws(() => decodeEntry('{"a":1}'))
    assert.throws(() => decodeEntry('[["s"]]'))
    assert.throws(() => decodeEntry('[["s",1,"2",null]]'), /malformed/, 'a value that is not a number')
    assert.throws(() => decodeEntry('[["s",1,2,{"a":1}]]'), /malformed/, 'readings that are not JSON text')
    assert.throws(() => decodeEntry('[["s",1.5,2,null]]'), /malformed/, 'a timestamp that is not whole milliseconds')
    assert.throws(() => decodeEntry('[["s",8.64e15,2,null],["s",8640000000000001,2,null]]'), /malformed/, 'a timestamp past a Date')
    assert.equal(decodeEntry('[["s",-8.64e15,2,null]]').length, 1)
    assert.throws(() => decodeEntry('not json'))
  })
})
