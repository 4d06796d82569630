// The monitoring stack's configuration as the deploy writes it: checked by Prometheus's and
// Alertmanager's own validators (promtool check config, amtool check-config), and the container
// specs hold to the rules: nothing published beyond the host's loopback, no secret in Env or Cmd.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { describe, it } from 'node:test'
import { stackNames } from '../../../runbooks/lib/deploy/stack-spec.ts'
import { alertmanagerConfig, DEFAULT_MONITORING, IN_CONTAINER, prometheusConfig } from '../../../runbooks/lib/monitoring/monitoring-config.ts'
import { monitoringSettings, ruleFiles } from '../../../runbooks/lib/monitoring/monitoring-deploy.ts'
import { monitoringNames, monitoringSpecs } from '../../../runbooks/lib/monitoring/monitoring-spec.ts'
import { parseInventory } from '../../../runbooks/lib/inventory.ts'
import { requireTool } from '../../helpers/require-tool.ts'

const repoRoot = path.resolve(import.meta.dirname, '../../..')
const names = monitoringNames(stackNames('ocean'), 'ocean')

/** The config with its in-container paths moved into a temp dir that holds what they point at. */
function stage(text: string, files: Record<string, string>): { dir: string; file: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ocean-mon-'))
  for (const [rel, content] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true })
    fs.writeFileSync(path.join(dir, rel), content)
  }
  const file = path.join(dir, 'config.yml')
  fs.writeFileSync(file, text.replaceAll(IN_CONTAINER.dir, dir))
  return { dir, file }
}

function check(tool: string, args: string[]): { ok: boolean; out: string } {
  const r = spawnSync(tool, args, { encoding: 'utf8' })
  return { ok: r.status === 0, out: `${r.stdout}${r.stderr}` }
}

describe('prometheus.yml', () => {
  const promtool = requireTool('promtool', 'apt-get install prometheus (bash scripts/setup test does)')
  it('passes promtool check config, with the shipped rule files loaded through its rule_files glob', () => {
    const rules = Object.fromEntries(Object.entries(ruleFiles(repoRoot)).map(([f, t]) => [`rules/${f}`, t]))
    assert.ok(Object.keys(rules).length >= 1, 'monitoring/prometheus has a rule file')
    const { dir, file } = stage(prometheusConfig('ocean', names, DEFAULT_MONITORING), { ...rules, 'ocean-api-key': 'k' })
    const r = check(promtool, ['check', 'config', file])
    fs.rmSync(dir, { recursive: true })
    assert.ok(r.ok, r.out)
    assert.match(r.out, /SUCCESS: \d+ rules found/, 'the rules were found and checked too')
  })
  it('scrapes the API with its key from a file, every exporter, itself and Alertmanager', () => {
    const c = JSON.parse(prometheusConfig('ocean', names, { ...DEFAULT_MONITORING, scrapeSeconds: 5 }).replace(/^#.*\n/, ''))
    assert.deepEqual(c.scrape_configs.map((j: { job_name: string }) => j.job_name), ['ocean', 'node', 'redis', 'prometheus', 'alertmanager'])
    assert.deepEqual(c.scrape_configs[0].static_configs[0].targets, ['ocean-api:8030'])
    assert.equal(c.scrape_configs[0].authorization.credentials_file, IN_CONTAINER.oceanKey)
    assert.equal(c.global.scrape_interval, '5s')
    assert.deepEqual(c.alerting.alertmanagers[0].static_configs[0].targets, ['ocean-alertmanager:9093'])
  })
  it('is refused by promtool when broken (the check can fail)', () => {
    const { dir, file } = stage(prometheusConfig('ocean', names, DEFAULT_MONITORING).replace('"scrape_interval": "15s"', '"scrape_interval": "fast"'), { 'ocean-api-key': 'k' })
    const r = check(promtool, ['check', 'config', file])
    fs.rmSync(dir, { recursive: true })
    assert.equal(r.ok, false, r.out)
  })
})

describe('alertmanager.yml', () => {
  const amtool = requireTool('amtool', 'apt-get install prometheus-alertmanager (bash scripts/setup test does)')
  const a = DEFAULT_MONITORING.alerts
  for (const [label, routing] of [
    ['no receiver configured', a],
    ['a webhook', { ...a, webhookUrl: 'https://hooks.example.com/T000/secret-token' }],
    ['email with SMTP auth', { ...a, email: { to: 'ops@example.com', from: 'ocean@example.com', smarthost: 'smtp.example.com:587', username: 'ocean', password: 'pw' } }],
  ] as const) {
    it(`passes amtool check-config: ${label}`, () => {
      const { dir, file } = stage(alertmanagerConfig(routing), {})
      const r = check(amtool, ['check-config', file])
      fs.rmSync(dir, { recursive: true })
      assert.ok(r.ok, r.out)
    })
  }
  it('sends resolved notifications too, and is refused by amtool when broken', () => {
    const text = alertmanagerConfig({ ...a, webhookUrl: 'https://hooks.example.com/x' })
    assert.equal(JSON.parse(text.replace(/^#.*\n/, '')).receivers[0].webhook_configs[0].send_resolved, true)
    const { dir, file } = stage(text.replace('"receiver": "operator"', '"receiver": "nobody"'), {})
    const r = check(amtool, ['check-config', file])
    fs.rmSync(dir, { recursive: true })
    assert.equal(r.ok, false, r.out)
  })
})

describe('monitoring containers', () => {
  const specs = monitoringSpecs('ocean', 'ocean-monitoring:test', names, DEFAULT_MONITORING, (p) => `digest of ${p}`)
  it('publish only Prometheus and Alertmanager, and only on 127.0.0.1', () => {
    const published = specs.flatMap((s) => Object.entries(s.HostConfig?.PortBindings ?? {}).flatMap(([port, b]) => (b as Array<{ HostIp: string }>).map((x) => `${s.name} ${port} ${x.HostIp}`)))
    assert.deepEqual(published.sort(), ['ocean-alertmanager 9093/tcp 127.0.0.1', 'ocean-prometheus 9090/tcp 127.0.0.1'])
  })
  it('carry no secret in Env or Cmd: the key and the password are mounted files', () => {
    for (const s of specs) assert.ok(!(s.Env ?? []).some((e) => /PASSWORD|KEY|TOKEN/i.test(e)), s.name)
    const exporter = specs.find((s) => s.name === 'ocean-redis-exporter')!
    assert.ok(exporter.Cmd![2]!.startsWith(`REDIS_PASSWORD="$(cat ${IN_CONTAINER.redisPassword})" exec `), exporter.Cmd![2])
    const prom = specs.find((s) => s.name === 'ocean-prometheus')!
    assert.ok(prom.HostConfig!.Binds!.includes(`${names.settingsDir}/ocean-api-key:${IN_CONTAINER.oceanKey}:ro`))
    assert.ok(prom.Cmd!.includes('--storage.tsdb.retention.size=5GB') && prom.Cmd!.includes('--storage.tsdb.retention.time=30d'))
  })
  it('run unprivileged, read-only, and are replaced only when what they mount changed', () => {
    for (const s of specs) {
      assert.equal(s.User, '10003')
      assert.equal(s.HostConfig!.ReadonlyRootfs, true)
      assert.deepEqual(s.HostConfig!.CapDrop, ['ALL'])
    }
    const again = monitoringSpecs('ocean', 'ocean-monitoring:test', names, DEFAULT_MONITORING, (p) => (p.endsWith('/rules') ? 'new rules' : `digest of ${p}`))
    const changed = again.filter((s, i) => s.Labels!['ocean-ops.spec'] !== specs[i]!.Labels!['ocean-ops.spec']).map((s) => s.name)
    assert.deepEqual(changed, ['ocean-prometheus'])
  })
})

describe('the inventory\'s monitoring section', () => {
  const base = { schemaVersion: 1, newHost: { address: 'h', user: 'root', knownHosts: 'h ssh-ed25519 AAAAC3Nza' } }
  it('takes a webhook by secret reference and refuses it inline', () => {
    assert.ok(parseInventory({ ...base, monitoring: { alerts: { webhookUrl: 'env:OCEAN_ALERT_WEBHOOK' } } }).monitoring)
    assert.throws(() => parseInventory({ ...base, monitoring: { alerts: { webhookUrl: 'https://hooks.example.com/secret' } } }), /secret reference/)
    assert.throws(() => parseInventory({ ...base, monitoring: { retentionDays: 0 } }), /retentionDays/)
  })
  it('resolves the webhook secret and fills in the defaults', () => {
    process.env.OCEAN_TEST_WEBHOOK = 'https://hooks.example.com/abc'
    const s = monitoringSettings({ alerts: { webhookUrl: 'env:OCEAN_TEST_WEBHOOK', groupWaitSeconds: 5 } })
    assert.equal(s.alerts.webhookUrl, 'https://hooks.example.com/abc')
    assert.equal(s.alerts.groupWaitSeconds, 5)
    assert.equal(s.alerts.groupIntervalSeconds, DEFAULT_MONITORING.alerts.groupIntervalSeconds)
    assert.equal(s.scrapeSeconds, 15)
  })
})

it('the monitoring image carries the tools the specs run (built from Debian packages)', () => {
  // The Dockerfile names every binary a spec starts.
  const dockerfile = fs.readFileSync(path.join(repoRoot, 'services/monitoring/Dockerfile'), 'utf8')
  const specs = monitoringSpecs('ocean', 'img', names, DEFAULT_MONITORING, () => '')
  for (const s of specs) {
    const bin = s.Cmd![0] === 'sh' ? /exec (\S+)/.exec(s.Cmd![2]!)![1]! : s.Cmd![0]!
    assert.match(dockerfile, new RegExp(`\\b${bin}\\b`), `${s.name} runs ${bin}`)
  }
})
