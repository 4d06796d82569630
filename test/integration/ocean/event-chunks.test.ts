// The telemetry store appends events a DuckDB data chunk (2,048 rows) at a time: every value must
// come back exactly, in order, across chunk and entry boundaries, nulls and readings included.
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { TelemetryStore, type BufferedEntry, type PackedEvent } from '../../../services/ocean/src/stores/duckdb-store.ts'
import { CHUNK_ROWS, epochMicros } from '../../../services/ocean/src/stores/event-chunks.ts'

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
    const data = k % 5 === 0 || value === null ? JSON.stringify({ level: k, 'temp.c': -k / 4 }) : null
    // Non-ASCII ids too: a string's length in UTF-8 bytes is not its length in JavaScript.
    const sensor = k % 11 === 0 ? `${k % 2 ? 'ü' : 'température-ß-🌊-'}${k % 7}` : `${k % 2 ? 's' : 'a-sensor-with-a-long-id-'}${k % 7}`
    return [sensor, T0 + k * 1000 + (k % 1000), value, data]
  })
}

describe('appending events in data chunks', () => {
  it('stores every value of entries that end inside, on and across chunk boundaries, in order', async () => {
    const sizes = [CHUNK_ROWS - 1, 1, 2, CHUNK_ROWS, CHUNK_ROWS + 3, 5]
    const entries: BufferedEntry[] = []
    let from = 0
    for (const [i, n] of sizes.entries()) {
      entries.push({ id: `${1000 + i}-0`, events: events(from, n) })
      from += n
    }
    assert.equal(await store.append(entries), from)
    const rows = await store.readAll('SELECT sensor_id, epoch_ms(ts)::DOUBLE AS ms, value, data FROM telemetry_hot ORDER BY rowid')
    const expected = entries.flatMap((e) => e.events)
    assert.equal(rows.length, expected.length)
    rows.forEach((r, i) => {
      const [sensor, ts, value, data] = expected[i] as PackedEvent
      assert.deepEqual([r.sensor_id, r.ms, r.value, r.data], [sensor, ts, value, data], `row ${i}`)
    })
    assert.deepEqual([...(await store.storedEntryIds(entries.map((e) => e.id)))].sort(), entries.map((e) => e.id).sort())
  })

  it('converts epoch milliseconds to DuckDB microseconds exactly, beyond 2^53 µs too', () => {
    assert.equal(epochMicros(T0), BigInt(T0) * 1000n)
    assert.equal(epochMicros(-1), -1000n)
    assert.equal(epochMicros(8.64e15), 8_640_000_000_000_000_000n)
  })
})
