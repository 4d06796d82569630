// The migration engine as a program of its own, for where the data is: `migrate-data
// --on-new-host` runs it in a one-off container of the Ocean image on the new host, with the
// service's data volume at /data. Progress goes to stderr; the outcome is one JSON line on stdout
// prefixed with RESULT, which the runbook reads. Passwords come from PGPASSWORD / MYSQL_PWD.
//
//   node --import tsx runbooks/lib/migrate/main.ts --mode copy --source postgres://u@127.0.0.1:5432/db --data /data
import path from 'node:path'
import { parseArgs } from 'node:util'
import { isOpsError, OpsError } from '../ops-error.ts'
import { RESULT_PREFIX } from './report.ts'
import { runMigration, type Mode } from './run-migration.ts'

const MODES: Mode[] = ['plan', 'copy', 'verify-only', 'delta', 'mark-cutover', 'reverse']

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      mode: { type: 'string', default: 'copy' },
      source: { type: 'string' },
      'source-name': { type: 'string' },
      data: { type: 'string', default: '/data' },
      journal: { type: 'string' },
      report: { type: 'string' },
      resume: { type: 'boolean', default: false },
      'chunk-rows': { type: 'string' },
      'lookback-minutes': { type: 'string', default: '60' },
    },
  })
  const mode = values.mode as Mode
  if (!MODES.includes(mode)) throw new OpsError('OPS_E_USAGE', `--mode ${values.mode}: one of ${MODES.join(', ')}`)
  if (!values.source) throw new OpsError('OPS_E_USAGE', '--source postgres://USER@HOST:PORT/DB is required')
  const chunkRows = values['chunk-rows'] ? Number(values['chunk-rows']) : undefined
  const out = await runMigration({
    source: values.source,
    sourceName: values['source-name'],
    sqlite: values.data,
    duckdb: values.data,
    journal: values.journal ?? path.join(values.data, '.migrate', 'journal.db'),
    reportDir: values.report ?? path.join(values.data, '.migrate', 'reports'),
    mode,
    resume: values.resume,
    chunkRows,
    duckdbChunkRows: chunkRows ? chunkRows * 25 : undefined,
    lookbackMs: Number(values['lookback-minutes']) * 60_000,
  })
  process.stdout.write(`${RESULT_PREFIX}${JSON.stringify({ ok: out.report.ok, report: out.report, files: out.files })}\n`)
}

main().catch((e: unknown) => {
  const err = isOpsError(e) ? e : new OpsError('OPS_E_MIGRATE_STATE', (e as Error).stack ?? String(e))
  process.stdout.write(`${RESULT_PREFIX}${JSON.stringify({ ok: false, code: err.code, message: err.message })}\n`)
  process.stderr.write(`ocean-migrate: ${err.code}: ${err.message}\n`)
  process.exit(err.exitCode ?? 1)
})
