// Compaction runs on a connection of its own beside the writer's appends: sealing switches appends
// to the other hot table and sorts the full one meanwhile; merges touch only partitions. Appending
// batch after batch while seals and merges run must leave every event exactly once and every entry
// id recorded (how many merges run beside the appends depends on how fast DuckDB sorts: seals come
// first whenever the hot table is full, so one test starts a merge on purpose); a file left with
// rows in both hot tables (a stop in the middle of a seal) must seal the table appends left first,
// and lose nothing.
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterEach, describe, it } from 'node:test'
import { DuckDBInstance } from '@duckdb/node-api'
import { HOT_TABLES, TelemetryStore, type BufferedEntry, type PackedEvent } from '../../../services/ocean/src/stores/duckdb-store.ts'

const T0 = Date.parse('2026-01-05T00:00:00Z')
const cleanup: (() => void)[] = []
afterEach(() => {
  for (const f of cleanup.splice(0)) f()
})

async function openStore(dir: string, hotMaxRows: number): Promise<TelemetryStore> {
  return TelemetryStore.open({ dataDir: dir, memoryLimit: '256MB', threads: 2, hotMaxRows, hotMaxAgeMs: 3_600_000 })
}

function tmpDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ocean-concurrent-compaction-'))
  cleanup.push(() => fs.rmSync(dir, { recursive: true, force: true }))
  return dir
}

function entry(n: number, size: number): BufferedEntry & { events: PackedEvent[] } {
  const events: PackedEvent[] = Array.from({ length: size }, (_, i) => {
    const k = n * size + i
    return [`s-${k % 37}`, T0 + k, k, k % 5 === 0 ? `{"k":${k}}` : null]
  })
  return { id: `${T0 + n}-0`, events }
}

/** count, distinct timestamps and the sum of values over the telemetry view: events 0..total-1 once each. */
async function tally(store: TelemetryStore): Promise<[unknown, unknown, unknown]> {
  const [row] = await store.readAll('SELECT count(*)::INTEGER AS n, count(DISTINCT ts)::INTEGER AS d, sum(value)::DOUBLE AS total FROM telemetry')
  return [row?.n, row?.d, row?.total]
}

describe('compaction beside appends', () => {
  it('stores every event exactly once while seals (and merges, when one is due between seals) run on the other connection', async () => {
    const store = await openStore(tmpDir(), 5000)
    const SIZE = 1000
    const BATCHES = 80
    const steps: { kind: string; from: number; to: number }[] = []
    const appends: { from: number; to: number }[] = []
    const errors: unknown[] = []
    for (let n = 0; n < BATCHES; n += 2) {
      // As the worker does: start a step if one is due and none runs, then append without waiting.
      const from = performance.now()
      store.compact().then(
        (step) => step.kind !== 'none' && steps.push({ kind: step.kind, from, to: performance.now() }),
        (e: unknown) => errors.push(e),
      )
      await store.roomToAppend()
      const at = performance.now()
      await store.append([entry(n, SIZE), entry(n + 1, SIZE)])
      appends.push({ from: at, to: performance.now() })
    }
    await store.compacted()
    assert.deepEqual(errors, [])
    // How many steps run depends on how fast DuckDB sorts (a step still running makes compact() a
    // no-op), but not the seals: the appends wait while their table holds 2 x 5,000 rows and a step
    // runs, so each seal takes at most 11,999 of the 80,000 rows and at most that many stay hot.
    const seals = steps.filter((s) => s.kind === 'seal-hot').length
    assert.ok(seals >= 6, `seals while appending: ${seals} (steps: ${steps.map((s) => s.kind).join(', ')})`)
    const overlapped = appends.filter((a) => steps.some((s) => s.from <= a.from && a.to <= s.to))
    assert.ok(overlapped.length > 0, 'some appends began and committed while a step ran')
    const total = SIZE * BATCHES
    assert.deepEqual(await tally(store), [total, total, (total * (total - 1)) / 2], 'every event once')
    const [withData] = await store.readAll('SELECT count(data)::INTEGER AS n FROM telemetry')
    assert.equal(withData?.n, total / 5)
    const ids = await store.storedEntryIds(Array.from({ length: BATCHES }, (_, n) => entry(n, 0).id))
    assert.equal(ids.size, BATCHES, 'every entry id recorded')
    const [hot] = await store.readAll(`SELECT count(*)::INTEGER AS n FROM (${HOT_TABLES.map((t) => `SELECT 1 FROM ${t}`).join(' UNION ALL ')})`)
    assert.equal(store.stats().hotRows, hot?.n, 'the hot count the store keeps is the hot tables’')
    // What is left compacts by itself, and nothing changes on the way.
    while ((await store.compact(Date.now() + 3_600_000)).kind !== 'none');
    assert.deepEqual(await tally(store), [total, total, (total * (total - 1)) / 2])
    assert.equal(store.stats().hotRows, 0)
    store.close()
  })

  it('stores every event exactly once appended while a merge runs', async () => {
    const store = await openStore(tmpDir(), 5000)
    // Four sealed partitions of one size tier: a merge is due once the hot table is empty.
    for (let n = 0; n < 4; n++) {
      await store.append([entry(n, 5000)])
      assert.equal((await store.compact()).kind, 'seal-hot')
    }
    let merging = true
    const merge = store.compact().finally(() => (merging = false))
    let beganDuring = 0
    // Entry n of size 1,000 holds events n*1000 ..: from n = 20 on, after the first 20,000.
    for (let n = 20; n < 40; n++) {
      await store.roomToAppend()
      if (merging) beganDuring++
      await store.append([entry(n, 1000)])
    }
    assert.equal((await merge).kind, 'merge')
    assert.ok(beganDuring > 0, 'appends began while the merge ran')
    const [row] = await store.readAll('SELECT count(*)::INTEGER AS n, count(DISTINCT ts)::INTEGER AS d FROM telemetry')
    assert.deepEqual([row?.n, row?.d], [4 * 5000 + 20 * 1000, 4 * 5000 + 20 * 1000], 'every event once')
    const ids = await store.storedEntryIds([0, 1, 2, 3, ...Array.from({ length: 20 }, (_, i) => 20 + i)].map((n) => entry(n, 0).id))
    assert.equal(ids.size, 24, 'every entry id recorded')
    assert.equal(store.stats().partitions, 1, 'the four partitions merged into one')
    store.close()
  })

  it('seals the hot table appends left first when a stop left rows in both, and keeps every row', async () => {
    const dir = tmpDir()
    let store = await openStore(dir, 1_000_000)
    await store.append([entry(0, 500)])
    store.close()
    // What a stop in the middle of a seal leaves: rows in both tables (the seal's transaction rolled back).
    const instance = await DuckDBInstance.create(path.join(dir, 'telemetry.duckdb'))
    const raw = await instance.connect()
    await raw.run(`INSERT INTO ${HOT_TABLES[1]} SELECT 's-x', TIMESTAMP '2026-01-05' + INTERVAL (i + 500) MILLISECOND, i + 500, NULL FROM range(300) t(i)`)
    raw.closeSync()
    instance.closeSync()

    store = await openStore(dir, 1_000_000)
    assert.deepEqual(store.stats(), { hotRows: 800, partitions: 0 })
    // Not due by size or age, yet the table appends left is sealed, alone.
    assert.equal((await store.compact()).kind, 'seal-hot')
    assert.deepEqual(store.stats(), { hotRows: 500, partitions: 1 })
    const [left] = await store.readAll(`SELECT count(*)::INTEGER AS n FROM ${HOT_TABLES[1]}`)
    assert.equal(left?.n, 0)
    // Appends went on into the table that held rows, and it seals next.
    await store.append([entry(4, 200)])
    assert.equal((await store.compact()).kind, 'none')
    assert.equal((await store.compact(Date.now() + 3_600_000)).kind, 'seal-hot')
    assert.deepEqual(store.stats(), { hotRows: 0, partitions: 2 })
    const [row] = await store.readAll('SELECT count(*)::INTEGER AS n, sum(value)::DOUBLE AS total FROM telemetry')
    assert.deepEqual([row?.n, row?.total], [1000, (1000 * 999) / 2], 'values 0..999 once each')
    store.close()
  })
})
