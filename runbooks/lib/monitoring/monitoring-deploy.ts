// The deploy's monitoring step: the settings directory on the new host (configs, the alert rules
// from monitoring/prometheus/, the secrets Prometheus and redis_exporter need; all 0600 and the
// monitoring user's), the volumes, and the four containers, each replaced only when its definition
// or the files it mounts changed, and each health-gated.
import crypto from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import type Docker from 'dockerode'
import { ensureVolume, inspectContainer, removeContainer, waitHealthy } from '../deploy/docker-ops.ts'
import { labels, type StackNames } from '../deploy/stack-spec.ts'
import type { SshHost } from '../host/ssh-host.ts'
import { writeIfChanged } from '../host/write-if-changed.ts'
import { resolveSecret, type MonitoringSection } from '../inventory.ts'
import { alertmanagerConfig, DEFAULT_MONITORING, prometheusConfig, type MonitoringSettings } from './monitoring-config.ts'
import { MONITORING_UID, monitoringNames, monitoringSpecs, settingsFiles } from './monitoring-spec.ts'

export const RULES_DIR = 'monitoring/prometheus'

/** The inventory's section with defaults and secrets resolved. */
export function monitoringSettings(section: MonitoringSection = {}): MonitoringSettings {
  const d = DEFAULT_MONITORING
  const a = section.alerts ?? {}
  return {
    scrapeSeconds: section.scrapeSeconds ?? d.scrapeSeconds,
    retentionDays: section.retentionDays ?? d.retentionDays,
    retentionSizeGb: section.retentionSizeGb ?? d.retentionSizeGb,
    alerts: {
      webhookUrl: a.webhookUrl ? resolveSecret(a.webhookUrl, 'the alert webhook URL') : undefined,
      email: a.email ? { ...a.email, password: a.email.password ? resolveSecret(a.email.password, 'the SMTP password') : undefined } : undefined,
      groupWaitSeconds: a.groupWaitSeconds ?? d.alerts.groupWaitSeconds,
      groupIntervalSeconds: a.groupIntervalSeconds ?? d.alerts.groupIntervalSeconds,
      repeatHours: a.repeatHours ?? d.alerts.repeatHours,
    },
  }
}

/** Rule files shipped with this checkout (the ones `npm test` runs promtool on), minus their tests. */
export function ruleFiles(repoRoot: string): Record<string, string> {
  const dir = path.join(repoRoot, RULES_DIR)
  const out: Record<string, string> = {}
  for (const f of fs.readdirSync(dir).sort()) if (f.endsWith('.yml') && !f.endsWith('.test.yml')) out[f] = fs.readFileSync(path.join(dir, f), 'utf8')
  return out
}

export interface MonitoringDeployInput {
  stack: string
  image: string
  names: StackNames
  section?: MonitoringSection
  secrets: { apiKey: string; redisPassword: string }
  repoRoot: string
}

export async function deployMonitoring(host: SshHost, docker: Docker, i: MonitoringDeployInput, progress: (l: string) => void): Promise<{ changed: boolean }> {
  const m = monitoringNames(i.names, i.stack)
  const s = monitoringSettings(i.section)
  const f = settingsFiles(m)
  const rules = ruleFiles(i.repoRoot)
  const files: Record<string, string> = {
    [f.prometheusConfig]: prometheusConfig(i.stack, m, s),
    [f.alertmanagerConfig]: alertmanagerConfig(s.alerts),
    [f.oceanKey]: i.secrets.apiKey,
    [f.redisPassword]: i.secrets.redisPassword,
    ...Object.fromEntries(Object.entries(rules).map(([name, text]) => [`${f.rules}/${name}`, text])),
  }
  const owner = `${MONITORING_UID}:${MONITORING_UID}`
  await host.exec(['install', '-d', '-m', '0700', '-o', String(MONITORING_UID), '-g', String(MONITORING_UID), m.settingsDir, f.rules], { sudo: true })
  let changed = false
  for (const [file, text] of Object.entries(files)) if (await writeIfChanged(host, file, text, owner)) changed = true
  // Rule files no longer shipped are removed, so Prometheus does not keep evaluating them.
  const listed = await host.exec(['find', f.rules, '-maxdepth', '1', '-name', '*.yml'], { sudo: true })
  for (const file of listed.stdout.split('\n').filter(Boolean)) {
    if (!(file in files)) {
      await host.exec(['rm', '-f', file], { sudo: true })
      changed = true
    }
  }
  const stackLabel = { [labels.stack]: i.stack }
  for (const v of [m.prometheusVolume, m.alertmanagerVolume, m.textfileVolume]) await ensureVolume(docker, v, stackLabel)

  const contentOf = (hostPath: string) => sha(Object.entries(files).filter(([k]) => k === hostPath || k.startsWith(`${hostPath}/`)).sort().map(([k, v]) => `${k}\0${v}`).join('\0'))
  for (const spec of monitoringSpecs(i.stack, i.image, m, s, contentOf)) {
    const current = await inspectContainer(docker, spec.name!)
    if (current?.State.Running && current.Config.Labels?.[labels.spec] === spec.Labels![labels.spec]) continue
    if (current) await removeContainer(docker, spec.name!)
    await (await docker.createContainer(spec)).start()
    await waitHealthy(docker, spec.name!, 90_000, progress)
    progress(`${spec.name} healthy`)
    changed = true
  }
  return { changed }
}

function sha(text: string): string {
  return crypto.createHash('sha256').update(text).digest('hex')
}
