// JSON-schema validation: bodies are checked strictly (no type coercion, unknown fields refused,
// nothing silently removed); query strings and path parameters coerce "10" to 10 as usual, except
// numeric ids, which are matched as exact decimal text first (so "0x1", "1e0", "01" are refused).
import { Ajv, type AnySchemaObject, type SchemaValidateFunction } from 'ajv'
import type { FastifySchemaCompiler } from 'fastify'
import { Errors } from './errors.ts'
import { DECIMAL_ID, ID_MAX_BYTES, idProblem, parseDecimalId } from './ids.ts'

// `oceanId: <max bytes>`: the identifier rule of ids.ts, with its reason as the error message.
const oceanIdKeyword = {
  keyword: 'oceanId',
  type: 'string',
  schemaType: 'number',
  errors: true,
  validate: function check(maxBytes: number, data: string) {
    const problem = idProblem(data, maxBytes)
    ;(check as SchemaValidateFunction).errors = problem ? [{ keyword: 'oceanId', message: problem, params: {} }] : []
    return problem === null
  } as SchemaValidateFunction,
} as const

function ajv(coerceTypes: boolean): Ajv {
  const a = new Ajv({ allErrors: false, coerceTypes, removeAdditional: false, useDefaults: true, strict: false })
  a.addKeyword(oceanIdKeyword)
  return a
}
const strict = ajv(false)
const coercing = ajv(true)

export const validatorCompiler: FastifySchemaCompiler<AnySchemaObject> = ({ schema, httpPart }) =>
  (httpPart === 'body' ? strict : coercing).compile(schema)

// Shared pieces of schemas. Text ids (usernames, sensor ids, profile ids, metadata keys) follow
// ids.ts: any Unicode text without control characters or lone surrogates, 1–256 bytes of UTF-8.
export const textId = { type: 'string', minLength: 1, maxLength: ID_MAX_BYTES, oceanId: ID_MAX_BYTES } as const
export const sensorId = textId
export const documentKey = textId
export const positiveId = { type: 'integer', minimum: 1, maximum: Number.MAX_SAFE_INTEGER } as const
// A numeric id in a path: the exact decimal text, then the number (coerced only after the pattern).
const decimalPathId = { type: 'string', pattern: DECIMAL_ID } as const
export const idParams = { type: 'object', required: ['id'], properties: { id: decimalPathId }, additionalProperties: false } as const
export const userIdParams = { type: 'object', required: ['user_id'], properties: { user_id: decimalPathId }, additionalProperties: false } as const

/** The number a validated decimal path id names; 400 if it is past 2^53 - 1 (not exact as a number). */
export function pathId(text: string, name = 'id'): number {
  const n = parseDecimalId(text)
  if (n === null) throw Errors.validation(`params/${name} must be a decimal integer from 1 to ${Number.MAX_SAFE_INTEGER}, got ${JSON.stringify(text)}`)
  return n
}
