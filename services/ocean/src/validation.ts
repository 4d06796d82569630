// JSON-schema validation: bodies are checked strictly (no type coercion, unknown fields refused,
// nothing silently removed); query strings and path parameters coerce "10" to 10 as usual.
import { Ajv } from 'ajv'
import type { FastifySchemaCompiler } from 'fastify'

const strict = new Ajv({ allErrors: false, coerceTypes: false, removeAdditional: false, useDefaults: true, strict: false })
const coercing = new Ajv({ allErrors: false, coerceTypes: true, removeAdditional: false, useDefaults: true, strict: false })

export const validatorCompiler: FastifySchemaCompiler<object> = ({ schema, httpPart }) =>
  (httpPart === 'body' ? strict : coercing).compile(schema)

// Shared pieces of schemas.
export const sensorId = { type: 'string', pattern: '^[\\p{L}\\p{N}._:@/-]{1,128}$' } as const
export const positiveId = { type: 'integer', minimum: 1, maximum: Number.MAX_SAFE_INTEGER } as const
export const idParams = { type: 'object', required: ['id'], properties: { id: positiveId }, additionalProperties: false } as const
export const userIdParams = { type: 'object', required: ['user_id'], properties: { user_id: positiveId }, additionalProperties: false } as const
export const documentKey = { type: 'string', pattern: '^[A-Za-z0-9._:@-]{1,128}$' } as const
