// The migration engine as a program of its own, for where the data is: `migrate-data
// --on-new-host` runs it in a one-off container of the Ocean image on the new host, with the
// service's data volume at /data. Progress goes to stderr; the outcome is one JSON line on stdout
// prefixed with RESULT, which the runbook reads. Passwords come from PGPASSWORD / MYSQL_PWD.
//
//   node /app/packages/migrate/dist/main.mjs --mode copy --source postgres://u@127.0.0.1:5432/db --data /data
// (from a checkout: node --import tsx packages/migrate/src/main.ts with the same flags)
import path from 'node:path'
import { parseArgs } from 'node:util'
import { isOpsError, OpsError } from '@ocean-ops/common'
import { READY_LINE, RESULT_PREFIX, TARGETS_OPEN_LINE } from './report.ts'
import { waitForFreeze } from './sync/changes.ts'
import { mappingFromEnv } from './plan/mapping.ts'
import { runMigration, type Mode } from './run-migration.ts'

const MODES: Mode[] = ['plan', 'copy', 'verify-only', 'delta', 'changes', 'mark-cutover', 'reverse']

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      mode: { type: 'string', default: 'copy' },
      source: { type: 'string' },
      'source-name': { type: 'string' },
      only: { type: 'string' },
      data: { type: 'string', default: '/data' },
      journal: { type: 'string' },
      report: { type: 'string' },
      resume: { type: 'boolean', default: false },
      'chunk-rows': { type: 'string' },
      'lookback-minutes': { type: 'string', default: '60' },
      // The cutover's warm final sync: connect, introspect and plan, say READY, then wait for the freeze.
      'wait-freeze': { type: 'boolean', default: false },
    },
  })
  // Several modes run one after the other in this one process (the cutover's final delta and mark,
  // inside its write freeze, without a second container start).
  const modes = (values.mode ?? 'copy').split(',') as Mode[]
  for (const m of modes) if (!MODES.includes(m)) throw new OpsError('OPS_E_USAGE', `--mode ${m}: one of ${MODES.join(', ')}`)
  const only = values.only as 'sqlite' | 'duckdb' | undefined
  if (only !== undefined && only !== 'sqlite' && only !== 'duckdb') throw new OpsError('OPS_E_USAGE', `--only ${values.only}: sqlite or duckdb`)
  const source = values.source
  if (!source) throw new OpsError('OPS_E_USAGE', '--source postgres://USER@HOST:PORT/DB is required')
  const chunkRows = values['chunk-rows'] ? Number(values['chunk-rows']) : undefined
  // A --mapping given to ocean-ops comes in the environment; without one, the journal's is used.
  const mapping = mappingFromEnv(process.env)
  const log = (line: string) => process.stderr.write(`${line}\n`)
  /** When a warm run saw the freeze: its result says how long its work after it took. */
  let sawFreeze: number | undefined
  const runOne = (mode: Mode) =>
    runMigration({
      source,
      sourceName: values['source-name'],
      only,
      sqlite: values.data,
      duckdb: values.data,
      journal: values.journal ?? path.join(values.data, '.migrate', 'journal.db'),
      reportDir: values.report ?? path.join(values.data, '.migrate', 'reports'),
      mode,
      resume: values.resume,
      chunkRows,
      duckdbChunkRows: chunkRows ? chunkRows * 25 : undefined,
      lookbackMs: Number(values['lookback-minutes']) * 60_000,
      mapping,
      waitFor: values['wait-freeze']
        ? async (src) => {
            process.stdout.write(`${TARGETS_OPEN_LINE}\n${READY_LINE}\n`)
            await waitForFreeze(src, log)
            sawFreeze = performance.now()
            log('  the source is frozen: the final sync starts')
          }
        : undefined,
    })
  const outs: Array<Awaited<ReturnType<typeof runMigration>>> = []
  for (const mode of modes) outs.push(await runOne(mode))
  // The first mode's report is the one with the tables' verdicts (a delta before its mark).
  const afterFreezeMs = sawFreeze === undefined ? undefined : Math.round(performance.now() - sawFreeze)
  process.stdout.write(`${RESULT_PREFIX}${JSON.stringify({ ok: outs.every((o) => o.report.ok), report: outs[0]!.report, files: outs[0]!.files, afterFreezeMs })}\n`)
}

main().catch((e: unknown) => {
  const err = isOpsError(e) ? e : new OpsError('OPS_E_MIGRATE_STATE', (e as Error).stack ?? String(e))
  process.stdout.write(`${RESULT_PREFIX}${JSON.stringify({ ok: false, code: err.code, message: err.message })}\n`)
  process.stderr.write(`ocean-migrate: ${err.code}: ${err.message}\n`)
  process.exit(err.exitCode ?? 1)
})
