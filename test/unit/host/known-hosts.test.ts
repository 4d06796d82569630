import assert from 'node:assert/strict'
import crypto from 'node:crypto'
import { test } from 'node:test'
import { fingerprint, keyTypeOf, knownHostsName, parseKnownHosts, verifyHostKey } from '../../../runbooks/lib/host/known-hosts.ts'

function blob(type: string, seed: string): Buffer {
  const t = Buffer.from(type)
  const k = crypto.createHash('sha256').update(seed).digest()
  const b = Buffer.alloc(8 + t.length + k.length)
  b.writeUInt32BE(t.length, 0)
  t.copy(b, 4)
  b.writeUInt32BE(k.length, 4 + t.length)
  k.copy(b, 8 + t.length)
  return b
}
const A = blob('ssh-ed25519', 'a')
const B = blob('ssh-ed25519', 'b')
const line = (hosts: string, key: Buffer) => `${hosts} ssh-ed25519 ${key.toString('base64')}`
const hashed = (name: string) => {
  const salt = crypto.randomBytes(20)
  return `|1|${salt.toString('base64')}|${crypto.createHmac('sha1', salt).update(name).digest('base64')}`
}

test('known_hosts names: bare host on 22, [host]:port otherwise', () => {
  assert.equal(knownHostsName('10.0.0.1', 22), '10.0.0.1')
  assert.equal(knownHostsName('10.0.0.1', 2222), '[10.0.0.1]:2222')
})

test('a pinned key is accepted; another key for the same host is "changed"; no line is "unknown"', () => {
  const entries = parseKnownHosts(`# comment\n\n${line('203.0.113.4,ocean.example', A)}\n`)
  assert.deepEqual(verifyHostKey(entries, '203.0.113.4', 22, A), { ok: true })
  assert.deepEqual(verifyHostKey(entries, 'ocean.example', 22, A), { ok: true })
  const changed = verifyHostKey(entries, '203.0.113.4', 22, B)
  assert.equal(changed.ok, false)
  assert.equal(!changed.ok && changed.reason, 'changed')
  assert.deepEqual(!changed.ok && changed.expected, [`ssh-ed25519 ${fingerprint(A)}`])
  const unknown = verifyHostKey(entries, '203.0.113.5', 22, A)
  assert.equal(!unknown.ok && unknown.reason, 'unknown')
  assert.equal(verifyHostKey(entries, '203.0.113.4', 2222, A).ok, false, 'another port is another host')
})

test('hashed entries, wildcards, negation and @revoked', () => {
  const entries = parseKnownHosts([
    line(hashed('[127.0.0.1]:2201'), A),
    line('*.lab.internal,!bad.lab.internal', B),
    `@revoked * ssh-ed25519 ${B.toString('base64')}`,
  ].join('\n'))
  assert.equal(verifyHostKey(entries, '127.0.0.1', 2201, A).ok, true)
  assert.equal(verifyHostKey(entries, '127.0.0.1', 2202, A).ok, false)
  const revoked = verifyHostKey(entries, 'new.lab.internal', 22, B)
  assert.equal(!revoked.ok && revoked.reason, 'revoked')
  assert.equal(verifyHostKey(parseKnownHosts(line('*.lab.internal,!bad.lab.internal', B)), 'bad.lab.internal', 22, B).ok, false)
})

test('malformed lines are ignored, fingerprints match ssh-keygen format, key type is read from the blob', () => {
  assert.deepEqual(parseKnownHosts('garbage\nhost ssh-ed25519 not*base64\n'), [])
  assert.match(fingerprint(A), /^SHA256:[A-Za-z0-9+/]{43}$/)
  assert.equal(keyTypeOf(A), 'ssh-ed25519')
})
