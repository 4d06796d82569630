// What `pulumi stack output --json` prints for the infra program (secrets shown as "[secret]",
// as they are without --show-secrets). program.test.ts checks the real program yields this shape.
export const KNOWN = '198.51.100.7,203.0.113.10,2001:db8:1::1 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGf9cmZ+QrmUF761QGGuRnnJWwywUby9nyQnQKxl3w7E'

export function stackOutput(): Record<string, unknown> {
  return {
    serverId: 1005, floatingIp: '198.51.100.7', floatingIpId: 1003, ipv4: '203.0.113.10', ipv6: '2001:db8:1::1',
    volumeId: 1002, knownHosts: KNOWN, hostPrivateKey: '[secret]',
    inventory: {
      newHost: { address: '203.0.113.10', ipv4: '203.0.113.10', ipv6: '2001:db8:1::1', user: 'ocean', port: 22 },
      knownHosts: KNOWN,
      floatingIp: { id: 1003, address: '198.51.100.7' },
      oceanPort: 8030, volumeId: 1002, serverId: 1005,
    },
  }
}
