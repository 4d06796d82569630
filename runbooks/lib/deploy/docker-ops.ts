// Docker operations the deploy runbook composes: ship an image without a registry, make sure a
// network/volume exists, wait for a container's health, show its logs.
import { PassThrough, type Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import Docker from 'dockerode'
import { OpsError } from '@ocean-ops/common'

export type Progress = (line: string) => void

export async function imageIdOf(docker: Docker, ref: string): Promise<string | undefined> {
  try {
    return (await docker.getImage(ref).inspect()).Id
  } catch (e) {
    if ((e as { statusCode?: number }).statusCode === 404) return undefined
    throw e
  }
}

/**
 * Copy `ref` from the local engine to `remote` (`docker save` -> stream -> `docker load`),
 * unless the remote already has that exact image id. Returns whether bytes were sent.
 */
export async function shipImage(local: Docker, remote: Docker, ref: string, progress: Progress): Promise<{ id: string; shipped: boolean; bytes: number }> {
  const id = await imageIdOf(local, ref)
  if (!id) throw new OpsError('OPS_E_DEPLOY', `image ${ref} is not in the local Docker engine: build it first (npm run ocean:image) or pass --image`)
  if ((await imageIdOf(remote, id)) !== undefined) {
    // Same id there; make sure the tag points at it too (a re-tag moves no bytes).
    if ((await imageIdOf(remote, ref)) !== id) await remote.getImage(id).tag(splitRef(ref))
    return { id, shipped: false, bytes: 0 }
  }
  const saved = (await local.getImage(ref).get()) as Readable
  let bytes = 0
  let last = Date.now()
  const counter = new PassThrough()
  counter.on('data', (c: Buffer) => {
    bytes += c.length
    if (Date.now() - last > 3000) {
      last = Date.now()
      progress(`${ref}: ${(bytes / 1e6).toFixed(0)} MB sent`)
    }
  })
  const loading = remote.loadImage(counter, { quiet: true })
  await Promise.all([pipeline(saved, counter), loading.then((res: unknown) => drain(res as Readable))])
  if ((await imageIdOf(remote, id)) === undefined) throw new OpsError('OPS_E_DEPLOY', `docker load of ${ref} finished but the new host has no image ${id.slice(0, 19)}`)
  progress(`${ref}: ${(bytes / 1e6).toFixed(0)} MB shipped`)
  return { id, shipped: true, bytes }
}

function splitRef(ref: string): { repo: string; tag: string } {
  const i = ref.lastIndexOf(':')
  return i > ref.lastIndexOf('/') ? { repo: ref.slice(0, i), tag: ref.slice(i + 1) } : { repo: ref, tag: 'latest' }
}

async function drain(stream: Readable): Promise<void> {
  let text = ''
  for await (const chunk of stream) text += chunk.toString()
  const error = /"error":"([^"]+)"/.exec(text)
  if (error) throw new OpsError('OPS_E_DEPLOY', `docker load failed on the new host: ${error[1]}`)
}

export async function ensureNetwork(docker: Docker, name: string, labels: Record<string, string>): Promise<boolean> {
  const found = await docker.listNetworks({ filters: { name: [name] } })
  if (found.some((n) => n.Name === name)) return false
  await docker.createNetwork({ Name: name, Driver: 'bridge', Labels: labels, CheckDuplicate: true })
  return true
}

export async function ensureVolume(docker: Docker, name: string, labels: Record<string, string>): Promise<boolean> {
  try {
    await docker.getVolume(name).inspect()
    return false
  } catch (e) {
    if ((e as { statusCode?: number }).statusCode !== 404) throw e
  }
  await docker.createVolume({ Name: name, Labels: labels })
  return true
}

export async function inspectContainer(docker: Docker, name: string): Promise<Docker.ContainerInspectInfo | undefined> {
  try {
    return await docker.getContainer(name).inspect()
  } catch (e) {
    if ((e as { statusCode?: number }).statusCode === 404) return undefined
    throw e
  }
}

/** Wait until Docker reports the container healthy; fail fast if it exits or turns unhealthy. */
export async function waitHealthy(docker: Docker, name: string, timeoutMs: number, progress: Progress): Promise<void> {
  const deadline = Date.now() + timeoutMs
  let lastStatus = ''
  for (;;) {
    const info = await docker.getContainer(name).inspect()
    const status = info.State.Health?.Status ?? (info.State.Running ? 'running' : info.State.Status)
    if (status !== lastStatus) progress(`${name}: ${status}`)
    lastStatus = status
    if (status === 'healthy') return
    if (!info.State.Running) throw new OpsError('OPS_E_DEPLOY', `${name} exited (code ${info.State.ExitCode}) before it became healthy`)
    if (status === 'unhealthy') throw new OpsError('OPS_E_DEPLOY', `${name} is unhealthy: ${info.State.Health?.Log?.at(-1)?.Output?.trim() ?? 'no health output'}`)
    if (Date.now() > deadline) throw new OpsError('OPS_E_DEPLOY', `${name} did not become healthy within ${timeoutMs / 1000} s (last: ${status})`)
    await new Promise((r) => setTimeout(r, 500))
  }
}

/** The last lines of a container's output (Docker's multiplexed log stream, demultiplexed). */
export async function containerLogs(docker: Docker, name: string, tail = 40): Promise<string> {
  try {
    const raw = (await docker.getContainer(name).logs({ stdout: true, stderr: true, tail, follow: false })) as unknown as Buffer
    const out: string[] = []
    let i = 0
    while (i + 8 <= raw.length && (raw[i] === 1 || raw[i] === 2)) {
      const n = raw.readUInt32BE(i + 4)
      out.push(raw.subarray(i + 8, i + 8 + n).toString())
      i += 8 + n
    }
    return i === 0 ? raw.toString() : out.join('')
  } catch {
    return '(no logs)'
  }
}

export async function removeContainer(docker: Docker, name: string): Promise<void> {
  const info = await inspectContainer(docker, name)
  if (info) await docker.getContainer(info.Id).remove({ force: true, v: true })
}
