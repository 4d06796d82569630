// Pure builders of the monitoring stack's configuration: prometheus.yml (what is scraped, where
// alerts go, the rule files) and alertmanager.yml (who hears about an alert). Written as JSON,
// which is YAML, so no YAML library is needed to produce them; checked by `promtool check config`
// and `amtool check-config` in the tests.
import type { MonitoringNames } from './monitoring-names.ts'

export interface MonitoringSettings {
  /** Seconds between scrapes and between rule evaluations (default 15). */
  scrapeSeconds: number
  /** How long samples are kept (default 30 days) ... */
  retentionDays: number
  /** ... and at most this much of the data volume (default 5 GB): the older go first. */
  retentionSizeGb: number
  alerts: AlertRouting
}

export interface AlertRouting {
  /** Alertmanager's webhook receiver: a URL that may carry a token (a secret, resolved). */
  webhookUrl?: string
  email?: { to: string; from: string; smarthost: string; username?: string; password?: string }
  /** Wait before the first notification of a group, between updates, before repeating. */
  groupWaitSeconds: number
  groupIntervalSeconds: number
  repeatHours: number
}

export const DEFAULT_MONITORING: MonitoringSettings = {
  scrapeSeconds: 15,
  retentionDays: 30,
  retentionSizeGb: 5,
  alerts: { groupWaitSeconds: 30, groupIntervalSeconds: 300, repeatHours: 4 },
}

/** Where the files are inside the containers (the deploy mounts the host's settings directory there). */
export const IN_CONTAINER = {
  dir: '/etc/ocean-monitoring',
  prometheusConfig: '/etc/ocean-monitoring/prometheus.yml',
  rules: '/etc/ocean-monitoring/rules',
  oceanKey: '/etc/ocean-monitoring/ocean-api-key',
  redisPassword: '/etc/ocean-monitoring/redis-password',
  alertmanagerConfig: '/etc/ocean-monitoring/alertmanager.yml',
}

const seconds = (n: number) => `${n}s`

export function prometheusConfig(stack: string, n: MonitoringNames, s: MonitoringSettings): string {
  const job = (name: string, target: string, extra: Record<string, unknown> = {}) => ({ job_name: name, ...extra, static_configs: [{ targets: [target] }] })
  const config = {
    global: { scrape_interval: seconds(s.scrapeSeconds), evaluation_interval: seconds(s.scrapeSeconds), scrape_timeout: seconds(Math.min(10, s.scrapeSeconds)), external_labels: { stack } },
    rule_files: [`${IN_CONTAINER.rules}/*.yml`],
    alerting: { alertmanagers: [{ static_configs: [{ targets: [`${n.alertmanager}:9093`] }] }] },
    scrape_configs: [
      // The API's /metrics is behind its key; one scrape answers for every API process and the engine.
      job('ocean', `${n.api}:8030`, { authorization: { type: 'Bearer', credentials_file: IN_CONTAINER.oceanKey } }),
      job('node', `${n.nodeExporter}:9100`),
      job('redis', `${n.redisExporter}:9121`),
      job('prometheus', '127.0.0.1:9090'),
      job('alertmanager', `${n.alertmanager}:9093`),
    ],
  }
  return `# Written by ocean-ops deploy; edit the inventory's monitoring section, not this file.\n${JSON.stringify(config, null, 2)}\n`
}

export function alertmanagerConfig(a: AlertRouting): string {
  const receiver: Record<string, unknown> = { name: 'operator' }
  if (a.webhookUrl) receiver.webhook_configs = [{ url: a.webhookUrl, send_resolved: true }]
  if (a.email) {
    receiver.email_configs = [{
      to: a.email.to,
      from: a.email.from,
      smarthost: a.email.smarthost,
      ...(a.email.username ? { auth_username: a.email.username, auth_password: a.email.password ?? '' } : {}),
      send_resolved: true,
    }]
  }
  const config = {
    route: {
      receiver: 'operator',
      group_by: ['alertname', 'instance'],
      group_wait: seconds(a.groupWaitSeconds),
      group_interval: seconds(a.groupIntervalSeconds),
      repeat_interval: `${a.repeatHours}h`,
    },
    // A warning is not repeated while a critical one about the same thing fires.
    inhibit_rules: [{ source_matchers: ['severity="critical"'], target_matchers: ['severity="warning"'], equal: ['alertname', 'instance'] }],
    receivers: [receiver],
  }
  return `# Written by ocean-ops deploy (0600: it may hold a webhook token or SMTP password).\n${JSON.stringify(config, null, 2)}\n`
}

/** Prometheus keeps at most this many days and bytes; the flags say so. */
export function retentionFlags(s: MonitoringSettings): string[] {
  return [`--storage.tsdb.retention.time=${s.retentionDays}d`, `--storage.tsdb.retention.size=${s.retentionSizeGb}GB`]
}
