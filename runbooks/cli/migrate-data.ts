// `ocean-ops migrate-data`: its flags, checked and turned into the runbook's options
// (runbooks/migrate-data.ts).
import fs from 'node:fs'
import type { Command } from 'commander'
import { parseMappingFile, type MappingFile } from '@ocean-ops/migrate'
import type { Mode } from '@ocean-ops/migrate'
import { OpsError } from '@ocean-ops/common'
import { migrateData, migrateDataOnNewHost } from '../migrate-data.ts'

export interface MigrateDataFlags {
  source?: string
  mapping?: string
  sqlite: string
  duckdb: string
  journal: string
  report: string
  plan?: boolean
  verifyOnly?: boolean
  resume?: boolean
  delta?: boolean
  reverse?: boolean
  markCutover?: boolean
  chunkRows?: number
  lookbackMinutes?: number
  breakLock?: boolean
  serial?: boolean
  onNewHost?: boolean
  inventory?: string
}

export function modeOf(o: MigrateDataFlags): Mode {
  const chosen = (
    [
      ['--plan', o.plan, 'plan'],
      ['--verify-only', o.verifyOnly, 'verify-only'],
      ['--delta', o.delta, 'delta'],
      ['--mark-cutover', o.markCutover, 'mark-cutover'],
      ['--reverse', o.reverse, 'reverse'],
    ] as const
  ).filter(([, on]) => on)
  if (chosen.length > 1) throw new OpsError('OPS_E_USAGE', `${chosen.map(([f]) => f).join(' and ')} cannot be combined: pick one`)
  if (o.resume && chosen.length && chosen[0]![2] !== 'plan') throw new OpsError('OPS_E_USAGE', `--resume continues an interrupted copy; it does not go with ${chosen[0]![0]}`)
  return chosen[0]?.[2] ?? 'copy'
}

function positiveInt(flag: string) {
  return (v: string): number => {
    const n = Number(v)
    if (!Number.isInteger(n) || n < 1) throw new OpsError('OPS_E_USAGE', `${flag} ${v}: expected a positive integer`)
    return n
  }
}

export function registerMigrateDataCommand(cli: Command): void {
  cli
    .command('migrate-data')
    .description('Copy the old PostgreSQL/MySQL data into the service\'s SQLite + DuckDB files, verified by chunked checksums; resumable; --delta and --reverse for the cutover and rollback.')
    .option('--source <url>', 'postgres://USER@HOST:PORT/DB or mysql://USER@HOST:PORT/DB; the password from PGPASSWORD / ~/.pgpass / MYSQL_PWD (default: $OCEAN_MIGRATE_SOURCE)')
    .option('--mapping <file>', 'mapping JSON (default: the one the journal\'s copy was made with, else the built-in old-Ocean mapping; every other table copied as it is)')
    .option('--sqlite <path>', 'the service\'s ocean.db, or its data directory', '.ocean-data/ocean.db')
    .option('--duckdb <path>', 'the service\'s telemetry.duckdb, or its data directory', '.ocean-data/telemetry.duckdb')
    .option('--journal <file>', 'journal database: runs, steps, locks and the migration\'s checkpoints', process.env.OCEAN_OPS_JOURNAL ?? '.ocean-ops/journal.db')
    .option('--report <dir>', 'where the report goes (Markdown + JSON)', 'reports')
    .option('--plan', 'print tables, row counts, sizes, estimated time, mapping and type warnings; change nothing')
    .option('--verify-only', 'read both sides again and compare chunk checksums; change nothing')
    .option('--resume', 'continue an interrupted copy from its checkpoints')
    .option('--delta', 'sync what changed at the source since the copy (watermark + chunk checksums, deletes included)')
    .option('--mark-cutover', 'start tracking writes on the new side (the cutover runs this before moving traffic)')
    .option('--reverse', 'write the new side\'s changes since the cutover mark back to PostgreSQL (rollback)')
    .option('--chunk-rows <n>', 'rows per chunk for SQLite tables (DuckDB: 25x this)', positiveInt('--chunk-rows'))
    .option('--lookback-minutes <n>', 'reverse: also look this far before the mark for late telemetry', positiveInt('--lookback-minutes'), 60)
    .option('--serial', 'copy one table at a time (default: SQLite and DuckDB tables side by side)')
    .option('--break-lock', 'take the runbook lock even if another run holds it (only if that run is gone)')
    .option('--on-new-host', 'run the engine on the new host (deployed image, the service\'s data volume), reaching the old database through the pinned SSH connections; needs -i')
    .option('-i, --inventory <file>', 'inventory file (with --on-new-host)', process.env.OCEAN_OPS_INVENTORY ?? 'inventory.json')
    .action(async (o: MigrateDataFlags) => {
      const mode = modeOf(o)
      const mapping = o.mapping ? readMapping(o.mapping) : undefined
      const common = { mode, mapping, mappingName: o.mapping, journal: o.journal, resume: o.resume, breakLock: o.breakLock, chunkRows: o.chunkRows, lookbackMinutes: o.lookbackMinutes }
      if (o.onNewHost) return migrateDataOnNewHost({ ...common, inventory: o.inventory ?? 'inventory.json' })
      const source = o.source ?? process.env.OCEAN_MIGRATE_SOURCE
      if (!source) throw new OpsError('OPS_E_USAGE', 'say where the old database is: --source postgres://USER@HOST:PORT/DB (or $OCEAN_MIGRATE_SOURCE)')
      return migrateData({ ...common, source, sqlite: o.sqlite, duckdb: o.duckdb, report: o.report, serial: o.serial })
    })
}

/** --mapping FILE, read and validated (a bad file fails before anything connects). */
function readMapping(file: string): MappingFile {
  if (!fs.existsSync(file)) throw new OpsError('OPS_E_USAGE', `--mapping ${file}: no such file`)
  return parseMappingFile(fs.readFileSync(file, 'utf8'), file)
}
