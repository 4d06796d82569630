import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { test } from 'node:test'
import { BUNDLE, NODE_FLAGS, RUNTIME_ENV, SERVICE_DIR } from '../../../services/ocean/runtime.ts'
import { parseAptMirror } from '../../../runbooks/lib/images/apt-mirror.ts'
import { contentHash } from '../../../runbooks/lib/images/local-images.ts'
import { IMAGE_PACKAGES, packageDependencyDirs, prodDependencyDirs } from '../../../runbooks/lib/images/ocean-image.ts'

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
  const engine = ['/r/node_modules/pg', '/r/packages/migrate/node_modules/pg-types', '/r/node_modules/@ocean-ops/common', '/r/node_modules/@ocean-ops/ocean'].join('\n')
  assert.deepEqual(prodDependencyDirs(engine, root), ['node_modules/pg', 'packages/migrate/node_modules/pg-types'])
})

test('the engine\'s image dependencies come from its package.json, with everything they need and nothing else', async () => {
  assert.deepEqual(IMAGE_PACKAGES.map((p) => p.name), ['@ocean-ops/ocean', '@ocean-ops/migrate'])
  const dirs = await packageDependencyDirs(path.resolve('.'), '@ocean-ops/migrate')
  for (const want of ['node_modules/pg', 'node_modules/pg-copy-streams', 'node_modules/mysql2', 'node_modules/pg-protocol', 'node_modules/iconv-lite', 'node_modules/better-sqlite3', 'node_modules/@duckdb/node-api']) assert.ok(dirs.includes(want), want)
  assert.ok(!dirs.some((d, i) => dirs.some((e, j) => i !== j && d.startsWith(e + path.sep))), 'outermost directories only')
  assert.ok(!dirs.some((d) => /pulumi|typescript|eslint|tsx|esbuild/.test(d)), 'no dev or unrelated packages')
})

test('content hash changes with any input and not otherwise', () => {
  assert.equal(contentHash(['a', 'b']), contentHash(['a', 'b']))
  assert.notEqual(contentHash(['a', 'b']), contentHash(['ab']))
  assert.match(contentHash(['x']), /^[0-9a-f]{16}$/)
})

test('the Ocean image runs the bundle with the flags and environment the benchmarks measure', () => {
  const dockerfile = fs.readFileSync(path.join(SERVICE_DIR, 'Dockerfile'), 'utf8')
  const cmd = /^CMD (\[.*\])$/m.exec(dockerfile)?.[1]
  assert.ok(cmd, 'the Dockerfile has an exec-form CMD')
  assert.deepEqual(JSON.parse(cmd), ['node', ...NODE_FLAGS, BUNDLE])
  // The runtime stage's ENV instruction (after its last FROM), continued over backslashed lines.
  const runtime = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '))
  const env = /^ENV ((?:.*\\\n)*.*)$/m.exec(runtime)?.[1] ?? ''
  const vars = Object.fromEntries(env.split(/\\\n|\s+/).map((t) => t.trim()).filter(Boolean).map((t) => t.split('=') as [string, string]))
  for (const [k, v] of Object.entries(RUNTIME_ENV)) assert.equal(vars[k], v, `ENV ${k}=${v} in the image`)
})
