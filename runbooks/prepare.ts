// `ocean-ops cutover --prepare`, days before the cutover: clients must already reach the old system
// through the floating IP, or moving it changes nothing. Read top to bottom, these are its steps.
import dns from 'node:dns/promises'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { connectHost } from './lib/host/connect.ts'
import { HetznerClient } from './lib/hetzner/hetzner-client.ts'
import { resolveSecret, type Inventory } from './lib/inventory.ts'
import { OpsError } from '@ocean-ops/common'
import type { Runbook } from './lib/runbook.ts'

const HOST_SETUP = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'infra', 'host-setup.sh')

export interface PrepareOptions {
  /** A DNS name clients use: it must resolve to the floating IP (checked, with its TTL). */
  dnsName?: string
}

export interface PrepareReport {
  floatingIp: string
  assigned: 'already' | 'assigned'
  configured: string
  answered: string
  dns?: { name: string; addresses: string[]; ttl: number; ok: boolean }
  warnings: string[]
}

/** Whether DNS already sends clients to the floating IP (pure; the runbook resolves). */
export function dnsVerdict(name: string, ip: string, records: Array<{ address: string; ttl: number }>): { ok: boolean; warning?: string } {
  const addrs = records.map((r) => r.address)
  if (addrs.includes(ip) && addrs.length === 1) return { ok: true }
  const ttl = Math.max(0, ...records.map((r) => r.ttl))
  if (addrs.includes(ip)) return { ok: false, warning: `${name} resolves to ${addrs.join(', ')}: the floating IP and other addresses; drop the others, then wait ${ttl} s (their TTL) before the cutover` }
  return { ok: false, warning: `${name} resolves to ${addrs.join(', ') || 'nothing'}, not the floating IP ${ip}: point it there, then wait at least the old record's TTL (${ttl} s here) before the cutover` }
}

export async function prepareCutover(rb: Runbook, inv: Inventory, opts: PrepareOptions = {}): Promise<PrepareReport> {
  if (!inv.oldHost || !inv.floatingIp || !inv.hetzner) throw new OpsError('OPS_E_INVENTORY', 'the inventory needs oldHost (with serverId), floatingIp { id, address } and hetzner { token }')
  const oldServer = inv.oldHost.serverId
  if (typeof oldServer !== 'number') throw new OpsError('OPS_E_INVENTORY', 'oldHost.serverId is missing: the old server\'s id in the Hetzner console')
  const fip = inv.floatingIp
  const hetzner = new HetznerClient({ token: resolveSecret(inv.hetzner.token, 'Hetzner API token'), endpoint: inv.hetzner.endpoint })
  const clientUrl = fip.url ?? `http://${fip.address}:${inv.oceanPort}`
  const report: PrepareReport = { floatingIp: fip.address, assigned: 'already', configured: '', answered: '', warnings: [] }

  const current = (await rb.step('floating IP', { describe: `where floating IP ${fip.id} points` }, () => hetzner.getFloatingIp(fip.id)))!
  if (current.server !== oldServer) {
    const moving = current.server === null ? 'assign the unassigned floating IP to the old server' : `move the floating IP from server ${current.server} to the old server (its clients move with it)`
    await rb.step('assign to the old server', { destructive: moving, describe: `assign ${fip.address} to server ${oldServer}` }, async () => {
      await hetzner.waitForAction(await hetzner.assignFloatingIp(fip.id, oldServer), { intervalMs: 200 })
    })
    report.assigned = 'assigned'
  }

  report.configured = (await rb.step('configure on the old host', { mutates: true, describe: `${fip.address}/32 on the old host's primary interface, persistently (infra/host-setup.sh, floating-ip step only)` }, async (p) => {
    if (/^127\./.test(fip.address)) return 'the lab\'s floating IP is a local proxy: nothing to configure on the host'
    const host = await connectHost(inv.oldHost!)
    const out = await host.exec(['env', 'OCEAN_SETUP_ONLY=floating-ip', `OCEAN_FLOATING_IP=${fip.address}`, 'bash', '-s'], { sudo: true, stdin: fs.readFileSync(HOST_SETUP) })
    const line = out.stdout.split('\n').find((l) => l.includes('floating IP:')) ?? ''
    p.progress(line)
    return line.replace(/^\[ocean-host-setup\] /, '')
  })) ?? 'planned'

  report.answered = (await rb.step('the old system answers on it', { describe: `${clientUrl}/health` }, async () => {
    const res = await fetch(`${clientUrl}/health`, { signal: AbortSignal.timeout(5000) }).catch((e: Error) => {
      throw new OpsError('OPS_E_VERIFY', `${clientUrl}/health does not answer (${e.message}): the old service must listen on the floating IP (0.0.0.0 or the address itself) and the firewall must let clients in`)
    })
    if (!res.ok) throw new OpsError('OPS_E_VERIFY', `${clientUrl}/health answered ${res.status}`)
    return `${res.status} from ${clientUrl}`
  }))!

  if (opts.dnsName) {
    const name = opts.dnsName
    await rb.step('DNS', { describe: `${name} resolves to ${fip.address}` }, async (p) => {
      const records = await dns.resolve4(name, { ttl: true }).catch(() => [] as Array<{ address: string; ttl: number }>)
      const v = dnsVerdict(name, fip.address, records)
      report.dns = { name, addresses: records.map((r) => r.address), ttl: Math.max(0, ...records.map((r) => r.ttl)), ok: v.ok }
      if (v.warning) {
        report.warnings.push(v.warning)
        p.progress(`WARNING: ${v.warning}`)
      }
    })
  }
  return report
}
