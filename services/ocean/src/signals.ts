// SIGTERM/SIGINT run `stop` once, then exit 0 (or 1 if stopping failed). Shared by every role.
import type { Logger } from 'pino'

export function onSignal(log: Logger, stop: () => Promise<void>): void {
  let stopping = false
  const handler = (signal: string) => {
    if (stopping) return
    stopping = true
    log.info({ signal }, 'stopping')
    stop().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err }, 'error while stopping')
        process.exit(1)
      },
    )
  }
  process.on('SIGTERM', handler)
  process.on('SIGINT', handler)
}
