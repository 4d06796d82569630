// The Grafana dashboard as code (monitoring/grafana/ocean-overview.json) and its provisioning:
// every panel has a title and a query, every query parses as PromQL (promtool checks them as
// recording rules) and names only metrics that exist, so a typo in a metric name fails here.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { after, describe, it } from 'node:test'
import { parse, stringify } from 'yaml'
import { requireTool } from '../../helpers/require-tool.ts'

const repoRoot = path.resolve(import.meta.dirname, '../../..')
const GRAFANA = path.join(repoRoot, 'monitoring/grafana')
const DASHBOARD = path.join(GRAFANA, 'ocean-overview.json')

interface Target { refId: string; expr?: string; datasource?: { type?: string; uid?: string } }
interface Panel {
  id: number
  type: string
  title?: string
  gridPos?: { x: number; y: number; w: number; h: number }
  datasource?: { type?: string; uid?: string }
  targets?: Target[]
  panels?: Panel[]
}
interface Variable { name: string; type: string; query?: string | { query?: string }; current?: { value?: string } }
interface Dashboard { uid: string; title: string; schemaVersion: number; panels: Panel[]; templating: { list: Variable[] } }

/** Every metric the dashboard may name: the Ocean service's catalog, its textfile metrics, and the exporters' ones it uses. */
const HISTOGRAMS = ['ocean_request_duration_seconds', 'ocean_database_query_duration_seconds']
const KNOWN_METRICS = new Set([
  ...HISTOGRAMS.flatMap((h) => [`${h}_bucket`, `${h}_sum`, `${h}_count`]),
  'ocean_requests_total', 'ocean_errors_total',
  'ocean_telemetry_ingested_total', 'ocean_telemetry_stored_total', 'ocean_telemetry_store_failures_total',
  'ocean_dead_letter_entries_total', 'ocean_dead_letter_entries',
  'ocean_queries_processed_total', 'ocean_database_errors_total',
  'ocean_cpu_usage_percent', 'ocean_memory_usage_bytes',
  'ocean_buffer_backlog_events', 'ocean_buffer_oldest_unstored_age_seconds', 'ocean_info',
  // node_exporter's textfile collector: the backup agent and the old server's MySQL detector.
  'ocean_backup_last_success_timestamp_seconds', 'ocean_backup_rpo_seconds', 'ocean_old_server_mysql_processes',
  // node_exporter 1.5 and redis_exporter 1.45 (names as the Debian packages' binaries expose them).
  'node_cpu_seconds_total', 'node_memory_MemTotal_bytes', 'node_memory_MemAvailable_bytes',
  'node_filesystem_avail_bytes', 'node_filesystem_size_bytes', 'node_load1', 'node_load5', 'node_load15',
  'redis_memory_used_bytes', 'redis_memory_max_bytes',
  'up',
])

/** Grafana's variables replaced by what Prometheus would get: a range and a match-all regex. */
function resolveVariables(expr: string): string {
  return expr
    .replace(/\$__rate_interval|\$__interval|\$__range|\$\{__rate_interval\}|\$\{__interval\}|\$\{__range\}/g, '5m')
    .replace(/\$\{?instance\}?/g, '.*')
}

const KEYWORDS = new Set(['and', 'or', 'unless', 'bool', 'offset', 'by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'inf', 'nan'])

/** The metric names a PromQL expression selects: identifiers that are not functions, keywords, labels or strings. */
function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ')
  const names = new Set<string>()
  for (const m of bare.matchAll(/(?<![\w.:])[a-zA-Z_:][\w:]*(?![\w:]|\s*\()/g)) {
    if (!KEYWORDS.has(m[0].toLowerCase())) names.add(m[0])
  }
  return [...names]
}

const dashboard = JSON.parse(fs.readFileSync(DASHBOARD, 'utf8')) as Dashboard
const allPanels = dashboard.panels.flatMap((p) => [p, ...(p.panels ?? [])])
const queryPanels = allPanels.filter((p) => p.type !== 'row')
/** The PromQL of every panel target and of every query variable (label_values' selector). */
const queries: Array<{ where: string; expr: string }> = [
  ...queryPanels.flatMap((p) => (p.targets ?? []).map((t) => ({ where: `panel ${p.id} "${p.title}" ${t.refId}`, expr: resolveVariables(t.expr ?? '') }))),
  ...dashboard.templating.list.filter((v) => v.type === 'query').map((v) => {
    const q = typeof v.query === 'string' ? v.query : v.query?.query ?? ''
    return { where: `variable ${v.name}`, expr: q.match(/^label_values\((.+),\s*\w+\)$/)?.[1] ?? q }
  }),
]

const tempDirs: string[] = []
after(() => {
  for (const d of tempDirs) fs.rmSync(d, { recursive: true, force: true })
})

/** promtool check rules over the expressions written as recording rules. */
function checkAsRules(exprs: string[]): { ok: boolean; out: string } {
  const promtool = requireTool('promtool', 'apt-get install prometheus (bash scripts/setup test does)')
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ocean-dashboard-'))
  tempDirs.push(dir)
  const file = path.join(dir, 'dashboard-queries.yml')
  fs.writeFileSync(file, stringify({ groups: [{ name: 'dashboard', rules: exprs.map((expr, i) => ({ record: `dashboard:query_${i}`, expr })) }] }))
  const r = spawnSync(promtool, ['check', 'rules', file], { encoding: 'utf8', timeout: 60_000 })
  return { ok: r.status === 0, out: `${r.stdout}${r.stderr}` }
}

describe('Grafana dashboard (monitoring/grafana/ocean-overview.json)', () => {
  it('is a dashboard of schema version 36 or later with a fixed uid', () => {
    assert.equal(dashboard.uid, 'ocean-overview')
    assert.ok(dashboard.title)
    assert.ok(dashboard.schemaVersion >= 36 && dashboard.schemaVersion <= 39, `schemaVersion ${dashboard.schemaVersion}`)
  })

  it('has unique panel ids, and every panel fits the 24-column grid', () => {
    const ids = allPanels.map((p) => p.id)
    assert.equal(new Set(ids).size, ids.length, `duplicate ids: ${ids.join(',')}`)
    for (const p of allPanels) {
      assert.ok(Number.isInteger(p.id) && p.id > 0, `panel ${p.title}: id ${p.id}`)
      assert.ok(p.gridPos && p.gridPos.x >= 0 && p.gridPos.w > 0 && p.gridPos.x + p.gridPos.w <= 24, `panel ${p.id}: gridPos`)
    }
  })

  it('has the rows the issue asks for', () => {
    const rows = allPanels.filter((p) => p.type === 'row').map((p) => p.title)
    for (const r of ['System overview', 'API performance', 'Telemetry ingestion', 'Analytics']) assert.ok(rows.includes(r), `row ${r} is missing (rows: ${rows.join(', ')})`)
  })

  it('has a title and at least one query on every panel, each from the Prometheus data source', () => {
    assert.ok(queryPanels.length >= 15, `${queryPanels.length} panels`)
    const promDs = (ds?: { type?: string; uid?: string }) => ds?.type === 'prometheus' && (ds.uid === '${DS_PROMETHEUS}' || ds.uid === 'prometheus')
    for (const p of queryPanels) {
      assert.ok(p.title?.trim(), `panel ${p.id} has no title`)
      assert.ok((p.targets ?? []).length > 0, `panel ${p.id} "${p.title}" has no target`)
      assert.ok(promDs(p.datasource), `panel ${p.id}: datasource ${JSON.stringify(p.datasource)}`)
      for (const t of p.targets!) {
        assert.ok(t.expr?.trim(), `panel ${p.id} ${t.refId}: no expr`)
        assert.ok(promDs(t.datasource ?? p.datasource), `panel ${p.id} ${t.refId}: datasource`)
      }
    }
  })

  it('shows the panels the issue names', () => {
    const exprs = queries.map((q) => q.expr).join('\n')
    for (const m of ['node_cpu_seconds_total', 'node_memory_MemAvailable_bytes', 'node_filesystem_avail_bytes', 'node_load1',
      'ocean_requests_total', 'ocean_request_duration_seconds_bucket', 'ocean_errors_total',
      'ocean_telemetry_ingested_total', 'ocean_telemetry_stored_total', 'ocean_buffer_backlog_events', 'ocean_buffer_oldest_unstored_age_seconds', 'ocean_dead_letter_entries',
      'ocean_queries_processed_total', 'ocean_database_query_duration_seconds_bucket',
      'redis_memory_used_bytes', 'redis_memory_max_bytes', 'ocean_backup_last_success_timestamp_seconds']) {
      assert.ok(new RegExp(`\\b${m}\\b`).test(exprs), `no panel queries ${m}`)
    }
    assert.ok(queries.some((q) => q.expr.includes('ocean_request_duration_seconds_bucket') && q.expr.includes('route!~"/health|/ready|/metrics"')), 'latency leaves the probes out')
  })

  it('leaves no Grafana variable unresolved in a query', () => {
    for (const q of queries) assert.doesNotMatch(q.expr, /\$/, `${q.where}: ${q.expr}`)
  })

  it('has queries that all parse as PromQL (promtool check rules)', () => {
    const r = checkAsRules(queries.map((q) => q.expr))
    assert.ok(r.ok, r.out)
    assert.match(r.out, new RegExp(`SUCCESS: ${queries.length} rules found`))
  })

  it('names only known metrics', () => {
    for (const q of queries) {
      const names = metricNames(q.expr)
      assert.ok(names.length > 0, `${q.where}: no metric found in ${q.expr}`)
      for (const n of names) assert.ok(KNOWN_METRICS.has(n), `${q.where}: unknown metric ${n} in ${q.expr}`)
    }
  })
})

describe('the dashboard checks can fail', () => {
  it('a query that does not parse fails promtool', () => {
    const r = checkAsRules(['sum(rate(ocean_requests_total{job="ocean"}[5m])'])
    assert.ok(!r.ok, r.out)
  })

  it('a misspelt metric is found, functions, labels and keywords are not', () => {
    assert.deepEqual(metricNames('sum by (route) (rate(ocean_request_total{job="ocean",route!~"/health"}[5m]))'), ['ocean_request_total'])
    assert.deepEqual(
      metricNames('histogram_quantile(0.99, sum by (le) (rate(a_bucket{x="y"}[5m]))) > 0.01 and on() sum(rate(b_count[5m])) >= 1e3 unless time() - c offset 5m').sort(),
      ['a_bucket', 'b_count', 'c'],
    )
  })
})

describe('Grafana provisioning', () => {
  it('provisions the Prometheus data source under the uid the dashboard defaults to', () => {
    const ds = parse(fs.readFileSync(path.join(GRAFANA, 'provisioning/datasources/prometheus.yml'), 'utf8')) as { apiVersion: number; datasources: Array<{ uid: string; type: string; url: string }> }
    assert.equal(ds.apiVersion, 1)
    assert.equal(ds.datasources.length, 1)
    assert.equal(ds.datasources[0]!.type, 'prometheus')
    const variable = dashboard.templating.list.find((v) => v.name === 'DS_PROMETHEUS')
    assert.equal(variable?.type, 'datasource')
    assert.equal(ds.datasources[0]!.uid, variable?.current?.value)
    assert.match(ds.datasources[0]!.url, /^http:\/\/.+:9090$/)
  })

  it('loads dashboards from /var/lib/grafana/dashboards', () => {
    const d = parse(fs.readFileSync(path.join(GRAFANA, 'provisioning/dashboards/ocean.yml'), 'utf8')) as { apiVersion: number; providers: Array<{ type: string; options: { path: string } }> }
    assert.equal(d.apiVersion, 1)
    assert.equal(d.providers[0]?.type, 'file')
    assert.equal(d.providers[0]?.options.path, '/var/lib/grafana/dashboards')
  })
})
