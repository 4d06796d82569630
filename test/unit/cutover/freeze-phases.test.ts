// The write freeze's phases as the cutover's report and the rehearsal's print them.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { freezePhasesLine } from '../../../runbooks/cutover.ts'

describe('freeze phases', () => {
  it('names each phase, each warm engine\'s own share of its side and how its work split', () => {
    const line = freezePhasesLine({ freezeOldMs: 120, finalSyncMs: 1530, finalSyncSidesMs: { sqlite: 1040, duckdb: 1530 }, finalSyncEngineMs: { sqlite: 610, duckdb: 480 }, finalSyncWorkMs: { sqlite: { readMs: 120, applyMs: 200, verifyMs: 250 }, duckdb: null }, moveIpMs: 310, firstAnswerMs: 4 })
    assert.equal(line, 'freeze old 0.12 s + final sync 1.53 s (SQLite side 1.04 s (its engine 0.61 s: read 0.12 s, apply 0.20 s, verify 0.25 s), DuckDB side 1.53 s (its engine 0.48 s; then the API taking the file and answering /ready)) + move IP 0.31 s; first answer on the new side 0.00 s after the move')
  })

  it('a cold run (resumed) has no engine share; a side that never answered shows a dash', () => {
    const line = freezePhasesLine({ freezeOldMs: 100, finalSyncMs: 3000, finalSyncSidesMs: { sqlite: 900, duckdb: 3000 }, moveIpMs: 300, firstAnswerMs: null })
    assert.match(line, /\(SQLite side 0\.90 s, DuckDB side 3\.00 s\)/)
    assert.match(line, /first answer on the new side – after the move$/)
  })
})
