// Profiles (POST /profiles/store, GET /profiles/:id) and metadata (POST|GET /metadata/:key):
// small JSON documents, stored whole.
import type { FastifyPluginAsync } from 'fastify'
import { Errors } from '../errors.ts'
import { documentKey, positiveId } from '../validation.ts'

const documentRoutes: FastifyPluginAsync = async (app) => {
  const { documents } = app.ocean

  app.post<{ Body: { id: string; user_id?: number; profile: Record<string, unknown> } }>(
    '/profiles/store',
    {
      schema: {
        body: {
          type: 'object',
          required: ['id', 'profile'],
          additionalProperties: false,
          properties: { id: documentKey, user_id: positiveId, profile: { type: 'object' } },
        },
      },
    },
    async (req, reply) => reply.status(201).send(documents.storeProfile(req.body.id, req.body.user_id ?? null, req.body.profile)),
  )

  app.get<{ Params: { id: string } }>(
    '/profiles/:id',
    { schema: { params: { type: 'object', properties: { id: documentKey }, required: ['id'] } } },
    async (req) => {
      const profile = documents.getProfile(req.params.id)
      if (!profile) throw Errors.notFound(`profile ${JSON.stringify(req.params.id)} not found`)
      return profile
    },
  )

  const keyParams = { type: 'object', properties: { key: documentKey }, required: ['key'] } as const

  app.post<{ Params: { key: string }; Body: { value: unknown } }>(
    '/metadata/:key',
    { schema: { params: keyParams, body: { type: 'object', required: ['value'], additionalProperties: false, properties: { value: {} } } } },
    async (req) => documents.setMetadata(req.params.key, req.body.value),
  )

  app.get<{ Params: { key: string } }>('/metadata/:key', { schema: { params: keyParams } }, async (req) => {
    const entry = documents.getMetadata(req.params.key)
    if (!entry) throw Errors.notFound(`metadata ${JSON.stringify(req.params.key)} not found`)
    return entry
  })
}

export default documentRoutes
