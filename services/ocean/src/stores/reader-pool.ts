// The telemetry store's reader connections: each sees committed data only (MVCC) and runs one
// query at a time; a query waits for a free one.
import type { DuckDBConnection, DuckDBPreparedStatement, DuckDBValue } from '@duckdb/node-api'

export class ReaderPool {
  private readonly idle: DuckDBConnection[]
  private readonly waiting: ((c: DuckDBConnection) => void)[] = []
  private readonly prepared = new WeakMap<DuckDBConnection, Map<string, DuckDBPreparedStatement>>()

  constructor(private readonly readers: DuckDBConnection[]) {
    this.idle = [...readers]
  }

  /** Runs `fn` on a free reader connection (waiting for one if all are busy). */
  async withReader<T>(fn: (c: DuckDBConnection) => Promise<T>): Promise<T> {
    const conn = this.idle.pop() ?? (await new Promise<DuckDBConnection>((resolve) => this.waiting.push(resolve)))
    try {
      return await fn(conn)
    } finally {
      const next = this.waiting.shift()
      if (next) next(conn)
      else this.idle.push(conn)
    }
  }

  /**
   * A read query's rows (as JavaScript values) on one of the readers, through that reader's prepared
   * statement for this SQL text: the analytics queries are a handful of texts run with other
   * parameters, and binding and planning took a millisecond of a one-sensor query's ~3 ms. DuckDB
   * plans a statement again by itself when the catalog changed (compaction replaces the view).
   */
  async readAll(sql: string, params: Record<string, DuckDBValue> = {}): Promise<Record<string, unknown>[]> {
    return this.withReader(async (c) => {
      let cache = this.prepared.get(c)
      if (!cache) this.prepared.set(c, (cache = new Map()))
      let stmt = cache.get(sql)
      if (!stmt) {
        stmt = await c.prepare(sql)
        // A few distinct texts per reader in practice; bounded all the same.
        if (cache.size >= 64) cache.clear()
        cache.set(sql, stmt)
      }
      stmt.clearBindings()
      if (Object.keys(params).length) stmt.bind(params)
      return (await stmt.runAndReadAll()).getRowObjectsJS() as Record<string, unknown>[]
    })
  }

  close(): void {
    for (const r of this.readers) r.closeSync()
  }
}
