import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { overBound, retryAfterSeconds, RETRY_MAX_S } from '../../../services/ocean/src/buffer/backlog-gate.ts'
import { loadConfig } from '../../../services/ocean/src/config.ts'

const key = { OCEAN_API_KEY: 'k'.repeat(32) }

describe('backlog bound (backpressure)', () => {
  const b = { maxEvents: 1000, maxSeconds: 60 }
  it('starts refusing at the bound and stops only below 90 % of it', () => {
    assert.equal(overBound(b, 999, 0, false), null)
    assert.equal(overBound(b, 1000, 0, false), 'events')
    assert.equal(overBound(b, 950, 0, true), 'events', 'between the marks: still refusing')
    assert.equal(overBound(b, 899, 0, true), null)
    assert.equal(overBound(b, 10, 60, false), 'age')
    assert.equal(overBound(b, 10, 55, true), 'age')
    assert.equal(overBound(b, 10, 53, true), null)
  })
  it('0 is no bound', () => {
    assert.equal(overBound({ maxEvents: 0, maxSeconds: 0 }, 1e9, 1e6, true), null)
    assert.equal(overBound({ maxEvents: 0, maxSeconds: 60 }, 1e9, 0, false), null)
  })
  it('Retry-After: the events above the resume mark at the storage rate, clamped to 1..30 s', () => {
    assert.equal(retryAfterSeconds(b, 1000, 0, 20), 5)
    assert.equal(retryAfterSeconds(b, 1000, 0, 1e6), 1)
    assert.equal(retryAfterSeconds(b, 1000, 0, 0), RETRY_MAX_S, 'nothing stored lately: the longest wait')
    assert.equal(retryAfterSeconds(b, 100_000, 0, 10), RETRY_MAX_S)
    assert.equal(retryAfterSeconds(b, 0, 64, 1000), 10, 'age: what is above its resume mark')
  })
  it('config: defaults, 0 turns a bound off, bad values are named', () => {
    const c = loadConfig(key)
    assert.equal(c.backlogMaxEvents, 2_000_000)
    assert.equal(c.backlogMaxSeconds, 120)
    assert.equal(loadConfig({ ...key, OCEAN_BACKLOG_MAX_EVENTS: '0', OCEAN_BACKLOG_MAX_SECONDS: '0' }).backlogMaxEvents, 0)
    assert.throws(() => loadConfig({ ...key, OCEAN_BACKLOG_MAX_EVENTS: '-1' }), /OCEAN_BACKLOG_MAX_EVENTS="-1" is not an integer from 0/)
    assert.throws(() => loadConfig({ ...key, OCEAN_BACKLOG_MAX_SECONDS: '2m' }), /OCEAN_BACKLOG_MAX_SECONDS="2m"/)
  })
})
