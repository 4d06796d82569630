// The server type check alone, on data shaped like Hetzner's GET /server_types answer.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { checkServerType, serverTypeProblems, type ServerTypeInfo } from '../../../infra/server-type-check.ts'
import { SERVER_TYPES } from './pulumi-mocks.ts'

const type = (name: string) => SERVER_TYPES[name] as unknown as ServerTypeInfo

describe('server type check', () => {
  it('accepts cx43 (8 cores, 16 GB) where it is offered', () => {
    assert.deepEqual(serverTypeProblems(type('cx43'), 'fsn1'), [])
    assert.doesNotThrow(() => checkServerType(type('cx43'), 'cx43', 'hel1'))
  })

  it('refuses fewer than 8 cores or less than 16 GB', () => {
    assert.deepEqual(serverTypeProblems(type('cx33'), 'fsn1'), [
      'it has 4 cores; at least 8 are needed',
      'it has 8 GB of memory; at least 16 GB are needed',
    ])
    assert.deepEqual(serverTypeProblems({ cores: 8, memory: 15.9, locations: [{ name: 'fsn1' }] }, 'fsn1'), ['it has 15.9 GB of memory; at least 16 GB are needed'])
  })

  it('refuses a type deprecated at the location, saying when it goes away', () => {
    assert.deepEqual(serverTypeProblems(type('cx42'), 'fsn1'), ['it is deprecated at fsn1; it becomes unavailable after 2026-01-01T00:00:00Z'])
    assert.throws(() => checkServerType(type('cpx41'), 'cpx41', 'ash'), /OPS_E_INFRA_SERVER_TYPE: server type cpx41 cannot be used: it is deprecated at ash.*pulumi config set ocean:serverType cx43/)
  })

  it('uses the per-location flag: deprecated in one location only is fine elsewhere', () => {
    const mixed: ServerTypeInfo = { cores: 8, memory: 16, isDeprecated: false, locations: [{ name: 'fsn1', isDeprecated: true }, { name: 'nbg1', isDeprecated: false }] }
    assert.equal(serverTypeProblems(mixed, 'fsn1').length, 1)
    assert.deepEqual(serverTypeProblems(mixed, 'nbg1'), [])
  })

  it('falls back to the type-wide flag when Hetzner sends no locations', () => {
    assert.deepEqual(serverTypeProblems({ cores: 8, memory: 16, isDeprecated: true }, 'fsn1'), ['it is deprecated at fsn1'])
  })

  it('refuses a location the type is not offered at, or temporarily unavailable', () => {
    assert.deepEqual(serverTypeProblems(type('cx43'), 'sin'), ['it is not offered at sin (offered at: fsn1, nbg1, hel1)'])
    assert.deepEqual(serverTypeProblems({ cores: 8, memory: 16, locations: [{ name: 'fsn1', available: false }] }, 'fsn1'), ['it is currently unavailable at fsn1'])
  })
})
