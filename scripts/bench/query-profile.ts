// Where a query's time goes, from the engines themselves: DuckDB's JSON profile (the figures
// EXPLAIN ANALYZE prints: binding, optimizer, each operator) and PostgreSQL's EXPLAIN ANALYZE.
// Both leave out turning the result into JavaScript values, which the timed runs include.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import type { DuckDBConnection, DuckDBValue } from '@duckdb/node-api'
import type pg from 'pg'
import type { SqlQuery } from '../../services/ocean/src/analytics/analytics-queries.ts'

/** DuckDB's profile of one run of the query: where the time goes (the EXPLAIN ANALYZE figures). */
export async function duckdbProfile(conn: DuckDBConnection, q: SqlQuery): Promise<{ total: number } & Record<string, number>> {
  const file = path.join(os.tmpdir(), `bench-profile-${process.pid}.json`)
  await conn.run(`PRAGMA enable_profiling = 'json'`)
  await conn.run(`PRAGMA profiling_output = '${file}'`)
  await conn.run(`SET profiling_mode = 'detailed'`)
  try {
    await conn.runAndReadAll(q.sql, q.params as Record<string, DuckDBValue>)
  } finally {
    await conn.run('PRAGMA disable_profiling')
  }
  type Node = { operator_name?: string; operator_timing?: number; children?: Node[] }
  const top = JSON.parse(fs.readFileSync(file, 'utf8')) as Node & Record<string, number>
  fs.rmSync(file, { force: true })
  const ms = (s: number | undefined) => Math.round((s ?? 0) * 1e5) / 100
  const out: { total: number } & Record<string, number> = { total: ms(top.latency), bind_and_plan: ms(top.planner), optimize: ms(top.all_optimizers), physical_plan: ms(top.physical_planner) }
  const walk = (n: Node) => {
    if (n.operator_name) out[n.operator_name.trim()] = Math.round(((out[n.operator_name.trim()] ?? 0) + ms(n.operator_timing)) * 100) / 100
    for (const c of n.children ?? []) walk(c)
  }
  for (const c of top.children ?? []) walk(c)
  return out
}

/** PostgreSQL's own execution time for the query (EXPLAIN ANALYZE), in ms. */
export async function pgExecutionMs(client: pg.Client, q: pg.QueryConfig): Promise<number> {
  const r = await client.query<{ 'QUERY PLAN': { 'Execution Time': number; 'Planning Time': number }[] }>({
    text: `EXPLAIN (ANALYZE, FORMAT JSON) ${q.text}`,
    values: q.values ?? [],
  })
  const plan = r.rows[0]?.['QUERY PLAN'][0]
  return Math.round(((plan?.['Execution Time'] ?? NaN) + (plan?.['Planning Time'] ?? 0)) * 100) / 100
}
