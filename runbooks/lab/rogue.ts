// The lab's crisis on the old host: the rogue /tmp/mysql that mysqld-helper (cron and a systemd
// timer) keeps alive. Here: find its processes, and switch between the variant whose binary stays
// on disk and the one that deletes it after start ("/tmp/mysql (deleted)" in /proc/PID/exe).
import { docker, execIn, mustExec, waitFor } from './lab-docker.ts'
import type { Lab } from './lab-types.ts'
import { readState, writeState, type RogueVariant } from './lab-state.ts'

export const ROGUE_STASH = '/var/lib/.mysql-sys'

export interface RogueProcess {
  pid: number
  exe: string
}

const FIND = `for p in /proc/[0-9]*; do t=$(readlink "$p/exe" 2>/dev/null) || continue; case "$t" in "/tmp/mysql"|"/tmp/mysql (deleted)") echo "\${p#/proc/} $t";; esac; done`

/** Processes on the old host running from /tmp/mysql (pid as seen inside the host). */
export async function rogueProcesses(lab: Lab): Promise<RogueProcess[]> {
  const out = await mustExec(docker().getContainer(lab.old.containerId), 'listing rogue processes', ['bash', '-c', FIND])
  return out.trim().split('\n').filter(Boolean).map((line) => {
    const [pid, ...exe] = line.split(' ')
    return { pid: Number(pid), exe: exe.join(' ') }
  })
}

/** Switches the variant and restarts the rogue in it (kill, then the respawner runs at once). */
export async function setRogueVariant(lab: Lab, variant: RogueVariant): Promise<RogueProcess[]> {
  const c = docker().getContainer(lab.old.containerId)
  const marker = `${ROGUE_STASH}/unlink`
  await mustExec(c, 'setting the rogue variant', variant === 'deleted' ? ['touch', marker] : ['rm', '-f', marker])
  for (const p of await rogueProcesses(lab)) await execIn(c, ['kill', '-KILL', String(p.pid)])
  await mustExec(c, 'respawning the rogue', ['/usr/local/sbin/mysqld-helper'])
  // The timer may have won the race (the helper holds a lock), so wait for the outcome itself.
  const wanted = variant === 'deleted' ? '/tmp/mysql (deleted)' : '/tmp/mysql'
  const procs = await waitFor(`the rogue running as ${wanted}`, 20_000, async () => {
    const found = await rogueProcesses(lab)
    return found.some((p) => p.exe === wanted) ? found : undefined
  })
  const state = readState(lab.dir)
  if (state?.lab.id === lab.id) writeState({ ...state, rogueVariant: variant })
  return procs
}
