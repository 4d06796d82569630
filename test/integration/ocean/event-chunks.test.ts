// The telemetry store appends events a DuckDB data chunk (2,048 rows) at a time, writing each
// column's bytes itself (int64 microseconds, doubles, validity masks, inlined string_t): every value
// must come back exactly, in order, across chunk and entry boundaries, nulls and readings included.
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { TelemetryStore, type BufferedEntry, type PackedEvent } from '../../../services/ocean/src/stores/duckdb-store.ts'
import { CHUNK_ROWS } from '../../../services/ocean/src/stores/event-chunks.ts'
import { MAX_EPOCH_MS, writeMicros } from '../../../services/ocean/src/stores/event-columns.ts'
import { decodeEntry } from '../../../services/ocean/src/buffer/event-codec.ts'

const T0 = Date.parse('2026-01-05T00:00:00Z')
let dir: string
let store: TelemetryStore

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ocean-event-chunks-'))
  store = await TelemetryStore.open({ dataDir: dir, memoryLimit: '256MB', threads: 2, hotMaxRows: 1_000_000, hotMaxAgeMs: 3_600_000 })
})
after(() => {
  store?.close()
  if (dir) fs.rmSync(dir, { recursive: true, force: true })
})

function events(from: number, n: number): PackedEvent[] {
  return Array.from({ length: n }, (_, i) => {
    const k = from + i
    // Every combination of value and readings present or absent, and sensor ids of several lengths
    // (DuckDB inlines strings up to 12 bytes and stores longer ones apart).
    const value = k % 3 === 0 ? null : k / 8 - 1000
    // Readings short enough to be inlined (12 bytes or less) and longer ones.
    const data = k % 5 === 0 || value === null ? JSON.stringify(k % 2 ? { l: k % 10 } : { level: k, 'temp.c': -k / 4 }) : null
    // Ids of 1 to 13 bytes, 12 (the longest inlined) and 13 among them, and longer ones. Non-ASCII
    // ids too: a string's length in UTF-8 bytes is not its length in JavaScript.
    const sensor = k % 11 === 0 ? `${k % 2 ? 'ü' : 'température-ß-🌊-'}${k % 7}` : k % 4 === 1 ? 'abcdefghijklm'.slice(0, 1 + (k % 13)) : `${k % 2 ? 's' : 'a-sensor-with-a-long-id-'}${k % 7}`
    return [sensor, T0 + k * 1000 + (k % 1000), value, data]
  })
}

describe('appending events in data chunks', () => {
  // The worker appends entries as decodeEntry lays them out from the buffer's JSON; migrations and
  // tests hand packed events in. Both must store the same rows.
  const forms: [string, (events: PackedEvent[]) => BufferedEntry['events']][] = [
    ['laid out from the buffer', (events) => decodeEntry(JSON.stringify(events))],
    ['packed', (events) => events],
    // The worker hands a stored entry's buffer to the next one (EventColumns.release): laid out over
    // another entry's bytes, every value and every equality on an inlined id must still hold.
    [
      'laid out in a buffer another entry released',
      (sent) => {
        decodeEntry(JSON.stringify(events(700_000 + sent.length * 3, sent.length).reverse())).release()
        return decodeEntry(JSON.stringify(sent))
      },
    ],
  ]
  for (const [round, [form, lay]] of forms.entries()) {
    it(`stores every value of entries (${form}) that end inside, on and across chunk boundaries, in order`, async () => {
      const sizes = [CHUNK_ROWS - 1, 1, 2, CHUNK_ROWS, CHUNK_ROWS + 3, 5]
      const sent: { id: string; events: PackedEvent[] }[] = []
      let from = round * 100_000
      for (const [i, n] of sizes.entries()) {
        sent.push({ id: `${1000 + round * 100 + i}-0`, events: events(from, n) })
        from += n
      }
      const before = await store.totalRows()
      const expected = sent.flatMap((e) => e.events)
      assert.equal(await store.append(sent.map((e) => ({ id: e.id, events: lay(e.events) }))), expected.length)
      const rows = await store.readAll(`SELECT sensor_id, epoch_ms(ts)::DOUBLE AS ms, value, data FROM telemetry_hot ORDER BY rowid OFFSET ${before}`)
      assert.equal(rows.length, expected.length)
      rows.forEach((r, i) => {
        const [sensor, ts, value, data] = expected[i] as PackedEvent
        assert.deepEqual([r.sensor_id, r.ms, r.value, r.data], [sensor, ts, value, data], `row ${i}`)
      })
      assert.deepEqual([...(await store.storedEntryIds(sent.map((e) => e.id)))].sort(), sent.map((e) => e.id).sort())
      // Equality on the written ids, inlined ones included (whose slots the writer reuses chunk after chunk).
      const perSensor = new Map<string, number>()
      for (const [sensor] of expected) perSensor.set(sensor, (perSensor.get(sensor) ?? 0) + 1)
      for (const [sensor, n] of perSensor) {
        const [found] = await store.readAll(`SELECT count(*)::INTEGER AS n FROM (SELECT sensor_id FROM telemetry_hot ORDER BY rowid OFFSET ${before}) WHERE sensor_id = $sensor`, { sensor })
        assert.equal(found?.n, n, `rows equal to ${JSON.stringify(sensor)}`)
      }
    })
  }

  it('stores nothing half-written when an event is refused, and the next append is whole', async () => {
    const good = events(50_000, 700)
    const bad: PackedEvent[] = [...events(60_000, 300), ['s', 1.5, 1, null]]
    const before = await store.totalRows()
    await assert.rejects(store.append([{ id: '3000-0', events: bad }]), /1\.5 is not an epoch millisecond/)
    assert.equal(await store.totalRows(), before)
    assert.equal((await store.storedEntryIds(['3000-0'])).size, 0)
    assert.equal(await store.append([{ id: '3001-0', events: good }]), good.length)
    const rows = await store.readAll(`SELECT sensor_id, epoch_ms(ts)::DOUBLE AS ms, value, data FROM telemetry_hot ORDER BY rowid OFFSET ${before}`)
    assert.deepEqual(rows.map((r) => [r.sensor_id, r.ms, r.value, r.data]), good)
  })

  it('converts epoch milliseconds to DuckDB microseconds exactly, beyond 2^53 µs and before 1970 too', () => {
    const words = new Uint32Array(2)
    const micros = new BigInt64Array(words.buffer)
    for (const ms of [T0, 0, -1, 1, -T0, 2 ** 32, 2 ** 32 - 1, -(2 ** 32), 4_294_967_297_123, 9_007_199_254_741, MAX_EPOCH_MS, -MAX_EPOCH_MS]) {
      writeMicros(words, 0, ms)
      assert.equal(micros[0], BigInt(ms) * 1000n, `${ms} ms`)
    }
  })
})
