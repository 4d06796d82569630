// The stack config parser: defaults, and every refusal with a message that says what to run.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { DEFAULTS, parseOceanConfig, type ConfigSource } from '../../../infra/config.ts'
import { parseCidr } from '../../../infra/cidr.ts'

const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGf9cmZ+QrmUF761QGGuRnnJWwywUby9nyQnQKxl3w7E alice@laptop'

function src(ocean: Record<string, string | undefined> = {}, hasToken = true): ConfigSource {
  const base: Record<string, string | undefined> = { adminCidrs: '["203.0.113.4/32"]', sshKeys: JSON.stringify([KEY]), ...ocean }
  return { ocean: Object.fromEntries(Object.entries(base).filter((e): e is [string, string] => e[1] !== undefined)), stack: 'Prod', hasToken }
}

function problems(ocean: Record<string, string | undefined>, hasToken = true): string {
  try {
    parseOceanConfig(src(ocean, hasToken))
  } catch (e) {
    assert.match((e as Error).message, /^OPS_E_INFRA_CONFIG: the stack config is not valid:/)
    return (e as Error).message
  }
  assert.fail('expected the config to be refused')
}

describe('infra config', () => {
  it('fills in the documented defaults', () => {
    const c = parseOceanConfig(src())
    assert.deepEqual(c, {
      name: 'ocean-prod', serverType: 'cx43', location: 'fsn1', image: 'debian-12', sshKeys: [KEY],
      adminCidrs: ['203.0.113.4/32'], allowOpenSsh: false, oceanPort: 8030, volumeSizeGb: 50,
      production: false, swapSizeMb: 2048, deployUser: 'ocean',
    })
    assert.equal(DEFAULTS.serverType, 'cx43')
  })

  it('reads values the way `pulumi config set` stores them', () => {
    const c = parseOceanConfig(src({ production: 'true', oceanPort: '9000', volumeSizeGb: '200', swapSizeMb: '0', adminCidrs: '203.0.113.4/32, 198.51.100.0/24', location: 'hel1' }))
    assert.deepEqual([c.production, c.oceanPort, c.volumeSizeGb, c.swapSizeMb, c.location], [true, 9000, 200, 0, 'hel1'])
    assert.deepEqual(c.adminCidrs, ['203.0.113.4/32', '198.51.100.0/24'])
  })

  it('takes a bare admin address as a single host', () => {
    assert.deepEqual(parseOceanConfig(src({ adminCidrs: '["203.0.113.4", "2001:db8::1"]' })).adminCidrs, ['203.0.113.4/32', '2001:db8::1/128'])
  })

  it('requires hcloud:token', () => assert.match(problems({}, false), /hcloud:token is not set: run `pulumi config set --secret hcloud:token`/))

  it('requires adminCidrs, with the command to set it', () => {
    assert.match(problems({ adminCidrs: undefined }), /ocean:adminCidrs is required.*pulumi config set --path 'ocean:adminCidrs\[0\]'/)
    assert.match(problems({ adminCidrs: '[]' }), /ocean:adminCidrs is required/)
  })

  it('refuses an open SSH rule unless allowOpenSsh is true', () => {
    assert.match(problems({ adminCidrs: '["0.0.0.0/0"]' }), /0\.0\.0\.0\/0, which opens SSH to the whole internet; set ocean:allowOpenSsh true/)
    assert.match(problems({ adminCidrs: '["::/0"]' }), /::\/0, which opens SSH/)
    assert.deepEqual(parseOceanConfig(src({ adminCidrs: '["0.0.0.0/0","::/0"]', allowOpenSsh: 'true' })).adminCidrs, ['0.0.0.0/0', '::/0'])
  })

  it('refuses malformed CIDRs and CIDRs with host bits set', () => {
    assert.match(problems({ adminCidrs: '["not-an-ip"]' }), /"not-an-ip" is not an IPv4 or IPv6 address/)
    assert.match(problems({ adminCidrs: '["203.0.113.4/24"]' }), /host bits set; did you mean 203\.0\.113\.0\/24/)
    assert.match(problems({ adminCidrs: '["2001:db8::1/64"]' }), /did you mean 2001:db8::\/64\?/)
    assert.match(problems({ adminCidrs: '["10.0.0.0/33"]' }), /invalid prefix length/)
  })

  it('requires at least one valid OpenSSH public key and rejects Hetzner key names', () => {
    assert.match(problems({ sshKeys: undefined }), /ocean:sshKeys is required/)
    assert.match(problems({ sshKeys: '["my-hetzner-key"]' }), /not an OpenSSH public key line.*Hetzner key names are not accepted/)
    assert.match(problems({ sshKeys: JSON.stringify([KEY.replace('ZDI1NTE5', 'ZDI1NTE4')]) }), /damaged key body/)
  })

  it('refuses an Ocean port that collides with another rule or a port that must stay closed', () => {
    for (const port of ['22', '443', '3306', '5432', '6379', '2375', '2376']) assert.match(problems({ oceanPort: port }), /ocean:oceanPort must not be/)
    assert.match(problems({ oceanPort: '70000' }), /must be a whole number from 1 to 65535/)
  })

  it('refuses root as deploy user, bad booleans, out-of-range sizes and unknown keys, all at once', () => {
    const msg = problems({ deployUser: 'root', production: 'yes', volumeSizeGb: '5', swapSizeMb: '-1', adminCidr: '1.2.3.4/32' })
    for (const re of [/deployUser must not be root/, /production must be true or false/, /volumeSizeGb must be a whole number from 10/,
      /swapSizeMb must be a whole number/, /ocean:adminCidr is not a known key/]) assert.match(msg, re)
  })

  it('parses the optional private network and derives its zone from the location', () => {
    const c = parseOceanConfig(src({ location: 'ash', privateNetwork: JSON.stringify({ ipRange: '10.40.0.0/16', oldServerId: '4242', oldServerIp: '10.40.0.3' }) }))
    assert.deepEqual(c.privateNetwork, { ipRange: '10.40.0.0/16', subnetRange: '10.40.0.0/16', networkZone: 'us-east', oldServerId: 4242, oldServerIp: '10.40.0.3' })
  })

  it('refuses a private network with addresses outside its subnet or an old IP without the old server', () => {
    assert.match(problems({ privateNetwork: JSON.stringify({ ipRange: '10.40.0.0/16', subnetRange: '10.50.0.0/24' }) }), /privateNetwork\.subnetRange must be a network inside 10\.40\.0\.0\/16/)
    assert.match(problems({ privateNetwork: JSON.stringify({ ipRange: '10.40.0.0/16', newServerIp: '10.41.0.2' }) }), /newServerIp "10\.41\.0\.2" is not an address in 10\.40\.0\.0\/16/)
    assert.match(problems({ privateNetwork: JSON.stringify({ ipRange: '10.40.0.0/16', oldServerIp: '10.40.0.3' }) }), /oldServerIp needs oldServerId/)
    assert.match(problems({ privateNetwork: '"10.40.0.0/16"' }), /privateNetwork must be an object/)
  })
})

describe('cidr', () => {
  it('canonicalises IPv6 with :: and embedded IPv4', () => {
    assert.deepEqual(parseCidr('::ffff:192.0.2.0/120'), { family: 6, address: '::ffff:192.0.2.0', prefix: 120, text: '::ffff:192.0.2.0/120' })
    assert.equal(typeof parseCidr('::ffff:192.0.2.1/120'), 'string')
    assert.equal(typeof parseCidr('2001:db8::/32'), 'object')
  })
})
