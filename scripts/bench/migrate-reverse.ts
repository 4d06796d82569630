// Benchmark 6d: the reverse sync (SQLite -> PostgreSQL, what a rollback runs) beside pgloader on the
// same rows in the same run. The scenario is a rollback after every row of a table changed on the new
// side: `orders` is copied (empty) from PostgreSQL into ocean.db by the engine, the cutover mark
// installs its change triggers, then SQLite itself writes N rows into it (the triggers record each
// one), and PostgreSQL's table is emptied before each timed round. The engine's time is
// runMigration in reverse mode from call to return (latest change per key, COPY into a temporary
// table, one INSERT ... ON CONFLICT with the casts back to the source's types); pgloader's is the
// whole `pgloader` command loading the same table of the same file into a fresh database (it creates
// the table, copies, then builds the primary key). After each run the rows in PostgreSQL are compared
// with SQLite's by count and column sums.
import fs from 'node:fs'
import path from 'node:path'
import Database from 'better-sqlite3'
import type { MappingFile } from '../../packages/migrate/src/plan/mapping.ts'
import { runMigration, type MigrateOptions } from '../../packages/migrate/src/run-migration.ts'
import { bash, q, requireTool, withClient } from './commands.ts'
import { atLeast, fmt, row, type BenchContext } from './report.ts'

const INSTALL_PGLOADER = 'apt-get install -y pgloader (bash scripts/setup bench does it)'
const ORDERS_MAPPING: MappingFile = { preset: 'none', include: ['orders'] }
const ORDERS_DDL = `CREATE TABLE orders (id bigint PRIMARY KEY, user_id int NOT NULL, amount numeric(12,2) NOT NULL, status text NOT NULL,
  note text, created_at timestamptz NOT NULL)`

/** What both sides must agree on after a run: count and a sum per column (amount exactly, in cents). */
interface Summary {
  rows: number
  users: string
  cents: string
  notes: number
  firstEpoch: number
  lastEpoch: number
}

function sqliteSummary(file: string): Summary {
  const db = new Database(file, { readonly: true })
  try {
    const r = db
      .prepare(`SELECT count(*) AS rows, sum(user_id) AS users, sum(CAST(replace(amount, '.', '') AS INTEGER)) AS cents, count(note) AS notes,
        min(unixepoch(created_at)) AS firstEpoch, max(unixepoch(created_at)) AS lastEpoch FROM orders`)
      .safeIntegers(true)
      .get() as Record<string, bigint>
    return { rows: Number(r.rows), users: String(r.users), cents: String(r.cents), notes: Number(r.notes), firstEpoch: Number(r.firstEpoch), lastEpoch: Number(r.lastEpoch) }
  } finally {
    db.close()
  }
}

async function pgSummary(url: string): Promise<Summary> {
  return withClient(url, async (c) => {
    const r = (
      await c.query<Record<string, string>>(`SELECT count(*) AS rows, sum(user_id) AS users, sum((amount::numeric * 100)::bigint) AS cents, count(note) AS notes,
        extract(epoch FROM min(created_at::timestamptz))::bigint AS first, extract(epoch FROM max(created_at::timestamptz))::bigint AS last FROM orders`)
    ).rows[0]!
    return { rows: Number(r.rows), users: String(r.users), cents: String(r.cents), notes: Number(r.notes), firstEpoch: Number(r.first), lastEpoch: Number(r.last) }
  })
}

function sameSummary(what: string, got: Summary, want: Summary): void {
  if (JSON.stringify(got) !== JSON.stringify(want)) throw new Error(`${what}: PostgreSQL holds ${JSON.stringify(got)}, SQLite ${JSON.stringify(want)}`)
}

/** N rows written by SQLite itself into the migrated (empty) table, in the forms the engine stores. */
function writeOnNewSide(file: string, rows: number): void {
  const db = new Database(file)
  try {
    db.exec(`WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < ${rows})
      INSERT INTO orders (id, user_id, amount, status, note, created_at)
      SELECT i, 1 + i % 10000, printf('%d.%02d', i % 100000, i % 100), CASE i % 4 WHEN 0 THEN 'new' WHEN 1 THEN 'paid' WHEN 2 THEN 'shipped' ELSE 'void' END,
             CASE WHEN i % 5 = 0 THEN NULL ELSE 'note ' || i || ' ✓' END, strftime('%Y-%m-%dT%H:%M:%fZ', 1717200000 + i, 'unixepoch') FROM s`)
  } finally {
    db.close()
  }
}

/** Every row changed again on the new side (the triggers record each): the next reverse carries all. */
function touchAll(file: string): void {
  const db = new Database(file)
  try {
    db.exec('UPDATE orders SET note = note')
  } finally {
    db.close()
  }
}

export async function reverseBench(ctx: BenchContext, serverUrl: string, dir: string, rows: number, rounds: number): Promise<void> {
  requireTool('pgloader', INSTALL_PGLOADER)
  const url = serverUrl.replace(/\/postgres$/, '/bench_reverse')
  const loaderUrl = serverUrl.replace(/\/postgres$/, '/bench_pgloader')
  await withClient(serverUrl, async (c) => {
    await c.query('CREATE DATABASE bench_reverse')
    await c.query('CREATE DATABASE bench_pgloader')
  })
  await withClient(url, (c) => c.query(ORDERS_DDL))
  const work = path.join(dir, 'reverse')
  fs.rmSync(work, { recursive: true, force: true })
  const sqliteFile = path.join(work, 'data', 'ocean.db')
  const base: MigrateOptions = { source: url, sqlite: sqliteFile, duckdb: path.join(work, 'data', 'telemetry.duckdb'), journal: path.join(work, 'journal.db'), mode: 'copy', mapping: ORDERS_MAPPING, log: () => undefined }
  await runMigration(base)
  await runMigration({ ...base, mode: 'mark-cutover' })
  let t0 = performance.now()
  writeOnNewSide(sqliteFile, rows)
  const want = sqliteSummary(sqliteFile)
  if (want.rows !== rows) throw new Error(`SQLite holds ${want.rows} orders of ${rows}`)
  ctx.log(`6d: ${fmt(rows)} orders written on the new side (SQLite, change triggers on) in ${((performance.now() - t0) / 1000).toFixed(1)} s`)

  const loadFile = path.join(work, 'orders.load')
  fs.writeFileSync(
    loadFile,
    `LOAD DATABASE FROM sqlite://${sqliteFile} INTO ${loaderUrl}\n WITH include drop, create tables, create indexes, reset sequences\n INCLUDING ONLY TABLE NAMES LIKE 'orders';\n`,
  )
  const engine: number[] = []
  const loader: number[] = []
  for (let r = 0; r < rounds; r++) {
    ctx.log(`6d: round ${r + 1}/${rounds}: pgloader SQLite -> PostgreSQL`)
    const l = await bash(`pgloader --no-ssl-cert-verification ${q(loadFile)}`)
    sameSummary('pgloader', await pgSummary(loaderUrl), want)
    loader.push(l.ms)
    ctx.log(`  ${(l.ms / 1000).toFixed(1)} s (${fmt((rows / l.ms) * 1000)} rows/s)`)

    if (r > 0) touchAll(sqliteFile)
    await withClient(url, (c) => c.query('TRUNCATE orders'))
    ctx.log(`6d: round ${r + 1}/${rounds}: engine reverse sync`)
    t0 = performance.now()
    const out = await runMigration({ ...base, mode: 'reverse' })
    const ms = performance.now() - t0
    const res = out.report.reverse?.find((x) => x.table.endsWith('orders'))
    if (!res || res.upserted !== rows) throw new Error(`reverse sync upserted ${res?.upserted} orders of ${rows}`)
    sameSummary('reverse sync', await pgSummary(url), want)
    engine.push(ms)
    ctx.log(`  ${(ms / 1000).toFixed(1)} s (${fmt((rows / ms) * 1000)} rows/s)`)
  }
  const e = Math.min(...engine)
  const l = Math.min(...loader)
  ctx.details.migrateReverse = { rows, engineMs: engine, pgloaderMs: loader }
  const rate = (ms: number) => (rows / ms) * 1000
  ctx.rows.push(
    row('6', 'Reverse SQLite -> PostgreSQL (rollback), engine', rate(e), 'rows/s', {
      baseline: { name: 'pgloader, same table of the same file', value: rate(l) },
      goals: [atLeast(rate(e), rate(l), 'faster than pgloader')],
      note: `${fmt(rows)} orders (bigint key, numeric, text with unicode, timestamptz) all changed on the new side, into PostgreSQL's emptied table in ${(e / 1000).toFixed(1)} s vs pgloader ${(l / 1000).toFixed(1)} s (creates the table, builds the key after); rows checked equal by count and column sums after each; best of ${rounds}`,
    }),
  )
  fs.rmSync(work, { recursive: true, force: true })
}
