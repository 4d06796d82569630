import assert from 'node:assert/strict'
import { test } from 'node:test'
import { trimEveryEvents } from '../../../services/ocean/src/worker/trim-policy.ts'

test('stored entries are trimmed every 50,000 events under the default bound, or without one', () => {
  assert.equal(trimEveryEvents(2_000_000), 50_000)
  assert.equal(trimEveryEvents(200_000), 50_000)
  assert.equal(trimEveryEvents(0), 50_000)
})

test('under a smaller bound, every quarter of it: stored entries never outweigh the unstored ones it allows', () => {
  assert.equal(trimEveryEvents(100_000), 25_000)
  assert.equal(trimEveryEvents(10_000), 2_500)
  for (const bound of [1, 3, 7, 199_999]) {
    const every = trimEveryEvents(bound)
    assert.ok(every >= 1 && every <= Math.max(1, bound / 4), `${bound}: ${every}`)
  }
})
