// The one error catalog of the Ocean service: every error a client sees has a stable code,
// an HTTP status and a message that says what to do next.
export class OceanError extends Error {
  override readonly name = 'OceanError'
  constructor(
    readonly code: string,
    message: string,
    readonly statusCode: number,
    readonly details?: unknown,
  ) {
    super(message)
  }
}

export function isOceanError(e: unknown): e is OceanError {
  return e instanceof OceanError
}

type Factory = (message?: string, details?: unknown) => OceanError

function createError(code: string, defaultMessage: string, statusCode: number): Factory {
  return (message = defaultMessage, details) => new OceanError(code, message, statusCode, details)
}

export const Errors = {
  config: createError('OCEAN_E_CONFIG', 'invalid configuration', 500),
  validation: createError('OCEAN_E_VALIDATION', 'the request does not match the schema', 400),
  malformedJson: createError('OCEAN_E_MALFORMED_JSON', 'the body is not valid JSON', 400),
  unsupportedMedia: createError('OCEAN_E_UNSUPPORTED_MEDIA_TYPE', 'send Content-Type: application/json', 415),
  bodyTooLarge: createError('OCEAN_E_BODY_TOO_LARGE', 'the body is larger than this route accepts', 413),
  unauthorized: createError('OCEAN_E_UNAUTHORIZED', 'send Authorization: Bearer <OCEAN_API_KEY>', 401),
  notFound: createError('OCEAN_E_NOT_FOUND', 'not found', 404),
  routeNotFound: createError('OCEAN_E_ROUTE_NOT_FOUND', 'no such route; see the README for the API', 404),
  uriTooLong: createError('OCEAN_E_URI_TOO_LONG', 'a path segment is too long: ids are at most 256 bytes of UTF-8', 414),
  badUrl: createError('OCEAN_E_BAD_URL', 'the URL is not valid: percent-encode ids with encodeURIComponent', 400),
  conflict: createError('OCEAN_E_CONFLICT', 'already exists', 409),
  idempotencyConflict: createError('OCEAN_E_IDEMPOTENCY_CONFLICT', 'this idempotency key was already used with a different request', 409),
  insufficientCredits: createError('OCEAN_E_INSUFFICIENT_CREDITS', 'not enough credits; add credits first', 402),
  timestampRange: createError('OCEAN_E_TIMESTAMP_RANGE', 'timestamp out of the accepted range', 400),
  batchTooLarge: createError('OCEAN_E_BATCH_TOO_LARGE', 'too many events in one batch', 413),
  bufferUnavailable: createError('OCEAN_E_BUFFER_UNAVAILABLE', 'the ingestion buffer (Redis) is unavailable; nothing was accepted: retry later', 503),
  backlogFull: createError(
    'OCEAN_E_BACKLOG_FULL',
    'the service is storing events more slowly than they arrive: nothing was accepted; retry after the seconds in the Retry-After header (the same Idempotency-Key is fine)',
    429,
  ),
  bufferOutcomeUnknown: createError(
    'OCEAN_E_BUFFER_OUTCOME_UNKNOWN',
    'the ingestion buffer (Redis) did not answer in time: the events may or may not have been accepted. Retry with the same Idempotency-Key header to have them stored exactly once (without one, a retry may store them twice)',
    503,
  ),
  analyticsUnavailable: createError('OCEAN_E_ANALYTICS_UNAVAILABLE', 'the analytics engine is unavailable; retry later', 503),
  routeRetired: createError('OCEAN_E_ROUTE_RETIRED', 'this route was retired', 410),
  internal: createError('OCEAN_E_INTERNAL', 'internal error; the server log has the details', 500),
} as const
