// DuckDB's node bindings carry their own jemalloc (its symbols prefixed duckdb_je_), which reads
// options from DUCKDB_JE_MALLOC_CONF. The service's environment (RUNTIME_ENV, the image's ENV) sets
// them so that the engine does not keep freed memory resident (runtime.ts says what it measured).
// This holds that the DuckDB the service loads still reads that variable, with the options it is
// given: an upgrade that dropped jemalloc or renamed the variable would silently undo them.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { test } from 'node:test'
import { RUNTIME_ENV, SERVICE_DIR } from '../../../services/ocean/runtime.ts'

const SCRIPT = `
const { DuckDBInstance } = await import('@duckdb/node-api')
const db = await DuckDBInstance.create(':memory:')
const c = await db.connect()
await c.run('CREATE TABLE t AS SELECT range AS k, range::VARCHAR AS v FROM range(300000) ORDER BY v')
db.closeSync()
`

test("DuckDB's allocator takes the options the service's environment gives it", () => {
  const conf = RUNTIME_ENV.DUCKDB_JE_MALLOC_CONF
  assert.ok(conf, 'RUNTIME_ENV sets DUCKDB_JE_MALLOC_CONF')
  // stats_print: jemalloc prints its options (opt.<name>: <value>) when the process exits.
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', SCRIPT], {
    cwd: SERVICE_DIR,
    env: { ...process.env, DUCKDB_JE_MALLOC_CONF: `${conf},stats_print:true` },
    encoding: 'utf8',
    timeout: 60_000,
  })
  assert.equal(r.status, 0, r.stderr)
  const printed = `${r.stdout}\n${r.stderr}`
  assert.match(printed, /___ Begin jemalloc statistics ___/, 'the DuckDB the service loads allocates with jemalloc')
  for (const [name, value] of conf.split(',').map((o) => o.split(':'))) {
    const shown = new RegExp(`^\\s*opt\\.${name}: (\\S+)`, 'm').exec(printed)?.[1]
    assert.equal(shown, value, `jemalloc runs with ${name}:${value}`)
  }
})
