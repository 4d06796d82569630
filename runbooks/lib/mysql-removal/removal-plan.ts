// From evidence to a removal plan: what to disable, quarantine, kill, stop and purge, in an
// order that lets nothing respawn (respawners first, then processes, then files). Pure.
import fs from 'node:fs'
import type { Classified } from './discover.ts'

export const PERSISTENCE_SCRIPT = fs.readFileSync(new URL('./persistence.sh', import.meta.url), 'utf8')
export const DUMP_VERIFY_SCRIPT = fs.readFileSync(new URL('./dump-verify.sh', import.meta.url), 'utf8')
export const BLOCK_PORT_SCRIPT = fs.readFileSync(new URL('./block-port.sh', import.meta.url), 'utf8')

export type PersistenceKind = 'cron' | 'systemd-timer' | 'systemd-service' | 'rc-local' | 'init-script' | 'file' | 'copy'

export interface PersistenceFinding {
  kind: PersistenceKind
  path: string
  package: string | null
  detail: string
}

export function parsePersistence(out: string): PersistenceFinding[] {
  return out
    .split('\n')
    .filter((l) => l.includes('\t'))
    .map((l) => {
      const [kind, path, pkg, ...detail] = l.split('\t')
      return { kind: kind as PersistenceKind, path: path!, package: pkg === '-' || !pkg ? null : pkg, detail: detail.join(' ').trim() }
    })
    .sort((a, b) => a.path.localeCompare(b.path))
}

export interface DumpCheck {
  file: string
  bytes: number
  sha256: string
  tables: Array<{ table: string; liveRows: number; liveChecksum: string; restoredRows: number; restoredChecksum: string; ok: boolean }>
  ok: boolean
}

export function parseDumpCheck(out: string): DumpCheck {
  const dump = /^dump (\S+) (\d+) ([0-9a-f]{64})$/m.exec(out)
  if (!dump) throw new Error(`the dump did not complete: ${out.split('\n').slice(-5).join(' ')}`)
  const tables = [...out.matchAll(/^table (\S+) (\d+) (\S+) (\d+) (\S+)$/gm)].map((m) => ({
    table: m[1]!,
    liveRows: Number(m[2]),
    liveChecksum: m[3]!,
    restoredRows: Number(m[4]),
    restoredChecksum: m[5]!,
    ok: m[2] === m[4] && m[3] === m[5],
  }))
  return { file: dump[1]!, bytes: Number(dump[2]), sha256: dump[3]!, tables, ok: tables.every((t) => t.ok) }
}

/** Debian packages of a MySQL/MariaDB server and client (libraries other software links stay). */
export function packagesToPurge(installed: string[]): string[] {
  return installed.filter((p) => /^(mariadb|mysql|percona)-(server|client|common|plugin|backup)/.test(p) || /^galera-/.test(p)).sort()
}

export interface RemovalAction {
  step: string
  what: string
  argv: string[]
}

function unitName(path: string): string {
  return path.split('/').pop()!
}

/**
 * The ordered actions for the rogue: stop its respawners (timers before services, cron), kill
 * its processes, then move every artifact into the quarantine directory (kept as evidence).
 */
export function rogueActions(processes: Classified[], persistence: PersistenceFinding[], quarantine: string): RemovalAction[] {
  const own = persistence.filter((f) => !f.package)
  const units = own.filter((f) => f.kind === 'systemd-timer' || f.kind === 'systemd-service').sort((a, b) => (a.kind === b.kind ? 0 : a.kind === 'systemd-timer' ? -1 : 1))
  const actions: RemovalAction[] = []
  for (const u of units) actions.push({ step: 'disable respawner', what: `systemctl disable --now ${unitName(u.path)}`, argv: ['systemctl', 'disable', '--now', unitName(u.path)] })
  for (const f of own.filter((x) => x.kind !== 'systemd-timer' && x.kind !== 'systemd-service')) {
    if (f.path === '/etc/crontab' || f.path.startsWith('/var/spool/cron/')) {
      // A shared crontab: keep a copy, drop only the lines that run the rogue's artifacts.
      const terms = own.filter((o) => o.path !== f.path).map((o) => o.path)
      actions.push({ step: 'quarantine', what: `remove the rogue's lines from ${f.path}`, argv: ['sh', '-c', 'set -e; f=$1; q=$2; shift 2; cp -p "$f" "$q/$(echo "$f" | tr / _)"; for t; do grep -vF -- "$t" "$f" > "$f.new" || true; cat "$f.new" > "$f"; rm -f "$f.new"; done', 'sh', f.path, quarantine, ...terms] })
    }
  }
  for (const p of processes.filter((x) => x.verdict === 'rogue')) actions.push({ step: 'kill', what: `kill -KILL ${p.pid} (${p.exe}${p.exeDeleted ? ', deleted' : ''})`, argv: ['kill', '-KILL', String(p.pid)] })
  const files = own.filter((f) => !(f.path === '/etc/crontab' || f.path.startsWith('/var/spool/cron/')))
  for (const f of files) {
    actions.push({ step: 'quarantine', what: `move ${f.path} into ${quarantine}`, argv: ['sh', '-c', 'set -e; [ -e "$1" ] || exit 0; d="$2$(dirname "$1")"; mkdir -p "$d"; mv -f "$1" "$d/"; chmod a-x "$d/$(basename "$1")"', f.path, f.path, quarantine] })
  }
  for (const p of processes.filter((x) => x.verdict === 'rogue' && !x.exeDeleted && !files.some((f) => f.path === x.exe))) {
    actions.push({ step: 'quarantine', what: `move ${p.exe} into ${quarantine}`, argv: ['sh', '-c', 'set -e; [ -e "$1" ] || exit 0; d="$2$(dirname "$1")"; mkdir -p "$d"; mv -f "$1" "$d/"; chmod a-x "$d/$(basename "$1")"', p.exe, p.exe, quarantine] })
  }
  if (units.length) {
    actions.push({ step: 'mask', what: `systemctl daemon-reload; mask ${units.map((u) => unitName(u.path)).join(' ')}`, argv: ['sh', '-c', 'systemctl daemon-reload; for u; do systemctl mask "$u" >/dev/null 2>&1 || true; done', 'mask', ...units.map((u) => unitName(u.path))] })
  }
  return actions
}

/**
 * CPU used by every process on the host over `seconds`, from /proc/PID/stat deltas (works on a
 * server and inside a container, which sees only its own processes). Prints "jiffies clk secs cpus".
 */
export function cpuSampleArgv(seconds: number): string[] {
  const snap = "grep -s '' /proc/[0-9]*/stat | sed -E 's#^/proc/([0-9]+)/stat:.*\\) #\\1 #' | awk '{print $1, $13+$14}'"
  return ['bash', '-c', `a=$(${snap}); sleep "$1"; b=$(${snap}); d=$(awk 'NR==FNR{a[$1]=$2;next} ($1 in a){d+=$2-a[$1]} END{print d+0}' <(echo "$a") <(echo "$b")); echo "$d $(getconf CLK_TCK) $1 $(nproc)"`, 'cpu', String(seconds)]
}

/** Percent of one core used by the host's processes during the sample. */
export function parseCpuSample(out: string): number {
  const [jiffies, clk, secs] = out.trim().split(/\s+/).map(Number)
  if (!clk || !secs || jiffies === undefined || Number.isNaN(jiffies)) return NaN
  return (100 * jiffies) / clk / secs
}
