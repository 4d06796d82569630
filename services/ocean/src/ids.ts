// The identifier rule: what the API accepts as a username, a sensor id, a profile id or a metadata
// key. The old system stored whatever its clients sent, so the rule is as wide as is safe: any
// Unicode text without control characters or lone surrogates, 1 to ID_MAX_BYTES bytes of UTF-8.
// No normalization: an id is stored and compared exactly as sent ("Zoë" in NFC and in NFD are two
// ids), so a migrated id is reachable byte for byte. The migration checks source values with the
// same function (idProblem) and lists any the API would refuse.

export const ID_MAX_BYTES = 256

// C0 and C1 control characters (U+0000–U+001F, U+007F–U+009F).
const CONTROL = /\p{Cc}/u
// A high surrogate not followed by a low one, or a low one not preceded by a high one.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/

/** Why `value` is not a valid identifier, or null if it is. */
export function idProblem(value: unknown, maxBytes = ID_MAX_BYTES): string | null {
  if (typeof value !== 'string') return 'must be a string'
  if (value.length === 0) return 'must not be empty'
  if (LONE_SURROGATE.test(value)) return 'must not contain a lone UTF-16 surrogate'
  const control = CONTROL.exec(value)
  if (control) return `must not contain control characters (U+${control[0].codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')} at index ${control.index})`
  const bytes = Buffer.byteLength(value, 'utf8')
  if (bytes > maxBytes) return `must be at most ${maxBytes} bytes of UTF-8 (it is ${bytes})`
  return null
}

/** Numeric path ids are exact: decimal digits, no sign, no leading zero, at most 2^53 - 1. */
export const DECIMAL_ID = '^[1-9][0-9]{0,15}$'

export function parseDecimalId(text: string): number | null {
  if (!new RegExp(DECIMAL_ID).test(text)) return null
  const n = Number(text)
  return Number.isSafeInteger(n) ? n : null
}
