// The Hetzner client production uses, against the local stand-in of the documented API: moving
// the floating IP moves real TCP traffic; errors, failed actions and rate limits are handled.
import assert from 'node:assert/strict'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, describe, test } from 'node:test'
import { HetznerClient } from '../../../runbooks/lib/hetzner/hetzner-client.ts'
import { isOpsError } from '../../../packages/common/src/ops-error.ts'
import { HetznerStandin } from '../../../runbooks/lab/standins/hetzner-api.ts'

async function backend(name: string): Promise<{ port: number; server: http.Server }> {
  const server = http.createServer((_req, res) => res.end(name))
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()))
  return { port: (server.address() as AddressInfo).port, server }
}

describe('floating IP moves through the Hetzner API stand-in', () => {
  let standin: HetznerStandin
  let client: HetznerClient
  let floating: number
  const backends: http.Server[] = []
  const whoAnswers = async () => (await fetch(`http://127.0.0.1:${floating}/`, { headers: { connection: 'close' } })).text()

  before(async () => {
    const oldB = await backend('old')
    const newB = await backend('new')
    backends.push(oldB.server, newB.server)
    standin = new HetznerStandin({ token: 'test-token-123', floatingIpId: 77, servers: { 1: { host: '127.0.0.1', port: oldB.port }, 2: { host: '127.0.0.1', port: newB.port } }, initialServer: 1, actionMs: 200 })
    const s = await standin.start()
    floating = s.floatingPort
    client = new HetznerClient({ token: 'test-token-123', endpoint: s.url })
  })
  after(async () => {
    await standin.stop()
    for (const b of backends) b.close()
  })

  test('read, assign, wait for the action: traffic follows', async () => {
    assert.equal((await client.getFloatingIp(77)).server, 1)
    assert.equal(await whoAnswers(), 'old')
    const action = await client.assignFloatingIp(77, 2)
    assert.equal(action.status, 'running')
    assert.equal(await whoAnswers(), 'old', 'nothing moves before the action finishes')
    const done = await client.waitForAction(action, { intervalMs: 50 })
    assert.equal(done.status, 'success')
    assert.equal((await client.getFloatingIp(77)).server, 2)
    assert.equal(await whoAnswers(), 'new')
    assert.deepEqual(standin.calls.filter((c) => c.startsWith('POST')), ['POST /v1/floating_ips/77/actions/assign'])
  })

  test('a failed action is an error with Hetzner\'s code, and the IP stays put', async () => {
    standin.failNextAssign = { code: 'server_not_found', message: 'server not found' }
    const action = await client.assignFloatingIp(77, 1)
    await assert.rejects(client.waitForAction(action, { intervalMs: 50 }), (e) => isOpsError(e) && e.code === 'OPS_E_HETZNER' && /server_not_found/.test(e.message))
    assert.equal(await whoAnswers(), 'new')
  })

  test('rate limits and server errors are retried; bad input and bad tokens are not', async () => {
    standin.refuseNext = { count: 2, status: 429, code: 'rate_limit_exceeded' }
    assert.equal((await client.getFloatingIp(77)).id, 77)
    await assert.rejects(client.assignFloatingIp(77, 99), (e) => isOpsError(e) && /invalid_input/.test(e.message))
    await assert.rejects(new HetznerClient({ token: 'wrong', endpoint: standin.url }).getFloatingIp(77), (e) => isOpsError(e) && /401 unauthorized/.test(e.message) && /token/.test(e.message))
    await assert.rejects(client.getFloatingIp(78), (e) => isOpsError(e) && /404 not_found/.test(e.message))
    standin.refuseNext = { count: 9, status: 503, code: 'unavailable' }
    await assert.rejects(new HetznerClient({ token: 'test-token-123', endpoint: standin.url, attempts: 2 }).getFloatingIp(77), (e) => isOpsError(e) && /503/.test(e.message))
    standin.refuseNext = undefined
  })
})
