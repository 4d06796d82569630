import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { bucketsQuery, groupBuckets, planWindows, stagingSql, untilLimit, windowCopy, windowSelect, type Bucket } from '../../../services/ocean/src/analytics/export-plan.ts'
import { jsonArray } from '../../../services/ocean/src/analytics/export-stream.ts'

const evil = "x'; DROP TABLE telemetry; --"
const H = 3_600_000

describe('export windows', () => {
  it('joins consecutive hours up to the window size, and the windows touch', () => {
    const spans = groupBuckets(
      [
        { t: 0, rows: 40, bytes: 400 },
        { t: H, rows: 50, bytes: 500 },
        { t: 5 * H, rows: 20, bytes: 200 },
        { t: 6 * H, rows: 300, bytes: 3000 },
        { t: 7 * H, rows: 1, bytes: 10 },
      ],
      H,
      { rows: 100, bytes: 10_000 },
    )
    assert.deepEqual(spans, [
      { from: 0, to: 5 * H, rows: 90, bytes: 900 },
      { from: 5 * H, to: 6 * H, rows: 20, bytes: 200 },
      { from: 6 * H, to: 7 * H, rows: 300, bytes: 3000 },
      { from: 7 * H, to: 8 * H, rows: 1, bytes: 10 },
    ])
  })

  it('cuts by bytes when the events carry large data', () => {
    const buckets = [0, 1, 2, 3].map((i) => ({ t: i * H, rows: 10, bytes: 600 }))
    const spans = groupBuckets(buckets, H, { rows: 1000, bytes: 1000 })
    assert.deepEqual(
      spans.map((s) => [s.from / H, s.to / H, s.rows]),
      [
        [0, 1, 10],
        [1, 2, 10],
        [2, 3, 10],
        [3, 4, 10],
      ],
    )
    assert.equal(groupBuckets(buckets, H, { rows: 1000, bytes: 1200 }).length, 2)
  })

  it('stops at the window that reaches the limit', () => {
    const spans = [
      { from: 0, to: 1, rows: 10, bytes: 0 },
      { from: 1, to: 2, rows: 10, bytes: 0 },
      { from: 2, to: 3, rows: 10, bytes: 0 },
    ]
    assert.deepEqual(untilLimit(spans, 10), spans.slice(0, 1))
    assert.deepEqual(untilLimit(spans, 11), spans.slice(0, 2))
    assert.deepEqual(untilLimit(spans, 1000), spans)
  })

  it('counts an hour holding too many rows again by minute, and so on down to the millisecond', async () => {
    const asked: string[] = []
    const count = async (sql: string): Promise<Bucket[]> => {
      asked.push(sql)
      if (sql.includes("'hour'")) return [{ t: 0, rows: 5, bytes: 5 }, { t: H, rows: 500, bytes: 500 }]
      if (sql.includes("'minute'")) return [{ t: H, rows: 100, bytes: 100 }, { t: H + 60_000, rows: 400, bytes: 400 }]
      if (sql.includes("'second'")) return [{ t: H + 60_000, rows: 400, bytes: 400 }]
      return [{ t: H + 60_000, rows: 400, bytes: 400 }]
    }
    const spans = await planWindows(count, undefined, {}, 1_000_000, { rows: 200, bytes: 1e9 })
    assert.deepEqual(spans, [
      { from: 0, to: H, rows: 5, bytes: 5 },
      { from: H, to: H + 60_000, rows: 100, bytes: 100 },
      { from: H + 60_000, to: H + 60_001, rows: 400, bytes: 400 },
    ])
    assert.equal(asked.length, 4)
    // The refinement counts only inside the span it splits.
    assert.match(asked[1] as string, /ts >= make_timestamp\(3600000000\) AND ts < make_timestamp\(7200000000\)/)
  })

  it('quotes what COPY and ATTACH need inline and checks the integers', async () => {
    const select = windowSelect(evil, { from: 5 }, { from: 0, to: 1000, rows: 1, bytes: 1 }, 10)
    assert.ok(select.includes("sensor_id = 'x''; DROP TABLE telemetry; --'"))
    assert.ok(select.includes('ts >= make_timestamp(5000)'))
    assert.ok(select.endsWith('ORDER BY ts, sensor_id LIMIT 10'))
    assert.ok(windowCopy("/tmp/o'x.csv", 'csv', select, true).includes("TO '/tmp/o''x.csv' (FORMAT csv, HEADER true)"))
    assert.ok(windowCopy('/tmp/a', 'csv', select, false).endsWith('(FORMAT csv, HEADER false)'))
    assert.ok(windowCopy('/tmp/a', 'jsonl', select, false).endsWith('(FORMAT json)'))
    assert.ok(bucketsQuery('minute', evil, {}).includes("hash('x''; DROP TABLE telemetry; --')"))
    assert.throws(() => windowSelect(undefined, {}, undefined, 0), RangeError)
    assert.throws(() => windowSelect(undefined, { from: 0.5 }, undefined, 1), RangeError)
    await assert.rejects(planWindows(async () => [], undefined, {}, 0), RangeError)
    assert.throws(() => stagingSql('x; DROP', '/tmp/s'), RangeError)
    assert.equal(stagingSql('export_ab', "/tmp/o'x").attach, "ATTACH '/tmp/o''x' AS export_ab")
  })
})

describe('JSON lines to a JSON array', () => {
  async function collect(chunks: string[]): Promise<string> {
    async function* gen() {
      for (const c of chunks) yield Buffer.from(c)
    }
    const out: Buffer[] = []
    for await (const b of jsonArray(gen())) out.push(b)
    return Buffer.concat(out).toString()
  }
  it('joins records split anywhere across chunks, keeping escaped newlines and multibyte text', async () => {
    const records = [{ a: 'li\nne' }, { b: 'José 李雷 🌊' }, { c: 3 }]
    const text = records.map((r) => JSON.stringify(r)).join('\n') + '\n'
    const bytes = Buffer.from(text)
    for (const cut of [1, 7, 13, bytes.length - 1]) {
      const parts = [bytes.subarray(0, cut), bytes.subarray(cut)].map((b) => b.toString('latin1'))
      async function* gen() {
        for (const p of parts) yield Buffer.from(p, 'latin1')
      }
      const out: Buffer[] = []
      for await (const b of jsonArray(gen())) out.push(b)
      assert.deepEqual(JSON.parse(Buffer.concat(out).toString()), records)
    }
  })
  it('an empty export is an empty array', async () => {
    assert.deepEqual(JSON.parse(await collect([])), [])
    assert.deepEqual(JSON.parse(await collect(['\n'])), [])
  })
})
