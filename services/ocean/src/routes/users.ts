// Users: POST /users creates one (409 on a taken username or email), GET /users/:id reads it.
import type { FastifyPluginAsync } from 'fastify'
import { Errors } from '../errors.ts'
import { idParams, pathId, textId } from '../validation.ts'

const userBody = {
  type: 'object',
  required: ['username', 'email'],
  additionalProperties: false,
  properties: {
    username: textId,
    email: { type: 'string', maxLength: 254, pattern: '^[^\\s@]+@[^\\s@]+\\.[^\\s@]+$' },
  },
} as const

const userRoutes: FastifyPluginAsync = async (app) => {
  const { users } = app.ocean

  app.post<{ Body: { username: string; email: string } }>('/users', { schema: { body: userBody } }, async (req, reply) => {
    return reply.status(201).send(users.create(req.body.username, req.body.email))
  })

  app.get<{ Params: { id: string } }>('/users/:id', { schema: { params: idParams } }, async (req) => {
    const id = pathId(req.params.id)
    const user = users.get(id)
    if (!user) throw Errors.notFound(`user ${id} not found`)
    return user
  })
}

export default userRoutes
