// Runs the migration engine where the data goes: a one-off container of the deployed Ocean image
// on the new host, with the service's data volume at /data and the engine's journal beside it
// (/data/.migrate), reaching the old database through a relay of the two pinned SSH connections
// (host/relay.ts). The API container is stopped for the run (DuckDB takes one writer) and started
// again after it; before the cutover it serves no client.
import type Docker from 'dockerode'
import crypto from 'node:crypto'
import readline from 'node:readline'
import { PassThrough } from 'node:stream'
import { inspectContainer, waitHealthy } from '../deploy/docker-ops.ts'
import { stackNames } from '../deploy/stack-spec.ts'
import type { SshHost } from '../host/ssh-host.ts'
import { openRelay } from '../host/relay.ts'
import { resolveSecret, type Inventory } from '../inventory.ts'
import { OpsError } from '@ocean-ops/common'
import { bufferProblem, drainNewBuffer } from './new-buffer.ts'
import { MAPPING_ENV, type MappingFile } from '@ocean-ops/migrate'
import type { Mode } from '@ocean-ops/migrate'
import { READY_LINE, RESULT_PREFIX, TARGETS_OPEN_LINE, type MigrationReport } from '@ocean-ops/migrate'

export interface OnNewHostOptions {
  /** Several modes run in order in one container (e.g. the cutover's delta, then mark-cutover). */
  mode: Mode | Mode[]
  /** Wait for `${readyUrl}/ready` after starting the API again, not for Docker's next health check. */
  readyUrl?: string
  /** Leave the API stopped afterwards (the rollback freezes the new side). */
  keepApiStopped?: boolean
  /** The caller has drained the new side's buffer with the API stopped (the rollback's own step). */
  bufferAccounted?: boolean
  /** Only the SQLite or only the DuckDB tables; a SQLite-only run leaves the API running (WAL takes both writers). */
  only?: 'sqlite' | 'duckdb'
  resume?: boolean
  chunkRows?: number
  lookbackMinutes?: number
  /** --mapping, handed to the engine (which records it in the journal for the later runs). */
  mapping?: MappingFile
  /** The warm final sync: the engine connects and plans, says READY (`onReady`), then waits for the old database's freeze. */
  waitFreeze?: boolean
  onReady?: () => void
  /** Aborting removes the engine's container (a warm engine whose freeze will not come). */
  signal?: AbortSignal
  log: (line: string) => void
}

export interface OnNewHostResult {
  ok: boolean
  report?: MigrationReport
  files?: { json: string; markdown: string }
  code?: string
  message?: string
  /** A warm run: its engine's time from seeing the freeze to its result. */
  afterFreezeMs?: number
}

/** The engine's argv in the container (pure; unit-tested). */
export function engineArgv(mode: Mode | Mode[], sourceUrl: string, o: { resume?: boolean; chunkRows?: number; lookbackMinutes?: number; sourceName?: string; only?: 'sqlite' | 'duckdb'; waitFreeze?: boolean }): string[] {
  return [
    'node', '/app/packages/migrate/dist/main.mjs',
    '--mode', [mode].flat().join(','), '--source', sourceUrl, '--data', '/data',
    ...(o.sourceName ? ['--source-name', o.sourceName] : []),
    ...(o.only ? ['--only', o.only] : []),
    ...(o.resume ? ['--resume'] : []),
    ...(o.chunkRows ? ['--chunk-rows', String(o.chunkRows)] : []),
    ...(o.lookbackMinutes ? ['--lookback-minutes', String(o.lookbackMinutes)] : []),
    ...(o.waitFreeze ? ['--wait-freeze'] : []),
  ]
}

/** The engine's environment in the container (pure; unit-tested): the database password, the mapping. */
export function engineEnv(passwordEnv: string, password: string | undefined, mapping: MappingFile | undefined): string[] {
  return [...(password ? [`${passwordEnv}=${password}`] : []), ...(mapping ? [`${MAPPING_ENV}=${JSON.stringify(mapping)}`] : [])]
}

/** The source URL the engine uses: the old database's, its host and port replaced by the relay's end. */
export function relayedUrl(url: string, port: number): { url: string; host: string; port: number } {
  const u = new URL(url)
  const host = u.hostname
  const original = Number(u.port || (u.protocol.startsWith('postgres') ? 5432 : 3306))
  u.hostname = '127.0.0.1'
  u.port = String(port)
  return { url: u.toString(), host, port: original }
}

export async function migrateOnNewHost(inv: Inventory, newHost: SshHost, oldHost: SshHost, docker: Docker, o: OnNewHostOptions): Promise<OnNewHostResult> {
  if (!inv.oldDatabase) throw new OpsError('OPS_E_INVENTORY', 'the inventory has no oldDatabase { url, password }: say where the old database is, as the old host sees it')
  const names = stackNames(inv.ocean?.stack ?? 'ocean')
  const api = await inspectContainer(docker, names.ocean)
  if (!api) throw new OpsError('OPS_E_PRECONDITION', `no ${names.ocean} container on the new host: run \`ocean-ops deploy\` first (the engine runs from the deployed image)`)
  const password = inv.oldDatabase.password ? resolveSecret(inv.oldDatabase.password, 'old database password') : undefined
  const scheme = new URL(inv.oldDatabase.url).protocol
  const passwordEnv = scheme.startsWith('postgres') ? 'PGPASSWORD' : 'MYSQL_PWD'

  const target = relayedUrl(inv.oldDatabase.url, 0)
  const relay = await openRelay(newHost, oldHost, target.host, target.port)
  // A SQLite-only run shares ocean.db with the running API (WAL); only DuckDB needs it stopped.
  const wasRunning = api.State.Running && o.only !== 'sqlite'
  // An interrupted run (ocean-ops killed mid-step) can leave its engine container behind, and the
  // API stopped: the leftover goes first (one DuckDB writer), and the API is started again after.
  await removeLeftoverEngines(docker)
  const startAfter = o.only !== 'sqlite' && !o.keepApiStopped
  const t0 = performance.now()
  const at = () => `${((performance.now() - t0) / 1000).toFixed(1)} s`
  let container: Docker.Container | undefined
  let earlyStart: Promise<unknown> | undefined
  try {
    // Everything that does not need the API stopped is done first: the stop-to-start gap is the
    // cutover's write freeze.
    const source = relayedUrl(inv.oldDatabase.url, relay.port).url
    container = await docker.createContainer({
      Image: api.Image,
      Cmd: engineArgv(o.mode, source, { ...o, sourceName: inv.oldDatabase.url }),
      Env: engineEnv(passwordEnv, password, o.mapping),
      Labels: { 'ocean-ops.role': 'migrate', 'ocean-ops.run': THIS_RUN },
      HostConfig: { NetworkMode: 'host', Binds: [`${names.oceanVolume}:/data`] },
    })
    const stream = await container.attach({ stream: true, stdout: true, stderr: true })
    const stdout = new PassThrough()
    const stderr = new PassThrough()
    docker.modem.demuxStream(stream, stdout, stderr)
    stream.on('end', () => {
      stdout.end()
      stderr.end()
    })
    let result: OnNewHostResult | undefined
    const outLines = readline.createInterface({ input: stdout, crlfDelay: Infinity })
    outLines.on('line', (line) => {
      if (line.startsWith(RESULT_PREFIX)) result = JSON.parse(line.slice(RESULT_PREFIX.length)) as OnNewHostResult
      else if (line === READY_LINE) o.onReady?.()
      // A warm DuckDB run holds telemetry.duckdb now, before the freeze: the API boots meanwhile and
      // takes the file when the engine lets go of it (OCEAN_DUCKDB_LOCK_WAIT_SECONDS), so its start
      // is not added after the sync. It answers nothing until then.
      else if (line === TARGETS_OPEN_LINE) {
        if (startAfter && o.waitFreeze) earlyStart ??= docker.getContainer(names.ocean).start().catch(() => undefined)
      }
      else o.log(line)
    })
    readline.createInterface({ input: stderr, crlfDelay: Infinity }).on('line', (line) => o.log(line))
    const closed = new Promise<void>((resolve) => outLines.once('close', () => resolve()))
    if (wasRunning) {
      o.log(`  stopping ${names.ocean} for the run (DuckDB takes one writer)`)
      await docker.getContainer(names.ocean).stop({ t: 30 }) // its worker drains the buffer on SIGTERM
      o.log(`  ${names.ocean} stopped (${at()})`)
    }
    // The buffer is data: the reverse sync reads DuckDB as "what the new side holds", so every
    // event the API acknowledged must be stored first (the rollback has done so in its own step).
    if ([o.mode].flat().includes('reverse') && !o.bufferAccounted) {
      const account = await drainNewBuffer(docker, names, o.log)
      const problem = bufferProblem(account, names)
      if (problem) throw new OpsError('OPS_E_BUFFER_UNACCOUNTED', problem)
      o.log(`  buffer: ${account.storedEvents} acknowledged events were still in Redis, now stored; nothing left (${at()})`)
    }
    await container.start()
    const started = container
    const abort = () => void started.remove({ force: true }).catch(() => undefined)
    if (o.signal?.aborted) abort()
    o.signal?.addEventListener('abort', abort, { once: true })
    // A dropped connection ends no stream over it: without this race the wait would never return.
    const dropped = newHost.ended.then(() => {
      throw new OpsError('OPS_E_SSH_CONNECT', `the SSH connection to ${newHost.name} dropped while the engine ran; its container may still finish on the new host (the next run removes it). Reconnect and run again`)
    })
    const exit = (await Promise.race([container.wait(), dropped])) as { StatusCode: number }
    await Promise.race([closed, new Promise((r) => setTimeout(r, 5000))])
    o.log(`  engine done (${at()})`)
    if (!result) throw new OpsError('OPS_E_MIGRATE_STATE', `the migration container on the new host ended (exit ${exit.StatusCode}) without a result; its output is above`)
    return result
  } finally {
    const cleanup = Promise.all([container?.remove({ force: true }).catch(() => undefined), relay.close()])
    try {
      if (startAfter && !newHost.closed) {
        await earlyStart
        // 304: running already. Anything else (the SSH connection dropped) fails now, not after the wait.
        await docker.getContainer(names.ocean).start().catch((e: { statusCode?: number }) => {
          if (e.statusCode !== 304) throw e
        })
        if (o.readyUrl) await waitReady(o.readyUrl, 120_000)
        else await waitHealthy(docker, names.ocean, 120_000, () => undefined)
        o.log(`  ${names.ocean} started again and ready (${at()})`)
      }
    } finally {
      // Over a dropped connection nothing answers: give the cleanup a few seconds, no more.
      await (newHost.closed ? Promise.race([cleanup, new Promise((r) => setTimeout(r, 5000).unref())]) : cleanup)
    }
  }
}

/** Marks this process's engine containers: the final sync runs two at once, neither is a leftover. */
const THIS_RUN = crypto.randomUUID()

let leftoversGone: Promise<void> | undefined

/** Calls that overlap (the final sync's two runs start together) share one pass; gone already or going (404, 409) is fine. */
function removeLeftoverEngines(docker: Docker): Promise<void> {
  leftoversGone ??= (async () => {
    const all = await docker.listContainers({ all: true, filters: { label: ['ocean-ops.role=migrate'] } })
    const left = all.filter((c) => c.Labels['ocean-ops.run'] !== THIS_RUN)
    await Promise.all(left.map((c) => docker.getContainer(c.Id).remove({ force: true }).catch((e: { statusCode?: number }) => {
      if (e.statusCode !== 404 && e.statusCode !== 409) throw e
    })))
  })().finally(() => (leftoversGone = undefined))
  return leftoversGone
}

/** Polls `${url}/ready` until it answers 200. */
export async function waitReady(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    try {
      if ((await fetch(`${url}/ready`, { signal: AbortSignal.timeout(2000) })).ok) return
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new OpsError('OPS_E_TIMEOUT', `${url}/ready did not answer 200 within ${Math.round(timeoutMs / 1000)} s: look at the API container's logs on the new host`)
    await new Promise((r) => setTimeout(r, 100))
  }
}
