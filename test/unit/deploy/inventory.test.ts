import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { test } from 'node:test'
import { loadInventory, parseInventory, resolveSecret } from '../../../runbooks/lib/inventory.ts'
import { isOpsError } from '../../../packages/common/src/ops-error.ts'

const good = { schemaVersion: 1, newHost: { address: '203.0.113.4', user: 'ocean', knownHosts: '203.0.113.4 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIG' } }

test('defaults are filled in and extra host facts are kept', () => {
  const inv = parseInventory({ ...good, newHost: { ...good.newHost, serverId: 42 } })
  assert.equal(inv.newHost.port, 22)
  assert.equal(inv.oceanPort, 8030)
  assert.equal(inv.newHost.serverId, 42)
})

test('bad inventories are refused with every problem named', () => {
  const bad = (v: unknown, re: RegExp) => assert.throws(() => parseInventory(v, 'inv.json'), (e) => isOpsError(e) && e.code === 'OPS_E_INVENTORY' && re.test(e.message))
  bad({ schemaVersion: 1 }, /must have required property 'newHost'/)
  bad({ ...good, newHost: { address: 'h', user: 'ocean' } }, /newHost: give knownHosts/)
  bad({ ...good, newHost: { ...good.newHost, port: 70000 } }, /newHost\.port/)
  bad({ ...good, ocean: { apiKey: 'plain-secret-in-the-file' } }, /ocean\.apiKey: must be a secret reference/)
  bad({ ...good, schemaVersion: 2 }, /schemaVersion/)
})

test('relative paths are resolved against the inventory file; secrets come from env or a private file', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'inv-'))
  fs.writeFileSync(path.join(dir, 'key'), 's3cret\n', { mode: 0o600 })
  fs.writeFileSync(path.join(dir, 'open'), 'x\n', { mode: 0o644 })
  fs.writeFileSync(path.join(dir, 'inventory.json'), JSON.stringify({ ...good, newHost: { ...good.newHost, identityFile: 'id_ed25519' }, ocean: { apiKey: 'file:key', redisPassword: 'env:INV_TEST_REDIS' } }))
  const inv = loadInventory(path.join(dir, 'inventory.json'))
  assert.equal(inv.newHost.identityFile, path.join(dir, 'id_ed25519'))
  assert.equal(resolveSecret(inv.ocean?.apiKey, 'api key'), 's3cret')
  assert.throws(() => resolveSecret(inv.ocean?.redisPassword, 'redis password'), (e) => isOpsError(e) && /\$INV_TEST_REDIS, which is not set/.test(e.message))
  process.env.INV_TEST_REDIS = 'from-env'
  assert.equal(resolveSecret(inv.ocean?.redisPassword, 'redis password'), 'from-env')
  assert.throws(() => resolveSecret(`file:${path.join(dir, 'open')}`, 'x'), (e) => isOpsError(e) && /chmod 600/.test(e.message))
  assert.throws(() => loadInventory(path.join(dir, 'missing.json')), (e) => isOpsError(e) && /--from-pulumi/.test(e.message))
})
