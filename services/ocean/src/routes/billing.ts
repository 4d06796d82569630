// Billing: balance, add credits, consume credits (never below zero). Both changes take an
// optional idempotency_key: a retried request with the same key is applied once.
import type { FastifyPluginAsync } from 'fastify'
import { pathId, userIdParams } from '../validation.ts'

const changeBody = {
  type: 'object',
  required: ['credits'],
  additionalProperties: false,
  properties: {
    credits: { type: 'integer', minimum: 1, maximum: 1_000_000_000 },
    idempotency_key: { type: 'string', pattern: '^[A-Za-z0-9._:-]{1,128}$' },
  },
} as const

interface Change {
  Params: { user_id: string }
  Body: { credits: number; idempotency_key?: string }
}

const billingRoutes: FastifyPluginAsync = async (app) => {
  const { billing } = app.ocean

  app.get<{ Params: { user_id: string } }>('/billing/:user_id', { schema: { params: userIdParams } }, async (req) => billing.balance(pathId(req.params.user_id, 'user_id')))

  app.post<Change>('/billing/:user_id/add-credits', { schema: { params: userIdParams, body: changeBody } }, async (req) =>
    billing.addCredits(pathId(req.params.user_id, 'user_id'), req.body.credits, req.body.idempotency_key),
  )

  app.post<Change>('/billing/:user_id/consume', { schema: { params: userIdParams, body: changeBody } }, async (req) =>
    billing.consumeCredits(pathId(req.params.user_id, 'user_id'), req.body.credits, req.body.idempotency_key),
  )
}

export default billingRoutes
