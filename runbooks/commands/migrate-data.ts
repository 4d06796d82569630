// `ocean-ops migrate-data`: copies the old PostgreSQL/MySQL data into the service's SQLite and
// DuckDB files, verified by chunked checksums; resumable; delta and reverse sync for the cutover.
// It runs where the target files are (the new host), reaching the old database over an SSH tunnel
// or the private network, so the data never crosses the operator's laptop.
import fs from 'node:fs'
import type { Command } from 'commander'
import { redactUrl } from '../lib/migrate/introspect.ts'
import { parseMappingFile, type MappingFile } from '../lib/migrate/mapping.ts'
import { runMigration, type Mode } from '../lib/migrate/run-migration.ts'
import { inDockerGroup } from '../deploy.ts'
import { closeHosts, connectHost } from '../lib/host/connect.ts'
import { dockerOverSsh } from '../lib/host/docker-over-ssh.ts'
import { loadInventory } from '../lib/inventory.ts'
import { migrateOnNewHost } from '../lib/migrate/on-new-host.ts'
import { OpsError, type OpsErrorCode } from '../lib/ops-error.ts'
import { runRunbook } from '../lib/runbook.ts'

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
      if (o.onNewHost) await migrateDataOnNewHost(o)
      else await migrateData(o)
    })
}

/** --mapping FILE, read and validated (a bad file fails before anything connects). */
function readMapping(file: string): MappingFile {
  if (!fs.existsSync(file)) throw new OpsError('OPS_E_USAGE', `--mapping ${file}: no such file`)
  return parseMappingFile(fs.readFileSync(file, 'utf8'), file)
}

export async function migrateData(o: MigrateDataFlags): Promise<void> {
  const mode = modeOf(o)
  const source = o.source ?? process.env.OCEAN_MIGRATE_SOURCE
  if (!source) throw new OpsError('OPS_E_USAGE', 'say where the old database is: --source postgres://USER@HOST:PORT/DB (or $OCEAN_MIGRATE_SOURCE)')
  const mapping = o.mapping ? readMapping(o.mapping) : undefined
  const inputs = { mode, source: redactUrl(source), mapping: o.mapping ?? 'the journal\'s, else built-in', sqlite: o.sqlite, duckdb: o.duckdb, report: o.report }
  const mutates = mode !== 'plan' && mode !== 'verify-only'
  await runRunbook('migrate-data', { journalPath: o.journal, plan: mode === 'plan', resume: o.resume, breakLock: o.breakLock, inputs }, async (rb) => {
    await rb.step(mode, { mutates, describe: describe(mode) }, async () => {
      const out = await runMigration({
        source,
        sqlite: o.sqlite,
        duckdb: o.duckdb,
        journal: o.journal,
        mode,
        mapping,
        reportDir: o.report,
        resume: o.resume,
        chunkRows: o.chunkRows,
        duckdbChunkRows: o.chunkRows ? o.chunkRows * 25 : undefined,
        lookbackMs: (o.lookbackMinutes ?? 60) * 60_000,
        parallel: !o.serial,
        log: rb.log,
      })
      if (out.files) process.stdout.write(`${out.files.markdown}\n`)
      return { tables: out.report.tables.length, ok: out.report.ok, report: out.files?.json }
    })
  })
}

export async function migrateDataOnNewHost(o: MigrateDataFlags): Promise<void> {
  const mode = modeOf(o)
  const mapping = o.mapping ? readMapping(o.mapping) : undefined
  const inv = loadInventory(o.inventory ?? 'inventory.json')
  if (!inv.oldHost) throw new OpsError('OPS_E_INVENTORY', 'the inventory has no oldHost: the engine reaches the old database through it')
  const mutates = mode !== 'plan' && mode !== 'verify-only'
  try {
    await runRunbook('migrate-data', { journalPath: o.journal, plan: false, breakLock: o.breakLock, inputs: { mode, onNewHost: true, inventory: o.inventory, mapping: o.mapping ?? 'the journal\'s, else built-in' } }, async (rb) => {
      const newHost = (await rb.step('connect new host', { describe: `SSH to ${inv.newHost.user}@${inv.newHost.address}` }, () => connectHost(inv.newHost)))!
      const oldHost = (await rb.step('connect old host', { describe: `SSH to ${inv.oldHost!.user}@${inv.oldHost!.address}` }, () => connectHost(inv.oldHost!)))!
      const docker = dockerOverSsh(newHost, { sudo: !(await inDockerGroup(newHost)) })
      const r = await rb.step(mode, { mutates, describe: `${describe(mode)} (engine on the new host; the API is stopped meanwhile)` }, (p) =>
        migrateOnNewHost(inv, newHost, oldHost, docker, { mode, resume: o.resume, chunkRows: o.chunkRows, lookbackMinutes: o.lookbackMinutes, mapping, log: p.progress }),
      )
      if (!r?.ok) throw new OpsError((r?.code as OpsErrorCode | undefined) ?? 'OPS_E_MIGRATE_MISMATCH', r?.message ?? 'the migration on the new host did not verify: see its report in the data volume (/data/.migrate/reports)')
      process.stdout.write(`${r.files?.markdown ?? ''} (on the new host, in the ${inv.ocean?.stack ?? 'ocean'}-data volume)\n`)
    })
  } finally {
    await closeHosts()
  }
}

function describe(mode: Mode): string {
  switch (mode) {
    case 'plan':
      return 'plan the data migration'
    case 'copy':
      return 'copy every table and verify it'
    case 'verify-only':
      return 'compare source and target checksums'
    case 'delta':
      return 'sync the source\'s changes since the copy'
    case 'mark-cutover':
      return 'start tracking the new side\'s writes'
    case 'reverse':
      return 'write the new side\'s changes back to PostgreSQL'
  }
}
