import assert from 'node:assert/strict'
import { test } from 'node:test'
import { parseAptMirror } from '../../../runbooks/lib/images/apt-mirror.ts'
import { contentHash } from '../../../runbooks/lib/images/local-images.ts'
import { prodDependencyDirs } from '../../../runbooks/lib/images/ocean-image.ts'

test('apt mirror: the main archive of a deb822 file, never the security one', () => {
  const deb822 = `Types: deb
URIs: http://security.example/debian-security
Suites: bookworm-security
Components: main

Types: deb
# a comment
URIs: http://mirror.example/debian
Suites: bookworm bookworm-updates
Components: main`
  assert.equal(parseAptMirror(deb822), 'http://mirror.example/debian')
  assert.equal(parseAptMirror('deb [arch=amd64] http://m.example/debian bookworm main\ndeb http://s.example/x bookworm-security main'), 'http://m.example/debian')
  assert.equal(parseAptMirror('# nothing here\n'), undefined)
})

test('production dependency dirs: hoisted and workspace-local, outermost only, workspace link dropped', () => {
  const root = '/r'
  const ls = ['/r', '/r/node_modules/fastify', '/r/node_modules/fastify/node_modules/semver', '/r/node_modules/@ocean-ops/ocean',
    '/r/services/ocean/node_modules/ajv', '/r/node_modules/ajv-formats', '/elsewhere/x', ''].join('\n')
  assert.deepEqual(prodDependencyDirs(ls, root), ['node_modules/ajv-formats', 'node_modules/fastify', 'services/ocean/node_modules/ajv'])
})

test('content hash changes with any input and not otherwise', () => {
  assert.equal(contentHash(['a', 'b']), contentHash(['a', 'b']))
  assert.notEqual(contentHash(['a', 'b']), contentHash(['ab']))
  assert.match(contentHash(['x']), /^[0-9a-f]{16}$/)
})
