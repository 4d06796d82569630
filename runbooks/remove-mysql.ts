// `ocean-ops remove-mysql`: after a verified cutover, remove MySQL from the old host — the rogue
// respawning binary and the packaged server — keeping evidence, a verified dump and the data
// directory archived. `--plan` (the default without --yes) shows everything; `--yes` acts.
import { classify, mysqlLike, parseDiscovery, DISCOVER_SCRIPT, type Classified } from './lib/mysql-removal/discover.ts'
import { BLOCK_PORT_SCRIPT, DUMP_VERIFY_SCRIPT, PERSISTENCE_SCRIPT, cpuSampleArgv, packagesToPurge, parseCpuSample, parseDumpCheck, parsePersistence, rogueActions, type DumpCheck, type PersistenceFinding } from './lib/mysql-removal/removal-plan.ts'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { storeOffServer } from './backup.ts'
import { connectHost } from './lib/host/connect.ts'
import type { SshHost } from './lib/host/ssh-host.ts'
import type { Inventory } from './lib/inventory.ts'
import { OpsError } from '@ocean-ops/common'
import type { Runbook } from './lib/runbook.ts'
import { reportJson, writeReport } from '@ocean-ops/common'

export interface RemoveMysqlOptions {
  /** Proceed without a verified cutover in the journal. */
  force?: boolean
  /** Delete the archived data directory too (default: keep it). */
  deleteData?: boolean
  watchSeconds?: number
  cpuSampleSeconds?: number
  reportDir?: string
}

export interface RemoveMysqlReport {
  host: string
  startedAt: string
  processes: Classified[]
  persistence: PersistenceFinding[]
  dump?: DumpCheck
  /** The verified dump as stored in the backup repository (when the inventory has backups). */
  dumpOffServer?: { snapshot: string; bytes: number; file: string }
  archive?: string
  purged: string[]
  firewall?: string
  cpuBefore: number
  cpuAfter?: number
  respawned: Classified[]
  actions: string[]
}

const BACKUPS = '/var/backups/ocean-ops'

async function discover(host: SshHost): Promise<Classified[]> {
  const out = await host.exec(['bash', '-s'], { sudo: true, stdin: DISCOVER_SCRIPT })
  return parseDiscovery(out.stdout).filter(mysqlLike).map(classify)
}

async function installedPackages(host: SshHost): Promise<string[]> {
  const r = await host.exec(['dpkg-query', '-W', '-f', '${Package} ${Status}\\n'], { allowFail: true })
  return r.stdout.split('\n').filter((l) => l.endsWith('install ok installed')).map((l) => l.split(' ')[0]!)
}

export async function removeMysql(rb: Runbook, inv: Inventory, opts: RemoveMysqlOptions = {}): Promise<RemoveMysqlReport> {
  if (!inv.oldHost) throw new OpsError('OPS_E_INVENTORY', 'the inventory has no oldHost: remove-mysql acts on the old server')
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, 'Z')
  const quarantine = `${BACKUPS}/quarantine-${stamp}`
  await rb.step('preflight', { describe: 'a verified cutover is recorded in the journal' }, async () => {
    const cutover = rb.journal.lastRun('cutover', 'ok')
    if (!cutover && !opts.force) throw new OpsError('OPS_E_PRECONDITION', 'no completed, verified cutover in the journal: remove MySQL only once traffic runs on the new host. Run `ocean-ops cutover` first (or pass --force if the old data is migrated and verified some other way).')
    return cutover ? `cutover ${cutover.run_id}` : 'forced without a recorded cutover'
  })
  const host = (await rb.step('connect', { describe: `SSH to ${inv.oldHost.address}` }, () => connectHost(inv.oldHost!)))!
  const report: RemoveMysqlReport = { host: inv.oldHost.address, startedAt: new Date().toISOString(), processes: [], persistence: [], purged: [], cpuBefore: NaN, respawned: [], actions: [] }

  report.processes = (await rb.step('find mysql processes', { describe: 'every MySQL-like process, classified packaged or rogue, with evidence' }, async (p) => {
    const found = await discover(host)
    for (const c of found) p.progress(`${c.verdict.toUpperCase()} pid ${c.pid} ${c.exe}${c.exeDeleted ? ' (deleted)' : ''} user ${c.user} cpu ${c.cpu}% ${c.listening.join(',')}: ${c.reasons.join('; ')}`)
    return found
  }))!
  const rogue = report.processes.filter((c) => c.verdict === 'rogue')
  report.persistence = (await rb.step('find persistence', { describe: 'cron, systemd units and timers, rc.local, init scripts and copies that keep the rogue alive' }, async (p) => {
    if (!rogue.length) return []
    const terms = [...new Set(rogue.flatMap((r) => [r.exe, ...(r.script ? [r.script.path] : [])]))]
    const out = await host.exec(['bash', '-s', '--', rogue.find((r) => r.sha256)?.sha256 ?? '-', ...terms], { sudo: true, stdin: PERSISTENCE_SCRIPT })
    const found = parsePersistence(out.stdout)
    for (const f of found) p.progress(`${f.kind} ${f.path}${f.package ? ` (package ${f.package}: left alone)` : ''}`)
    return found
  }))!
  report.cpuBefore = (await rb.step('cpu before', { describe: `CPU of the old host over ${opts.cpuSampleSeconds ?? 5} s` }, async () => parseCpuSample((await host.exec(cpuSampleArgv(opts.cpuSampleSeconds ?? 5))).stdout)))!

  const packages = packagesToPurge(await installedPackages(host))
  const serverInstalled = packages.some((p) => /server/.test(p))
  const packaged = report.processes.filter((c) => c.verdict === 'packaged' && /mariadbd|mysqld/.test(c.exe))
  if (serverInstalled || packaged.length) {
    report.dump = await rb.step('dump and verify', { mutates: true, describe: `dump every database to ${BACKUPS}, restore it into a scratch server, compare counts and checksums per table` }, async (p) => {
      const out = await host.exec(['bash', '-s', '--', BACKUPS], { sudo: true, stdin: DUMP_VERIFY_SCRIPT, timeoutMs: 3 * 3600_000 })
      const check = parseDumpCheck(out.stdout)
      for (const t of check.tables) p.progress(`${t.ok ? 'ok' : 'MISMATCH'} ${t.table}: ${t.liveRows} rows, checksum ${t.liveChecksum} -> ${t.restoredRows}, ${t.restoredChecksum}`)
      if (!check.ok) throw new OpsError('OPS_E_BACKUP', `the dump ${check.file} does not restore to the same data (${check.tables.filter((t) => !t.ok).map((t) => t.table).join(', ')}); nothing was removed. Investigate before retrying.`)
      return check
    })
    // The old server's last word: the verified dump leaves it before anything there is removed.
    const dump = report.dump
    if (inv.backup && dump) {
      report.dumpOffServer = await rb.step('dump off-server', { mutates: true, describe: `copy the verified dump into ${inv.backup.repository} (tag old-server) before anything is removed` }, async (p) => {
        const local = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'ocean-ops-dump-')), path.basename(dump.file))
        try {
          await host.download(dump.file, local, { sudo: true })
          const r = await storeOffServer(inv, local)
          p.progress(`${path.basename(dump.file)} stored as snapshot ${r.snapshot.slice(0, 8)} (${r.bytes} bytes)`)
          return { ...r, file: path.basename(dump.file) }
        } finally {
          fs.rmSync(path.dirname(local), { recursive: true, force: true })
        }
      })
    }
  }

  const actions = rogueActions(rogue, report.persistence, quarantine)
  if (actions.length) {
    if (rb.planning) for (const a of actions) rb.log(`      - ${a.what}`)
    await rb.step('remove the rogue', { destructive: `disable ${report.persistence.filter((f) => !f.package).length} persistence entries, kill ${rogue.length} rogue processes and move their files into ${quarantine}` }, async (p) => {
      await host.exec(['install', '-d', '-m', '0700', quarantine], { sudo: true })
      for (const a of actions) {
        p.progress(a.what)
        report.actions.push(a.what)
        await host.exec(a.argv, { sudo: true, allowFail: a.step === 'kill' })
      }
    })
  }
  if (serverInstalled || packaged.length) {
    await rb.step('stop the packaged server', { destructive: 'stop, disable and mask mariadb/mysql' }, async () => {
      await host.exec(['sh', '-c', 'for u in mariadb mysql; do systemctl stop "$u" 2>/dev/null; systemctl disable "$u" 2>/dev/null; systemctl mask "$u" >/dev/null 2>&1; done; true'], { sudo: true })
      report.actions.push('systemctl stop/disable/mask mariadb mysql')
    })
  }
  report.archive = await rb.step('archive the data directory', { mutates: true, describe: `tar /var/lib/mysql into ${BACKUPS} and move it aside${opts.deleteData ? ' (then delete it: --delete-data)' : ''}` }, async () => {
    const has = await host.exec(['test', '-d', '/var/lib/mysql'], { sudo: true, allowFail: true })
    if (has.code !== 0) return undefined
    const archive = `${BACKUPS}/mysql-datadir-${stamp}.tar.gz`
    await host.exec(['sh', '-c', 'set -e; install -d -m 0700 "$2"; tar -C /var/lib -czf "$1.part" mysql; tar -tzf "$1.part" >/dev/null; mv "$1.part" "$1"; chmod 0600 "$1"; mv /var/lib/mysql "/var/lib/mysql.removed-$3"', 'archive', archive, BACKUPS, stamp], { sudo: true })
    if (opts.deleteData) await host.exec(['rm', '-rf', '--', `/var/lib/mysql.removed-${stamp}`], { sudo: true })
    report.actions.push(`archived /var/lib/mysql to ${archive}`)
    return archive
  })
  if (packages.length) {
    report.purged = (await rb.step('purge packages', { destructive: `apt-get purge ${packages.join(' ')}` }, async () => {
      await host.exec(['env', 'DEBIAN_FRONTEND=noninteractive', 'apt-get', 'purge', '-y', '-qq', ...packages], { sudo: true, timeoutMs: 600_000 })
      report.actions.push(`apt-get purge ${packages.join(' ')}`)
      return packages
    })) ?? []
  }
  report.firewall = await rb.step('block 3306', { mutates: true, describe: 'drop inbound TCP 3306 with the host\'s firewall, persistently' }, async () => (await host.exec(['bash', '-s', '--', '3306'], { sudo: true, stdin: BLOCK_PORT_SCRIPT, timeoutMs: 300_000 })).stdout.trim())

  report.respawned = (await rb.step('watch for a respawn', { describe: `${opts.watchSeconds ?? 60} s: no MySQL-like process, nothing on 3306` }, async (p) => {
    if (rb.planning) return []
    const deadline = Date.now() + (opts.watchSeconds ?? 60) * 1000
    while (Date.now() < deadline) {
      const again = await discover(host)
      const listening = (await host.exec(['ss', '-Hltn', 'sport = :3306'], { sudo: true, allowFail: true })).stdout.trim()
      if (again.length || listening) {
        for (const a of again) p.progress(`RESPAWNED pid ${a.pid} ${a.exe} (parent ${a.parent?.comm} ${a.parent?.cmdline})`)
        throw new OpsError('OPS_E_RESPAWN', `MySQL came back on ${inv.oldHost!.address}: ${again.map((a) => `${a.exe} (pid ${a.pid}, parent ${a.parent?.cmdline ?? '?'})`).join('; ') || `a listener on 3306: ${listening}`}. Its persistence was not all found; see the evidence in the report.`)
      }
      await new Promise((r) => setTimeout(r, 2000))
    }
    return []
  })) ?? []
  report.cpuAfter = await rb.step('cpu after', { describe: 'CPU of the old host, again' }, async () => parseCpuSample((await host.exec(cpuSampleArgv(opts.cpuSampleSeconds ?? 5))).stdout))
  writeRemovalReport(report, opts.reportDir ?? 'reports', rb.log)
  return report
}

function writeRemovalReport(r: RemoveMysqlReport, dir: string, log: (l: string) => void): void {
  const pct = (n: number | undefined) => (n === undefined || Number.isNaN(n) ? 'n/a' : `${n.toFixed(1)}% of one core`)
  const md = [
    `# MySQL removal on ${r.host}`,
    '',
    `CPU before: ${pct(r.cpuBefore)}; after: ${pct(r.cpuAfter)}`,
    '',
    '## Processes found',
    '',
    '| pid | verdict | exe | sha256 | user | cpu | parent | listening | why |',
    '|---|---|---|---|---|---|---|---|---|',
    ...r.processes.map((p) => `| ${p.pid} | ${p.verdict} | ${p.exe}${p.exeDeleted ? ' (deleted)' : ''} | ${p.sha256?.slice(0, 16) ?? '?'}… | ${p.user} | ${p.cpu}% | ${p.parent?.comm ?? ''} | ${p.listening.join(' ')} | ${p.reasons.join('; ')} |`),
    '',
    '## Persistence found',
    '',
    ...r.persistence.map((f) => `- ${f.kind}: \`${f.path}\`${f.package ? ` (package ${f.package}, left alone)` : ''} ${f.detail}`),
    '',
    '## Backup',
    '',
    r.dump ? `Dump \`${r.dump.file}\` (${r.dump.bytes} bytes, sha256 ${r.dump.sha256}), restored and compared: ${r.dump.tables.length} tables, ${r.dump.ok ? 'all equal' : 'MISMATCH'}.${r.dumpOffServer ? ` Stored off-server before anything was removed: backup snapshot ${r.dumpOffServer.snapshot.slice(0, 8)} (tag old-server).` : ''}` : 'No MySQL server installed: nothing to dump.',
    r.archive ? `Data directory archived to \`${r.archive}\`.` : '',
    '',
    '## Actions',
    '',
    ...r.actions.map((a) => `- ${a}`),
    r.purged.length ? `- purged: ${r.purged.join(', ')}` : '',
    r.firewall ? `- firewall: ${r.firewall}` : '',
    `- respawn watch: ${r.respawned.length ? 'RESPAWNED' : 'nothing came back'}`,
    '',
  ].join('\n')
  const files = writeReport(dir, 'remove-mysql', r.startedAt, { json: reportJson(r), md })
  log(`  report ${files.md}`)
}
