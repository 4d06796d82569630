// The SSH host key the program generates: OpenSSH's tools and sshd must accept it, its private
// and public halves must match, and the dynamic provider must survive Pulumi's serialization.
import assert from 'node:assert/strict'
import { execFileSync, spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import * as pulumi from '@pulumi/pulumi'
import { generateHostKey, hostKeyProviderForTest, knownHostsLine } from '../../../infra/host-key.ts'

const dir = mkdtempSync(join(tmpdir(), 'ocean-host-key-'))
after(() => rmSync(dir, { recursive: true, force: true }))

function need(bin: string, pkg: string): string {
  const found = ['/usr/bin', '/usr/sbin', '/bin', '/sbin'].map((d) => join(d, bin)).find((p) => existsSync(p))
  if (!found) assert.fail(`${bin} is missing: install it with \`apt-get install -y ${pkg}\` (scripts/setup does)`)
  return found
}

function writeKey(name: string, pair = generateHostKey('root@ocean-test')) {
  const file = join(dir, name)
  writeFileSync(file, pair.privateKeyOpenssh, { mode: 0o600 })
  writeFileSync(`${file}.pub`, pair.publicKey + '\n')
  return { file, pair }
}

describe('host key', () => {
  it('is in OpenSSH format, and ssh-keygen derives the same public key from it', () => {
    const { file, pair } = writeKey('k1')
    assert.match(pair.privateKeyOpenssh, /^-----BEGIN OPENSSH PRIVATE KEY-----\n([A-Za-z0-9+/=]{1,70}\n)+-----END OPENSSH PRIVATE KEY-----\n$/)
    assert.match(pair.publicKey, /^ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI[A-Za-z0-9+/]{43} root@ocean-test$/)
    const derived = execFileSync(need('ssh-keygen', 'openssh-client'), ['-y', '-f', file], { encoding: 'utf8' }).trim()
    assert.equal(derived, pair.publicKey)
  })

  it('signs with the private half what the public half verifies (ssh-keygen -Y)', () => {
    const keygen = need('ssh-keygen', 'openssh-client')
    const { file, pair } = writeKey('k2')
    const data = join(dir, 'data')
    writeFileSync(data, 'the pinned key really belongs to this private key\n')
    execFileSync(keygen, ['-q', '-Y', 'sign', '-f', file, '-n', 'file', data])
    writeFileSync(join(dir, 'allowed'), `ocean ${pair.publicKey}\n`)
    const verify = spawnSync(keygen, ['-Y', 'verify', '-f', join(dir, 'allowed'), '-I', 'ocean', '-n', 'file', '-s', `${data}.sig`], { input: 'the pinned key really belongs to this private key\n', encoding: 'utf8' })
    assert.equal(verify.status, 0, verify.stderr)
    assert.match(verify.stdout, /Good "file" signature for ocean with ED25519 key/)
  })

  it('is accepted by sshd as a HostKey (sshd -t)', () => {
    const sshd = need('sshd', 'openssh-server')
    const { file } = writeKey('k3')
    const config = join(dir, 'sshd_config')
    writeFileSync(config, `HostKey ${file}\nListenAddress 127.0.0.1:2222\nPidFile none\n`)
    if (!existsSync('/run/sshd')) mkdirSync('/run/sshd', { mode: 0o755 }) // sshd -t insists on it
    const r = spawnSync(sshd, ['-t', '-f', config], { encoding: 'utf8' })
    assert.equal(r.status, 0, r.stderr)
    // And a broken key is rejected, so the check above means something.
    writeFileSync(file, 'not a key\n', { mode: 0o600 })
    const bad = spawnSync(sshd, ['-t', '-f', config], { encoding: 'utf8' })
    assert.notEqual(bad.status, 0)
  })

  it('differs on every generation (a fresh key per stack)', () => {
    assert.notEqual(generateHostKey('a').publicKey, generateHostKey('a').publicKey)
  })
})

describe('host key dynamic provider', () => {
  it('runs after Pulumi serializes it, in a plain CommonJS node process like the provider host', async () => {
    const { text } = await pulumi.runtime.serializeFunction(() => hostKeyProviderForTest)
    const providerFile = join(dir, 'provider.cjs')
    writeFileSync(providerFile, text)
    // No tsx here: the engine's pulumi-nodejs provider loads the text with require-from-string.
    const script = `const p = require(${JSON.stringify(providerFile)}).handler();
      Promise.all([p.create({ comment: 'root@x' }), p.diff('id', {}, { comment: 'changed' })])
        .then(([c, d]) => process.stdout.write(JSON.stringify({ id: c.id, outs: c.outs, diff: d })))`
    const out = JSON.parse(execFileSync(process.execPath, ['-e', script], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '' } })) as {
      id: string; outs: { comment: string; privateKeyOpenssh: string; publicKey: string }; diff: { changes: boolean }
    }
    assert.equal(out.outs.comment, 'root@x')
    assert.equal(out.id, out.outs.publicKey.split(' ')[1])
    assert.deepEqual(out.diff, { changes: false }, 'the key must never rotate by itself')
    const { file } = writeKey('k4', { privateKeyOpenssh: out.outs.privateKeyOpenssh, publicKey: out.outs.publicKey })
    assert.equal(execFileSync(need('ssh-keygen', 'openssh-client'), ['-y', '-f', file], { encoding: 'utf8' }).trim(), out.outs.publicKey)
  })
})

describe('known_hosts line', () => {
  const pub = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGf9cmZ+QrmUF761QGGuRnnJWwywUby9nyQnQKxl3w7E root@ocean-prod'

  it('lists the floating IP and the server addresses, then the key without its comment', () => {
    assert.equal(knownHostsLine(['198.51.100.7', '203.0.113.10', '2001:db8::1'], pub),
      '198.51.100.7,203.0.113.10,2001:db8::1 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGf9cmZ+QrmUF761QGGuRnnJWwywUby9nyQnQKxl3w7E')
  })

  it('drops missing and repeated addresses and refuses an empty list or a bad key', () => {
    assert.match(knownHostsLine(['203.0.113.10', undefined, '', '203.0.113.10'], pub), /^203\.0\.113\.10 ssh-ed25519 /)
    assert.throws(() => knownHostsLine([], pub), /no address/)
    assert.throws(() => knownHostsLine(['203.0.113.10'], 'ssh-ed25519'), /malformed/)
  })

  it('is read by ssh-keygen as a known_hosts entry for each address', () => {
    const { pair } = writeKey('k5')
    const kh = join(dir, 'known_hosts')
    writeFileSync(kh, knownHostsLine(['198.51.100.7', '203.0.113.10'], pair.publicKey) + '\n')
    for (const host of ['198.51.100.7', '203.0.113.10']) {
      const r = spawnSync(need('ssh-keygen', 'openssh-client'), ['-F', host, '-f', kh], { encoding: 'utf8' })
      assert.equal(r.status, 0, `${host} not found in known_hosts`)
    }
  })
})
