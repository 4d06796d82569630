// The stack config parser: defaults, and every refusal with a message that says what to run.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { DEFAULTS, parseOceanConfig, type ConfigSource } from '../../../infra/config.ts'
import { parseCidr } from '../../../infra/cidr.ts'

const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGf9cmZ+QrmUF761QGGuRnnJWwywUby9nyQnQKxl3w7E alice@laptop'

/** The keys `pulumi config set --secret` stores encrypted, unless a test says otherwise. */
const SECRET_KEYS = ['backupPassword', 'storageBoxPassword']

function src(ocean: Record<string, string | undefined> = {}, hasToken = true, secretKeys = SECRET_KEYS): ConfigSource {
  const base: Record<string, string | undefined> = { adminCidrs: '["203.0.113.4/32"]', sshKeys: JSON.stringify([KEY]), ...ocean }
  return { ocean: Object.fromEntries(Object.entries(base).filter((e): e is [string, string] => e[1] !== undefined)), stack: 'Prod', hasToken, secretKeys }
}

function problems(ocean: Record<string, string | undefined>, hasToken = true, secretKeys = SECRET_KEYS): string {
  try {
    parseOceanConfig(src(ocean, hasToken, secretKeys))
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

// ocean:backup and its keys, as `pulumi config set --path` / `--secret` store them.
const BACKUP_KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKzlCkCQYZn61frtT++V6aqkCGelpqjjFqSrh7duEYRt restic@ocean-prod'
const BOX_PASSWORD = 'Box-Passw0rd-not-real'
const REPO_PASSWORD = 'restic-password-not-real'
const HOST_KEY_BODY = 'AAAAC3NzaC1lZDI1NTE5AAAAIGf9cmZ+QrmUF761QGGuRnnJWwywUby9nyQnQKxl3w7E'
const box = (storageBox: Record<string, unknown> = {}, extra: Record<string, string | undefined> = {}) => ({
  backup: JSON.stringify({ storageBox }), backupPassword: REPO_PASSWORD, backupSshPublicKey: BACKUP_KEY, storageBoxPassword: BOX_PASSWORD, ...extra,
})
const existing = (e: Record<string, unknown>, extra: Record<string, string | undefined> = {}) => ({
  backup: JSON.stringify({ existing: e }), backupPassword: REPO_PASSWORD, ...extra,
})

describe('infra config: ocean:backup', () => {
  it('has no backup target unless ocean:backup is set', () => {
    assert.equal(parseOceanConfig(src()).backup, undefined)
  })

  it('creates a Storage Box with the documented defaults: bx11, at the server location, SSH inside Hetzner only', () => {
    assert.deepEqual(parseOceanConfig(src(box())).backup, {
      storageBox: { location: 'fsn1', storageBoxType: 'bx11', reachableExternally: false, sshPublicKey: BACKUP_KEY },
    })
  })

  it('maps the server location to a Storage Box location, and takes the type, location and reach from the config', () => {
    assert.equal(parseOceanConfig(src({ ...box(), location: 'nbg1' })).backup?.storageBox?.location, 'fsn1')
    assert.equal(parseOceanConfig(src({ ...box(), location: 'hel1' })).backup?.storageBox?.location, 'hel1')
    const c = parseOceanConfig(src({ ...box({ location: 'hel1', storageBoxType: 'bx21', reachableExternally: true }), location: 'fsn1' }))
    assert.deepEqual(c.backup?.storageBox, { location: 'hel1', storageBoxType: 'bx21', reachableExternally: true, sshPublicKey: BACKUP_KEY })
    assert.equal(parseOceanConfig(src(box({ reachableExternally: 'true' }))).backup?.storageBox?.reachableExternally, true)
  })

  it('needs a Storage Box location where Hetzner offers none (ash), with the command that sets it', () => {
    assert.match(problems({ ...box(), location: 'ash' }), /ocean:backup\.storageBox\.location is required: Hetzner offers no Storage Box at the server's location ash; .*pulumi config set --path ocean:backup\.storageBox\.location fsn1/)
    assert.equal(parseOceanConfig(src({ ...box({ location: 'fsn1' }), location: 'ash' })).backup?.storageBox?.location, 'fsn1')
  })

  it('reports every missing key of a Storage Box at once, each with its fix', () => {
    const msg = problems({ backup: JSON.stringify({ storageBox: {} }) })
    assert.match(msg, /ocean:backupPassword is required with ocean:backup: the restic repository password.*`pulumi config set --secret ocean:backupPassword`/)
    assert.match(msg, /ocean:backupSshPublicKey is required with ocean:backup\.storageBox: .*`pulumi config set ocean:backupSshPublicKey "\$\(cat backup_ed25519\.pub\)"`/)
    assert.match(msg, /ocean:storageBoxPassword is required with ocean:backup: .*`pulumi config set --secret ocean:storageBoxPassword`/)
  })

  it('refuses passwords kept in plain text in the stack file', () => {
    const msg = problems(box(), true, [])
    assert.match(msg, /ocean:backupPassword is stored in plain text in the stack file: set it again with `pulumi config set --secret ocean:backupPassword`/)
    assert.match(msg, /ocean:storageBoxPassword is stored in plain text/)
    assert.doesNotMatch(problems(box(), true, ['backupPassword']), /backupPassword is stored in plain text/)
  })

  it('refuses bad Storage Box values and keys all at once, never repeating a password', () => {
    const weak = 'short1A!'
    const msg = problems(box({ location: 'Falkenstein', storageBoxType: 'big', reachableExternally: 'yes', sshKey: BACKUP_KEY },
      { backupSshPublicKey: 'my-hetzner-key', storageBoxPassword: weak }))
    for (const re of [/backup\.storageBox\.location "Falkenstein" is not a Hetzner location/, /backup\.storageBox\.storageBoxType "big" is not a Storage Box type such as bx11/,
      /backup\.storageBox\.reachableExternally must be true or false, not "yes"/,
      /ocean:backup\.storageBox\.sshKey is not a known key \(known: location, storageBoxType, reachableExternally; the SSH key is ocean:backupSshPublicKey\)/,
      /ocean:backupSshPublicKey entry "my-hetzner-key" is not an OpenSSH public key line/,
      /ocean:storageBoxPassword does not meet Hetzner's Storage Box password policy .*it has 8 characters\): set another with `pulumi config set --secret ocean:storageBoxPassword`/]) assert.match(msg, re)
    assert.ok(!msg.includes(weak), 'the password must not appear in the message')
    assert.match(problems(box({}, { storageBoxPassword: 'alllowercase-and-long' })), /it lacks an upper-case letter, a digit\)/)
    assert.match(problems(box({}, { backupSshPublicKey: `${BACKUP_KEY}\n${KEY}` })), /ocean:backupSshPublicKey must be one key line/)
    assert.match(problems(box({}, { backupSshPublicKey: BACKUP_KEY.replace('ZDI1NTE5', 'ZDI1NTE4') })), /ocean:backupSshPublicKey entry .* has a damaged key body/)
  })

  it('uses an existing SFTP repository: a Storage Box host defaults to port 23, any other host to 22', () => {
    const repository = 'sftp:u400123@u400123.your-storagebox.de:/ocean'
    const knownHosts = `[u400123.your-storagebox.de]:23 ssh-ed25519 ${HOST_KEY_BODY}`
    assert.deepEqual(parseOceanConfig(src(existing({ repository, hostKey: knownHosts }))).backup, {
      existing: { repository, sftp: { host: 'u400123.your-storagebox.de', port: 23, knownHosts } },
    })
    assert.deepEqual(parseOceanConfig(src(existing({ repository: 'sftp:backup@backup.example.org:/srv/restic/ocean' }))).backup?.existing?.sftp,
      { host: 'backup.example.org', port: 22 })
    assert.deepEqual(parseOceanConfig(src(existing({ repository: 'sftp:backup@backup.example.org:/r', port: 2222, hostKey: `[backup.example.org]:2222 ssh-ed25519 ${HOST_KEY_BODY}` }))).backup?.existing?.sftp,
      { host: 'backup.example.org', port: 2222, knownHosts: `[backup.example.org]:2222 ssh-ed25519 ${HOST_KEY_BODY}` })
    const hashed = `|1|F1E1KeoE/eEWhi10WpGv4OdiO6Y=|3988QV0VE8wmZL7suNrYQLITLCg= ssh-ed25519 ${HOST_KEY_BODY}`
    assert.equal(parseOceanConfig(src(existing({ repository, hostKey: hashed }))).backup?.existing?.sftp?.knownHosts, hashed)
  })

  it('uses an existing S3 repository with no SFTP settings', () => {
    const repository = 's3:https://fsn1.your-objectstorage.com/ocean-backups/prod'
    assert.deepEqual(parseOceanConfig(src(existing({ repository }))).backup, { existing: { repository } })
    assert.match(problems(existing({ repository, hostKey: `host ssh-ed25519 ${HOST_KEY_BODY}` })), /backup\.existing\.hostKey is only for sftp repositories; remove it with `pulumi config rm --path ocean:backup\.existing\.hostKey`/)
    assert.match(problems(existing({ repository, port: 23 })), /backup\.existing\.port is only for sftp repositories/)
  })

  it('refuses repositories it cannot hand to restic, and host keys that would not match', () => {
    for (const repository of ['rest:https://backup.example.org/', 'sftp:u1@u1.your-storagebox.de:ocean', 's3:http://s3.example.org/bucket', 's3:https://s3.example.org']) {
      assert.match(problems(existing({ repository })), /backup\.existing\.repository ".*" is not a restic repository of a supported form: sftp:USER@HOST:\/PATH \(an absolute path\) or s3:https:\/\/ENDPOINT\/BUCKET\[\/PATH\]/, repository)
    }
    assert.match(problems(existing({})), /backup\.existing\.repository is required/)
    const repository = 'sftp:u1@u1.your-storagebox.de:/ocean'
    // Port 23: ssh looks the key up as [host]:23, so a bare host name would never match.
    assert.match(problems(existing({ repository, hostKey: `u1.your-storagebox.de ssh-ed25519 ${HOST_KEY_BODY}` })),
      /backup\.existing\.hostKey ".*" does not name \[u1\.your-storagebox\.de\]:23, the name ssh looks up for port 23: get it with `ssh-keyscan -p 23 u1\.your-storagebox\.de`/)
    assert.match(problems(existing({ repository, hostKey: 'ssh-ed25519 AAAA' })), /backup\.existing\.hostKey "ssh-ed25519 AAAA" is not a known_hosts line/)
    assert.match(problems(existing({ repository, hostKey: `[u1.your-storagebox.de]:23 ssh-ed25519 ${HOST_KEY_BODY.slice(0, 20)}` })), /has a damaged key body/)
    assert.match(problems(existing({ repository, port: 70000 })), /backup\.existing\.port must be a whole number from 1 to 65535/)
    assert.match(problems(existing({ repository, user: 'x' })), /ocean:backup\.existing\.user is not a known key \(known: repository, hostKey, port\)/)
  })

  it('refuses the Storage Box keys with an existing repository, and backup keys without ocean:backup', () => {
    const msg = problems(existing({ repository: 's3:https://fsn1.your-objectstorage.com/b' }, { backupSshPublicKey: BACKUP_KEY, storageBoxPassword: BOX_PASSWORD }))
    assert.match(msg, /ocean:backupSshPublicKey is not used with ocean:backup\.existing \(only to create a Storage Box\); remove it with `pulumi config rm ocean:backupSshPublicKey`/)
    assert.match(msg, /ocean:storageBoxPassword is not used with ocean:backup\.existing/)
    const without = problems({ backupPassword: REPO_PASSWORD, storageBoxPassword: BOX_PASSWORD })
    assert.match(without, /ocean:backupPassword is not used without ocean:backup \(off-server backups\); remove it with `pulumi config rm ocean:backupPassword`/)
    assert.match(without, /ocean:storageBoxPassword is not used without ocean:backup/)
    assert.ok(!without.includes(REPO_PASSWORD) && !without.includes(BOX_PASSWORD), 'no password in the message')
  })

  it('needs exactly one target: storageBox or existing', () => {
    assert.match(problems({ ...box(), backup: JSON.stringify({ storageBox: {}, existing: { repository: 's3:https://h/b' } }) }), /ocean:backup sets both storageBox and existing: keep one/)
    assert.match(problems({ backup: '{}', backupPassword: REPO_PASSWORD }), /ocean:backup names no target: `pulumi config set --path ocean:backup\.storageBox\.storageBoxType bx11`.* or `pulumi config set --path ocean:backup\.existing\.repository/)
    assert.match(problems({ backup: 'yes', backupPassword: REPO_PASSWORD }), /ocean:backup must be an object/)
    assert.match(problems({ ...box(), backup: JSON.stringify({ storageBox: {}, restic: true }) }), /ocean:backup\.restic is not a known key \(known: storageBox, existing\)/)
    assert.match(problems({ ...box(), backup: JSON.stringify({ storageBox: 'bx11' }) }), /ocean:backup\.storageBox must be an object/)
  })
})

describe('cidr', () => {
  it('canonicalises IPv6 with :: and embedded IPv4', () => {
    assert.deepEqual(parseCidr('::ffff:192.0.2.0/120'), { family: 6, address: '::ffff:192.0.2.0', prefix: 120, text: '::ffff:192.0.2.0/120' })
    assert.equal(typeof parseCidr('::ffff:192.0.2.1/120'), 'string')
    assert.equal(typeof parseCidr('2001:db8::/32'), 'object')
  })
})
