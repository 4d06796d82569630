// How the rehearsal decides that no acknowledged event was lost: by each event's unique value, so a
// duplicate (an event sent again after a cut connection) is counted as such, never as a found loss.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { matchEvents } from '../../../runbooks/rehearse.ts'

test('every acknowledged event found, duplicates counted apart', () => {
  assert.deepEqual(matchEvents([1, 2, 3], [3, 1, 2, 2]), { acked: 3, found: 3, missing: [], duplicates: 1 })
})

test('a missing event is named, and an extra one cannot hide it', () => {
  assert.deepEqual(matchEvents([1, 2, 3], [1, 3, 3, 4]), { acked: 3, found: 2, missing: [2], duplicates: 1 })
  assert.deepEqual(matchEvents([], []), { acked: 0, found: 0, missing: [], duplicates: 0 })
})
