// `ocean-ops backup status|now|drill|restore`: the new host's off-server backups (restic, run by
// the stack's backup container). Each command runs the backup tool in a one-off container of the
// deployed image, beside the data; restore over live data stops the service first, only when asked.
import fs from 'node:fs'
import path from 'node:path'
import type Docker from 'dockerode'
import type { DrillReport, Restored, RoundResult, Snapshot } from '@ocean-ops/migrate'
import { OpsError, reportJson, writeReport } from '@ocean-ops/common'
import { backupNames, backupToolSpec } from './lib/deploy/backup-spec.ts'
import { inspectContainer, waitHealthy } from './lib/deploy/docker-ops.ts'
import { stackNames } from './lib/deploy/stack-spec.ts'
import { settingsFor } from './deploy.ts'
import { connectHost } from './lib/host/connect.ts'
import { dockerOn } from './lib/host/docker-over-ssh.ts'
import type { Inventory } from './lib/inventory.ts'
import { runBackupTool } from './lib/backup/backup-tool.ts'
import type { Runbook } from './lib/runbook.ts'

/** The RPOs `status` and `verify` hold backups to: users within a minute, telemetry within its DuckDB interval plus a round. */
export function rpoSeconds(inv: Inventory): { sqlite: number; duckdb: number } {
  const b = inv.backup
  return { sqlite: 60, duckdb: (b?.duckdbSeconds ?? 900) + 60 }
}

export interface BackupStatus {
  repository: string
  snapshots: number
  newest: { sqlite: { time: string; ageSeconds: number; rpoSeconds: number; ok: boolean } | null; duckdb: { time: string; ageSeconds: number; rpoSeconds: number; ok: boolean } | null }
  oldServer: Array<{ time: string; paths: string[] }>
  agent: { lastRound?: unknown; lastError?: { at: string; message: string } | null; failures?: number } | null
  lastDrill: { at: string; ok: boolean; problems: string[] } | null
  ok: boolean
  problems: string[]
}

interface Ctx {
  docker: Docker
  spec: (args: string[], o?: { live?: boolean; scratch?: string; stdin?: boolean }) => Docker.ContainerCreateOptions
  names: ReturnType<typeof stackNames>
  image: string
}

async function context(rb: Runbook, inv: Inventory): Promise<Ctx> {
  if (!inv.backup) throw new OpsError('OPS_E_INVENTORY', 'the inventory has no "backup" section: say where backups go (README "Backups and restore"), then `ocean-ops deploy`')
  await rb.step('connect', { describe: `SSH to ${inv.newHost.user}@${inv.newHost.address} (pinned host key)` }, () => connectHost(inv.newHost))
  return contextFor(inv)
}

async function contextFor(inv: Inventory): Promise<Ctx> {
  if (!inv.backup) throw new OpsError('OPS_E_INVENTORY', 'the inventory has no "backup" section: say where backups go (README "Backups and restore"), then `ocean-ops deploy`')
  return toolOn(await dockerOn(await connectHost(inv.newHost)), inv)
}

/** The backup tool as one-off containers of the deployed image on `docker`. */
async function toolOn(docker: Docker, inv: Inventory): Promise<Ctx> {
  const names = stackNames(inv.ocean?.stack ?? 'ocean')
  const api = await inspectContainer(docker, names.ocean)
  if (!api) throw new OpsError('OPS_E_PRECONDITION', `no ${names.ocean} container on the new host: run \`ocean-ops deploy\` first (the backup tool runs from the deployed image)`)
  const settings = settingsFor(inv, api.Config.Image, '')
  const bn = backupNames(names, settings.stack)
  return { docker, names, image: api.Config.Image, spec: (args, o) => backupToolSpec(settings, names, bn, args, o) }
}

/** What `backup status` reports, read through an open Docker connection (no runbook frame: `ocean-ops status` reads it). */
export async function readBackupStatus(docker: Docker, inv: Inventory): Promise<BackupStatus> {
  const c = await toolOn(docker, inv)
  return summarize(inv, await runBackupTool<Parameters<typeof summarize>[1]>(c.docker, c.spec(['status'])))
}

/** Status from the repository itself (not from the agent's word): newest snapshot of each kind against its RPO, and the last drill. */
export function summarize(inv: Inventory, raw: { snapshots: Snapshot[]; agent: BackupStatus['agent']; lastDrill: DrillReport | null }, now = Date.now()): BackupStatus {
  const rpo = rpoSeconds(inv)
  const newest = (tag: string, limit: number) => {
    const s = raw.snapshots.filter((x) => x.tags?.includes(tag)).at(-1)
    if (!s) return null
    const age = Math.max(0, (now - Date.parse(s.time)) / 1000)
    return { time: s.time, ageSeconds: Math.round(age), rpoSeconds: limit, ok: age <= limit }
  }
  const st: BackupStatus = {
    repository: inv.backup!.repository,
    snapshots: raw.snapshots.length,
    newest: { sqlite: newest('sqlite', rpo.sqlite), duckdb: newest('duckdb', rpo.duckdb) },
    oldServer: raw.snapshots.filter((x) => x.tags?.includes('old-server')).map((x) => ({ time: x.time, paths: x.paths })),
    agent: raw.agent,
    lastDrill: raw.lastDrill ? { at: raw.lastDrill.at, ok: raw.lastDrill.ok, problems: raw.lastDrill.problems } : null,
    ok: false,
    problems: [],
  }
  const label: Record<string, string> = { sqlite: 'users (SQLite)', duckdb: 'telemetry (DuckDB)' }
  for (const [k, v] of Object.entries(st.newest)) {
    if (!v) st.problems.push(`no ${label[k]} backup yet`)
    else if (!v.ok) st.problems.push(`the newest ${label[k]} backup is ${v.ageSeconds} s old (RPO ${v.rpoSeconds} s)${raw.agent?.lastError ? `; the agent's last error: ${raw.agent.lastError.message}` : ''}`)
  }
  if (!st.lastDrill) st.problems.push('no restore drill yet: run `ocean-ops backup drill`')
  else if (!st.lastDrill.ok) st.problems.push(`the last drill (${st.lastDrill.at}) failed: ${st.lastDrill.problems.join('; ')}`)
  st.ok = st.problems.length === 0
  return st
}

export async function backupStatus(rb: Runbook, inv: Inventory): Promise<BackupStatus> {
  const c = await context(rb, inv)
  const raw = (await rb.step('read the repository', { describe: `restic snapshots in ${inv.backup!.repository}` }, () =>
    runBackupTool<{ snapshots: Snapshot[]; agent: BackupStatus['agent']; lastDrill: DrillReport | null }>(c.docker, c.spec(['status']))))!
  return summarize(inv, raw)
}

export async function backupNow(rb: Runbook, inv: Inventory, o: { duckdb?: boolean } = {}): Promise<RoundResult> {
  const c = await context(rb, inv)
  return (await rb.step('backup round', { mutates: true, describe: `snapshot SQLite${o.duckdb === false ? '' : ', DuckDB and the Redis AOF'}, ship to ${inv.backup!.repository}` }, (p) =>
    runBackupTool<RoundResult>(c.docker, c.spec(['round', ...(o.duckdb === false ? [] : ['--duckdb'])]), { log: p.progress })))!
}

export async function backupDrill(rb: Runbook, inv: Inventory, o: { reportDir?: string } = {}): Promise<DrillReport & { files?: Record<string, string> }> {
  const c = await context(rb, inv)
  const r = (await rb.step('restore drill', { mutates: true, describe: 'restore the newest backup into scratch on the new host, check integrity and checksums, restic check' }, (p) =>
    runBackupTool<DrillReport>(c.docker, c.spec(['drill']), { log: p.progress })))!
  if (!r) return r
  const files = o.reportDir ? writeReport(path.resolve(o.reportDir), 'backup-drill', r.at, { json: reportJson(r), md: drillMarkdown(r) }) : undefined
  return { ...r, ...(files ? { files } : {}) }
}

export function drillMarkdown(r: DrillReport): string {
  return [
    `# Backup drill ${r.at}: ${r.ok ? 'PASSED' : 'FAILED'}`,
    '',
    `- users (SQLite): ${r.sqlite ? `snapshot ${r.sqlite.snapshot.slice(0, 8)} of ${r.sqlite.sqliteAt}, integrity ${r.sqlite.integrity}, ${r.sqlite.tables} tables, ${r.sqlite.rows} rows, ${r.sqlite.mismatches.length} checksum mismatches` : 'not restored'}`,
    `- telemetry (DuckDB): ${r.duckdb ? `snapshot ${r.duckdb.snapshot.slice(0, 8)} of ${r.duckdb.duckdbAt}, ${r.duckdb.tables} tables, ${r.duckdb.rows} rows, ${r.duckdb.mismatches.length} checksum mismatches` : 'not restored'}`,
    `- repository check (a fifth of the data read): ${r.repositoryCheck || 'not run'}`,
    `- restore ${(r.restoreMs / 1000).toFixed(1)} s, drill ${(r.totalMs / 1000).toFixed(1)} s`,
    ...(r.problems.length ? ['', '## Problems', ...r.problems.map((p) => `- ${p}`)] : []),
    '',
  ].join('\n')
}

export interface RestoreOptions {
  at: Date
  /** A directory on the new host, or 'live' for the stack's own volumes. */
  to: string
}

export async function backupRestore(rb: Runbook, inv: Inventory, o: RestoreOptions): Promise<Restored & { keptIn?: string[] }> {
  const c = await context(rb, inv)
  const at = o.at.toISOString()
  if (o.to !== 'live') {
    if (!path.isAbsolute(o.to)) throw new OpsError('OPS_E_USAGE', `--to ${o.to}: an absolute directory on the new host, or "live"`)
    return (await rb.step('restore into a directory', { mutates: true, describe: `the state at ${at} into ${o.to} on the new host (must be empty)` }, (p) =>
      runBackupTool<Restored>(c.docker, c.spec(['restore', '--at', at, '--to', '/restore'], { scratch: o.to }), { log: p.progress })))!
  }
  const running = (await Promise.all([c.names.ocean, c.names.redis].map((n) => inspectContainer(c.docker, n)))).filter((x) => x?.State.Running)
  await rb.step('stop the service', {
    destructive: `stop ${[c.names.ocean, c.names.redis].join(' and ')} and replace the live ocean.db, telemetry.duckdb and Redis AOF with the backup at ${at} (the current files are kept in pre-restore-<time>/ on their volumes)`,
    describe: running.length ? `${running.map((x) => x!.Name.slice(1)).join(', ')} running` : 'already stopped',
  }, async (p) => {
    for (const n of [c.names.ocean, c.names.redis]) {
      const info = await inspectContainer(c.docker, n)
      if (info?.State.Running) {
        await c.docker.getContainer(n).stop({ t: 30 })
        p.progress(`${n} stopped`)
      }
    }
  })
  const r = (await rb.step('restore over the live data', { mutates: true, describe: `the state at ${at} into ${c.names.oceanVolume} and ${c.names.redisVolume}` }, async (p) => {
    for (const n of [c.names.ocean, c.names.redis]) if ((await inspectContainer(c.docker, n))?.State.Running) throw new OpsError('OPS_E_PRECONDITION', `${n} is running: a restore over live data needs the service stopped`)
    return runBackupTool<Restored & { keptIn: string[] }>(c.docker, c.spec(['restore', '--at', at, '--to', '/data', '--live'], { live: true }), { log: p.progress })
  }))!
  await rb.step('start the service', { mutates: true, describe: `${c.names.redis}, then ${c.names.ocean}, health-gated` }, async (p) => {
    for (const n of [c.names.redis, c.names.ocean]) {
      await c.docker.getContainer(n).start().catch((e: { statusCode?: number }) => {
        if (e.statusCode !== 304) throw e
      })
      await waitHealthy(c.docker, n, 120_000, p.progress)
    }
  })
  return r
}

/** A local file into the backup repository (tag old-server), from the new host's backup tool: what remove-mysql does with its verified dump. */
export async function storeOffServer(inv: Inventory, file: string, name = path.basename(file)): Promise<{ snapshot: string; bytes: number }> {
  const c = await contextFor(inv)
  return runBackupTool<{ snapshot: string; bytes: number }>(c.docker, c.spec(['store', '--name', name], { stdin: true }), { stdin: fs.createReadStream(file) })
}

/** `store`: a file from this machine (a dump the removal took) into the backup repository, tagged old-server. */
export async function backupStoreFile(rb: Runbook, inv: Inventory, file: string, name = path.basename(file)): Promise<{ snapshot: string; bytes: number }> {
  const c = await context(rb, inv)
  return (await rb.step(`store ${name}`, { mutates: true, describe: `${file} into ${inv.backup!.repository} (tag old-server)` }, () =>
    runBackupTool<{ snapshot: string; bytes: number }>(c.docker, c.spec(['store', '--name', name], { stdin: true }), { stdin: fs.createReadStream(file) })))!
}
