// The names of the monitoring stack's containers, volumes and settings directory on the new host.
import type { StackNames } from '../deploy/stack-spec.ts'

export interface MonitoringNames {
  api: string
  redis: string
  network: string
  prometheus: string
  alertmanager: string
  nodeExporter: string
  redisExporter: string
  prometheusVolume: string
  alertmanagerVolume: string
  /** node_exporter's textfile directory: the backup agent writes its metrics there. */
  textfileVolume: string
  settingsDir: string
}

export function monitoringNames(n: StackNames, stack: string): MonitoringNames {
  return {
    api: n.ocean,
    redis: n.redis,
    network: n.network,
    prometheus: `${stack}-prometheus`,
    alertmanager: `${stack}-alertmanager`,
    nodeExporter: `${stack}-node-exporter`,
    redisExporter: `${stack}-redis-exporter`,
    prometheusVolume: `${stack}-prometheus-data`,
    alertmanagerVolume: `${stack}-alertmanager-data`,
    textfileVolume: `${stack}-textfile`,
    settingsDir: `${n.configDir}/monitoring`,
  }
}

