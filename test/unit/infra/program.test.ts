// The Pulumi program under Pulumi's own mocks: which resources it creates with which properties,
// what it refuses before creating anything, and the stack outputs the runbooks read.
import assert from 'node:assert/strict'
import { before, beforeEach, describe, it } from 'node:test'
import * as pulumi from '@pulumi/pulumi'
import { inventoryFromPulumi } from '../../../runbooks/lib/inventory-from-pulumi.ts'
import { FAKE, byType, installMocks, one, recorded, settle, valueOf } from './pulumi-mocks.ts'
import { stackOutput } from './stack-output-fixture.ts'

const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGf9cmZ+QrmUF761QGGuRnnJWwywUby9nyQnQKxl3w7E alice@laptop'
const KEY2 = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKzlCkCQYZn61frtT++V6aqkCGelpqjjFqSrh7duEYRt bob@laptop'

// setMocks must come before the program module is loaded; the program is a default-exported
// function, so each test runs it afresh with its own config.
let oceanStack: () => Promise<Record<string, pulumi.Output<unknown>>>
before(async () => {
  delete process.env.HCLOUD_TOKEN // the token must come from the config under test
  await installMocks('prod')
  oceanStack = (await import('../../../infra/index.ts')).default as typeof oceanStack
})
beforeEach(() => recorded.reset())

function setConfig(overrides: Record<string, string | undefined> = {}) {
  const all: Record<string, string | undefined> = {
    'hcloud:token': 'test-token-not-real',
    'ocean:adminCidrs': JSON.stringify(['203.0.113.4/32', '2001:db8:ff::/48']),
    'ocean:sshKeys': JSON.stringify([KEY, KEY2]),
    ...overrides,
  }
  const config = Object.fromEntries(Object.entries(all).filter((e): e is [string, string] => e[1] !== undefined))
  // As `pulumi config set --secret` marks them (a key that is not set is simply not there).
  pulumi.runtime.setAllConfig(config, ['hcloud:token', 'ocean:backupPassword', 'ocean:storageBoxPassword'])
}

async function run(overrides: Record<string, string | undefined> = {}) {
  setConfig(overrides)
  const outputs = await oceanStack()
  const values = (await valueOf(pulumi.output(outputs))) as Record<string, unknown>
  await settle()
  return { outputs, values }
}

async function refused(overrides: Record<string, string | undefined>, pattern: RegExp) {
  setConfig(overrides)
  await assert.rejects(oceanStack(), (e: Error) => {
    assert.match(e.message, pattern)
    assert.equal(e.name, 'InfraError') // a RunError: `pulumi up` prints the message without a stack
    return true
  })
  await settle(100)
  assert.deepEqual(recorded.resources, [], 'nothing may be created after a refusal')
}

describe('infra program: resources', () => {
  it('creates the OceanHost with every child parented to it', async () => {
    await run()
    const types = recorded.resources.map((r) => r.type).sort()
    assert.deepEqual(types, [
      'hcloud:index/firewall:Firewall', 'hcloud:index/floatingIp:FloatingIp', 'hcloud:index/floatingIpAssignment:FloatingIpAssignment',
      'hcloud:index/server:Server', 'hcloud:index/sshKey:SshKey', 'hcloud:index/sshKey:SshKey',
      'hcloud:index/volume:Volume', 'hcloud:index/volumeAttachment:VolumeAttachment',
      'ocean:infra:OceanHost', 'pulumi-nodejs:dynamic/ocean:HostKey',
    ])
    const parentUrn = 'urn:pulumi:prod::ocean-ops::ocean:infra:OceanHost::ocean'
    for (const [name, o] of recorded.options) {
      if (o.type !== 'ocean:infra:OceanHost') assert.equal(o.parent, parentUrn, `${name} must be a child of OceanHost`)
    }
  })

  it('checks the server type with getServerType before creating anything', async () => {
    await run()
    assert.deepEqual(recorded.calls.map((c) => [c.token, c.inputs.name]), [['hcloud:index/getServerType:getServerType', 'cx43']])
  })

  it('builds the server from the config: location (not datacenter), image, backups, firewall, keys, user-data', async () => {
    await run({ 'ocean:location': 'nbg1' })
    const server = one('server:Server').inputs
    assert.equal(server.serverType, 'cx43')
    assert.equal(server.location, 'nbg1')
    assert.equal(server.datacenter, undefined)
    assert.equal(server.image, 'debian-12')
    assert.equal(server.name, 'ocean-prod')
    assert.equal(server.backups, true)
    const userData = String(server.userData)
    assert.match(userData, /^#cloud-config\n/)
    assert.match(userData, /BEGIN OPENSSH PRIVATE KEY/)
    assert.ok(one('server:Server').secretInputs.includes('userData'), 'the user-data holds the host private key: secret')
    assert.match(userData, /OCEAN_FLOATING_IP=198\.51\.100\.7\\n/)
    assert.match(userData, /OCEAN_VOLUME_ID=\d+\\n/)
    assert.match(userData, /OCEAN_SWAP_MB=2048\\n/)
    assert.ok(userData.includes(KEY) && userData.includes(KEY2), 'both admin keys reach the deploy user')
  })

  it('uploads each public key as an Hetzner SSH key and attaches them to the server', async () => {
    await run()
    const keys = byType('sshKey:SshKey')
    assert.deepEqual(keys.map((k) => k.inputs.publicKey).sort(), [KEY, KEY2].sort())
    assert.deepEqual([...(one('server:Server').inputs.sshKeys as string[])].sort(), keys.map((k) => recorded.ids.get(k.name)).sort())
  })

  it('attaches the firewall to the server', async () => {
    await run()
    assert.deepEqual(one('server:Server').inputs.firewallIds, [Number(recorded.ids.get('ocean-firewall'))])
  })

  it('creates the data volume with ext4, delete protection and the server location, attached without automount', async () => {
    await run({ 'ocean:volumeSizeGb': '120', 'ocean:location': 'hel1' })
    const volume = one('volume:Volume').inputs
    assert.deepEqual([volume.size, volume.location, volume.format, volume.deleteProtection], [120, 'hel1', 'ext4', true])
    const att = one('volumeAttachment:VolumeAttachment').inputs
    assert.deepEqual(att, { automount: false, serverId: Number(recorded.ids.get('ocean-server')), volumeId: Number(recorded.ids.get('ocean-volume')) })
  })

  it('creates a floating IPv4 at the server location, assigned with ignoreChanges on serverId', async () => {
    await run()
    const fip = one('floatingIp:FloatingIp').inputs
    assert.deepEqual([fip.type, fip.homeLocation, fip.serverId], ['ipv4', 'fsn1', undefined])
    assert.deepEqual(one('floatingIpAssignment:FloatingIpAssignment').inputs, {
      floatingIpId: Number(recorded.ids.get('ocean-floating-ip')), serverId: Number(recorded.ids.get('ocean-server')),
    })
    assert.deepEqual(recorded.options.get('ocean-floating-ip-assignment')?.ignoreChanges, ['serverId'])
  })

  it('never replaces the server because the user-data or the admin keys changed', async () => {
    await run()
    assert.deepEqual(recorded.options.get('ocean-server')?.ignoreChanges, ['userData', 'sshKeys'])
  })

  it('turns delete and rebuild protection on for a production stack', async () => {
    await run({ 'ocean:production': 'true' })
    const server = one('server:Server').inputs
    assert.deepEqual([server.deleteProtection, server.rebuildProtection], [true, true])
    assert.equal(one('floatingIp:FloatingIp').inputs.deleteProtection, true)
  })

  it('leaves protection off on other stacks, except on the data volume', async () => {
    await run()
    const server = one('server:Server').inputs
    assert.deepEqual([server.deleteProtection, server.rebuildProtection], [false, false])
    assert.equal(one('floatingIp:FloatingIp').inputs.deleteProtection, false)
    assert.equal(one('volume:Volume').inputs.deleteProtection, true)
  })

  it('creates no private network unless configured', async () => {
    await run()
    assert.deepEqual([byType('network:Network'), byType('networkSubnet:NetworkSubnet'), byType('serverNetwork:ServerNetwork')], [[], [], []])
  })

  it('creates the private network, its subnet, and attaches both servers when configured', async () => {
    const { values } = await run({ 'ocean:privateNetwork': JSON.stringify({ ipRange: '10.40.0.0/16', subnetRange: '10.40.1.0/24', newServerIp: '10.40.1.2', oldServerId: 4242, oldServerIp: '10.40.1.3' }) })
    assert.equal(one('network:Network').inputs.ipRange, '10.40.0.0/16')
    assert.deepEqual(one('networkSubnet:NetworkSubnet').inputs, { networkId: Number(one('networkSubnet:NetworkSubnet').inputs.networkId), type: 'cloud', networkZone: 'eu-central', ipRange: '10.40.1.0/24' })
    const attachments = byType('serverNetwork:ServerNetwork').map((s) => [s.inputs.ip, s.inputs.serverId === 4242])
    assert.deepEqual(attachments.sort(), [['10.40.1.2', false], ['10.40.1.3', true]])
    assert.deepEqual((values.inventory as { privateNetwork: unknown }).privateNetwork, { newHostIp: '10.40.1.2', ipRange: '10.40.0.0/16' })
  })
})

describe('infra program: refusals before any resource', () => {
  it('refuses a server type that is too small (cx33: 4 cores, 8 GB)', () =>
    refused({ 'ocean:serverType': 'cx33' }, /OPS_E_INFRA_SERVER_TYPE: server type cx33 .*4 cores.*8 GB/))

  it('refuses a type deprecated at the location (cx42)', () =>
    refused({ 'ocean:serverType': 'cx42' }, /cx42 cannot be used: it is deprecated at fsn1/))

  it('refuses cpx41 (deprecated) and names every reason for cx32 (small and deprecated)', async () => {
    await refused({ 'ocean:serverType': 'cpx41' }, /deprecated at fsn1/)
    await refused({ 'ocean:serverType': 'cx32' }, /4 cores.*8 GB of memory.*deprecated/)
  })

  it('refuses a missing adminCidrs', () =>
    refused({ 'ocean:adminCidrs': undefined }, /OPS_E_INFRA_CONFIG.*ocean:adminCidrs is required/s))

  it('refuses 0.0.0.0/0 or ::/0 for SSH without ocean:allowOpenSsh', async () => {
    await refused({ 'ocean:adminCidrs': '["0.0.0.0/0"]' }, /0\.0\.0\.0\/0, which opens SSH.*allowOpenSsh/)
    await refused({ 'ocean:adminCidrs': '["::/0"]' }, /::\/0, which opens SSH/)
  })

  it('allows an open SSH rule with the explicit override', async () => {
    await run({ 'ocean:adminCidrs': '["0.0.0.0/0"]', 'ocean:allowOpenSsh': 'true' })
    const rules = one('firewall:Firewall').inputs.rules as { port?: string; sourceIps: string[] }[]
    assert.deepEqual(rules.find((r) => r.port === '22')?.sourceIps, ['0.0.0.0/0'])
  })

  it('refuses a missing hcloud:token with the command that sets it', () =>
    refused({ 'hcloud:token': undefined }, /hcloud:token is not set: run `pulumi config set --secret hcloud:token`/))

  it('does not even ask Hetzner about the server type when the config is invalid', async () => {
    await refused({ 'ocean:sshKeys': undefined }, /ocean:sshKeys is required/)
    assert.deepEqual(recorded.calls, [])
  })
})

describe('infra program: stack outputs', () => {
  it('exports ids, addresses, the known_hosts line and the inventory', async () => {
    const { values } = await run({ 'ocean:oceanPort': '9000', 'ocean:deployUser': 'deploy' })
    for (const key of ['serverId', 'floatingIpId', 'volumeId']) assert.equal(typeof values[key], 'number', key)
    assert.equal(values.floatingIp, FAKE.floatingIp)
    assert.equal(values.ipv4, FAKE.ipv4)
    assert.equal(values.ipv6, FAKE.ipv6)
    const knownHosts = String(values.knownHosts)
    assert.match(knownHosts, /^198\.51\.100\.7,203\.0\.113\.10,2001:db8:1::1 ssh-ed25519 AAAA[A-Za-z0-9+/=]+$/)
    assert.deepEqual(values.inventory, {
      newHost: { address: FAKE.ipv4, ipv4: FAKE.ipv4, ipv6: FAKE.ipv6, user: 'deploy', port: 22 },
      knownHosts,
      floatingIp: { id: values.floatingIpId, address: FAKE.floatingIp },
      oceanPort: 9000,
      volumeId: values.volumeId,
      serverId: values.serverId,
    })
  })

  it('keeps the host private key secret and everything the runbooks read plain', async () => {
    const { outputs, values } = await run()
    assert.equal(await pulumi.isSecret(outputs.hostPrivateKey as pulumi.Output<unknown>), true)
    assert.match(String(values.hostPrivateKey), /^-----BEGIN OPENSSH PRIVATE KEY-----/)
    for (const key of ['knownHosts', 'inventory', 'floatingIp', 'ipv4', 'serverId']) {
      assert.equal(await pulumi.isSecret(outputs[key] as pulumi.Output<unknown>), false, `${key} must not be secret`)
    }
    assert.deepEqual(recorded.options.get('ocean-host-key')?.additionalSecretOutputs, ['privateKeyOpenssh'])
  })

  it('the known_hosts line carries the same key the server gets through cloud-init', async () => {
    const { values } = await run()
    const key = String(values.knownHosts).split(' ').slice(1).join(' ')
    assert.ok(String(one('server:Server').inputs.userData).includes(`"ed25519_public": "${key} root@ocean-prod"`))
  })

  it('as `pulumi stack output --json` prints them, they make an inventory (and match the fixture other tests use)', async () => {
    const { outputs, values } = await run()
    // Without --show-secrets the CLI prints every secret output as "[secret]".
    const printed: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(values)) printed[k] = (await pulumi.isSecret(outputs[k] as pulumi.Output<unknown>)) ? '[secret]' : v
    const inv = inventoryFromPulumi(JSON.parse(JSON.stringify(printed)))
    assert.equal(inv.newHost.address, FAKE.ipv4)
    assert.equal(inv.newHost.knownHosts, values.knownHosts)
    assert.equal(inv.floatingIp.address, FAKE.floatingIp)
    const fixture = stackOutput()
    assert.deepEqual(Object.keys(printed).sort(), Object.keys(fixture).sort())
    assert.deepEqual(Object.keys(printed.inventory as object).sort(), Object.keys(fixture.inventory as object).sort())
    assert.equal(printed.hostPrivateKey, '[secret]')
  })
})

// Off-server backups: a Storage Box this stack creates, or a repository that exists.
const BACKUP_KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKzlCkCQYZn61frtT++V6aqkCGelpqjjFqSrh7duEYRt restic@ocean-prod'
const REPO_PASSWORD = 'restic-password-not-real'
const BOX_PASSWORD = 'Box-Passw0rd-not-real'
const withBox = (storageBox: Record<string, unknown> = {}) => ({
  'ocean:backup': JSON.stringify({ storageBox }),
  'ocean:backupPassword': REPO_PASSWORD,
  'ocean:backupSshPublicKey': BACKUP_KEY,
  'ocean:storageBoxPassword': BOX_PASSWORD,
})
const withExisting = (existing: Record<string, unknown>) => ({ 'ocean:backup': JSON.stringify({ existing }), 'ocean:backupPassword': REPO_PASSWORD })
const BACKUP_OUTPUTS = ['backupRepository', 'backupPassword', 'backupSftpPort', 'backupKnownHosts', 'backupStorageBoxId']

describe('infra program: backup target', () => {
  it('creates no Storage Box and exports no backup outputs without ocean:backup', async () => {
    const { values } = await run()
    assert.deepEqual(byType('storageBox:StorageBox'), [])
    assert.equal(recorded.resources.some((r) => r.type === 'ocean:infra:BackupTarget'), false)
    for (const key of BACKUP_OUTPUTS) assert.equal(key in values, false, key)
  })

  it('creates the Storage Box from the config: type, location, the backup key, SSH on, a daily snapshot plan, delete protection', async () => {
    await run({ ...withBox({ storageBoxType: 'bx21', location: 'hel1' }), 'ocean:location': 'fsn1' })
    const sb = one('storageBox:StorageBox')
    assert.deepEqual(sb.inputs, {
      name: 'ocean-prod-backup',
      storageBoxType: 'bx21',
      location: 'hel1',
      password: BOX_PASSWORD,
      sshKeys: [BACKUP_KEY],
      accessSettings: { sshEnabled: true, reachableExternally: false, sambaEnabled: false, webdavEnabled: false, zfsEnabled: true },
      snapshotPlan: { maxSnapshots: 7, hour: 3, minute: 15 },
      deleteProtection: true,
      labels: { app: 'ocean', 'ocean-host': 'ocean-prod' },
    })
    assert.deepEqual(sb.secretInputs, ['password'], 'the box password is secret in state and previews')
  })

  it('puts the box at the server location by default (nbg1 maps to fsn1) and opens it outside Hetzner only when asked', async () => {
    await run({ ...withBox(), 'ocean:location': 'nbg1' })
    assert.deepEqual([one('storageBox:StorageBox').inputs.location, one('storageBox:StorageBox').inputs.storageBoxType], ['fsn1', 'bx11'])
    recorded.reset()
    await run({ ...withBox({ reachableExternally: true }), 'ocean:location': 'hel1' })
    const sb = one('storageBox:StorageBox').inputs
    assert.equal(sb.location, 'hel1')
    assert.equal((sb.accessSettings as { reachableExternally: boolean }).reachableExternally, true)
  })

  it('never replaces the box (and the backups) for a new key, and keeps it apart from the server', async () => {
    await run(withBox())
    const o = recorded.options.get('backup-storage-box')
    assert.deepEqual(o?.ignoreChanges, ['sshKeys'])
    assert.equal(o?.parent, 'urn:pulumi:prod::ocean-ops::ocean:infra:BackupTarget::backup')
    const componentParent = recorded.options.get('backup')?.parent
    assert.equal(typeof componentParent, 'string')
    assert.doesNotMatch(String(componentParent), /OceanHost/, 'the box must outlive the server: not a child of OceanHost')
    assert.deepEqual(recorded.options.get('backup-storage-box')?.additionalSecretOutputs, ['password'])
  })

  it('exports the repository, the SFTP port 23 and the box id plain, the repository password only as a secret', async () => {
    const { outputs, values } = await run(withBox())
    assert.equal(values.backupRepository, `sftp:${FAKE.storageBoxUser}@${FAKE.storageBoxServer}:/ocean`)
    assert.equal(values.backupSftpPort, 23)
    assert.equal(values.backupStorageBoxId, Number(recorded.ids.get('backup-storage-box')))
    assert.equal(values.backupPassword, REPO_PASSWORD)
    assert.equal(await pulumi.isSecret(outputs.backupPassword as pulumi.Output<unknown>), true)
    for (const key of ['backupRepository', 'backupStorageBoxId', 'inventory', 'knownHosts']) {
      assert.equal(await pulumi.isSecret(pulumi.output(outputs[key])), false, `${key} must be plain`)
    }
    assert.equal('backupKnownHosts' in values, false, 'Pulumi does not know a new box\'s host key')
    // Nothing plain carries either password.
    const plain: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(values)) if (!(await pulumi.isSecret(pulumi.output(outputs[k])))) plain[k] = v
    const text = JSON.stringify(plain)
    assert.ok(!text.includes(REPO_PASSWORD) && !text.includes(BOX_PASSWORD), 'no password in a plain output')
  })

  it('uses an existing SFTP repository: no Storage Box, its port and host key exported', async () => {
    const hostKey = `[u400123.your-storagebox.de]:23 ${BACKUP_KEY.split(' ').slice(0, 2).join(' ')}`
    const { outputs, values } = await run(withExisting({ repository: 'sftp:u400123@u400123.your-storagebox.de:/ocean', hostKey }))
    assert.deepEqual(byType('storageBox:StorageBox'), [])
    assert.equal(values.backupRepository, 'sftp:u400123@u400123.your-storagebox.de:/ocean')
    assert.equal(values.backupSftpPort, 23)
    assert.equal(values.backupKnownHosts, hostKey)
    assert.equal('backupStorageBoxId' in values, false)
    assert.equal(await pulumi.isSecret(outputs.backupPassword as pulumi.Output<unknown>), true)
  })

  it('uses an existing S3 repository: only the repository and the secret password', async () => {
    const repository = 's3:https://fsn1.your-objectstorage.com/ocean-backups/prod'
    const { values } = await run(withExisting({ repository }))
    assert.deepEqual(byType('storageBox:StorageBox'), [])
    assert.deepEqual(Object.keys(values).filter((k) => k.startsWith('backup')).sort(), ['backupPassword', 'backupRepository'])
    assert.equal(values.backupRepository, repository)
  })

  it('refuses ocean:backup without the repository password before creating anything', () =>
    refused({ ...withBox(), 'ocean:backupPassword': undefined }, /ocean:backupPassword is required with ocean:backup/))

  it('refuses a Storage Box without its password or with a plain-text one before creating anything', async () => {
    await refused({ ...withBox(), 'ocean:storageBoxPassword': undefined }, /ocean:storageBoxPassword is required/)
    setConfig(withBox())
    pulumi.runtime.setAllConfig({ ...pulumi.runtime.allConfig(), 'hcloud:token': 'test-token-not-real' }, ['hcloud:token', 'ocean:backupPassword'])
    await assert.rejects(oceanStack(), /ocean:storageBoxPassword is stored in plain text/)
    await settle(100)
    assert.deepEqual(recorded.resources, [])
  })

  it('as `pulumi stack output --json` prints them, the inventory still reads and the password shows as [secret]', async () => {
    const { outputs, values } = await run(withBox())
    const printed: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(values)) printed[k] = (await pulumi.isSecret(pulumi.output(outputs[k]))) ? '[secret]' : v
    const json = JSON.parse(JSON.stringify(printed)) as Record<string, unknown>
    assert.equal(json.backupPassword, '[secret]')
    assert.equal(json.backupSftpPort, 23)
    assert.equal(inventoryFromPulumi(json).newHost.address, FAKE.ipv4)
  })
})
