// The pure parts of running the engine on the new host: its argv and the source URL rewritten to
// the relay's end (credentials kept out of it: the password travels in PGPASSWORD / MYSQL_PWD).
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { mappingFromEnv } from '../../../packages/migrate/src/plan/mapping.ts'
import { engineArgv, engineEnv, relayedUrl } from '../../../runbooks/lib/migrate-remote/on-new-host.ts'

describe('migrate on the new host', () => {
  it('rewrites the old database URL to the relay on the new host, keeping user and database', () => {
    const r = relayedUrl('postgres://ocean_app@127.0.0.1:5432/ocean', 40123)
    assert.equal(r.url, 'postgres://ocean_app@127.0.0.1:40123/ocean')
    assert.deepEqual([r.host, r.port], ['127.0.0.1', 5432])
    assert.deepEqual(relayedUrl('mysql://legacy@db.internal/legacy', 9).port, 3306)
    assert.equal(relayedUrl('mysql://legacy@db.internal/legacy', 9).host, 'db.internal')
  })

  it('builds the engine argv with only the flags given', () => {
    assert.deepEqual(engineArgv('copy', 'postgres://u@127.0.0.1:1/d', {}), ['node', '/app/packages/migrate/dist/main.mjs', '--mode', 'copy', '--source', 'postgres://u@127.0.0.1:1/d', '--data', '/data'])
    assert.deepEqual(engineArgv('delta', 's', { resume: true, chunkRows: 500, lookbackMinutes: 5 }).slice(-5), ['--resume', '--chunk-rows', '500', '--lookback-minutes', '5'])
  })

  it('hands the password and a --mapping to the engine in its environment; the engine reads the mapping back', () => {
    assert.deepEqual(engineEnv('PGPASSWORD', undefined, undefined), [])
    const mapping = { preset: 'none' as const, include: ['invoices'], tables: { invoices: { target: 'sqlite' as const } } }
    const env = engineEnv('PGPASSWORD', 's3cret', mapping)
    assert.equal(env[0], 'PGPASSWORD=s3cret')
    const vars = Object.fromEntries(env.map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]))
    assert.deepEqual(mappingFromEnv(vars), mapping)
    assert.equal(mappingFromEnv({}), undefined)
    assert.throws(() => mappingFromEnv({ OCEAN_MIGRATE_MAPPING: '{"tables": 3' }), (e: Error & { code?: string }) => e.code === 'OPS_E_MIGRATE_MAPPING')
  })
})
