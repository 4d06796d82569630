// Compaction merges sorted partitions a slice of the sort key at a time (so that its sort never holds
// a whole merge in DuckDB's memory): the merged partition must hold every row of its sources exactly
// once, in (sk, ts) order across the slices' seams, on a real DuckDB file.
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { TelemetryStore, type PackedEvent } from '../../../services/ocean/src/stores/duckdb-store.ts'
import { sliceCondition, sortKeySlices } from '../../../services/ocean/src/stores/compaction-plan.ts'

const T0 = Date.parse('2026-01-05T00:00:00Z')
const HOT_MAX_ROWS = 1000
let dir: string
let store: TelemetryStore

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ocean-compaction-'))
  store = await TelemetryStore.open({ dataDir: dir, memoryLimit: '256MB', threads: 2, hotMaxRows: HOT_MAX_ROWS, hotMaxAgeMs: 3_600_000 })
})
after(() => {
  store?.close()
  if (dir) fs.rmSync(dir, { recursive: true, force: true })
})

/** Rows of 600 sensors (their hashes spread over the key range), one with a tenth of all rows; timestamps out of order. */
function events(round: number): PackedEvent[] {
  return Array.from({ length: HOT_MAX_ROWS }, (_, i) => {
    const k = round * HOT_MAX_ROWS + i
    const sensor = i % 10 === 0 ? 'busy-sensor' : `sensor-${(k * 7) % 599}`
    return [sensor, T0 + ((k * 7919) % 100_000) * 1000, k % 3 === 0 ? null : k / 4, k % 5 === 0 ? `{"n":${k}}` : null]
  })
}

const key = (r: Record<string, unknown>) => `${r.sensor_id}|${r.ms}|${r.value}|${r.data}`

describe('compaction', () => {
  it('merges four partitions a sort-key slice at a time into one holding every row once, in (sk, ts) order', async () => {
    const sent: PackedEvent[] = []
    for (let round = 0; round < 4; round++) {
      const batch = events(round)
      sent.push(...batch)
      await store.append([{ id: `${T0 + round}-0`, events: batch }])
      assert.equal((await store.compact()).kind, 'seal-hot')
    }
    assert.equal(store.stats().partitions, 4)
    const step = await store.compact()
    assert.equal(step.kind, 'merge')
    // The merge really is cut: 4 slices of the key range here (4,000 rows, 1,000 a slice).
    const slices = sortKeySlices(4 * HOT_MAX_ROWS, HOT_MAX_ROWS)
    assert.equal(slices.length, 4)
    assert.deepEqual(store.stats(), { hotRows: 0, partitions: 1 })

    const [part] = await store.readAll('SELECT name FROM telemetry_parts')
    const name = String(part?.name)
    const rows = await store.readAll(`SELECT sensor_id, epoch_ms(ts)::DOUBLE AS ms, value, data FROM ${name}`)
    assert.deepEqual(rows.map(key).sort(), sent.map(([s, ms, v, d]) => key({ sensor_id: s, ms, value: v, data: d })).sort())
    // Stored in (sk, ts) order: no row is before the one stored ahead of it.
    const [disorder] = await store.readAll(`SELECT count(*)::INT AS n FROM (
      SELECT sk, ts, lag(sk) OVER (ORDER BY rowid) AS psk, lag(ts) OVER (ORDER BY rowid) AS pts FROM ${name}
    ) WHERE sk < psk OR (sk = psk AND ts < pts)`)
    assert.equal(disorder?.n, 0)
    // Every slice got rows (600 sensors spread over the key range), so the seams were crossed.
    const perSlice = await store.readAll(`SELECT ${slices.map((s, i) => `count(*) FILTER (${sliceCondition(s)})::INT AS s${i}`).join(', ')} FROM ${name}`)
    for (const [slice, n] of Object.entries(perSlice[0] ?? {})) assert.ok(Number(n) > 0, `slice ${slice} is empty`)
    // The view over the partitions answers as the rows were sent.
    const [busy] = await store.readAll(`SELECT count(*)::INT AS n FROM telemetry WHERE sensor_id = 'busy-sensor'`)
    assert.equal(busy?.n, sent.filter(([s]) => s === 'busy-sensor').length)
  })
})
