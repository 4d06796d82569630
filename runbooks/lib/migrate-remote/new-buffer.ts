// The new side's ingestion buffer is data: events answered 202 may still sit in its Redis stream.
// Before anything reads DuckDB as "what the new side holds" (the rollback's reverse sync), the API
// is stopped and a one-off container of the deployed image (OCEAN_ROLE=drain, on the stack's
// network, no port published) stores what the stream holds and reports what it could not.
import type Docker from 'dockerode'
import { DRAIN_RESULT_PREFIX, type BufferAccount } from '@ocean-ops/ocean/buffer/drain-result'
import { containerLogs, inspectContainer, removeContainer } from '../deploy/docker-ops.ts'
import type { StackNames } from '../deploy/stack-spec.ts'
import { OpsError } from '@ocean-ops/common'

/** How long the one-off drain may take to store a backlog (a crashed engine can leave millions). */
export const DRAIN_SECONDS = 600
const STREAM = 'ocean:telemetry'

export const drainName = (names: StackNames) => `${names.ocean.replace(/-api$/, '')}-drain`

/** The drain container: the API container's image, environment and volumes; no port, no restart (pure; unit-tested). */
export function drainSpec(api: Docker.ContainerInspectInfo, names: StackNames): Docker.ContainerCreateOptions {
  return {
    name: drainName(names),
    Image: api.Image,
    Cmd: api.Config.Cmd,
    Env: [...(api.Config.Env ?? []).filter((e) => !/^OCEAN_(ROLE|DRAIN_SECONDS)=/.test(e)), 'OCEAN_ROLE=drain', `OCEAN_DRAIN_SECONDS=${DRAIN_SECONDS}`],
    Labels: { 'ocean-ops.role': 'drain' },
    HostConfig: {
      NetworkMode: names.network,
      Binds: api.HostConfig.Binds ?? [],
      RestartPolicy: { Name: 'no' },
      CapDrop: ['ALL'],
      SecurityOpt: ['no-new-privileges'],
    },
  }
}

/** What is not accounted for, and what to do about it; null when every acknowledged event is stored (pure; unit-tested). */
export function bufferProblem(a: BufferAccount, names: StackNames): string | null {
  const inspect = (stream: string) => `docker exec -e REDISCLI_AUTH="$(sudo grep -o 'requirepass .*' ${names.redisConf} | cut -d' ' -f2)" ${names.redis} redis-cli XRANGE ${stream} - +`
  if (!a.drained) {
    return `the new side's buffer still holds events acknowledged to clients that are not in DuckDB (from entry ${a.oldestUnstoredId ?? '?'}; ${a.pendingEntries} delivered, not acknowledged) after a drain of up to ${DRAIN_SECONDS} s. ` +
      `Look at the drain's log above and at \`${inspect(STREAM)}\`; once the cause is fixed, run the same command with --resume (it drains again before anything is synced back)`
  }
  if (a.deadLetter.count > 0) {
    return `${a.deadLetter.count} entr${a.deadLetter.count === 1 ? 'y is' : 'ies are'} in the dead-letter stream ${STREAM}:dead (source ids ${a.deadLetter.sourceIds.join(', ')}${a.deadLetter.count > a.deadLetter.sourceIds.length ? ', …' : ''}): events acknowledged to clients that the engine could not store, so a rollback would leave them behind. ` +
      `Inspect them with \`${inspect(`${STREAM}:dead`)}\`; add back what can be stored (XADD ${STREAM}), remove the entries (XDEL), then run the same command with --resume`
  }
  return null
}

/**
 * Stores what the new side's stream holds (the API must be stopped: the caller freezes it first)
 * and returns the account. The stack's Redis is started if it is not running: its AOF holds the
 * acknowledged events. Throws OPS_E_BUFFER when the buffer cannot be read at all.
 */
export async function drainNewBuffer(docker: Docker, names: StackNames, log: (line: string) => void): Promise<BufferAccount> {
  const api = await inspectContainer(docker, names.ocean)
  if (!api) throw new OpsError('OPS_E_PRECONDITION', `no ${names.ocean} container on the new host: nothing to drain from (run \`ocean-ops deploy\`?)`)
  if (api.State.Running) throw new OpsError('OPS_E_PRECONDITION', `${names.ocean} is running: the buffer is drained only with the API stopped (nothing may be acknowledged after the drain)`)
  const redis = await inspectContainer(docker, names.redis)
  if (!redis) throw new OpsError('OPS_E_BUFFER', `no ${names.redis} container on the new host: the buffer of acknowledged events cannot be read. Find out what removed it before going on`)
  if (!redis.State.Running) {
    log(`${names.redis} is not running: starting it (its AOF holds the buffered events)`)
    await docker.getContainer(redis.Id).start()
  }
  // A drain an interrupted run left behind goes first (one DuckDB writer).
  await removeContainer(docker, drainName(names))
  const c = await docker.createContainer(drainSpec(api, names))
  try {
    await c.start()
    const exit = (await c.wait()) as { StatusCode: number }
    const out = await containerLogs(docker, c.id, 400)
    const line = out.split('\n').find((l) => l.startsWith(DRAIN_RESULT_PREFIX))
    if (exit.StatusCode !== 0 || !line) {
      const tail = out.split('\n').filter(Boolean).slice(-5).join('\n')
      throw new OpsError('OPS_E_BUFFER', `the new side's buffer could not be drained (exit ${exit.StatusCode}); its acknowledged events are not accounted for. Is ${names.redis} healthy? Its last words:\n${tail}\nFix it, then run the same command with --resume`)
    }
    return JSON.parse(line.slice(DRAIN_RESULT_PREFIX.length)) as BufferAccount
  } finally {
    await c.remove({ force: true }).catch(() => undefined)
  }
}
