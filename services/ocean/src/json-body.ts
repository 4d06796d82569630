// The JSON body parser: Fastify's own (secure-json-parse: __proto__ and constructor.prototype
// refused), then one walk over the parsed value that refuses what JSON can carry and the service
// cannot keep: numbers outside the double range (1e309 parses to Infinity and would be stored as
// null) and nesting deeper than MAX_JSON_DEPTH (a 4,000-level profile could be stored but not
// sent back). Both are a 400 naming the field, before any route sees the body: nothing is stored.
import sjson from 'secure-json-parse'
import { Errors } from './errors.ts'

/** Objects and arrays nested deeper than this are refused; the body itself is depth 1. */
export const MAX_JSON_DEPTH = 32

type Broken = { rule: 'number' | 'depth'; keys: string[] }

/**
 * The first place under `v` (document order) that breaks a rule: the keys to it, innermost first.
 * Allocates nothing while all is well: the walk runs over every value of every batch (a stack of
 * {value, path} records per value cost ~12 ms a 5,000-event batch, six times JSON.parse's time).
 * Recursion stops at MAX_JSON_DEPTH, so a deep value is no stack overflow.
 */
function broken(v: unknown, depth: number): Broken | null {
  if (typeof v === 'number') return Number.isFinite(v) ? null : { rule: 'number', keys: [] }
  if (v === null || typeof v !== 'object') return null
  if (depth + 1 > MAX_JSON_DEPTH) return { rule: 'depth', keys: [] }
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      const found = broken(v[i], depth + 1)
      if (found) {
        found.keys.push(String(i))
        return found
      }
    }
    return null
  }
  const o = v as Record<string, unknown>
  for (const k in o) {
    const found = Object.hasOwn(o, k) ? broken(o[k], depth + 1) : null
    if (found) {
      found.keys.push(k)
      return found
    }
  }
  return null
}

/** Where `value` breaks the rules ("body/events/3/value must be a finite number"), or null. */
export function jsonBodyProblem(value: unknown): string | null {
  const found = broken(value, 0)
  if (!found) return null
  const path = ['body', ...found.keys.reverse()].join('/')
  return found.rule === 'number'
    ? `${path} must be a finite number (JSON numbers are kept as 64-bit doubles: at most ±1.7976931348623157e308)`
    : `${path} is nested too deeply: at most ${MAX_JSON_DEPTH} levels of objects and arrays`
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
