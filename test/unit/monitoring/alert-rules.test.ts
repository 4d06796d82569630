// The alert rules as Prometheus 2.42 loads them: promtool checks them and runs their unit tests
// (monitoring/prometheus/ocean-alerts.test.yml); every alert has a case that fires it and one where
// it stays quiet, and carries what an operator acts on. A broken rule makes the harness fail.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { after, describe, it } from 'node:test'
import { parse } from 'yaml'
import { requireTool } from '../../helpers/require-tool.ts'

const repoRoot = path.resolve(import.meta.dirname, '../../..')
const RULES = path.join(repoRoot, 'monitoring/prometheus/ocean-alerts.yml')
const TESTS = path.join(repoRoot, 'monitoring/prometheus/ocean-alerts.test.yml')

interface Rule {
  alert?: string
  record?: string
  expr: string
  for?: string
  labels?: Record<string, string>
  annotations?: Record<string, string>
}
interface RuleFile { groups: Array<{ name: string; rules: Rule[] }> }
interface AlertCase {
  eval_time: string
  alertname: string
  exp_alerts?: Array<{ exp_labels?: Record<string, string>; exp_annotations?: Record<string, string> }>
}
interface TestFile { rule_files: string[]; tests: Array<{ name: string; alert_rule_test?: AlertCase[] }> }

const ruleFile = parse(fs.readFileSync(RULES, 'utf8')) as RuleFile
const testFile = parse(fs.readFileSync(TESTS, 'utf8')) as TestFile
const alerts = ruleFile.groups.flatMap((g) => g.rules).filter((r): r is Rule & { alert: string } => typeof r.alert === 'string')
const cases = testFile.tests.flatMap((t) => (t.alert_rule_test ?? []).map((c) => ({ test: t.name, ...c })))

const promtool = requireTool('promtool', 'apt-get install prometheus (bash scripts/setup test does)')

function run(args: string[], cwd = repoRoot): { ok: boolean; out: string } {
  const r = spawnSync(promtool, args, { cwd, encoding: 'utf8', timeout: 60_000 })
  return { ok: r.status === 0, out: `${r.stdout}${r.stderr}` }
}

const tempDirs: string[] = []
after(() => {
  for (const d of tempDirs) fs.rmSync(d, { recursive: true, force: true })
})

/** The rule file and its tests copied into a temp dir, the rule file's text changed by `edit`. */
function brokenCopy(edit: (text: string) => string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ocean-alerts-'))
  tempDirs.push(dir)
  const original = fs.readFileSync(RULES, 'utf8')
  const changed = edit(original)
  assert.notEqual(changed, original, 'the edit must change the rule file')
  fs.writeFileSync(path.join(dir, path.basename(RULES)), changed)
  fs.copyFileSync(TESTS, path.join(dir, path.basename(TESTS)))
  return dir
}

describe('alert rules (monitoring/prometheus/ocean-alerts.yml)', () => {
  it('pass promtool check rules', () => {
    const r = run(['check', 'rules', RULES])
    assert.ok(r.ok, r.out)
    assert.match(r.out, new RegExp(`SUCCESS: ${alerts.length} rules found`))
  })

  it('pass their promtool unit tests', () => {
    const r = run(['test', 'rules', TESTS])
    assert.ok(r.ok, r.out)
  })

  it('are one group, ocean, with unique alert names, and the tests load this file', () => {
    assert.deepEqual(ruleFile.groups.map((g) => g.name), ['ocean'])
    assert.equal(new Set(alerts.map((a) => a.alert)).size, alerts.length)
    assert.deepEqual(testFile.rule_files, [path.basename(RULES)])
  })

  it('include the alerts the issue asks for', () => {
    const names = new Set(alerts.map((a) => a.alert))
    for (const a of ['HostCpuHigh', 'OceanApiLatencyHigh', 'OceanIngestBacklogStale', 'OceanIngestBacklogGrowing', 'OceanDeadLetters',
      'RedisMemoryHigh', 'RedisAofWriteFailing', 'DiskSpaceLow', 'BackupStale', 'TargetDown', 'OceanTargetAbsent', 'OldServerMysqlRunning']) {
      assert.ok(names.has(a), `${a} is missing`)
    }
  })

  it('keep what the rehearsal relies on: TargetDown on job ocean, OceanIngestBacklogStale for 30s', () => {
    const byName = new Map(alerts.map((a) => [a.alert, a]))
    assert.match(byName.get('TargetDown')!.expr, /up\{job=~"[^"]*\bocean\b[^"]*"\} == 0/)
    assert.equal(byName.get('OceanIngestBacklogStale')!.for, '30s')
  })

  for (const a of alerts) {
    describe(a.alert, () => {
      it('has a severity, a summary, a description and a runbook naming a command', () => {
        assert.ok(['critical', 'warning'].includes(a.labels?.severity ?? ''), `severity: ${a.labels?.severity}`)
        for (const k of ['summary', 'description', 'runbook']) assert.ok((a.annotations?.[k] ?? '').trim().length > 10, `${k} is missing or empty`)
        assert.match(a.annotations!.runbook!, /`[^`]+`/, 'the runbook names a command to run (in backticks)')
      })

      it('has a unit test that fires it, with its severity', () => {
        const firing = cases.filter((c) => c.alertname === a.alert && (c.exp_alerts ?? []).length > 0)
        assert.ok(firing.length > 0, `no test case expects ${a.alert} to fire`)
        for (const c of firing) {
          for (const e of c.exp_alerts!) assert.equal(e.exp_labels?.severity, a.labels?.severity, `${c.test} at ${c.eval_time}`)
        }
      })

      it('has a unit test where it stays quiet', () => {
        const quiet = cases.filter((c) => c.alertname === a.alert && (c.exp_alerts ?? []).length === 0)
        assert.ok(quiet.length > 0, `no test case expects ${a.alert} not to fire`)
      })
    })
  }

  it('every test case names an alert of the rule file', () => {
    const names = new Set(alerts.map((a) => a.alert))
    for (const c of cases) assert.ok(names.has(c.alertname), `${c.test}: unknown alert ${c.alertname}`)
  })
})

describe('the harness fails on a broken rule', () => {
  it('promtool test rules fails when a threshold is wrong (HostCpuHigh at 60 % instead of 30 %)', () => {
    const dir = brokenCopy((t) => t.replace('rate(node_cpu_seconds_total{job="node",mode="idle"}[5m]))) > 30', 'rate(node_cpu_seconds_total{job="node",mode="idle"}[5m]))) > 60'))
    const r = run(['test', 'rules', path.basename(TESTS)], dir)
    assert.ok(!r.ok, `promtool passed a broken rule:\n${r.out}`)
    assert.match(r.out, /HostCpuHigh/)
  })

  it('promtool test rules fails when a `for` is dropped (OceanIngestBacklogStale fires at once)', () => {
    const dir = brokenCopy((t) => t.replace('for: 30s', 'for: 0s'))
    const r = run(['test', 'rules', path.basename(TESTS)], dir)
    assert.ok(!r.ok, `promtool passed a broken rule:\n${r.out}`)
    assert.match(r.out, /OceanIngestBacklogStale/)
  })

  it('promtool check rules fails on an expression that does not parse', () => {
    const dir = brokenCopy((t) => t.replace('expr: redis_up{job="redis"} == 0', 'expr: redis_up{job="redis" == 0'))
    const r = run(['check', 'rules', path.join(dir, path.basename(RULES))])
    assert.ok(!r.ok, `promtool passed a broken rule:\n${r.out}`)
  })
})
