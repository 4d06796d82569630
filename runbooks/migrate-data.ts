// The `migrate-data` runbook: copies the old PostgreSQL/MySQL data into the service's SQLite and
// DuckDB files, verified by chunked checksums; resumable; delta and reverse sync for the cutover.
// It runs where the target files are (the new host), reaching the old database over an SSH tunnel
// or the private network, so the data never crosses the operator's laptop. The CLI wiring (flags
// to these options) is cli/migrate-data.ts; the rehearsal and the tests call these directly.
import { redactUrl } from '@ocean-ops/migrate'
import type { MappingFile } from '@ocean-ops/migrate'
import { runMigration, type Mode } from '@ocean-ops/migrate'
import { closeHosts, connectHost } from './lib/host/connect.ts'
import { dockerOn } from './lib/host/docker-over-ssh.ts'
import { loadInventory } from './lib/inventory.ts'
import { migrateOnNewHost } from './lib/migrate-remote/on-new-host.ts'
import { OpsError, type OpsErrorCode } from '@ocean-ops/common'
import { runRunbook } from './lib/runbook.ts'

interface Common {
  mode?: Mode
  /** The mapping (already read and validated); default: the journal's, else the built-in one. */
  mapping?: MappingFile
  /** Where the mapping came from, for the journal's inputs. */
  mappingName?: string
  journal: string
  resume?: boolean
  breakLock?: boolean
  chunkRows?: number
  lookbackMinutes?: number
}

export interface MigrateHereOptions extends Common {
  source: string
  sqlite: string
  duckdb: string
  report: string
  serial?: boolean
}

export interface MigrateOnNewHostOptions extends Common {
  inventory: string
}

/** The engine here, against `source`, into local files. */
export async function migrateData(o: MigrateHereOptions): Promise<void> {
  const mode = o.mode ?? 'copy'
  const source = o.source
  const mapping = o.mapping
  const inputs = { mode, source: redactUrl(source), mapping: o.mappingName ?? 'the journal\'s, else built-in', sqlite: o.sqlite, duckdb: o.duckdb, report: o.report }
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

/** The engine on the new host, in a one-off container of the deployed image (on-new-host.ts). */
export async function migrateDataOnNewHost(o: MigrateOnNewHostOptions): Promise<void> {
  const mode = o.mode ?? 'copy'
  const mapping = o.mapping
  const inv = loadInventory(o.inventory)
  if (!inv.oldHost) throw new OpsError('OPS_E_INVENTORY', 'the inventory has no oldHost: the engine reaches the old database through it')
  const mutates = mode !== 'plan' && mode !== 'verify-only'
  try {
    await runRunbook('migrate-data', { journalPath: o.journal, plan: false, breakLock: o.breakLock, inputs: { mode, onNewHost: true, inventory: o.inventory, mapping: o.mappingName ?? 'the journal\'s, else built-in' } }, async (rb) => {
      const newHost = (await rb.step('connect new host', { describe: `SSH to ${inv.newHost.user}@${inv.newHost.address}` }, () => connectHost(inv.newHost)))!
      const oldHost = (await rb.step('connect old host', { describe: `SSH to ${inv.oldHost!.user}@${inv.oldHost!.address}` }, () => connectHost(inv.oldHost!)))!
      const docker = await dockerOn(newHost)
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
    case 'changes':
      return 'sync what the source\'s change log names since the last sync'
    case 'mark-cutover':
      return 'start tracking the new side\'s writes'
    case 'reverse':
      return 'write the new side\'s changes back to PostgreSQL'
  }
}
