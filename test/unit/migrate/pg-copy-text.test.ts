// PostgreSQL's COPY text format, parsed from arbitrary Buffer chunks (a row, or a UTF-8 character,
// may be split between two).
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { CopyTextParser, parseCopyLine, unescapeCopyField } from '../../../packages/migrate/src/values/pg-copy-text.ts'

describe('COPY text format', () => {
  it('splits on tabs, reads \\N as NULL and keeps empty strings', () => {
    assert.deepEqual(parseCopyLine('1\t\\N\t\tx'), ['1', null, '', 'x'])
  })

  it('unescapes backslash sequences', () => {
    assert.equal(unescapeCopyField('a\\tb\\nc\\\\d\\re'), 'a\tb\nc\\d\re')
    assert.equal(unescapeCopyField('\\x41\\101\\b\\f\\v'), 'AA\b\f\v')
    assert.deepEqual(parseCopyLine('\\\\N'), ['\\N'], 'an escaped backslash followed by N is text, not NULL')
  })

  it('parses rows split across chunks, including inside a 4-byte character', () => {
    const text = '1\t🌊 wave\n2\t\\N\n3\t\n'
    const bytes = Buffer.from(text, 'utf8')
    for (let cut = 1; cut < bytes.length; cut++) {
      const rows: (string | null)[][] = []
      const p = new CopyTextParser((r) => rows.push(r))
      p.push(bytes.subarray(0, cut))
      p.push(bytes.subarray(cut))
      p.end()
      assert.deepEqual(rows, [['1', '🌊 wave'], ['2', null], ['3', '']], `cut at byte ${cut}`)
    }
  })

  it('fails on output that stops in the middle of a row', () => {
    const p = new CopyTextParser(() => undefined)
    p.push(Buffer.from('1\tabc'))
    assert.throws(() => p.end(), /middle of a row/)
  })
})
