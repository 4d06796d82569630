import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { anomaliesQuery, compareQuery, metricExpr, statsQuery, timeseriesQuery } from '../../../services/ocean/src/analytics/analytics-queries.ts'

const evil = "x'; DROP TABLE telemetry; --"

describe('analytics queries', () => {
  it('binds sensor ids and times as parameters, never as SQL text', () => {
    const q = statsQuery(evil, 'value', { from: 1000, to: 2000 })
    assert.ok(!q.sql.includes('DROP'))
    assert.equal(q.params.sensor, evil)
    assert.equal(q.params.from, 1_000_000n)
    assert.equal(q.params.to, 2_000_000n)
    assert.match(q.sql, /sk = hash\(\$sensor\) AND sensor_id = \$sensor AND ts >= make_timestamp\(\$from::BIGINT\) AND ts < make_timestamp\(\$to::BIGINT\)/)
  })
  it('omits absent range bounds', () => {
    const q = timeseriesQuery('s', 'value', '5m', {})
    assert.ok(!q.sql.includes('$from') && !q.sql.includes('$to'))
    assert.match(q.sql, /epoch_ms\(ts\) \/\/ 300000 \* 300000/)
    assert.deepEqual(Object.keys(q.params), ['sensor'])
  })
  it('reads a named reading from data through a bound JSON path', () => {
    const params: Record<string, string> = {}
    assert.equal(metricExpr('value', params), 'value')
    assert.match(metricExpr('temp_c', params), /json_extract_string\(data, \$path\)/)
    assert.equal(params.path, '$."temp_c"')
    assert.throws(() => metricExpr('a"b', {}), RangeError)
  })
  it('compares several sensors with one parameter each', () => {
    const q = compareQuery(['a', evil], 'value', '1h', {})
    assert.deepEqual([q.params.s0, q.params.s1], ['a', evil])
    assert.ok(!q.sql.includes('DROP'))
  })
  it('checks the integers it has to inline', () => {
    assert.match(anomaliesQuery('s', 'value', 60, 3, 100, {}).sql, /ROWS BETWEEN 60 PRECEDING AND 1 PRECEDING/)
    assert.throws(() => anomaliesQuery('s', 'value', 1, 3, 100, {}), RangeError)
    assert.throws(() => anomaliesQuery('s', 'value', 60.5, 3, 100, {}), RangeError)
    assert.throws(() => anomaliesQuery('s', 'value', 60, 3, 0, {}), RangeError)
  })
})
