import assert from 'node:assert/strict'
import { test } from 'node:test'
import { ROLE_HEAP_FLAGS, roleExecArgv } from '../../../services/ocean/src/role-flags.ts'

const image = ['--max-semi-space-size=4']

test("API processes get a smaller semi-space than the image's and a slower heap growth", () => {
  assert.deepEqual(roleExecArgv('api', image), ['--max-semi-space-size=2', '--heap-growing-percent=50'])
})

test("the engine gets the image's semi-space and the API's slower heap growth", () => {
  assert.deepEqual(roleExecArgv('engine', image), ['--max-semi-space-size=4', '--heap-growing-percent=50'])
  assert.deepEqual(roleExecArgv('engine', ['--heap-growing-percent=20']), ['--max-semi-space-size=4', '--heap-growing-percent=50'])
})

test('other flags (a loader, inspector settings) pass through, in order, and heap flags never twice', () => {
  const parent = ['--import', 'tsx', '--max-semi-space-size=4', '--min-semi-space-size=1', '--optimize-for-size', '--heap-growing-percent=20', '--enable-source-maps']
  const api = roleExecArgv('api', parent)
  assert.deepEqual(api, ['--import', 'tsx', '--enable-source-maps', ...ROLE_HEAP_FLAGS.api])
  // A flag that only starts like a heap flag is not one.
  assert.deepEqual(roleExecArgv('engine', ['--max-semi-space-sizes']), ['--max-semi-space-sizes', ...ROLE_HEAP_FLAGS.engine])
})
