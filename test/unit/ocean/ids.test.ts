// The identifier rule (ids.ts) and the JSON body rule (json-body.ts): pure functions, so every edge
// is checked here; the routes that apply them are exercised in test/integration/ocean/hostile-input.test.ts.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { ID_MAX_BYTES, idProblem, parseDecimalId } from '../../../services/ocean/src/ids.ts'
import { jsonBodyProblem, MAX_JSON_DEPTH, parseJsonBody } from '../../../services/ocean/src/json-body.ts'

describe('idProblem', () => {
  it('accepts any text without control characters or lone surrogates, up to 256 bytes', () => {
    for (const id of ['José', 'Zoe\u0308', '李雷', 'Boiler room #2', "it's;here", '🔥', ' ', 'a/b?c=d&e', '100%', 'é'.repeat(128), 'x'.repeat(ID_MAX_BYTES)]) {
      assert.equal(idProblem(id), null, JSON.stringify(id))
    }
  })
  it('refuses the rest, saying why', () => {
    const cases: [unknown, RegExp][] = [
      ['', /empty/],
      [5, /string/],
      ['a\tb', /U\+0009 at index 1/],
      ['\u007f', /U\+007F/],
      ['\u009f', /U\+009F/],
      ['a\ud800', /lone/],
      ['\udc00a', /lone/],
      ['\udc00\ud800', /lone/],
      ['é'.repeat(129), /at most 256 bytes of UTF-8 \(it is 258\)/],
      ['x'.repeat(ID_MAX_BYTES + 1), /at most 256/],
    ]
    for (const [id, reason] of cases) assert.match(idProblem(id) ?? 'accepted', reason, JSON.stringify(id))
    assert.equal(idProblem('\ud83d\udd25'), null, 'a surrogate pair is one character')
  })
})

describe('parseDecimalId', () => {
  it('reads exact decimal text only', () => {
    assert.equal(parseDecimalId('1'), 1)
    assert.equal(parseDecimalId('9007199254740991'), Number.MAX_SAFE_INTEGER)
    for (const text of ['0', '01', '1.0', '1e0', '0x1', ' 1', '+1', '-1', '', '9007199254740992', '99999999999999999']) assert.equal(parseDecimalId(text), null, text)
  })
})

describe('the JSON body rule', () => {
  it('names the first non-finite number by its path', () => {
    assert.equal(jsonBodyProblem({ a: [1, 2, { b: 1.7976931348623157e308 }] }), null)
    assert.match(jsonBodyProblem({ a: [1, { b: Infinity }] }) ?? '', /^body\/a\/1\/b must be a finite number/)
    assert.match(jsonBodyProblem(-Infinity) ?? '', /^body must be/)
    assert.match(jsonBodyProblem({ n: NaN }) ?? '', /body\/n/)
    assert.match(jsonBodyProblem({ events: [{ value: 1 }, { value: -Infinity }, { value: NaN }], x: Infinity }) ?? '', /^body\/events\/1\/value must/, 'the first in document order')
  })
  it(`counts nesting from the body (level 1) to ${MAX_JSON_DEPTH}`, () => {
    const nest = (levels: number): unknown => {
      let v: unknown = 0
      for (let i = 0; i < levels; i++) v = [v]
      return v
    }
    assert.equal(jsonBodyProblem(nest(MAX_JSON_DEPTH)), null)
    assert.match(jsonBodyProblem(nest(MAX_JSON_DEPTH + 1)) ?? '', /nested too deeply/)
    assert.match(jsonBodyProblem(nest(100_000)) ?? '', /nested too deeply/, 'no recursion: a very deep value is no stack overflow')
  })
  it('parses with the prototype-poisoning guards and stable error codes', () => {
    assert.deepEqual(parseJsonBody('{"a":1}'), { a: 1 })
    assert.throws(() => parseJsonBody(''), { code: 'OCEAN_E_MALFORMED_JSON' })
    assert.throws(() => parseJsonBody('{"a":'), { code: 'OCEAN_E_MALFORMED_JSON' })
    assert.throws(() => parseJsonBody('{"__proto__":{"x":1}}'), { code: 'OCEAN_E_MALFORMED_JSON' })
    assert.throws(() => parseJsonBody('{"v":1e309}'), { code: 'OCEAN_E_VALIDATION', message: /body\/v/ })
  })
})
