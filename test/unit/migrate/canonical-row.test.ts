// The canonical row form: each kind's normalization from the source's text and from what SQLite
// stored, and the codecs that keep big integers, decimals, NaN and microseconds exact.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import {
  affinity,
  canonDouble,
  codecFor,
  epochMsFromIso,
  isoFromSourceDate,
  isoFromSourceDateGeneral,
  isoFromSourceTimestamp,
  isoFromSourceTimestampGeneral,
  isoFromStoredTimestamp,
  normalizeDecimal,
  normalizeDecimalGeneral,
  normalizeInt,
  storedTimestamp,
  transformFor,
  WRONG_TYPE,
} from '../../../packages/migrate/src/values/canonical-row.ts'

describe('value normalizers', () => {
  it('integers: digits only, no leading zeros, any size', () => {
    assert.equal(normalizeInt('42'), '42')
    assert.equal(normalizeInt('-9223372036854775808'), '-9223372036854775808')
    assert.equal(normalizeInt('0042'), '42')
    assert.equal(normalizeInt('+7'), '7')
    assert.equal(normalizeInt('-0'), '0')
    assert.equal(normalizeInt('18446744073709551615'), '18446744073709551615')
  })

  it('decimals: scale zeros dropped, sign of zero dropped, NaN and infinities kept', () => {
    assert.equal(normalizeDecimal('1.5000000000'), '1.5')
    assert.equal(normalizeDecimal('0012.300'), '12.3')
    assert.equal(normalizeDecimal('-0.000'), '0')
    assert.equal(normalizeDecimal('100'), '100')
    assert.equal(normalizeDecimal('12345678901234567890123456.1234567891'), '12345678901234567890123456.1234567891')
    assert.equal(normalizeDecimal('-.5'), '-0.5')
    for (const s of ['NaN', 'Infinity', '-Infinity']) assert.equal(normalizeDecimal(s), s)
  })

  it('doubles: shortest round-trip text; NaN, ±Infinity; -0 is 0', () => {
    assert.equal(canonDouble(0.1), '0.1')
    assert.equal(canonDouble(Number('1e+308')), '1e+308')
    assert.equal(canonDouble(Number('5e-324')), '5e-324')
    assert.equal(canonDouble(NaN), 'NaN')
    assert.equal(canonDouble(-Infinity), '-Infinity')
    assert.equal(canonDouble(-0), '0')
  })
})

describe('timestamps', () => {
  it('reads PostgreSQL/MySQL text into UTC ISO with six fraction digits', () => {
    assert.equal(isoFromSourceTimestamp('2024-02-29 23:59:59.999999').iso, '2024-02-29T23:59:59.999999Z')
    assert.equal(isoFromSourceTimestamp('2024-01-01 00:00:00.5').iso, '2024-01-01T00:00:00.500000Z')
    assert.equal(isoFromSourceTimestamp('2024-01-01 00:00:00').iso, '2024-01-01T00:00:00.000000Z')
    assert.equal(isoFromSourceTimestamp('infinity').iso, 'infinity')
    assert.equal(isoFromSourceTimestamp('-infinity').iso, '-infinity')
  })

  it('applies an offset when the text carries one (across a DST change and a day boundary)', () => {
    assert.equal(isoFromSourceTimestamp('2024-03-31 03:30:00.25+02').iso, '2024-03-31T01:30:00.250000Z')
    assert.equal(isoFromSourceTimestamp('2024-10-27 02:30:00+01').iso, '2024-10-27T01:30:00.000000Z')
    assert.equal(isoFromSourceTimestamp('2024-01-01 01:00:00+05:30').iso, '2023-12-31T19:30:00.000000Z')
    assert.equal(isoFromSourceTimestamp('2024-01-01 00:00:00+00').iso, '2024-01-01T00:00:00.000000Z')
  })

  it('years outside 0..9999 and BC use the ISO extended form', () => {
    assert.equal(isoFromSourceTimestamp('0044-03-15 12:00:00 BC').iso, '-000043-03-15T12:00:00.000000Z')
    assert.equal(isoFromSourceTimestamp('0001-01-01 00:00:00 BC').iso, '0000-01-01T00:00:00.000000Z')
    assert.equal(isoFromSourceTimestamp('12345-01-01 00:00:00').iso, '+012345-01-01T00:00:00.000000Z')
    assert.equal(isoFromSourceDate('0044-03-15 BC').iso, '-000043-03-15')
  })

  it('MySQL zero dates become NULL and say why', () => {
    const z = isoFromSourceTimestamp('0000-00-00 00:00:00')
    assert.equal(z.iso, null)
    assert.match(z.coerced ?? '', /zero date/)
    assert.equal(isoFromSourceTimestamp('2024-00-15 10:00:00').iso, null)
    assert.equal(isoFromSourceDate('2024-05-00').iso, null)
    assert.equal(isoFromSourceDate('0000-01-01').iso, '0000-01-01')
  })

  it('stores the service format (milliseconds) when the microseconds are zero, else all six digits', () => {
    assert.equal(storedTimestamp('2024-01-01T00:00:00.123000Z'), '2024-01-01T00:00:00.123Z')
    assert.equal(storedTimestamp('2024-01-01T00:00:00.123456Z'), '2024-01-01T00:00:00.123456Z')
    assert.equal(isoFromStoredTimestamp('2024-01-01T00:00:00.123Z'), '2024-01-01T00:00:00.123000Z')
    assert.equal(isoFromStoredTimestamp('2024-01-01T00:00:00Z'), '2024-01-01T00:00:00.000000Z')
    assert.ok(isoFromStoredTimestamp('2024-01-01 00:00:00').startsWith(WRONG_TYPE))
  })

  it('epoch milliseconds drop microseconds only with a note', () => {
    assert.deepEqual(epochMsFromIso('2024-01-01T00:00:00.123000Z'), { ms: '1704067200123', coerced: undefined })
    assert.match(epochMsFromIso('2024-01-01T00:00:00.123456Z').coerced ?? '', /microseconds/)
    assert.equal(epochMsFromIso('1969-12-31T23:59:59.999000Z').ms, '-1')
    assert.equal(epochMsFromIso('infinity').ms, null)
  })
})

describe('codecs', () => {
  it('keep 64-bit integers exact (BigInt past 2^53) and refuse what SQLite cannot hold', () => {
    const c = codecFor({ kind: 'int' }, 'INTEGER')
    assert.equal(c.store(c.canon('9007199254740993') as string, ''), 9007199254740993n)
    assert.equal(c.store('42', ''), 42)
    assert.equal(c.fromSqlite(9223372036854775807n), '9223372036854775807')
    assert.throws(() => c.store('18446744073709551615', ''), /does not fit/)
    assert.ok(c.fromSqlite(1.5).startsWith(WRONG_TYPE))
  })

  it('decimals keep the source digits as text; into an INTEGER column only without a fraction', () => {
    const t = codecFor({ kind: 'decimal' }, 'TEXT')
    assert.equal(t.canon('12.50'), '12.5')
    assert.equal(t.store('12.5', '12.50'), '12.50')
    assert.equal(t.fromSqlite('12.50'), '12.5')
    assert.ok(t.fromSqlite(12.5).startsWith(WRONG_TYPE), 'a REAL where a decimal was is a mismatch')
    const i = codecFor({ kind: 'decimal' }, 'INTEGER')
    assert.equal(i.store('120', '120.00'), 120)
    assert.throws(() => i.store('12.5', '12.5'), /fraction/)
  })

  it('doubles: NaN stored as text (SQLite would make it NULL), infinities as REAL', () => {
    const c = codecFor({ kind: 'double' }, 'REAL')
    assert.equal(c.store(c.canon('NaN') as string, 'NaN'), 'NaN')
    assert.equal(c.store(c.canon('Infinity') as string, 'Infinity'), Infinity)
    assert.equal(c.fromSqlite('NaN'), 'NaN')
    assert.equal(c.fromSqlite(-Infinity), '-Infinity')
  })

  it('tinyint(1) values other than 0/1 become true and are reported; real booleans never are', () => {
    const c = codecFor({ kind: 'bool', boolFromInt: true }, 'INTEGER')
    assert.equal(c.canon('1'), 't')
    assert.equal(c.coerced, undefined)
    assert.equal(c.canon('2'), 't')
    assert.match(c.coerced ?? '', /tinyint\(1\) value 2/)
    const p = codecFor({ kind: 'bool' }, 'INTEGER')
    assert.throws(() => p.canon('2'), /cannot read boolean/)
    assert.equal(p.fromSqlite(0n), 'f')
  })

  it('bytes are hex on the way and a BLOB in SQLite', () => {
    const c = codecFor({ kind: 'bytes' }, 'BLOB')
    const stored = c.store(c.canon('00FF10') as string, '00FF10')
    assert.deepEqual(stored, Buffer.from([0, 255, 16]))
    assert.equal(c.fromSqlite(stored), '00ff10')
  })

  it('refuses a kind in a column type that would lose it', () => {
    assert.throws(() => codecFor({ kind: 'decimal' }, 'REAL'), /cannot be stored/)
    assert.throws(() => codecFor({ kind: 'timestamp' }, 'INTEGER'), /cannot be stored/)
  })

  it('affinity follows SQLite rules', () => {
    assert.equal(affinity('INTEGER'), 'INTEGER')
    assert.equal(affinity('VARCHAR(10)'), 'TEXT')
    assert.equal(affinity('DOUBLE PRECISION'), 'REAL')
    assert.equal(affinity(''), 'BLOB')
  })

  it('transforms: sha256 is not reversible, epoch-ms is', () => {
    const s = transformFor('sha256', 'text')
    assert.equal(s.apply('abc').canon, 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad')
    assert.equal(s.reversible, false)
    assert.equal(transformFor('epoch-ms', 'timestamp').produces, 'int')
    assert.throws(() => transformFor('epoch-ms', 'text'), /needs a timestamp/)
  })
})

describe('fast paths agree with the general normalizers', () => {
  // A small deterministic generator (mulberry32): the same values on every run.
  let seed = 0x5eed
  const rnd = () => {
    seed = (seed + 0x6d2b79f5) | 0
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  const pick = <T,>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)] as T
  const digits = (n: number) => Array.from({ length: n }, () => String(Math.floor(rnd() * 10))).join('')
  const outcome = (f: () => unknown) => {
    try {
      return JSON.stringify(f())
    } catch (e) {
      return `throws ${(e as Error).message}`
    }
  }

  it('decimals', () => {
    for (let i = 0; i < 20_000; i++) {
      const int = pick(['', '0', '00', digits(1), digits(1 + Math.floor(rnd() * 30))])
      const frac = pick(['', '.', `.${digits(1 + Math.floor(rnd() * 12))}`, `.${digits(2)}0`, '.0', '.000'])
      const text = `${pick(['', '', '-', '+', ' '])}${int}${frac}${pick(['', '', ' '])}`
      assert.equal(normalizeDecimal(text), normalizeDecimalGeneral(text), JSON.stringify(text))
    }
    for (const t of ['0', '-0', '-0.000', '0.50', '10.0', '100', '-.5', '5.', 'NaN', '-Infinity']) assert.equal(normalizeDecimal(t), normalizeDecimalGeneral(t), t)
  })

  it('timestamps and dates', () => {
    const two = (max: number) => String(Math.floor(rnd() * (max + 1))).padStart(2, '0')
    for (let i = 0; i < 20_000; i++) {
      const year = pick([digits(4), digits(4), '0000', '9999', digits(5), digits(6)])
      const date = `${year}-${two(13)}-${two(32)}`
      const ts = `${date}${pick([' ', ' ', 'T'])}${two(24)}:${two(59)}:${two(60)}${pick(['', `.${digits(1 + Math.floor(rnd() * 6))}`, '.000000', '.1234567'])}${pick(['', '+00', '+00', '-08', '+05:30', '+00:00', 'Z', '+14:00:05'])}${pick(['', '', '', ' BC'])}`
      assert.equal(outcome(() => isoFromSourceTimestamp(ts)), outcome(() => isoFromSourceTimestampGeneral(ts)), ts)
      const d = `${date}${pick(['', '', ' BC', ' '])}`
      assert.equal(outcome(() => isoFromSourceDate(d)), outcome(() => isoFromSourceDateGeneral(d)), d)
      let iso: string | null = null
      try {
        iso = isoFromSourceTimestampGeneral(ts).iso
      } catch {
        // not a timestamp: nothing to store
      }
      if (iso) assert.equal(storedTimestamp(iso), /\.\d{3}000Z$/.test(iso) ? iso.slice(0, -4) + 'Z' : iso, iso)
    }
  })
})
