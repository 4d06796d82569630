// An export as a stream, in bounded memory at any size: the windows of export-plan.ts written one
// at a time by DuckDB into a private temporary folder and streamed from there. CSV and JSON lines
// start streaming after the first window; Parquet (one file) after its staging table is complete.
// The folder is removed when the stream ends, fails or is destroyed (an aborted download).
import crypto from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { Readable } from 'node:stream'
import type { DuckDBConnection } from '@duckdb/node-api'
import type { TelemetryStore } from '../stores/duckdb-store.ts'
import type { ExportQuery } from './analytics.ts'
import { planWindows, stagingSql, windowCopy, windowSelect, type Bucket, type Span, type WindowLimit } from './export-plan.ts'

/** Rows a COPY or INSERT reports it wrote. */
async function changed(c: DuckDBConnection, sql: string): Promise<number> {
  const r = await c.runAndReadAll(sql)
  return Number(r.getRows()[0]?.[0] ?? 0)
}

/** The spans to write; none means one unbounded window (an empty export still has its CSV header). */
function windows(spans: Span[]): (Span | undefined)[] {
  return spans.length > 0 ? spans : [undefined]
}

async function* fileChunks(file: string): AsyncGenerator<Buffer> {
  for await (const chunk of fs.createReadStream(file)) yield chunk as Buffer
}

async function* textWindows(store: TelemetryStore, q: ExportQuery, spans: Span[], dir: string, format: 'csv' | 'jsonl'): AsyncGenerator<Buffer> {
  let left = q.limit
  for (const [i, span] of windows(spans).entries()) {
    if (left <= 0) break
    const file = path.join(dir, `${i}.${format}`)
    const select = windowSelect(q.sensor_id, q, span, left)
    left -= await store.withReader((c) => changed(c, windowCopy(file, format, select, i === 0)))
    yield* fileChunks(file)
    fs.rmSync(file, { force: true })
  }
}

async function* parquetFile(store: TelemetryStore, q: ExportQuery, spans: Span[], dir: string): AsyncGenerator<Buffer> {
  const sql = stagingSql(`export_${crypto.randomUUID().replaceAll('-', '')}`, path.join(dir, 'staging.duckdb'))
  const target = path.join(dir, 'telemetry.parquet')
  await store.withReader(async (c) => {
    await c.run(sql.attach)
    await c.run(sql.create)
  })
  try {
    let left = q.limit
    for (const span of windows(spans)) {
      if (left <= 0) break
      const select = windowSelect(q.sensor_id, q, span, left)
      left -= await store.withReader(async (c) => {
        const n = await changed(c, sql.insert(select))
        await c.run(sql.checkpoint)
        return n
      })
    }
    await store.withReader((c) => c.run(sql.copy(target)))
  } finally {
    await store.withReader((c) => c.run(sql.detach))
  }
  yield* fileChunks(target)
}

const FIRST = Buffer.from('\n')
const NEXT = Buffer.from(',\n')

/** JSON lines (one object per line, newlines inside strings escaped) as one JSON array. */
export async function* jsonArray(lines: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  yield Buffer.from('[')
  let records = 0
  let inRecord = false
  for await (const chunk of lines) {
    const parts: Buffer[] = []
    let start = 0
    while (start < chunk.length) {
      const nl = chunk.indexOf(10, start)
      const end = nl === -1 ? chunk.length : nl
      if (end > start) {
        if (!inRecord) parts.push(records++ > 0 ? NEXT : FIRST)
        inRecord = true
        parts.push(chunk.subarray(start, end))
      }
      if (nl !== -1) inRecord = false
      start = end + 1
    }
    if (parts.length > 0) yield Buffer.concat(parts)
  }
  yield Buffer.from(records > 0 ? '\n]\n' : ']\n')
}

/** The folder is made once the stream is first read: a stream destroyed before that leaves nothing. */
async function* inTempDir(chunks: (dir: string) => AsyncGenerator<Buffer>, done: () => void): AsyncGenerator<Buffer> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ocean-export-'))
  try {
    yield* chunks(dir)
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
    done()
  }
}

/**
 * Plans the windows before answering (so a failing query is an error answer, not a cut stream),
 * then streams them. `done` runs once the temporary folder is gone.
 */
export async function exportStream(store: TelemetryStore, q: ExportQuery, done: () => void = () => undefined, max?: WindowLimit): Promise<Readable> {
  const count = async (sql: string): Promise<Bucket[]> => (await store.readAll(sql)).map((r) => ({ t: Number(r.t), rows: Number(r.rows), bytes: Number(r.bytes ?? 0) }))
  const spans = await planWindows(count, q.sensor_id, q, q.limit, max)
  const format = q.format
  const chunks = (dir: string) =>
    format === 'parquet'
      ? parquetFile(store, q, spans, dir)
      : format === 'json'
        ? jsonArray(textWindows(store, q, spans, dir, 'jsonl'))
        : textWindows(store, q, spans, dir, format)
  return Readable.from(inTempDir(chunks, done), { objectMode: false })
}
