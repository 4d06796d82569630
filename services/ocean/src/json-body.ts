// The JSON body parser: Fastify's own (secure-json-parse: __proto__ and constructor.prototype
// refused), then one walk over the parsed value that refuses what JSON can carry and the service
// cannot keep: numbers outside the double range (1e309 parses to Infinity and would be stored as
// null) and nesting deeper than MAX_JSON_DEPTH (a 4,000-level profile could be stored but not
// sent back). Both are a 400 naming the field, before any route sees the body: nothing is stored.
import sjson from 'secure-json-parse'
import { Errors } from './errors.ts'

/** Objects and arrays nested deeper than this are refused; the body itself is depth 1. */
export const MAX_JSON_DEPTH = 32

/** Where `value` breaks the rules ("body/events/3/value must be a finite number"), or null. */
export function jsonBodyProblem(value: unknown): string | null {
  const stack: Array<{ v: unknown; path: string; depth: number }> = [{ v: value, path: 'body', depth: 0 }]
  while (stack.length > 0) {
    const { v, path, depth } = stack.pop()!
    if (typeof v === 'number') {
      if (!Number.isFinite(v)) return `${path} must be a finite number (JSON numbers are kept as 64-bit doubles: at most ±1.7976931348623157e308)`
    } else if (v !== null && typeof v === 'object') {
      if (depth + 1 > MAX_JSON_DEPTH) return `${path} is nested too deeply: at most ${MAX_JSON_DEPTH} levels of objects and arrays`
      for (const [k, child] of Object.entries(v)) stack.push({ v: child, path: `${path}/${k}`, depth: depth + 1 })
    }
  }
  return null
}

export function parseJsonBody(text: string): unknown {
  if (text.length === 0) throw Errors.malformedJson('the body is empty; send a JSON object')
  let value: unknown
  try {
    value = sjson.parse(text, null, { protoAction: 'error', constructorAction: 'error' })
  } catch (e) {
    throw Errors.malformedJson(`the body is not valid JSON: ${(e as Error).message}`)
  }
  const problem = jsonBodyProblem(value)
  if (problem) throw Errors.validation(problem)
  return value
}
