import fs from 'node:fs'

// Evidence about every MySQL-like process on a host, gathered by one read-only script run as
// root: exe path (and whether it was deleted from disk), its sha256, the package owning it,
// cmdline, parent, user, CPU, listening sockets. Parsing is pure and unit-tested.

/** Names a MySQL-like process goes by (the rogue hides behind the same ones). */
export const MYSQL_LIKE = /(^|\/)(mysqld?|mariadbd?|mysqld_safe|mariadbd-safe|mysqld-helper)( \(deleted\))?$/

export interface ProcessEvidence {
  pid: number
  ppid: number
  user: string
  /** CPU since start, percent of one core (ps pcpu). */
  cpu: number
  elapsedSeconds: number
  comm: string
  cmdline: string
  exe: string
  exeDeleted: boolean
  sha256: string | null
  /** Debian package owning the exe path, or null when none does. */
  package: string | null
  parent: { pid: number; comm: string; cmdline: string } | null
  listening: string[]
  /** When the exe is an interpreter: the script it runs and the package owning that script. */
  script: { path: string; package: string | null } | null
}

/**
 * Prints one tab-separated record per MySQL-like process. Reads only: /proc, ps, ss, dpkg -S.
 * Columns: pid ppid user pcpu etimes comm exe sha256 package parent_comm parent_cmdline listening
 * script script_package cmdline (script: the file an interpreter runs, e.g. a respawner in bash)
 */
export const DISCOVER_SCRIPT = fs.readFileSync(new URL('./discover.sh', import.meta.url), 'utf8')

export function parseDiscovery(out: string): ProcessEvidence[] {
  const found: ProcessEvidence[] = []
  for (const line of out.split('\n')) {
    if (!line.trim()) continue
    const f = line.split('\t')
    if (f.length < 15) continue
    const [pid, ppid, user, pcpu, etimes, comm, exe, sha, pkg, pcomm, pcmd, socks, script, spkg, ...cmd] = f as [string, string, string, string, string, string, string, string, string, string, string, string, string, string, ...string[]]
    const deleted = exe.endsWith(' (deleted)')
    found.push({
      pid: Number(pid),
      ppid: Number(ppid),
      user,
      cpu: Number(pcpu),
      elapsedSeconds: Number(etimes),
      comm,
      cmdline: cmd.join('\t').trim(),
      exe: deleted ? exe.slice(0, -' (deleted)'.length) : exe,
      exeDeleted: deleted,
      sha256: sha === '-' ? null : sha,
      package: pkg === '-' ? null : pkg,
      parent: Number(ppid) > 0 ? { pid: Number(ppid), comm: pcomm, cmdline: pcmd.trim() } : null,
      listening: socks === '-' ? [] : socks.split(','),
      script: script === '-' ? null : { path: script, package: spkg === '-' ? null : spkg },
    })
  }
  return found
}

export type Verdict = 'packaged' | 'rogue'

export interface Classified extends ProcessEvidence {
  verdict: Verdict
  reasons: string[]
}

const SCRATCH_DIRS = /^\/(tmp|var\/tmp|dev\/shm|run\/user)\//

/**
 * A packaged MySQL runs a binary a Debian package owns, from the system's paths, still on disk.
 * Anything else with a MySQL-like name is rogue, with the reasons written down.
 */
export function classify(p: ProcessEvidence): Classified {
  const reasons: string[] = []
  // An interpreter is packaged; what it runs is what counts.
  if (p.script) {
    if (!p.script.package) reasons.push(`runs the script ${p.script.path}, which no Debian package owns`)
    if (SCRATCH_DIRS.test(p.script.path)) reasons.push(`its script lives in a scratch directory (${p.script.path})`)
    if (reasons.length) return { ...p, verdict: 'rogue', reasons }
  }
  if (SCRATCH_DIRS.test(p.exe)) reasons.push(`runs from a scratch directory (${p.exe})`)
  if (p.exeDeleted) reasons.push('its binary was deleted from disk after start')
  if (!p.package) reasons.push('no Debian package owns its binary')
  if (p.package && !/^\/(usr\/)?s?bin\//.test(p.exe)) reasons.push(`packaged binary outside the system paths (${p.exe})`)
  if (reasons.length) return { ...p, verdict: 'rogue', reasons }
  return { ...p, verdict: 'packaged', reasons: [`${p.exe} belongs to the package ${p.package}`] }
}

/** Only the processes that look like MySQL: by command name or by exe name. */
export function mysqlLike(p: ProcessEvidence): boolean {
  return MYSQL_LIKE.test(p.comm) || MYSQL_LIKE.test(p.exe) || /(^|\/)(mysql|mariadb)[^/]*$/.test(p.exe)
}
