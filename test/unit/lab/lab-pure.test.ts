// The lab's pure parts: container specs (old, new, storage), known_hosts lines, host-setup's package list, seed
// sizes, tool checks. No Docker needed.
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import { test } from 'node:test'
import { DIND_CAPS, hostContainerSpec, LABEL, ROLE_LABEL } from '../../../runbooks/lab/lab-docker.ts'
import { HOST_SETUP_SCRIPT, hostSetupPackages } from '../../../runbooks/lab/lab-images.ts'
import { knownHostsLines, labNetworkKnownHostsLine, ROLES } from '../../../runbooks/lab/lab-keys.ts'
import { sshArgv } from '../../../runbooks/lab/lab-ssh.ts'
import { seedSize } from '../../../runbooks/lab/lab-state.ts'
import { onPath, requireTools } from '../../../runbooks/lab/lab-tools.ts'

const base = { labId: 'abcd1234', dir: '/r/.lab', networkName: 'ocean-lab-abcd1234', image: 'img' }

test('container specs: only sshd published, on 127.0.0.1, random port; labelled; on the lab network', () => {
  for (const spec of [hostContainerSpec({ ...base, role: 'old' }), hostContainerSpec({ ...base, role: 'new', dockerVolume: 'v' }), hostContainerSpec({ ...base, role: 'storage' })]) {
    assert.deepEqual(spec.HostConfig?.PortBindings, { '22/tcp': [{ HostIp: '127.0.0.1', HostPort: '' }] })
    assert.deepEqual(Object.keys(spec.ExposedPorts ?? {}), ['22/tcp'])
    assert.equal(spec.Labels?.[LABEL], 'abcd1234')
    assert.equal(spec.HostConfig?.NetworkMode, 'ocean-lab-abcd1234')
    assert.equal(spec.HostConfig?.Privileged, undefined)
  }
})

test('container specs: the old host runs systemd (MACHINE.md), the new one Docker-in-Docker', () => {
  const old = hostContainerSpec({ ...base, role: 'old' }).HostConfig!
  assert.deepEqual(old.CapAdd, ['SYS_ADMIN', 'NET_ADMIN'])
  assert.deepEqual(old.Binds, ['/sys/fs/cgroup:/sys/fs/cgroup:ro'])
  assert.deepEqual(Object.keys(old.Tmpfs ?? {}), ['/run', '/run/lock'])
  const neu = hostContainerSpec({ ...base, role: 'new', dockerVolume: 'ocean-lab-abcd1234-new-docker' }).HostConfig! as Record<string, unknown>
  assert.deepEqual(neu.CapAdd, DIND_CAPS)
  assert.equal(neu.CgroupnsMode, 'host')
  assert.deepEqual(neu.MaskedPaths, [])
  assert.deepEqual(neu.Binds, ['/sys/fs/cgroup:/sys/fs/cgroup:rw', 'ocean-lab-abcd1234-new-docker:/var/lib/docker'])
  assert.throws(() => hostContainerSpec({ ...base, role: 'new' }), /dockerVolume/)
})

test('container specs: the storage host runs systemd like the old one, without NET_ADMIN, shared memory or an engine', () => {
  const spec = hostContainerSpec({ ...base, role: 'storage' })
  assert.equal(spec.name, 'ocean-lab-abcd1234-storage')
  assert.equal(spec.Hostname, 'ocean-storage')
  assert.equal(spec.Labels?.[ROLE_LABEL], 'storage')
  assert.deepEqual(spec.NetworkingConfig?.EndpointsConfig, { 'ocean-lab-abcd1234': {} })
  const hc = spec.HostConfig! as Record<string, unknown>
  assert.deepEqual(hc.CapAdd, ['SYS_ADMIN'])
  assert.deepEqual(hc.SecurityOpt, ['seccomp=unconfined'])
  assert.deepEqual(hc.Binds, ['/sys/fs/cgroup:/sys/fs/cgroup:ro'])
  assert.deepEqual(Object.keys((hc.Tmpfs as object | undefined) ?? {}), ['/run', '/run/lock'])
  for (const k of ['ShmSize', 'CgroupnsMode', 'MaskedPaths', 'Privileged']) assert.equal(hc[k], undefined, k)
})

test('known_hosts: each host under its published port and its lab address', () => {
  const text = knownHostsLines([
    { publicKey: 'ssh-ed25519 AAAAold', sshPort: 32770, address: '172.22.0.2' },
    { publicKey: 'ssh-ed25519 AAAAnew', sshPort: 32771, address: '172.22.0.3' },
  ])
  assert.equal(text, '[127.0.0.1]:32770,172.22.0.2 ssh-ed25519 AAAAold\n[127.0.0.1]:32771,172.22.0.3 ssh-ed25519 AAAAnew\n')
})

test('known_hosts: three hosts in role order; the storage host alone under its lab address on port 22', () => {
  const hosts = ROLES.map((r, i) => ({ publicKey: `ssh-ed25519 AAAA${r}`, sshPort: 32770 + i, address: `172.22.0.${2 + i}` }))
  assert.deepEqual(ROLES, ['old', 'new', 'storage'])
  assert.equal(knownHostsLines(hosts), [
    '[127.0.0.1]:32770,172.22.0.2 ssh-ed25519 AAAAold',
    '[127.0.0.1]:32771,172.22.0.3 ssh-ed25519 AAAAnew',
    '[127.0.0.1]:32772,172.22.0.4 ssh-ed25519 AAAAstorage',
    '',
  ].join('\n'))
  assert.equal(labNetworkKnownHostsLine(hosts[2]!), '172.22.0.4 ssh-ed25519 AAAAstorage\n')
})

test('ssh argv: strict host-key checking against the lab file only', () => {
  const argv = sshArgv({ identityFile: '/l/id', knownHostsFile: '/l/kh' }, { sshPort: 2222, user: 'ops' })
  assert.ok(argv.includes('StrictHostKeyChecking=yes'))
  assert.ok(argv.includes('UserKnownHostsFile=/l/kh'))
  assert.ok(argv.includes('GlobalKnownHostsFile=/dev/null'))
  assert.deepEqual(argv.slice(-3), ['-p', '2222', 'ops@127.0.0.1'])
})

test('host-setup packages: read from the script, so the new image has them before first boot', () => {
  assert.deepEqual(hostSetupPackages('x\n  local want=(docker.io sudo\n  nftables)\n'), ['docker.io', 'sudo', 'nftables'])
  assert.throws(() => hostSetupPackages('no list here'), /want=/)
  assert.throws(() => hostSetupPackages('local want=(ok $(evil))'), /unexpected package/)
  if (fs.existsSync(HOST_SETUP_SCRIPT)) assert.ok(hostSetupPackages(fs.readFileSync(HOST_SETUP_SCRIPT, 'utf8')).includes('docker.io'))
})

test('seed size: opts, then LAB_SEED_* env, then the default; nonsense refused', () => {
  const fallback = { users: 100_000, telemetryRows: 5_000_000 }
  const saved = { u: process.env.LAB_SEED_USERS, t: process.env.LAB_SEED_TELEMETRY }
  try {
    delete process.env.LAB_SEED_USERS
    delete process.env.LAB_SEED_TELEMETRY
    assert.deepEqual(seedSize(undefined, fallback), { seed: fallback, explicit: false })
    assert.deepEqual(seedSize({ users: 5, telemetryRows: 6 }, fallback), { seed: { users: 5, telemetryRows: 6 }, explicit: true })
    process.env.LAB_SEED_USERS = '2000'
    assert.deepEqual(seedSize(undefined, fallback), { seed: { users: 2000, telemetryRows: 5_000_000 }, explicit: true })
    process.env.LAB_SEED_TELEMETRY = 'lots'
    assert.throws(() => seedSize(undefined, fallback), /telemetryRows/)
  } finally {
    for (const [k, v] of [['LAB_SEED_USERS', saved.u], ['LAB_SEED_TELEMETRY', saved.t]] as const) {
      if (v === undefined) delete process.env[k]
      else process.env[k] = v
    }
  }
})

test('a missing tool fails loudly with the install command', async () => {
  assert.equal(onPath('sh', '/bin:/usr/bin'), true)
  assert.equal(onPath('docker', '/nonexistent'), false)
  const saved = process.env.PATH
  process.env.PATH = '/nonexistent'
  try {
    await assert.rejects(requireTools({ debootstrap: true }), (e: Error & { code?: string }) => {
      assert.equal(e.code, 'OPS_E_LAB')
      assert.match(e.message, /docker, ssh-keygen, debootstrap/)
      assert.match(e.message, /apt-get install -y docker\.io debootstrap/)
      return true
    })
  } finally {
    process.env.PATH = saved
  }
})

test('the old host\'s scripts pass bash -n and shellcheck; the seed files they name exist', () => {
  const old = new URL('../../../runbooks/lab/images/old/', import.meta.url).pathname
  const scripts = ['rootfs/usr/local/sbin/ocean-lab-seed', 'rootfs/usr/local/sbin/mysqld-helper', 'rootfs/usr/local/bin/ocean-legacy-traffic', 'rogue-job.sh']
  for (const s of scripts) {
    execFileSync('bash', ['-n', old + s])
    try {
      execFileSync('shellcheck', [old + s], { stdio: 'pipe' })
    } catch (e) {
      const err = e as NodeJS.ErrnoException & { stdout?: Buffer }
      if (err.code === 'ENOENT') throw new Error('shellcheck is missing: apt-get install -y shellcheck (scripts/setup installs it)')
      assert.fail(`shellcheck ${s}:\n${err.stdout?.toString()}`)
    }
  }
  const seedScript = fs.readFileSync(old + scripts[0], 'utf8')
  const named = [...seedScript.matchAll(/\$seed\/([\w-]+\.sql)/g)].map((m) => m[1]!)
  assert.ok(named.length >= 5)
  for (const f of named) assert.ok(fs.existsSync(new URL(`../../../runbooks/lab/seed/${f}`, import.meta.url)), f)
})
