// What a stopped service left in its DuckDB file: the value of every stored event (of one sensor,
// or all), read with DuckDB itself, for tests that count acknowledged events against stored ones.
import path from 'node:path'
import { DuckDBInstance } from '@duckdb/node-api'

export async function storedValues(dataDir: string, sensor?: string): Promise<number[]> {
  const db = await DuckDBInstance.create(path.join(dataDir, 'telemetry.duckdb'))
  const c = await db.connect()
  try {
    const reader = sensor === undefined ? await c.runAndReadAll('SELECT value FROM telemetry') : await c.runAndReadAll('SELECT value FROM telemetry WHERE sensor_id = $1', [sensor])
    return reader.getRows().map((r) => Number(r[0]))
  } finally {
    c.closeSync()
    db.closeSync()
  }
}
