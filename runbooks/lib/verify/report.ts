// The verification report in three forms: Markdown for people, JSON for tools, JUnit for CI.
import type { CheckResult } from './checks.ts'
import { reportJson, writeReport } from '@ocean-ops/common'

export interface VerifyReport {
  target: string
  startedAt: string
  ok: boolean
  checks: CheckResult[]
}

const esc = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ')
const xml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')

export function toMarkdown(r: VerifyReport): string {
  const failed = r.checks.filter((c) => !c.ok).length
  return [
    `# Verification of ${r.target}`,
    '',
    `${r.startedAt}: **${r.ok ? 'PASSED' : `FAILED (${failed} of ${r.checks.length} checks)`}**`,
    '',
    '| check | result | expected | actual | time |',
    '|---|---|---|---|---|',
    ...r.checks.map((c) => `| ${esc(c.name)} | ${c.ok ? 'pass' : '**FAIL**'} | ${esc(c.expected)} | ${esc(c.actual)} | ${c.ms.toFixed(0)} ms |`),
    '',
  ].join('\n')
}

export function toJUnit(r: VerifyReport): string {
  const failures = r.checks.filter((c) => !c.ok).length
  const total = r.checks.reduce((s, c) => s + c.ms, 0) / 1000
  const cases = r.checks.map((c) => {
    const open = `  <testcase classname="ocean-ops.verify" name="${xml(c.name)}" time="${(c.ms / 1000).toFixed(3)}"`
    return c.ok ? `${open}/>` : `${open}>\n    <failure message="${xml(`expected ${c.expected}, got ${c.actual}`)}"/>\n  </testcase>`
  })
  return `<?xml version="1.0" encoding="UTF-8"?>\n<testsuite name="ocean-ops verify ${xml(r.target)}" tests="${r.checks.length}" failures="${failures}" time="${total.toFixed(3)}" timestamp="${r.startedAt}">\n${cases.join('\n')}\n</testsuite>\n`
}

export interface ReportFiles { markdown: string; json: string; junit: string }

/** Write verify-<time>.{md,json,xml} into `dir`; returns the paths. */
export function writeVerifyReport(r: VerifyReport, dir: string): ReportFiles {
  const files = writeReport(dir, 'verify', r.startedAt, { json: reportJson(r), md: toMarkdown(r), xml: toJUnit(r) })
  return { markdown: files.md as string, json: files.json, junit: files.xml as string }
}
