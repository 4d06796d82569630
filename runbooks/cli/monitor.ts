// `ocean-ops monitor [--prometheus-port N] [--alertmanager-port N]`: SSH tunnels to the new host's
// Prometheus and Alertmanager (never published), open until Ctrl-C.
import type { Command } from 'commander'
import { closeHosts, connectHost } from '../lib/host/connect.ts'
import { loadInventory } from '../lib/inventory.ts'
import { openMonitorTunnels } from '../monitor.ts'

export function registerMonitor(cli: Command): void {
  cli
    .command('monitor')
    .description('Open SSH tunnels to the new host\'s Prometheus and Alertmanager and print their local URLs (until Ctrl-C).')
    .option('-i, --inventory <file>', 'inventory file', process.env.OCEAN_OPS_INVENTORY ?? 'inventory.json')
    .option('--prometheus-port <n>', 'local port for Prometheus (0: any free one)', Number, 9090)
    .option('--alertmanager-port <n>', 'local port for Alertmanager (0: any free one)', Number, 9093)
    .action(async (o: { inventory: string; prometheusPort: number; alertmanagerPort: number }) => {
      const inv = loadInventory(o.inventory)
      const t = await openMonitorTunnels(() => connectHost(inv.newHost), { prometheus: o.prometheusPort, alertmanager: o.alertmanagerPort }).catch(async (e: unknown) => {
        await closeHosts()
        throw e
      })
      for (const x of t.tunnels) process.stdout.write(`${x.name.padEnd(13)} ${x.url}  (the new host's 127.0.0.1:${x.remotePort}, through SSH)\n`)
      process.stdout.write('Ctrl-C closes the tunnels.\n')
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve)
        process.once('SIGTERM', resolve)
      })
      await t.close()
      await closeHosts()
    })
}
