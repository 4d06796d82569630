import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { loadConfig } from '../../../services/ocean/src/config.ts'

const key = { OCEAN_API_KEY: 'k'.repeat(32) }

describe('config', () => {
  it('has safe defaults: loopback, port 8030, one process', () => {
    const c = loadConfig(key)
    assert.equal(c.host, '127.0.0.1')
    assert.equal(c.port, 8030)
    assert.equal(c.apiProcesses, 0)
    assert.equal(c.maxBatchEvents, 10_000)
  })
  it('requires an API key of at least 16 characters', () => {
    assert.throws(() => loadConfig({}), /OCEAN_API_KEY/)
    assert.throws(() => loadConfig({ OCEAN_API_KEY: 'short' }), /OCEAN_API_KEY/)
  })
  it('names the bad variable and its range', () => {
    assert.throws(() => loadConfig({ ...key, OCEAN_PORT: '70000' }), /OCEAN_PORT="70000" is not an integer from 0 to 65535/)
    assert.throws(() => loadConfig({ ...key, OCEAN_API_PROCESSES: 'two' }), /OCEAN_API_PROCESSES/)
  })
  it('refuses a bad REDIS_URL without printing its password', () => {
    assert.throws(() => loadConfig({ ...key, REDIS_URL: 'http://:hunter2@h:1' }), /redis:\/\//)
    try {
      loadConfig({ ...key, REDIS_URL: 'not a url :hunter2@x' })
      assert.fail('should throw')
    } catch (e) {
      assert.ok(!String(e).includes('hunter2'), String(e))
    }
  })
})
