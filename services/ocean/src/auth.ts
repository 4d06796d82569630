// Bearer-key check for /api/ocean/* and /metrics. Both sides are hashed first so the comparison
// takes the same time whatever the length or content of the key sent.
import crypto from 'node:crypto'
import { Errors } from './errors.ts'

export function bearerChecker(apiKey: string): (header: string | undefined) => void {
  const expected = crypto.createHash('sha256').update(apiKey).digest()
  return (header) => {
    // The scheme is case-insensitive (RFC 9110 §11.1); the key is not.
    const match = /^bearer +(\S+) *$/i.exec(header ?? '')
    const sent = crypto.createHash('sha256').update(match?.[1] ?? '').digest()
    if (!match || !crypto.timingSafeEqual(sent, expected)) throw Errors.unauthorized()
  }
}
