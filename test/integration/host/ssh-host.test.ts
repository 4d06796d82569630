// The SSH host layer against a real sshd on 127.0.0.1: pinned host keys, exec, files, Docker.
import assert from 'node:assert/strict'
import crypto from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { after, before, describe, test } from 'node:test'
import { dockerOverSsh } from '../../../runbooks/lib/host/docker-over-ssh.ts'
import { SshHost } from '../../../runbooks/lib/host/ssh-host.ts'
import { isOpsError } from '../../../packages/common/src/ops-error.ts'
import { freePort } from '../../../scripts/lib/loopback-servers.ts'
import { keygen, startSshd, type TestSshd } from '../../helpers/sshd.ts'

describe('SshHost against a real sshd', () => {
  let sshd: TestSshd
  let host: SshHost
  before(async () => {
    sshd = await startSshd()
    host = await SshHost.connect({ host: '127.0.0.1', port: sshd.port, user: sshd.user, identityFile: sshd.identityFile, knownHostsFile: sshd.knownHostsFile })
  })
  after(async () => {
    await host?.close()
    await sshd?.stop()
  })

  test('runs argv with hostile arguments verbatim and reports exit codes and stderr', async () => {
    const weird = `it's "quoted" $(touch /tmp/pwned) ; rm -rf / \`x\` \u{1F30A}`
    const r = await host.exec(['printf', '%s', weird])
    assert.equal(r.stdout, weird)
    const failed = await host.exec(['sh', '-c', 'echo oops >&2; exit 3'], { allowFail: true })
    assert.equal(failed.code, 3)
    assert.equal(failed.stderr.trim(), 'oops')
    await assert.rejects(host.exec(['sh', '-c', 'echo boom >&2; exit 7']), (e) => isOpsError(e) && e.code === 'OPS_E_REMOTE' && /exited 7/.test(e.message) && /boom/.test(e.message))
  })

  test('streams output line by line and feeds stdin', async () => {
    const lines: string[] = []
    const r = await host.exec(['sh', '-c', 'cat; echo done'], { stdin: 'a\nb\n', onLine: (l) => lines.push(l) })
    assert.deepEqual(lines, ['a', 'b', 'done'])
    assert.equal(r.stdout, 'a\nb\ndone\n')
  })

  test('hides secrets in error messages', async () => {
    const secret = 'hunter2-very-secret'
    await assert.rejects(host.exec(['sh', '-c', 'exit 1', secret], { secrets: [secret] }), (e) => isOpsError(e) && !e.message.includes(secret) && e.message.includes('***'))
  })

  test('a timeout kills the command', async () => {
    const t0 = Date.now()
    await assert.rejects(host.exec(['sleep', '30'], { timeoutMs: 300 }), (e) => isOpsError(e) && e.code === 'OPS_E_TIMEOUT')
    assert.ok(Date.now() - t0 < 5000)
  })

  test('writes atomically with the mode asked, reads back, uploads and downloads bytes exactly', async () => {
    const target = path.join(sshd.dir, 'remote.env')
    await host.writeFile(target, 'SECRET=1\n', { mode: 0o600 })
    assert.equal(fs.statSync(target).mode & 0o777, 0o600)
    assert.equal((await host.readFile(target)).toString(), 'SECRET=1\n')
    assert.deepEqual(fs.readdirSync(sshd.dir).filter((f) => f.includes('.tmp.')), [])

    const big = crypto.randomBytes(3 * 1024 * 1024 + 17)
    const local = path.join(sshd.dir, 'big.bin')
    fs.writeFileSync(local, big)
    await host.upload(local, path.join(sshd.dir, 'uploaded.bin'), { mode: 0o640 })
    assert.equal(fs.statSync(path.join(sshd.dir, 'uploaded.bin')).mode & 0o777, 0o640)
    await host.download(path.join(sshd.dir, 'uploaded.bin'), path.join(sshd.dir, 'back.bin'))
    assert.ok(fs.readFileSync(path.join(sshd.dir, 'back.bin')).equals(big))
  })

  test('dockerode over the same SSH connection reaches the host engine', async () => {
    const docker = dockerOverSsh(host)
    const version = await docker.version()
    assert.match(version.ApiVersion, /^\d+\.\d+$/)
    const [a, b] = await Promise.all([docker.info(), docker.listContainers({ all: true })])
    assert.equal(typeof a.ID, 'string')
    assert.ok(Array.isArray(b))
  })
})

describe('SshHost refuses what it cannot verify', () => {
  let sshd: TestSshd
  before(async () => {
    sshd = await startSshd()
  })
  after(async () => sshd?.stop())
  const target = () => ({ host: '127.0.0.1', port: sshd.port, user: sshd.user, identityFile: sshd.identityFile, knownHostsFile: sshd.knownHostsFile })

  test('an unknown host key is refused with how to verify and add it', async () => {
    const kh = path.join(sshd.dir, 'empty_known_hosts')
    fs.writeFileSync(kh, '# nothing pinned\n')
    await assert.rejects(SshHost.connect({ ...target(), knownHostsFile: kh }), (e) => {
      assert.ok(isOpsError(e) && e.code === 'OPS_E_HOST_KEY', String(e))
      assert.match(e.message, /is not in .*empty_known_hosts/)
      assert.match(e.message, /SHA256:/)
      assert.match(e.message, /ssh-keyscan/)
      return true
    })
  })

  test('a changed host key is refused, naming both fingerprints', async () => {
    const other = keygen(path.join(sshd.dir, 'other_host_key'))
    const kh = path.join(sshd.dir, 'changed_known_hosts')
    fs.writeFileSync(kh, `[127.0.0.1]:${sshd.port} ${other}\n`)
    await assert.rejects(SshHost.connect({ ...target(), knownHostsFile: kh }), (e) => isOpsError(e) && e.code === 'OPS_E_HOST_KEY' && /HOST KEY CHANGED/.test(e.message))
  })

  test('the pinned line for another port does not vouch for this one', async () => {
    const kh = path.join(sshd.dir, 'port_known_hosts')
    fs.writeFileSync(kh, `127.0.0.1 ${sshd.hostPublicKey}\n`)
    await assert.rejects(SshHost.connect({ ...target(), knownHostsFile: kh }), (e) => isOpsError(e) && /is not in/.test(e.message))
  })

  test('a wrong client key fails at once as an auth error, without retries', async () => {
    const wrong = path.join(sshd.dir, 'wrong_id')
    keygen(wrong)
    await assert.rejects(SshHost.connect({ ...target(), identityFile: wrong, connectAttempts: 5 }), (e) => isOpsError(e) && e.code === 'OPS_E_SSH_AUTH')
  })

  test('a closed port is retried, then reported as unreachable', async () => {
    const port = await freePort()
    const t0 = Date.now()
    await assert.rejects(SshHost.connect({ ...target(), port, connectAttempts: 3 }), (e) => isOpsError(e) && e.code === 'OPS_E_SSH_CONNECT')
    assert.ok(Date.now() - t0 >= 1400, 'three attempts with backoff 0.5 s + 1 s')
  })
})
