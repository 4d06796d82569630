// Every firewall rule, and the ports that must never appear in any of them.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { firewallRules, portMatches } from '../../../infra/firewall-rules.ts'

const ANYWHERE = ['0.0.0.0/0', '::/0']

describe('firewall rules', () => {
  it('are exactly: SSH from the admin networks, HTTP, HTTPS, the Ocean port and ICMP from anywhere', () => {
    assert.deepEqual(firewallRules({ adminCidrs: ['203.0.113.4/32', '2001:db8:ff::/48'], oceanPort: 8030 }), [
      { direction: 'in', protocol: 'tcp', port: '22', sourceIps: ['203.0.113.4/32', '2001:db8:ff::/48'], description: 'SSH from admin networks' },
      { direction: 'in', protocol: 'tcp', port: '80', sourceIps: ANYWHERE, description: 'HTTP (redirects, ACME)' },
      { direction: 'in', protocol: 'tcp', port: '443', sourceIps: ANYWHERE, description: 'HTTPS' },
      { direction: 'in', protocol: 'tcp', port: '8030', sourceIps: ANYWHERE, description: 'Ocean service' },
      { direction: 'in', protocol: 'icmp', sourceIps: ANYWHERE, description: 'ICMP' },
    ])
  })

  it('never open MySQL, PostgreSQL, Redis or the Docker API, whatever the Ocean port', () => {
    for (const oceanPort of [8030, 9000, 3000, 65535]) {
      for (const rule of firewallRules({ adminCidrs: ['203.0.113.4/32'], oceanPort })) {
        assert.notEqual(rule.port, 'any', 'no rule may open every port')
        for (const port of [3306, 5432, 6379, 2375, 2376]) {
          assert.equal(rule.port !== undefined && portMatches(rule.port, port), false, `${rule.description} opens ${port}`)
        }
        assert.ok(rule.protocol !== 'udp', 'no UDP service is exposed')
      }
    }
  })

  it('refuse to build a rule set that would open a forbidden port', () => {
    assert.throws(() => firewallRules({ adminCidrs: ['203.0.113.4/32'], oceanPort: 6379 }), /would open port 6379/)
    assert.throws(() => firewallRules({ adminCidrs: [], oceanPort: 8030 }), /adminCidrs is empty/)
  })

  it('only SSH is limited to the admin networks', () => {
    const rules = firewallRules({ adminCidrs: ['198.51.100.0/24'], oceanPort: 8030 })
    assert.deepEqual(rules.filter((r) => !r.sourceIps.includes('0.0.0.0/0')).map((r) => r.port), ['22'])
  })

  it('match port specs the way Hetzner reads them', () => {
    assert.equal(portMatches('80-85', 82), true)
    assert.equal(portMatches('80-85', 86), false)
    assert.equal(portMatches('any', 3306), true)
    assert.equal(portMatches('3306', 3306), true)
  })
})
