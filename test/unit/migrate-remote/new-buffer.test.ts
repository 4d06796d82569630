// The one-off drain of the new side's buffer as Docker create options, and the verdict on what it
// reports: what stops a rollback, and what the message tells the operator to do.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type Docker from 'dockerode'
import { bufferProblem, drainName, drainSpec, DRAIN_SECONDS } from '../../../runbooks/lib/migrate-remote/new-buffer.ts'
import { stackNames } from '../../../runbooks/lib/deploy/stack-spec.ts'
import { sessionsLine } from '../../../runbooks/rollback.ts'
import type { BufferAccount } from '../../../services/ocean/src/buffer/drain-result.ts'

const names = stackNames('ocean')
const api = {
  Image: 'sha256:abc',
  Config: { Cmd: ['node', '--max-semi-space-size=4', 'dist/main.mjs'], Env: ['OCEAN_ENV_FILE=/run/ocean/ocean.env', 'OCEAN_HOST=0.0.0.0', 'OCEAN_ROLE=api', 'PATH=/usr/bin'] },
  HostConfig: { Binds: ['ocean-data:/data', '/etc/ocean-ops/ocean/ocean.env:/run/ocean/ocean.env:ro'] },
} as unknown as Docker.ContainerInspectInfo
const clean: BufferAccount = { drained: true, storedEntries: 3, storedEvents: 41, oldestUnstoredId: null, pendingEntries: 0, deadLetter: { count: 0, sourceIds: [] } }

describe('draining the new side\'s buffer', () => {
  it('runs the deployed image once, as the drain role, on the stack network with the data volume, publishing nothing', () => {
    const spec = drainSpec(api, names)
    assert.equal(spec.name, drainName(names))
    assert.equal(spec.name, 'ocean-drain')
    assert.equal(spec.Image, 'sha256:abc')
    assert.deepEqual(spec.Cmd, api.Config.Cmd)
    assert.ok(spec.Env!.includes('OCEAN_ROLE=drain'))
    assert.ok(!spec.Env!.includes('OCEAN_ROLE=api'), 'one role only')
    assert.ok(spec.Env!.includes(`OCEAN_DRAIN_SECONDS=${DRAIN_SECONDS}`))
    assert.ok(spec.Env!.includes('OCEAN_ENV_FILE=/run/ocean/ocean.env'), 'the same secrets file, never secrets in the environment')
    assert.equal(spec.HostConfig!.NetworkMode, names.network)
    assert.deepEqual(spec.HostConfig!.Binds, api.HostConfig.Binds)
    assert.equal(spec.HostConfig!.PortBindings, undefined)
    assert.equal(spec.HostConfig!.RestartPolicy!.Name, 'no')
  })

  it('accounts for the buffer only when everything is stored and nothing dead-lettered', () => {
    assert.equal(bufferProblem(clean, names), null)
    const left = bufferProblem({ ...clean, drained: false, oldestUnstoredId: '1700000000000-3', pendingEntries: 2 }, names)
    assert.match(left!, /from entry 1700000000000-3; 2 delivered/)
    assert.match(left!, /--resume/)
    const dead = bufferProblem({ ...clean, deadLetter: { count: 21, sourceIds: ['1-0', '2-0'] } }, names)
    assert.match(dead!, /21 entries are in the dead-letter stream ocean:telemetry:dead \(source ids 1-0, 2-0, …\)/)
    assert.match(dead!, /XRANGE ocean:telemetry:dead/)
    assert.match(dead!, /REDISCLI_AUTH=/, 'the password is read on the host, never printed')
    assert.match(bufferProblem({ ...clean, deadLetter: { count: 1, sourceIds: ['9-1'] } }, names)!, /^1 entry is in .*\(source ids 9-1\)/)
  })

  it('says plainly what a rollback does to sessions made on the new side', () => {
    assert.match(sessionsLine(1), /^Sessions: 1 change to sessions/)
    assert.match(sessionsLine(7), /7 changes .* log in again/)
  })
})
