// The new server's inbound firewall, as plain data. Hetzner firewalls drop every inbound packet
// no rule admits, so the databases, Redis and the Docker API stay unreachable by construction;
// the builder also refuses to emit them, so a later edit cannot open one by accident.
// (Hetzner firewalls do not filter private-network traffic; migration traffic uses that.)
import { FORBIDDEN_PORTS } from './config.ts'

export interface FirewallRuleSpec {
  direction: 'in'
  protocol: 'tcp' | 'udp' | 'icmp'
  /** A single port or a range "a-b"; absent for ICMP. */
  port?: string
  sourceIps: string[]
  description: string
}

export interface FirewallInputs {
  adminCidrs: string[]
  oceanPort: number
}

const ANYWHERE = ['0.0.0.0/0', '::/0']

export function firewallRules(cfg: FirewallInputs): FirewallRuleSpec[] {
  if (cfg.adminCidrs.length === 0) throw new Error('firewallRules: adminCidrs is empty; SSH would be closed to everyone')
  const rules: FirewallRuleSpec[] = [
    { direction: 'in', protocol: 'tcp', port: '22', sourceIps: [...cfg.adminCidrs], description: 'SSH from admin networks' },
    { direction: 'in', protocol: 'tcp', port: '80', sourceIps: ANYWHERE, description: 'HTTP (redirects, ACME)' },
    { direction: 'in', protocol: 'tcp', port: '443', sourceIps: ANYWHERE, description: 'HTTPS' },
    { direction: 'in', protocol: 'tcp', port: String(cfg.oceanPort), sourceIps: ANYWHERE, description: 'Ocean service' },
    // ICMP keeps path-MTU discovery and ping working; blocking it breaks TCP in odd ways.
    { direction: 'in', protocol: 'icmp', sourceIps: ANYWHERE, description: 'ICMP' },
  ]
  for (const r of rules) {
    const hit = r.port === undefined ? undefined : FORBIDDEN_PORTS.find((p) => portMatches(r.port ?? '', p))
    if (hit !== undefined) throw new Error(`firewallRules: rule "${r.description}" would open port ${hit}, which must stay closed`)
  }
  return rules
}

/** True if a Hetzner port spec ("22", "80-85", "any") admits the port. */
export function portMatches(spec: string, port: number): boolean {
  if (spec === 'any') return true
  const [from, to] = spec.split('-').map(Number)
  return from !== undefined && port >= from && port <= (to ?? from)
}
