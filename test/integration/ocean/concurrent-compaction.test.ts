// Compaction runs on its own connection beside the writer's appends (the worker starts a step and
// goes on storing). Appending batch after batch while seals and merges run must leave every event
// exactly once, the hot rows that arrived during a seal still hot, and entry ids all recorded.
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { TelemetryStore, type BufferedEntry, type PackedEvent } from '../../../services/ocean/src/stores/duckdb-store.ts'

let dir: string
let store: TelemetryStore
const T0 = Date.parse('2026-01-05T00:00:00Z')

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ocean-compaction-'))
  store = await TelemetryStore.open({ dataDir: dir, memoryLimit: '256MB', threads: 2, hotMaxRows: 5000, hotMaxAgeMs: 60_000 })
})
after(async () => {
  await store?.compactionSettled()
  store?.close()
  fs.rmSync(dir, { recursive: true, force: true })
})

function entry(n: number, size: number): BufferedEntry {
  const events: PackedEvent[] = Array.from({ length: size }, (_, i) => {
    const k = n * size + i
    return [`s-${k % 37}`, T0 + k, k, k % 5 === 0 ? `{"k":${k}}` : null]
  })
  return { id: `${T0 + n}-0`, events }
}

describe('compaction beside appends', () => {
  it('stores every event exactly once while seals and merges run on the other connection', async () => {
    const SIZE = 1000
    const BATCHES = 60
    let started = 0
    let concurrent = 0
    const errors: unknown[] = []
    for (let n = 0; n < BATCHES; n += 2) {
      // As the worker does: start a step if one is due and none runs, then append without waiting.
      if (store.compactInBackground((_s, err) => err !== undefined && errors.push(err))) started++
      const running = store.stats().partitions
      await store.append([entry(n, SIZE), entry(n + 1, SIZE)])
      if (store.stats().partitions === running) concurrent++
    }
    await store.compactionSettled()
    assert.deepEqual(errors, [])
    assert.ok(started >= 6, `compaction steps started: ${started}`)
    assert.ok(concurrent > 0, 'some appends committed while a step was still running')
    const [row] = await store.readAll(`SELECT count(*)::INTEGER AS n, count(DISTINCT ts)::INTEGER AS distinct_ts, sum(value)::DOUBLE AS total, count(data)::INTEGER AS with_data FROM telemetry`)
    const total = SIZE * BATCHES
    assert.equal(row?.n, total, 'every event once')
    assert.equal(row?.distinct_ts, total, 'no event twice')
    assert.equal(row?.total, (total * (total - 1)) / 2)
    assert.equal(row?.with_data, total / 5)
    const s = store.stats()
    assert.ok(s.partitions >= 1, `partitions: ${s.partitions}`)
    const [hot] = await store.readAll('SELECT count(*)::INTEGER AS n FROM telemetry_hot')
    assert.equal(s.hotRows, hot?.n, 'the hot count the store keeps is the hot table’s')
    const ids = await store.storedEntryIds(Array.from({ length: BATCHES }, (_, n) => entry(n, 0).id))
    assert.equal(ids.size, BATCHES, 'every entry id recorded')
    // What is left still compacts by itself, and nothing changes on the way.
    while ((await store.compact(Date.now() + 3_600_000)).kind !== 'none');
    const [again] = await store.readAll('SELECT count(*)::INTEGER AS n, sum(value)::DOUBLE AS total FROM telemetry')
    assert.deepEqual([again?.n, again?.total], [total, (total * (total - 1)) / 2])
    assert.equal(store.stats().hotRows, 0)
  })
})
