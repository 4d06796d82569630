// Stack outputs -> the Pulumi-owned part of the runbooks' inventory, and the merge that keeps
// everything else in an existing inventory file.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { inventoryFromPulumi, mergeInventory } from '../../../runbooks/lib/inventory-from-pulumi.ts'

import { KNOWN, stackOutput } from './stack-output-fixture.ts'

function withInventory(change: (inv: Record<string, unknown>) => void) {
  const out = stackOutput()
  change(out.inventory as Record<string, unknown>)
  return out
}

const expectConfigError = (input: unknown, re: RegExp) =>
  assert.throws(() => inventoryFromPulumi(input), (e: Error & { code?: string }) => {
    assert.equal(e.code, 'OPS_E_CONFIG')
    assert.match(e.message, re)
    assert.match(e.message, /ocean-ops inventory --from-pulumi/)
    return true
  })

describe('inventoryFromPulumi', () => {
  it('keeps the new host in its own sub-object, with numeric Hetzner ids', () => {
    assert.deepEqual(inventoryFromPulumi(stackOutput(), { stack: 'prod' }), {
      schemaVersion: 1,
      source: { kind: 'pulumi', stack: 'prod' },
      newHost: { address: '203.0.113.10', ipv4: '203.0.113.10', ipv6: '2001:db8:1::1', user: 'ocean', port: 22, knownHosts: KNOWN, serverId: 1005, volumeId: 1002 },
      floatingIp: { id: 1003, address: '198.51.100.7' },
      oceanPort: 8030,
      hetzner: { token: 'env:HCLOUD_TOKEN' },
    })
  })

  it('accepts ids as strings (Pulumi ids are strings) and a private network address', () => {
    const inv = inventoryFromPulumi(withInventory((i) => {
      i.serverId = '1005'
      i.privateNetwork = { newHostIp: '10.40.1.2', ipRange: '10.40.0.0/16' }
    }))
    assert.equal(inv.newHost.serverId, 1005)
    assert.equal(inv.newHost.privateIp, '10.40.1.2')
  })

  it('refuses what is not this stack\'s output', () => {
    expectConfigError([], /is not a JSON object/)
    expectConfigError({ serverId: 1 }, /has no "inventory" output/)
    expectConfigError({ inventory: '[secret]' }, /"inventory" is a secret/)
  })

  it('names the missing or malformed field', () => {
    expectConfigError(withInventory((i) => { delete (i.newHost as Record<string, unknown>).user }), /inventory\.newHost\.user is missing/)
    expectConfigError(withInventory((i) => { i.serverId = 'abc' }), /inventory\.serverId must be a positive whole number/)
    expectConfigError(withInventory((i) => { i.floatingIp = 'x' }), /inventory\.floatingIp must be an object/)
    expectConfigError(withInventory((i) => { i.knownHosts = '[secret]' }), /inventory\.knownHosts is a secret output/)
    expectConfigError(withInventory((i) => { (i.newHost as Record<string, unknown>).port = 0 }), /newHost\.port must be a positive/)
  })

  it('refuses a known_hosts line that does not pin the address SSH connects to', () => {
    expectConfigError(withInventory((i) => { i.knownHosts = KNOWN.replace('203.0.113.10,', '') }), /does not list the new host's address 203\.0\.113\.10/)
    expectConfigError(withInventory((i) => { i.knownHosts = '203.0.113.10 not-a-key' }), /not a known_hosts line/)
  })
})

describe('mergeInventory', () => {
  const fresh = inventoryFromPulumi(stackOutput())

  it('starts a new file from the Pulumi part alone', () => {
    assert.deepEqual(mergeInventory(undefined, fresh), fresh)
  })

  it('keeps the old host, secret references and extra new-host fields; refreshes what Pulumi owns', () => {
    const existing = {
      schemaVersion: 1,
      newHost: { address: '192.0.2.1', user: 'ocean', port: 22, knownHosts: 'stale', identityFile: 'keys/ocean', ipv6: '2001:db8::dead', privateIp: '10.0.0.9' },
      oldHost: { address: '192.0.2.50', user: 'root', port: 22, knownHostsFile: 'old_known_hosts' },
      ocean: { apiKey: 'env:OCEAN_API_KEY' },
      hetzner: { token: 'file:/etc/ocean/hcloud-token' },
      floatingIp: { id: 1, address: '192.0.2.99' },
    }
    const withoutV6 = inventoryFromPulumi(withInventory((i) => { delete (i.newHost as Record<string, unknown>).ipv6 }))
    const merged = mergeInventory(existing, withoutV6)
    assert.deepEqual(merged.oldHost, existing.oldHost)
    assert.deepEqual(merged.ocean, existing.ocean)
    assert.deepEqual(merged.hetzner, { token: 'file:/etc/ocean/hcloud-token' })
    assert.deepEqual(merged.floatingIp, fresh.floatingIp)
    const host = merged.newHost as Record<string, unknown>
    assert.equal(host.address, '203.0.113.10')
    assert.equal(host.knownHosts, KNOWN)
    assert.equal(host.identityFile, 'keys/ocean')
    assert.equal(host.privateIp, undefined, 'a stale private address is dropped')
    assert.equal(host.ipv6, undefined, 'and so is a stale IPv6 address')
  })

  it('refuses to merge into something that is not an inventory object', () => {
    assert.throws(() => mergeInventory([1, 2], fresh), /not a JSON object/)
  })
})
