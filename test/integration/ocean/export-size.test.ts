// Exports at a size where sorting everything at once ran DuckDB out of memory (600k rows under a
// 64 MB limit; the same failure as 4.28 M rows under the service's 256 MB): each format streams
// every row, in time order, over real HTTP; a limit is exact across windows; an aborted download
// leaves no temporary file. The service's memory at 5 M rows is measured by `npm run bench -- export`.
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { DuckDBInstance } from '@duckdb/node-api'
import { dataSpec, loadService, sensorName, type DataSpec } from '../../../scripts/bench/analytics-data.ts'
import { API_KEY, startOcean, type Harness } from '../../helpers/ocean-harness.ts'

const ROWS = 600_000
let h: Harness
let base: string
let spec: DataSpec
let dataDir: string
let tmp: string
const previousTmp = process.env.TMPDIR

before(async () => {
  // The exports' temporary folders go here, so the test sees exactly what this file's exports leave.
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ocean-export-data-'))
  spec = dataSpec(ROWS)
  const loaded = await loadService(dataDir, spec)
  loaded.store.close()
  h = await startOcean({ OCEAN_DATA_DIR: dataDir, OCEAN_DUCKDB_MEMORY_LIMIT: '64MB' })
  base = await h.app.listen({ host: '127.0.0.1', port: 0 })
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ocean-export-test-'))
  process.env.TMPDIR = tmp
})

after(async () => {
  if (previousTmp === undefined) delete process.env.TMPDIR
  else process.env.TMPDIR = previousTmp
  await h?.close()
  fs.rmSync(dataDir, { recursive: true, force: true })
  fs.rmSync(tmp, { recursive: true, force: true })
})

const get = (query: string, signal?: AbortSignal) =>
  fetch(`${base}/api/ocean/analytics/export?${query}`, { headers: { authorization: `Bearer ${API_KEY}` }, ...(signal ? { signal } : {}) })

async function text(query: string): Promise<string> {
  const res = await get(query)
  assert.equal(res.status, 200, await res.clone().text())
  return res.text()
}

/** No temporary folder is left once the stream has closed (polled: the close is asynchronous). */
async function noTempLeft(): Promise<void> {
  const deadline = Date.now() + 10_000
  while (fs.readdirSync(tmp).length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50))
  assert.deepEqual(fs.readdirSync(tmp), [], 'temporary export files left behind')
}

function assertOrdered(timestamps: string[]): void {
  for (let i = 1; i < timestamps.length; i++) {
    if ((timestamps[i] as string) < (timestamps[i - 1] as string)) assert.fail(`row ${i} (${timestamps[i]}) comes before row ${i - 1} (${timestamps[i - 1]})`)
  }
}

const expectedValueSum = async () => Number((await h.engine.store.readAll('SELECT sum(round(value * 1000))::BIGINT AS s FROM telemetry'))[0]?.s)
const sumMilli = (values: number[]) => values.reduce((a, v) => a + Math.round(v * 1000), 0)

describe('exports at size, in bounded memory', () => {
  it('CSV: every row, in time order, the header once', async () => {
    const lines = (await text('format=csv&limit=50000000')).trimEnd().split('\n')
    assert.equal(lines[0], 'sensor_id,timestamp,value,data')
    assert.equal(lines.filter((l) => l.startsWith('sensor_id,')).length, 1, 'one header, not one per window')
    const rows = lines.slice(1).map((l) => l.split(','))
    assert.equal(rows.length, spec.rows)
    assertOrdered(rows.map((r) => r[1] as string))
    assert.equal(sumMilli(rows.map((r) => Number(r[2]))), await expectedValueSum())
    await noTempLeft()
  })

  it('JSON lines and JSON: the same rows', async () => {
    const jsonl = (await text('format=jsonl&limit=50000000')).trimEnd().split('\n').map((l) => JSON.parse(l) as { timestamp: string; value: number })
    assert.equal(jsonl.length, spec.rows)
    assertOrdered(jsonl.map((r) => r.timestamp))
    assert.equal(sumMilli(jsonl.map((r) => r.value)), await expectedValueSum())
    const json = JSON.parse(await text('format=json&limit=50000000')) as typeof jsonl
    assert.equal(json.length, spec.rows)
    assert.deepEqual(json[0], jsonl[0])
    assert.deepEqual(json.at(-1), jsonl.at(-1))
    await noTempLeft()
  })

  it('Parquet: one file holding every row in time order', async () => {
    const res = await get('format=parquet&limit=50000000')
    assert.equal(res.status, 200)
    const file = path.join(dataDir, 'check.parquet')
    fs.writeFileSync(file, Buffer.from(await res.arrayBuffer()))
    const db = await DuckDBInstance.create(':memory:')
    const c = await db.connect()
    try {
      const r = (
        await c.runAndReadAll(`SELECT count(*)::INT AS n, sum(round(value * 1000))::BIGINT AS s,
          count(*) FILTER (WHERE timestamp < prev)::INT AS disorder
          FROM (SELECT timestamp, value, lag(timestamp) OVER () AS prev FROM read_parquet('${file}'))`)
      ).getRowObjectsJS()[0] as { n: number; s: bigint; disorder: number }
      assert.equal(r.n, spec.rows)
      assert.equal(Number(r.s), await expectedValueSum())
      assert.equal(r.disorder, 0)
    } finally {
      c.closeSync()
      db.closeSync()
      fs.rmSync(file, { force: true })
    }
    await noTempLeft()
  })

  it('a limit across windows is exact and takes the earliest rows', async () => {
    const all = (await text('format=csv&limit=50000000')).split('\n')
    const limited = (await text('format=csv&limit=300001')).trimEnd().split('\n')
    assert.equal(limited.length, 300_002)
    assert.deepEqual(limited.slice(-3), all.slice(300_002 - 3, 300_002))
    const one = JSON.parse(await text('format=json&limit=1')) as unknown[]
    assert.equal(one.length, 1)
  })

  it('a sensor and a time range narrow it', async () => {
    const sensor = sensorName(7)
    const from = new Date(spec.startMs + 86_400_000).toISOString()
    const to = new Date(spec.startMs + 2 * 86_400_000).toISOString()
    const rows = (await text(`format=jsonl&sensor_id=${sensor}&from=${from}&to=${to}`)).trimEnd().split('\n').map((l) => JSON.parse(l) as { sensor_id: string; timestamp: string })
    const expected = Math.ceil(86_400_000 / spec.stepMs)
    assert.ok(Math.abs(rows.length - expected) <= 1, `${rows.length} rows, about ${expected} expected`)
    assert.ok(rows.every((r) => r.sensor_id === sensor && r.timestamp >= from && r.timestamp < to))
  })

  it('an empty export is a header or an empty array', async () => {
    assert.equal(await text('format=csv&sensor_id=nobody'), 'sensor_id,timestamp,value,data\n')
    assert.deepEqual(JSON.parse(await text('format=json&sensor_id=nobody')), [])
    assert.equal(await text('format=jsonl&sensor_id=nobody'), '')
    await noTempLeft()
  })

  for (const format of ['csv', 'parquet']) {
    it(`an aborted ${format} download leaves no temporary file`, async () => {
      const abort = new AbortController()
      const res = await get(`format=${format}&limit=50000000`, abort.signal)
      assert.equal(res.status, 200)
      const reader = res.body?.getReader()
      assert.ok(reader)
      const first = await reader.read()
      assert.ok(first.value && first.value.length > 0)
      assert.ok(fs.readdirSync(tmp).length > 0, 'the export is under way in its temporary folder')
      abort.abort()
      await reader.read().catch(() => undefined)
      await noTempLeft()
      // The service still answers, and its reader connections were given back.
      assert.equal(JSON.parse(await text('format=json&limit=2')).length, 2)
    })
  }
})
