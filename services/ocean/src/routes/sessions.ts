// Sessions: create (returns the token once), validate, revoke.
import type { FastifyPluginAsync } from 'fastify'
import { positiveId } from '../validation.ts'

const token = { type: 'string', minLength: 16, maxLength: 128, pattern: '^[A-Za-z0-9_-]+$' } as const
const tokenBody = { type: 'object', required: ['token'], additionalProperties: false, properties: { token } } as const

const sessionRoutes: FastifyPluginAsync = async (app) => {
  const { sessions } = app.ocean

  app.post<{ Body: { user_id: number; ttl_seconds: number } }>(
    '/sessions/create',
    {
      schema: {
        body: {
          type: 'object',
          required: ['user_id'],
          additionalProperties: false,
          properties: { user_id: positiveId, ttl_seconds: { type: 'integer', minimum: 60, maximum: 30 * 86400, default: 86400 } },
        },
      },
    },
    async (req, reply) => reply.status(201).send(sessions.create(req.body.user_id, req.body.ttl_seconds)),
  )

  app.post<{ Body: { token: string } }>('/sessions/validate', { schema: { body: tokenBody } }, async (req) => sessions.validate(req.body.token))

  app.post<{ Body: { token: string } }>('/sessions/revoke', { schema: { body: tokenBody } }, async (req) => ({
    revoked: sessions.revoke(req.body.token),
  }))
}

export default sessionRoutes
