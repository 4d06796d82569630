// Connect to an inventory host: one SSH connection per host per run, reused by every step.
import type { HostEntry } from '../inventory.ts'
import { SshHost } from './ssh-host.ts'

const open = new Map<string, Promise<SshHost>>()

/** The run's connection to `entry`: a new one when there is none yet or the last one was dropped. */
export async function connectHost(entry: HostEntry): Promise<SshHost> {
  const key = `${entry.user}@${entry.address}:${entry.port}`
  let conn = open.get(key)
  if (conn) {
    const host = await conn.catch(() => undefined)
    if (host && !host.closed) return host
    if (open.get(key) === conn) open.delete(key)
    conn = open.get(key)
  }
  if (!conn) {
    conn = SshHost.connect({
      host: entry.address,
      port: entry.port,
      user: entry.user,
      identityFile: entry.identityFile,
      knownHostsFile: entry.knownHostsFile,
      knownHostsText: entry.knownHosts,
    })
    conn.catch(() => open.delete(key))
    open.set(key, conn)
  }
  return conn
}

export async function closeHosts(): Promise<void> {
  const all = [...open.values()]
  open.clear()
  await Promise.all(all.map(async (c) => (await c.catch(() => undefined))?.close()))
}
