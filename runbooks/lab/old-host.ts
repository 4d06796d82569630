// The old host after boot: wait for systemd and the two database units, then seed them (once
// per seed size) with the old Ocean app's data through the image's ocean-lab-seed script.
import type Docker from 'dockerode'
import type { Log } from '../lib/images/local-images.ts'
import { OpsError } from '@ocean-ops/common'
import { execIn, mustExec, waitFor } from './lab-docker.ts'
import type { SeedSize } from './lab-state.ts'

export const OLD_UNITS = ['mariadb', 'postgresql@15-main', 'ssh', 'cron', 'mysqld-helper.timer']

/** systemd reached its default target and `units` are active (failed units are named in the error). */
export async function waitForUnits(container: Docker.Container, units: string[], timeoutMs: number): Promise<void> {
  await waitFor('systemd boot', timeoutMs, async () => {
    const r = await execIn(container, ['systemctl', 'is-system-running'])
    const state = r.stdout.trim()
    if (state === 'running' || state === 'degraded') return true
    return undefined
  })
  const r = await execIn(container, ['systemctl', 'is-active', ...units])
  if (r.code !== 0) {
    const failed = await execIn(container, ['systemctl', '--failed', '--no-legend', '--plain'])
    const states = units.map((u, i) => `${u}=${r.stdout.split('\n')[i] ?? '?'}`).join(' ')
    throw new OpsError('OPS_E_LAB', `units not active on ${container.id.slice(0, 12)}: ${states}; failed: ${failed.stdout.trim() || 'none'}. Inspect with: docker exec ${container.id.slice(0, 12)} journalctl -b --no-pager -n 100`)
  }
}

/** The seed the host holds now (from its marker file), or undefined when it was never seeded. */
export async function currentSeed(container: Docker.Container): Promise<SeedSize | undefined> {
  const r = await execIn(container, ['cat', '/var/lib/ocean-lab/seed.json'])
  if (r.code !== 0) return undefined
  return JSON.parse(r.stdout) as SeedSize
}

export async function seedOldHost(container: Docker.Container, seed: SeedSize, passwords: { pg: string; mysql: string }, log: Log): Promise<void> {
  const started = Date.now()
  log(`seeding the old host: ${seed.users} users, ${seed.telemetryRows} telemetry rows (PostgreSQL) and the legacy MariaDB tables`)
  await mustExec(container, 'seeding the old host', ['/usr/local/sbin/ocean-lab-seed', String(seed.users), String(seed.telemetryRows)], {
    env: [`LAB_PG_PASSWORD=${passwords.pg}`, `LAB_MYSQL_PASSWORD=${passwords.mysql}`],
  })
  log(`seeded in ${((Date.now() - started) / 1000).toFixed(1)} s`)
}

/** Row counts of the seeded tables, read as the databases' superusers on the host itself. */
export async function rowCounts(container: Docker.Container): Promise<Record<string, number>> {
  const tables = ['users', 'sessions', 'billing', 'profiles', 'metadata', 'telemetry']
  const sql = tables.map((t) => `SELECT '${t}', count(*) FROM ${t}`).join(' UNION ALL ')
  const pg = await mustExec(container, 'counting PostgreSQL rows', ['runuser', '-u', 'postgres', '--', 'psql', '-X', '-A', '-t', '-F', ' ', '-d', 'ocean', '-c', sql])
  const my = await mustExec(container, 'counting MariaDB rows', ['mariadb', '--batch', '--skip-column-names', '-e',
    "SELECT 'legacy.audit_log', count(*) FROM legacy.audit_log UNION ALL SELECT 'legacy.feature_flags', count(*) FROM legacy.feature_flags"])
  const counts: Record<string, number> = {}
  for (const line of `${pg}\n${my}`.split('\n')) {
    const [name, n] = line.trim().split(/\s+/)
    if (name && n) counts[name] = Number(n)
  }
  return counts
}
