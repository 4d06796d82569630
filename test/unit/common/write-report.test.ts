import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { describe, it } from 'node:test'
import { reportStamp, writeReport } from '../../../packages/common/src/write-report.ts'

describe('the one report writer', () => {
  it('names every report <name>-<YYYYMMDDTHHMMSSZ>', () => {
    assert.equal(reportStamp('2026-12-05T08:01:54.123Z'), '20261205T080154Z')
    assert.equal(reportStamp('2026-12-05T08:01:54Z'), '20261205T080154Z')
    assert.throws(() => reportStamp('yesterday'), RangeError)
  })

  it('two reports started in the same second get two names, every part beside its json', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'reports-'))
    try {
      const at = '2026-12-05T08:01:54.123Z'
      const a = writeReport(dir, 'verify', at, { json: '{"a":1}\n', md: '# a\n', xml: '<a/>' })
      const b = writeReport(dir, 'verify', '2026-12-05T08:01:54.999Z', { json: '{"b":1}\n', md: '# b\n' })
      assert.deepEqual(a, { json: path.join(dir, 'verify-20261205T080154Z.json'), md: path.join(dir, 'verify-20261205T080154Z.md'), xml: path.join(dir, 'verify-20261205T080154Z.xml') })
      assert.deepEqual(b, { json: path.join(dir, 'verify-20261205T080154Z-2.json'), md: path.join(dir, 'verify-20261205T080154Z-2.md') })
      assert.equal(fs.readFileSync(a.json, 'utf8'), '{"a":1}\n')
      assert.equal(fs.readFileSync(b.md as string, 'utf8'), '# b\n')
      assert.throws(() => writeReport(dir, '../x', at, { json: '' }), RangeError)
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })
})
