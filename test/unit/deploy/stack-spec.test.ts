import assert from 'node:assert/strict'
import { test } from 'node:test'
import { oceanEnv, oceanSpec, redisConf, redisSpec, stackNames, type StackSettings } from '../../../runbooks/lib/deploy/stack-spec.ts'

const settings: StackSettings = { stack: 'ocean', oceanImage: 'ocean:abc', redisImage: 'ocean-redis:def', oceanPort: 8030, publishAddress: '0.0.0.0', apiProcesses: 2, cpus: 6, memoryMb: 4096, redisMemoryMb: 1024 }
const names = stackNames('ocean')

test('Redis: password required, AOF, bounded memory without eviction, never published', () => {
  const conf = redisConf('s3cret', 1024)
  assert.match(conf, /^requirepass s3cret$/m)
  assert.match(conf, /^appendonly yes$/m)
  assert.match(conf, /^maxmemory 768mb$/m)
  assert.match(conf, /^maxmemory-policy noeviction$/m)
  const spec = redisSpec(settings, names, 'h1')
  assert.deepEqual(spec.HostConfig?.PortBindings, {})
  assert.equal(spec.ExposedPorts, undefined)
  assert.doesNotMatch(JSON.stringify(spec), /s3cret/, 'the password lives in the mounted file only')
  assert.ok(spec.HostConfig?.Binds?.includes(`${names.redisConf}:/etc/ocean-redis/redis.conf:ro`))
})

test('Ocean: secrets only in the env file, limits set, published port, candidate isolated from live data', () => {
  const env = oceanEnv({ apiKey: 'k'.repeat(32), redisPassword: 'p@ss/word', names, settings })
  assert.match(env, /^REDIS_URL=redis:\/\/:p%40ss%2Fword@ocean-redis:6379$/m)
  const live = oceanSpec(settings, names, 'e1', 'current')
  assert.doesNotMatch(JSON.stringify(live), /kkkk|p%40ss/)
  assert.equal(live.HostConfig?.Memory, 4096 * 1024 * 1024)
  assert.equal(live.HostConfig?.NanoCpus, 6e9)
  assert.deepEqual(live.HostConfig?.PortBindings, { '8030/tcp': [{ HostIp: '0.0.0.0', HostPort: '8030' }] })
  assert.ok(live.HostConfig?.Binds?.includes('ocean-data:/data'))
  const candidate = oceanSpec(settings, names, 'e1', 'candidate')
  assert.deepEqual(candidate.HostConfig?.PortBindings, {})
  assert.ok(!candidate.HostConfig?.Binds?.some((b) => b.endsWith(':/data')))
  assert.ok(candidate.Env?.includes('OCEAN_STREAM=ocean:deploy-candidate'))
})

test('the spec label changes with the image or the config and with nothing else', () => {
  const label = (s: StackSettings, envHash: string) => oceanSpec(s, names, envHash, 'current').Labels!['ocean-ops.spec']
  assert.equal(label(settings, 'e1'), label({ ...settings }, 'e1'))
  assert.notEqual(label(settings, 'e1'), label({ ...settings, oceanImage: 'ocean:new' }, 'e1'))
  assert.notEqual(label(settings, 'e1'), label(settings, 'e2'))
  assert.notEqual(label(settings, 'e1'), label({ ...settings, memoryMb: 2048 }, 'e1'))
})
